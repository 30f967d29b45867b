"""Home-screen rows: top picks, "because you watched", a favourite genre, trending, and for a
new member popular titles per genre; each row with a reason a client can show."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from media_gateway.auth.profiles import DEFAULT_PROFILE
from media_gateway.subgraphs.recommendations.feedback import History
from media_gateway.subgraphs.recommendations.selection import Audience, Scored, Situation
from media_gateway.subgraphs.recommendations.serving import ServingService

ANCHORS = 2  # "Because you watched" rows at most


@dataclass(frozen=True)
class Row:
    key: str
    title: str
    reason: str
    kind: str  # TOP_PICKS | BECAUSE_YOU_WATCHED | TRENDING | GENRE | POPULAR
    items: list[Scored]
    based_on: str | None = None
    genre: str | None = None


class RowService:
    def __init__(self, serving: ServingService) -> None:
        self.serving = serving

    async def rows(
        self,
        user_id: str,
        audience: Audience,
        per_row: int,
        situation: Situation | None = None,
        history: History | None = None,
        *,
        profile_id: str = DEFAULT_PROFILE,
    ) -> list[Row]:
        """The profile's home-screen rows, each with a reason a client can show; every row's
        items in score order."""
        serving = self.serving
        ranker = await serving.training.model()
        if history is None:
            history = await serving.history(user_id, profile_id=profile_id)
        titles = list(history.titles)
        known = [c for c in titles if c in ranker.index]
        rows: list[Row] = []
        used: set[str] = set()

        def add(row: Row) -> None:
            if row.items:
                rows.append(row)
                used.update(s.content_id for s in row.items)

        if known:
            top = serving.rank(
                ranker, titles, per_row, audience, situation=situation, feedback=history.grades
            )
            add(
                Row(
                    "top-picks",
                    "Top picks for you",
                    "Picked from everything you watched",
                    "TOP_PICKS",
                    top,
                )
            )
            for anchor, title in self._anchors(top, history):
                # the titles this one alone lifts, each one's reason being this title
                items = [
                    Scored(s.content_id, s.score, anchor, "WATCHED_SIMILAR", title)
                    for s in serving.rank(
                        ranker, [anchor], per_row, audience, exclude=set(titles) | used
                    )
                    if s.based_on == anchor
                ]
                add(
                    Row(
                        f"because:{anchor}",
                        f"Because you watched {title}",
                        f"Viewers who watched {title} went on to watch these",
                        "BECAUSE_YOU_WATCHED",
                        items,
                        based_on=anchor,
                    )
                )
            genre = self._favourite_genre([c for c in history.liked() if c in ranker.index])
            if genre:
                items = serving.rank(
                    ranker,
                    titles,
                    per_row,
                    audience,
                    only=self._in_genre(genre),
                    exclude=used,
                    feedback=history.grades,
                )
                add(
                    Row(
                        f"genre:{genre}",
                        f"Continue exploring {genre}",
                        f"You watch a lot of {genre}",
                        "GENRE",
                        [
                            Scored(s.content_id, s.score, s.based_on, "GENRE", s.based_on_title)
                            for s in items
                        ],
                        genre=genre,
                    )
                )
        trending = await serving.trending(
            per_row, audience.region, "WEEK", audience, exclude=set(titles)
        )
        where = f" in {audience.region.upper()}" if audience.region else ""
        add(
            Row(
                "trending",
                f"Trending{where}",
                f"What viewers{where or ' everywhere'} are watching this week",
                "TRENDING",
                trending,
            )
        )
        if not known:  # cold start: popular titles per genre
            counts: dict[str, int] = {}
            for item in ranker.items[:200]:
                for g in self._genres(item):
                    counts[g] = counts.get(g, 0) + 1
            for genre in sorted(counts, key=lambda g: (-counts[g], g))[:2]:
                items = serving.rank(
                    ranker,
                    [],
                    per_row,
                    audience,
                    only=self._in_genre(genre),
                    exclude=used,
                )
                add(
                    Row(
                        f"popular:{genre}",
                        f"Popular in {genre}",
                        f"Start with the {genre} titles viewers love",
                        "POPULAR",
                        items,
                        genre=genre,
                    )
                )
        return rows

    def _in_genre(self, genre: str) -> Callable[[str], bool]:
        return lambda content_id: genre in self._genres(content_id)

    def _genres(self, content_id: str) -> tuple[str, ...]:
        feature = self.serving.features.get(content_id)
        return feature.genres if feature else ()

    @staticmethod
    def _anchors(top: Sequence[Scored], history: History) -> list[tuple[str, str]]:
        """Up to ``ANCHORS`` titles for "Because you watched" rows: the liked titles that
        are the reason (a contribution above the threshold) for most of the top picks, with
        the catalog's name for them (a title without a known name gets no row)."""
        counts: dict[str, int] = {}
        names: dict[str, str] = {}
        for s in top:
            if s.based_on and s.based_on_title and history.grade(s.based_on) > 0:
                counts[s.based_on] = counts.get(s.based_on, 0) + 1
                names[s.based_on] = s.based_on_title
        ordered = sorted(counts, key=lambda c: -counts[c])  # stable: best-scored first
        return [(c, names[c]) for c in ordered[:ANCHORS]]

    def _favourite_genre(self, history: Sequence[str]) -> str | None:
        counts: dict[str, float] = {}
        for k, item in enumerate(history):
            for g in self._genres(item):
                counts[g] = counts.get(g, 0.0) + 1.0 + k / max(1, len(history))
        return max(counts, key=lambda g: (counts[g], g)) if counts else None
