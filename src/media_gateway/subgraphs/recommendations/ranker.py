"""The blended ranker: every model the recommender serves, fitted together, scored together.

Components (all numpy, dense over at most ``MAX_ITEMS`` titles):

- **EASE** (Steck 2019): a closed-form item-item linear model for implicit feedback,
  ``B = I - P / diag(P)`` with ``P = (XᵀX + λI)⁻¹``. A member's scores are ``x_u · B`` where
  ``x_u`` is their history row, so a newly finished title folds into the answer at once
  (the user "vector" is the history itself; no re-fit needed).
- **Sequence**: item-to-item transitions (what members watched next, within a short
  window), applied to the member's most recent titles with a recency decay.
- **Session**: titles watched in the same sitting (interactions less than
  ``session_gap_seconds`` apart), cosine-normalized co-occurrence over sittings, applied to the
  member's most recent titles: the item-to-item form of session-kNN.
- **Co-watch graph**: personalized PageRank over the co-watch graph, restarted at the
  member's recent titles (a few power iterations).
- **Content**: similarity of catalog metadata (genres, release decade) to the member's
  recent titles; the only signal for titles nobody has watched yet.
- **Embedding**: cosine similarity of text embeddings (title, genres, synopsis; the
  catalog's embedder, see ``media_gateway.platform.embeddings``) to the member's recent titles. The
  normalized float32 item vectors are stored with each model version, together with the
  embedder's name.
- **Popularity with recency**: time-decayed watch counts, the cold-start answer.

Each component's scores are standardized per member and blended with ``BlendWeights``
(weights are tuned offline, see the evaluation) before filtering and diversity re-ranking.

Graded feedback (``media_gateway.subgraphs.recommendations.feedback``) enters at scoring time:
a member's history row carries one weight per title, negative for a low rating, a dislike or
an abandoned playback, so such a title pushes its neighbours down in every component instead
of lifting them. Training sees who watched what (co-watching is co-watching, whatever the
rating); interactions at the same instant keep the order they were recorded in.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from functools import cached_property

import numpy as np

from media_gateway.platform.embeddings import Embedder

MAX_ITEMS = 6000
COMPONENTS = ("ease", "sequence", "graph", "content", "popularity", "embedding", "session")


@dataclass(frozen=True)
class Interaction:
    user_id: str
    content_id: str
    weight: float
    occurred_at: datetime


@dataclass(frozen=True)
class ItemFeatures:
    genres: tuple[str, ...] = ()
    year: int | None = None
    text: str = ""  # what the embedder reads: title, genres, synopsis


@dataclass(frozen=True)
class BlendWeights:
    """The served blend: the weights ``media-gateway recs evaluate`` tuned on MovieLens-100K's
    validation items (docs/recommendations-evaluation.md)."""

    ease: float = 1.0
    sequence: float = 0.5
    graph: float = 0.0
    content: float = 0.1
    popularity: float = 0.0
    embedding: float = 0.1
    session: float = 1.0

    def as_dict(self) -> dict[str, float]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, float]) -> BlendWeights:
        known = {k: float(v) for k, v in data.items() if k in COMPONENTS}
        return cls(**known)


@dataclass(frozen=True)
class RankerConfig:
    ease_lambda: float = 250.0
    recent_items: int = 10
    recency_decay: float = 0.8  # weight of the k-th most recent title: decay**k
    transition_window: int = 3  # a title "leads to" the next ``window`` titles of a member
    session_gap_seconds: float = 3600.0  # a pause this long starts a new sitting
    popularity_half_life_days: float = 30.0
    graph_restart: float = 0.3
    graph_steps: int = 3
    weights: BlendWeights = field(default_factory=BlendWeights)

    def with_weights(self, weights: BlendWeights) -> RankerConfig:
        return replace(self, weights=weights)


Progress = Callable[[str], None]


def _float32(array: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(array, dtype=np.float32)


def _standardize(scores: np.ndarray) -> np.ndarray:
    """Per-row z-scores (rows of constant scores become zeros)."""
    if scores.size == 0:
        return scores.astype(np.float32)
    if scores.ndim == 1:
        std = scores.std()
        return (scores - scores.mean()) / std if std > 1e-12 else np.zeros_like(scores)
    mean = scores.mean(axis=1, keepdims=True)
    std = scores.std(axis=1, keepdims=True)
    std[std < 1e-12] = 1.0
    return (scores - mean) / std


class Ranker:
    """Fitted components over ``items``; scores histories (oldest title first)."""

    def __init__(
        self,
        items: list[str],
        *,
        ease: np.ndarray,
        transitions: np.ndarray,
        graph: np.ndarray,
        content: np.ndarray,
        popularity: np.ndarray,
        trending: np.ndarray,
        config: RankerConfig,
        vectors: np.ndarray | None = None,
        embedding_model: str = "",
        sessions: np.ndarray | None = None,
    ) -> None:
        self.items = items
        self.index = {item: i for i, item in enumerate(items)}
        self.ease = _float32(ease)
        self.transitions = _float32(transitions)
        # same-sitting co-occurrence (zeros in artifacts from before the signal)
        self.sessions = _float32(
            sessions if sessions is not None else np.zeros((len(items), len(items)), np.float32)
        )
        self.graph = _float32(graph)  # row-stochastic co-watch transition matrix
        self.content = _float32(content)
        self.popularity = _float32(popularity)
        self.trending = _float32(trending)
        # one L2-normalised row per title (zeros: no text); (n, 0) when there is no embedder
        self.vectors = _float32(
            vectors if vectors is not None else np.zeros((len(items), 0), np.float32)
        )
        self.embedding_model = embedding_model
        self.config = config
        # Precomputed once per model version (serving never repeats whole-matrix work):
        # the standardized popularity row here, the PageRank walk operator on first use
        # (``warm`` computes it where loading happens, off the request path).
        self.popularity_z = _standardize(self.popularity)
        self.popularity_order = np.argsort(-self.popularity, kind="stable")

    # -- fitting ------------------------------------------------------------------------------
    @classmethod
    def empty(cls, config: RankerConfig | None = None) -> Ranker:
        zero = np.zeros((0, 0), np.float32)
        return cls(
            [],
            ease=zero,
            transitions=zero,
            graph=zero,
            content=zero,
            popularity=np.zeros(0, np.float32),
            trending=np.zeros(0, np.float32),
            config=config or RankerConfig(),
        )

    @classmethod
    def fit(
        cls,
        interactions: Iterable[Interaction],
        *,
        now: datetime,
        features: Mapping[str, ItemFeatures] | None = None,
        config: RankerConfig | None = None,
        trending_days: float = 7.0,
        progress: Progress | None = None,
        embedder: Embedder | None = None,
    ) -> Ranker:
        config = config or RankerConfig()
        # a stable sort: interactions of the same instant keep the order they came in
        rows = sorted(interactions, key=lambda r: (r.user_id, r.occurred_at))
        if not rows:
            return cls.empty(config)
        step = progress or (lambda _name: None)
        counts: dict[str, int] = {}
        for row in rows:
            counts[row.content_id] = counts.get(row.content_id, 0) + 1
        items = sorted(counts, key=lambda c: (-counts[c], c))[:MAX_ITEMS]
        if features:  # titles nobody watched yet still get content-based scores
            extra = sorted(set(features) - set(counts))
            items = (items + extra)[:MAX_ITEMS]
        index = {item: i for i, item in enumerate(items)}
        n = len(items)
        users = sorted({r.user_id for r in rows})
        user_index = {u: k for k, u in enumerate(users)}
        matrix = np.zeros((len(users), n), dtype=np.float64)
        sequences: dict[str, list[int]] = {}
        sittings: list[list[int]] = []
        last_seen: dict[str, datetime] = {}
        gap = config.session_gap_seconds
        popularity = np.zeros(n)
        trending = np.zeros(n)
        half_life = config.popularity_half_life_days
        for row in rows:
            i = index.get(row.content_id)
            if i is None:
                continue
            matrix[user_index[row.user_id], i] = 1.0
            sequence = sequences.setdefault(row.user_id, [])
            if i not in sequence:
                sequence.append(i)
            previous = last_seen.get(row.user_id)
            if previous is None or (row.occurred_at - previous).total_seconds() > gap:
                sittings.append([])
            sittings[-1].append(i)
            last_seen[row.user_id] = row.occurred_at
            age_days = max(0.0, (now - row.occurred_at).total_seconds() / 86400.0)
            popularity[i] += math.pow(0.5, age_days / half_life)
            if age_days <= trending_days:
                trending[i] += 1.0
        step("ease")
        ease = ease_weights(matrix, config.ease_lambda)
        step("sequence")
        transitions = transition_matrix(sequences.values(), n, config.transition_window)
        step("session")
        sessions = session_similarity(sittings, n)
        step("graph")
        graph = cowatch_graph(matrix)
        step("content")
        content = content_similarity(items, features or {})
        vectors: np.ndarray | None = None
        if embedder is not None:
            step("embedding")
            vectors = item_vectors(items, features or {}, embedder)
        if popularity.max() > 0:
            popularity = popularity / popularity.max()
        if trending.max() > 0:
            trending = trending / trending.max()
        return cls(
            items,
            ease=ease,
            transitions=transitions,
            graph=graph,
            content=content,
            popularity=popularity,
            trending=trending,
            config=config,
            vectors=vectors,
            embedding_model=embedder.name if embedder is not None else "",
            sessions=sessions,
        )

    @property
    def size(self) -> int:
        return len(self.items)

    @cached_property
    def walk(self) -> np.ndarray:
        """The personalized-PageRank walk over the co-watch graph as one operator."""
        return pagerank_operator(self.graph, self.config.graph_restart, self.config.graph_steps)

    @cached_property
    def embedding(self) -> np.ndarray:
        """Cosine similarity of the item vectors (zero diagonal; zeros without vectors)."""
        return embedding_similarity(self.vectors)

    def warm(self) -> Ranker:
        """Compute everything serving needs up front (call from a worker thread)."""
        _ = self.walk
        _ = self.embedding
        return self

    # -- scoring ------------------------------------------------------------------------------
    def history_vectors(
        self,
        histories: Sequence[Sequence[str]],
        feedback: Sequence[Mapping[str, float]] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(seen, recent) matrices for members' histories (content ids, oldest first); a
        title's entry is its feedback weight (1 when none is given; negative counts against)."""
        n = self.size
        seen = np.zeros((len(histories), n), dtype=np.float32)
        recent = np.zeros((len(histories), n), dtype=np.float32)
        for u, history in enumerate(histories):
            grades = feedback[u] if feedback is not None else None
            indices, ordered, decay = self.recent_indices(history)
            seen[u, indices] = self._grades(indices, grades)
            if len(ordered):
                recent[u, ordered] = decay * self._grades(ordered, grades)
        return seen, recent

    def _grades(self, indices: np.ndarray, grades: Mapping[str, float] | None) -> np.ndarray:
        if not grades:
            return np.ones(len(indices), dtype=np.float32)
        return np.array([grades.get(self.items[int(i)], 1.0) for i in indices], dtype=np.float32)

    def recent_indices(self, history: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(seen indices, recent indices, recency weights) of one member's history."""
        known = [self.index[c] for c in history if c in self.index]
        ordered: list[int] = []
        for i in reversed(known):
            if i not in ordered:
                ordered.append(i)
            if len(ordered) >= self.config.recent_items:
                break
        decay = self.config.recency_decay
        weights = np.array([decay**k for k in range(len(ordered))], dtype=np.float32)
        seen = np.unique(np.asarray(known, dtype=np.int64))
        return seen, np.asarray(ordered, dtype=np.int64), weights

    def components(self, seen: np.ndarray, recent: np.ndarray) -> dict[str, np.ndarray]:
        """Standardized scores of every component for a batch of members (dense histories)."""
        users = seen.shape[0]
        out: dict[str, np.ndarray] = {}
        out["ease"] = _standardize(seen @ self.ease)
        out["sequence"] = _standardize(recent @ self.transitions)
        out["session"] = _standardize(recent @ self.sessions)
        restart = recent / np.clip(np.abs(recent).sum(axis=1, keepdims=True), 1e-9, None)
        out["graph"] = _standardize(restart @ self.walk)
        out["content"] = _standardize(recent @ self.content)
        out["embedding"] = _standardize(recent @ self.embedding)
        out["popularity"] = np.broadcast_to(self.popularity_z, (users, self.size))
        return out

    def member_components(
        self, history: Sequence[str], feedback: Mapping[str, float] | None = None
    ) -> dict[str, np.ndarray]:
        """``components`` for one member, reading only the rows of the titles they watched
        (a member's history is a handful of rows, not the whole matrix)."""
        seen, recent, decay = self.recent_indices(history)
        graded = self._grades(seen, feedback)
        out: dict[str, np.ndarray] = {}
        out["ease"] = _standardize(graded @ self.ease[seen] if len(seen) else self._zero())
        if len(recent):
            weight = decay * self._grades(recent, feedback)
            restart = weight / max(float(np.abs(weight).sum()), 1e-9)
            out["sequence"] = _standardize(weight @ self.transitions[recent])
            out["session"] = _standardize(weight @ self.sessions[recent])
            out["graph"] = _standardize(restart @ self.walk[recent])
            out["content"] = _standardize(weight @ self.content[recent])
            out["embedding"] = _standardize(weight @ self.embedding[recent])
        else:
            zero = self._zero()
            out["sequence"] = out["session"] = out["graph"] = zero
            out["content"] = out["embedding"] = zero
        out["popularity"] = self.popularity_z
        return out

    def _zero(self) -> np.ndarray:
        return np.zeros(self.size, dtype=np.float32)

    @staticmethod
    def blend(components: Mapping[str, np.ndarray], weights: BlendWeights) -> np.ndarray:
        total: np.ndarray | None = None
        for name, weight in weights.as_dict().items():
            if weight == 0.0 or name not in components:
                continue
            part = weight * components[name]
            total = part if total is None else total + part
        if total is None:
            first = next(iter(components.values()))
            return np.zeros(first.shape, dtype=np.float32)
        return np.asarray(total, dtype=np.float32)

    def score(
        self,
        history: Sequence[str],
        weights: BlendWeights | None = None,
        feedback: Mapping[str, float] | None = None,
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Blended scores over every title for one member, and the per-component scores;
        ``feedback`` grades titles of the history (1 when absent, negative counts against)."""
        parts = self.member_components(history, feedback)
        if not any(c in self.index for c in history):  # cold start: popularity with recency
            return self.popularity.copy(), parts
        return self.blend(parts, weights or self.config.weights), parts

    def contributions(
        self,
        history: Sequence[str],
        items: Sequence[int],
        weights: BlendWeights | None = None,
        feedback: Mapping[str, float] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """How much each watched title adds to each of ``items``' blended score.

        Returns (watched title indices, contributions: watched x items, in the blend's units).
        Every history-driven component is linear in the member's history row, so a title's
        share of a component is its row (centred) times its grade, over the component's
        spread for this member; the shares of all titles add up to the blended score less
        popularity. A title graded negatively contributes negatively to its neighbours.
        """
        weights = weights or self.config.weights
        seen, recent, decay = self.recent_indices(history)
        cols = np.asarray(items, dtype=np.int64)
        out = np.zeros((len(seen), len(cols)), dtype=np.float32)
        if not len(seen) or not len(cols):
            return seen, out
        position = {int(i): k for k, i in enumerate(seen.tolist())}

        def add(rows: np.ndarray, grade: np.ndarray, matrix: np.ndarray, weight: float) -> None:
            if weight == 0.0 or not len(rows):
                return
            block = matrix[rows].astype(np.float64)  # rows x all titles
            raw = grade @ block
            spread = float(raw.std())
            if spread < 1e-12:
                return
            centred = block[:, cols] - block.mean(axis=1, keepdims=True)
            share = weight * grade[:, None] * centred / spread
            for k, i in enumerate(rows.tolist()):
                out[position[int(i)]] += share[k].astype(np.float32)

        add(seen, self._grades(seen, feedback).astype(np.float64), self.ease, weights.ease)
        if len(recent):
            graded = (decay * self._grades(recent, feedback)).astype(np.float64)
            restart = graded / max(float(np.abs(graded).sum()), 1e-9)
            add(recent, graded, self.transitions, weights.sequence)
            add(recent, graded, self.sessions, weights.session)
            add(recent, restart, self.walk, weights.graph)
            add(recent, graded, self.content, weights.content)
            add(recent, graded, self.embedding, weights.embedding)
        return seen, out

    # -- persistence --------------------------------------------------------------------------
    def arrays(self) -> dict[str, np.ndarray]:
        return {
            "items": np.array(self.items, dtype=object),
            "ease": self.ease,
            "transitions": self.transitions,
            "sessions": self.sessions,
            "graph": self.graph,
            "content": self.content,
            "popularity": self.popularity,
            "trending": self.trending,
            "vectors": self.vectors,
            "embedding_model": np.array(self.embedding_model),
        }

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], config: RankerConfig) -> Ranker:
        return cls(
            [str(x) for x in arrays["items"].tolist()],
            ease=arrays["ease"],
            transitions=arrays["transitions"],
            graph=arrays["graph"],
            content=arrays["content"],
            popularity=arrays["popularity"],
            trending=arrays["trending"],
            config=config,
            vectors=arrays.get("vectors"),  # absent in artifacts from before the signal
            embedding_model=str(arrays["embedding_model"]) if "embedding_model" in arrays else "",
            sessions=arrays.get("sessions"),
        )


def ease_weights(matrix: np.ndarray, regularization: float) -> np.ndarray:
    """EASE item-item weights from a binary user x item matrix (diagonal constrained to 0)."""
    n = matrix.shape[1]
    if n == 0:
        return np.zeros((0, 0), np.float32)
    gram = matrix.T @ matrix
    gram[np.diag_indices(n)] += regularization
    inverse = np.linalg.inv(gram)
    weights = inverse / (-np.diag(inverse))
    weights[np.diag_indices(n)] = 0.0
    return weights.astype(np.float32)


def transition_matrix(sequences: Iterable[Sequence[int]], n: int, window: int) -> np.ndarray:
    """Row-normalized counts of "watched j within ``window`` titles after i" (1/distance)."""
    counts = np.zeros((n, n), dtype=np.float64)
    for sequence in sequences:
        seq = np.asarray(sequence, dtype=np.int64)
        for distance in range(1, window + 1):
            if len(seq) > distance:
                np.add.at(counts, (seq[:-distance], seq[distance:]), 1.0 / distance)
    totals = counts.sum(axis=1, keepdims=True)
    totals[totals == 0] = 1.0
    return (counts / totals).astype(np.float32)


def pagerank_operator(graph: np.ndarray, restart: float, steps: int) -> np.ndarray:
    """The personalized-PageRank walk as one matrix: ``Σₖ (1-restart)ᵏ Gᵏ⁺¹`` (k < steps),
    so a member's scores are one product with their restart vector instead of ``steps``."""
    n = graph.shape[0]
    if n == 0 or steps <= 0:
        return np.zeros((n, n), np.float32)
    g = _float32(graph)
    power = g
    total = g.copy()
    for k in range(1, steps):
        power = power @ g
        total += (1.0 - restart) ** k * power
    return total.astype(np.float32)


def session_similarity(sittings: Sequence[Sequence[int]], n: int) -> np.ndarray:
    """Cosine similarity of titles over sittings: how often two titles were watched in the
    same sitting, over the geometric mean of the sittings each was watched in."""
    co = np.zeros((n, n), dtype=np.float64)
    if n == 0:
        return co.astype(np.float32)
    chunk = 2048
    for start in range(0, len(sittings), chunk):
        block = np.zeros((min(chunk, len(sittings) - start), n), dtype=np.float32)
        for k, sitting in enumerate(sittings[start : start + chunk]):
            block[k, sitting] = 1.0
        co += block.T @ block
    counts = np.sqrt(np.clip(np.diag(co).copy(), 1.0, None))
    np.fill_diagonal(co, 0.0)
    return (co / counts[:, None] / counts[None, :]).astype(np.float32)


def cowatch_graph(matrix: np.ndarray) -> np.ndarray:
    """Row-stochastic transition matrix of the co-watch graph (edges: shared viewers)."""
    co = matrix.T @ matrix
    np.fill_diagonal(co, 0.0)
    totals = co.sum(axis=1, keepdims=True)
    totals[totals == 0] = 1.0
    return (co / totals).astype(np.float32)


def content_similarity(items: Sequence[str], features: Mapping[str, ItemFeatures]) -> np.ndarray:
    """Cosine similarity of genre one-hots plus release-decade proximity."""
    n = len(items)
    if n == 0 or not features:
        return np.zeros((n, n), np.float32)
    genres = sorted({g for f in features.values() for g in f.genres})
    genre_index = {g: k for k, g in enumerate(genres)}
    onehot = np.zeros((n, max(1, len(genres))), dtype=np.float32)
    years = np.full(n, np.nan)
    for i, item in enumerate(items):
        feature = features.get(item)
        if feature is None:
            continue
        for g in feature.genres:
            onehot[i, genre_index[g]] = 1.0
        if feature.year is not None:
            years[i] = feature.year
    norms = np.linalg.norm(onehot, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    unit = onehot / norms
    similarity = unit @ unit.T
    known = ~np.isnan(years)
    gap = np.abs(np.subtract.outer(np.nan_to_num(years), np.nan_to_num(years)))
    era = np.exp(-gap / 10.0) * np.outer(known, known)
    similarity = 0.8 * similarity + 0.2 * era
    np.fill_diagonal(similarity, 0.0)
    return similarity.astype(np.float32)


def item_text(title: str, genres: Sequence[str] = (), synopsis: str | None = None) -> str:
    """What the embedder reads for a title: its name, genres and synopsis where present."""
    parts = [title.strip()]
    if genres:
        parts.append(" ".join(genres))
    if synopsis and synopsis.strip():
        parts.append(synopsis.strip())
    return ". ".join(p for p in parts if p)


def item_vectors(
    items: Sequence[str], features: Mapping[str, ItemFeatures], embedder: Embedder
) -> np.ndarray:
    """One normalized float32 embedding per title (zeros for titles without text)."""
    vectors = np.zeros((len(items), embedder.dimension), dtype=np.float32)
    rows = [i for i, item in enumerate(items) if (f := features.get(item)) and f.text.strip()]
    if rows:
        embedded = embedder.embed([features[items[i]].text for i in rows])
        norms = np.linalg.norm(embedded, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        vectors[rows] = embedded / norms
    return vectors


def embedding_similarity(vectors: np.ndarray) -> np.ndarray:
    """Cosine similarity of normalized item vectors, diagonal zeroed."""
    n = vectors.shape[0]
    if n == 0 or vectors.ndim != 2 or vectors.shape[1] == 0:
        return np.zeros((n, n), np.float32)
    similarity = _float32(vectors) @ _float32(vectors).T
    np.fill_diagonal(similarity, 0.0)
    return similarity.astype(np.float32, copy=False)
