"""Graded feedback in the ranker and the reasons it gives, without storage: a low rating
counts against a title's neighbours, a recommendation's reason is the watched title that
contributed most to it (and only when it contributed enough)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from media_gateway.subgraphs.recommendations.feedback import (
    FeedbackError,
    History,
    graded,
    playback_weight,
    rating_weight,
)
from media_gateway.subgraphs.recommendations.ranker import Interaction, ItemFeatures, Ranker
from media_gateway.subgraphs.recommendations.selection import EXPLAIN_THRESHOLD, explain_many

NOW = datetime(2024, 6, 1, tzinfo=UTC)
SCI_FI = ["alien", "aliens", "blade-runner", "the-matrix", "solaris", "gattaca", "dune"]
FAMILY = ["herbie-rides-again", "the-love-bug", "freaky-friday", "pete-s-dragon", "the-shaggy-dog"]


def _ranker() -> Ranker:
    """Sci-fi viewers watch sci-fi; family viewers watch the Disney live-action titles."""
    rows: dict[str, list[str]] = {}
    for u in range(24):
        rows[f"scifi-{u}"] = [SCI_FI[(u + k) % len(SCI_FI)] for k in range(4)]
        rows[f"family-{u}"] = [FAMILY[(u + k) % len(FAMILY)] for k in range(3)]
    features = {t: ItemFeatures(("Science Fiction",), 1980) for t in SCI_FI} | {
        t: ItemFeatures(("Family",), 1975) for t in FAMILY
    }
    return Ranker.fit(
        [
            Interaction(user, item, 1.0, NOW - timedelta(days=10 - k))
            for user, items in rows.items()
            for k, item in enumerate(items)
        ],
        now=NOW,
        features=features,
    )


def _top(ranker: Ranker, scores: np.ndarray, history: list[str], k: int) -> list[str]:
    order = [ranker.items[i] for i in np.argsort(-scores, kind="stable")]
    return [item for item in order if item not in history][:k]


def test_a_low_rating_counts_against_the_title_and_its_neighbours() -> None:
    ranker = _ranker()
    # a sci-fi fan who watched one family title last and rated it 2 of 5
    history = ["alien", "blade-runner", "solaris", "herbie-rides-again"]
    grades = {"herbie-rides-again": rating_weight(2)}
    assert grades["herbie-rides-again"] < 0

    as_positive, _ = ranker.score(history)  # every rating counted as a positive
    graded_scores, _ = ranker.score(history, feedback=grades)
    family_neighbours = [t for t in FAMILY if t != "herbie-rides-again"]

    # counted as a positive, the one family title drags its neighbours into the list ...
    assert set(_top(ranker, as_positive, history, 4)) & set(family_neighbours)
    # ... graded, the list is the fan's sci-fi and every family title ranks below all of it
    top = _top(ranker, graded_scores, history, 4)
    assert set(top) <= set(SCI_FI)
    unseen_sci_fi = [t for t in SCI_FI if t not in history]
    worst_sci_fi = min(graded_scores[ranker.index[t]] for t in unseen_sci_fi)
    assert all(graded_scores[ranker.index[t]] < worst_sci_fi for t in family_neighbours)
    # and the disliked title is never given as the reason for anything
    picked = [ranker.index[t] for t in top + family_neighbours]
    reasons = explain_many(ranker, history, picked, feedback=grades)
    assert "herbie-rides-again" not in reasons


def test_the_reason_is_the_title_that_contributed_most() -> None:
    ranker = _ranker()
    history = ["freaky-friday", "alien"]
    targets = ["aliens", "the-love-bug"]
    reasons = explain_many(ranker, history, [ranker.index[t] for t in targets])
    assert reasons == ["alien", "freaky-friday"]
    watched, contribution = ranker.contributions(history, [ranker.index[t] for t in targets])
    by_title = {ranker.items[int(i)]: row for i, row in zip(watched, contribution, strict=True)}
    assert by_title["alien"][0] > by_title["freaky-friday"][0]
    assert by_title["freaky-friday"][1] > by_title["alien"][1]
    # the shares add up to the blended score less popularity (the same units as the score)
    scores, parts = ranker.score(history)
    weights = ranker.config.weights
    expected = scores - weights.popularity * parts["popularity"]
    total = contribution.sum(axis=0)
    centred = expected[[ranker.index[t] for t in targets]]
    assert np.allclose(total, centred, atol=1e-3)


def test_no_reason_below_the_threshold() -> None:
    ranker = _ranker()
    history = ["alien"]
    # a family title owes nothing to a sci-fi history: no "because you watched" for it
    [reason] = explain_many(ranker, history, [ranker.index["the-shaggy-dog"]])
    _watched, contribution = ranker.contributions(history, [ranker.index["the-shaggy-dog"]])
    assert contribution.max() < EXPLAIN_THRESHOLD
    assert reason is None


def test_grades_explicit_feedback_outranks_playback() -> None:
    assert rating_weight(5) == 1.0 and rating_weight(1) == -1.0 and rating_weight(3) > 0
    with pytest.raises(FeedbackError):
        rating_weight(6)
    assert playback_weight(True, 10) == 1.0
    assert playback_weight(False, 60) is not None and playback_weight(False, 60) < 0  # abandoned
    assert playback_weight(False, 400) is None  # too little to say either way
    grades = graded(
        [
            ("herbie", 1.0, "playback"),  # finished ...
            ("herbie", -0.5, "rating"),  # ... then rated 2 of 5
            ("herbie", 1.0, "playback"),  # a later re-watch does not undo the rating
            ("alien", 1.0, "playback"),
        ]
    )
    assert grades == {"herbie": -0.5, "alien": 1.0}
    history = History(("herbie", "alien"), grades)
    assert history.liked() == ["alien"]
