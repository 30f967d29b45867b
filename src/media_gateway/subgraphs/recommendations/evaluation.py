"""Offline evaluation on MovieLens-100K: our ranker against standard and order-aware
recommenders.

Protocol (leave-last-out, full ranking):

- every rating counts as an interaction; each member's interactions are ordered by timestamp,
  and interactions of the same second keep the order the file records them in (``ties="file"``,
  the default) or a random order drawn with a seed (``ties="random"``). Nothing breaks a tie by
  item id: that would move the held-out item toward higher-id, less popular titles;
- the chronologically last interaction is the **test** item, the one before it the
  **validation** item, the rest **training**;
- tuning: every model (ours and each baseline) is fitted on training and scored on the
  validation item only; the chosen settings are then re-fitted on training + validation and
  scored on the test item, once;
- every title the member has not seen in the fitted data is ranked (no sampled negatives);
  ties in a model's scores are split evenly (expected rank under a random tie-break);
- NDCG@10, HR@10 and Recall@20 (one held-out item, so Recall@20 = HR@20) are averaged over
  members, each with its standard error; our ranker's per-member NDCG@10 is compared with the
  best baseline's by a paired t-test and a paired bootstrap interval of the ratio; catalog
  coverage is the share of all titles in some member's top 10; training time is the final fit's
  wall time.

Baselines: most-popular, item-kNN (cosine, top-k neighbours), the ``implicit`` library's ALS
(installed with the ``recs-eval`` extra), and two order-aware ones: a first-order Markov chain
over items (what members watched right after the member's last title) and session-kNN
(V-SkNN: the member's most recent titles, with a recency decay, matched against other members'
viewing sessions).

Our ranker is scored with graded feedback (``feedback.rating_weight``: low ratings count
against a title's neighbours); how strongly negatives count is tuned on validation like every
other setting.
"""

from __future__ import annotations

import csv
import itertools
import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np

from media_gateway.platform.embeddings import Embedder, HashingEmbedder
from media_gateway.subgraphs.recommendations.feedback import rating_weight
from media_gateway.subgraphs.recommendations.ranker import (
    BlendWeights,
    Interaction,
    ItemFeatures,
    Ranker,
    RankerConfig,
    item_text,
)

Report = Callable[[str], Any]
TieOrder = Literal["file", "random"]
BASELINES = (
    "most-popular",
    "item-kNN",
    "implicit ALS",
    "Markov chain",
    "session-kNN",
)
OURS = "our ranker"
SERVED = "ours, graded as served"  # the same settings with production's rating grades
BOOTSTRAP_SAMPLES = 2000


@dataclass(frozen=True)
class Split:
    users: list[str]
    items: list[str]
    train: dict[str, list[str]]  # oldest first
    train_times: dict[str, list[float]]
    validation: dict[str, str]
    test: dict[str, str]
    features: dict[str, ItemFeatures]
    # the stars of each training title and of the validation title (1 to 5)
    train_ratings: dict[str, list[float]] = field(default_factory=dict)
    validation_ratings: dict[str, float] = field(default_factory=dict)
    validation_times: dict[str, float] = field(default_factory=dict)
    test_ratings: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Metrics:
    """Per-member metric values (one entry per member, in the split's order)."""

    hr10: np.ndarray
    ndcg10: np.ndarray
    recall20: np.ndarray
    top: set[int]

    @staticmethod
    def mean_se(values: np.ndarray) -> tuple[float, float]:
        n = len(values)
        if n == 0:
            return 0.0, 0.0
        se = float(values.std(ddof=1) / np.sqrt(n)) if n > 1 else 0.0
        return float(values.mean()), se


@dataclass
class Result:
    name: str
    metrics: Metrics
    coverage: float
    train_seconds: float
    settings: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def hr10(self) -> float:
        return float(self.metrics.hr10.mean())

    @property
    def ndcg10(self) -> float:
        return float(self.metrics.ndcg10.mean())

    @property
    def recall20(self) -> float:
        return float(self.metrics.recall20.mean())


@dataclass(frozen=True)
class Comparison:
    """Our ranker's per-member NDCG@10 against the best baseline's (paired)."""

    baseline: str
    ratio: float
    ratio_low: float  # paired bootstrap 95% interval of the ratio of means
    ratio_high: float
    t_statistic: float
    p_value: float


def _read(path: Path) -> Iterator[dict[str, str]]:
    with path.open(encoding="utf-8", errors="replace", newline="") as handle:
        reader = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader)
        names = [column.split(":", 1)[0] for column in header]
        for row in reader:
            if row:
                yield dict(zip(names, row, strict=False))


def _id_key(value: str) -> tuple[int, int | str]:
    return (0, int(value)) if value.isdigit() else (1, value)


def load_split(path: Path, ties: TieOrder = "file", seed: int = 0) -> Split:
    """MovieLens-100K (RecBole atomic files) split by the protocol above."""
    by_user: dict[str, list[tuple[float, str, float]]] = {}
    for row in _read(path / "ml-100k.inter"):
        rating = float(row.get("rating") or 5.0)
        by_user.setdefault(row["user_id"], []).append(
            (float(row["timestamp"]), row["item_id"], rating)
        )
    features: dict[str, ItemFeatures] = {}
    items_file = path / "ml-100k.item"
    if items_file.is_file():
        for row in _read(items_file):
            year = (row.get("release_year") or "").strip()
            genres = tuple((row.get("class") or "").split())
            features[row["item_id"]] = ItemFeatures(
                genres=genres,
                year=int(year) if year.isdigit() else None,
                text=item_text(row.get("movie_title") or "", genres),
            )
    return split_events(by_user, features, ties=ties, seed=seed)


def split_events(
    by_user: Mapping[str, Sequence[tuple[float, str, float]]],
    features: Mapping[str, ItemFeatures] | None = None,
    *,
    ties: TieOrder = "file",
    seed: int = 0,
) -> Split:
    """Leave-last-out split of each member's (timestamp, item, stars) events, given in the
    order they were recorded. Same-second events keep that order (``ties="file"``) or are
    shuffled with ``seed`` (``ties="random"``); sorting by time is stable either way."""
    rng = random.Random(seed)
    train: dict[str, list[str]] = {}
    times: dict[str, list[float]] = {}
    stars: dict[str, list[float]] = {}
    validation: dict[str, str] = {}
    validation_stars: dict[str, float] = {}
    validation_times: dict[str, float] = {}
    test: dict[str, str] = {}
    test_stars: dict[str, float] = {}
    for user in sorted(by_user, key=_id_key):
        events = list(by_user[user])
        if ties == "random":
            rng.shuffle(events)
        events.sort(key=lambda e: e[0])  # stable: ties stay in the order above
        if len(events) < 3:
            continue
        test[user] = events[-1][1]
        test_stars[user] = events[-1][2]
        validation[user] = events[-2][1]
        validation_stars[user] = events[-2][2]
        validation_times[user] = events[-2][0]
        train[user] = [item for _, item, _ in events[:-2]]
        times[user] = [t for t, _, _ in events[:-2]]
        stars[user] = [r for _, _, r in events[:-2]]
    users = list(train)
    features = dict(features or {})
    all_items = sorted(
        set(features) | {i for u in users for i in (*train[u], validation[u], test[u])},
        key=_id_key,
    )
    return Split(
        users,
        all_items,
        train,
        times,
        validation,
        test,
        features,
        stars,
        validation_stars,
        validation_times,
        test_stars,
    )


# -- metrics ----------------------------------------------------------------------------------
def evaluate_scores(scores: np.ndarray, seen: np.ndarray, targets: np.ndarray) -> Metrics:
    """Per-member HR@10, NDCG@10, Recall@20 and the items in some top 10, for a users x items
    score matrix (``seen`` titles are not ranked)."""
    masked = np.where(seen != 0, -np.inf, scores.astype(np.float64))
    rows = np.arange(len(targets))
    target = masked[rows, targets][:, None]
    higher = (masked > target).sum(axis=1)
    ties = (masked == target).sum(axis=1) - 1
    rank = higher + ties / 2.0
    hr10 = (rank < 10).astype(np.float64)
    ndcg10 = np.where(rank < 10, 1.0 / np.log2(rank + 2.0), 0.0)
    recall20 = (rank < 20).astype(np.float64)
    k = min(10, masked.shape[1] - 1)
    top = np.argpartition(-masked, k, axis=1)[:, :k] if k > 0 else np.zeros((0, 0), int)
    return Metrics(hr10, ndcg10, recall20, {int(i) for i in top.ravel()})


def compare(ours: np.ndarray, baseline: np.ndarray, name: str, seed: int = 7) -> Comparison:
    """Paired t-test and a paired bootstrap 95% interval of mean(ours) / mean(baseline)."""
    from scipy import stats

    ours, baseline = np.asarray(ours, np.float64), np.asarray(baseline, np.float64)
    test = stats.ttest_rel(ours, baseline)
    rng = np.random.default_rng(seed)
    samples = rng.integers(0, len(ours), size=(BOOTSTRAP_SAMPLES, len(ours)))
    denominators = baseline[samples].mean(axis=1)
    ratios = ours[samples].mean(axis=1) / np.where(denominators > 0, denominators, np.nan)
    low, high = np.nanpercentile(ratios, [2.5, 97.5])
    ratio = ours.mean() / baseline.mean() if baseline.mean() > 0 else float("inf")
    return Comparison(
        name, float(ratio), float(low), float(high), float(test.statistic), float(test.pvalue)
    )


class Evaluation:
    """Fits and scores every model on one split; ``phase`` is "validation" or "test"."""

    def __init__(self, split: Split) -> None:
        self.split = split
        self.items = split.items
        self.index = {item: i for i, item in enumerate(self.items)}
        self.users = split.users

    def histories(self, phase: str) -> list[list[str]]:
        if phase == "validation":
            return [list(self.split.train[u]) for u in self.users]
        return [[*self.split.train[u], self.split.validation[u]] for u in self.users]

    def ratings(self, phase: str) -> list[list[float]]:
        """The stars of each title of ``histories(phase)``."""
        out = []
        for u in self.users:
            stars = list(self.split.train_ratings.get(u) or [5.0] * len(self.split.train[u]))
            if phase != "validation":
                stars.append(self.split.validation_ratings.get(u, 5.0))
            out.append(stars)
        return out

    def targets(self, phase: str) -> np.ndarray:
        source = self.split.validation if phase == "validation" else self.split.test
        return np.array([self.index[source[u]] for u in self.users])

    def matrix(self, phase: str) -> np.ndarray:
        x = np.zeros((len(self.users), len(self.items)), dtype=np.float32)
        for u, history in enumerate(self.histories(phase)):
            x[u, [self.index[i] for i in history]] = 1.0
        return x

    def sequences(self, phase: str) -> list[list[int]]:
        return [[self.index[i] for i in history] for history in self.histories(phase)]

    def interactions(self, phase: str) -> list[Interaction]:
        rows: list[Interaction] = []
        for user in self.users:
            times = list(self.split.train_times[user])
            items = list(self.split.train[user])
            if phase == "test":
                items.append(self.split.validation[user])
                validated = self.split.validation_times.get(user)
                times.append(validated if validated is not None else (times or [0.0])[-1])
            rows.extend(
                Interaction(user, item, 1.0, datetime.fromtimestamp(t, UTC))
                for item, t in zip(items, times, strict=True)
            )
        return rows


# -- baselines --------------------------------------------------------------------------------
def most_popular(x: np.ndarray) -> np.ndarray:
    return np.broadcast_to(x.sum(axis=0), x.shape)


def item_knn(x: np.ndarray, k: int) -> np.ndarray:
    co = x.T @ x
    norms = np.sqrt(np.clip(np.diag(co), 1e-9, None))
    sim = co / (norms[:, None] * norms[None, :])
    np.fill_diagonal(sim, 0.0)
    if k < sim.shape[0]:
        cut = np.partition(sim, -k, axis=1)[:, -k][:, None]
        sim = np.where(sim >= cut, sim, 0.0)
    return np.asarray(x @ sim)


def implicit_als(x: np.ndarray, factors: int, regularization: float, alpha: float) -> np.ndarray:
    import threadpoolctl
    from implicit.cpu.als import AlternatingLeastSquares
    from scipy.sparse import csr_matrix

    with threadpoolctl.threadpool_limits(1, "blas"):
        model = AlternatingLeastSquares(
            factors=factors,
            regularization=regularization,
            alpha=alpha,
            iterations=15,
            random_state=7,
            calculate_training_loss=False,
        )
        model.fit(csr_matrix(x), show_progress=False)
    users = np.asarray(model.user_factors)
    items = np.asarray(model.item_factors)
    return np.asarray(users @ items.T)


def implicit_available() -> str | None:
    """None when ``implicit`` imports, else why not."""
    try:
        import implicit  # noqa: F401
    except ImportError as exc:
        return (
            f"the implicit library is not installed ({exc}); pip install 'media-gateway[recs-eval]'"
        )
    return None


def markov_chain(sequences: Sequence[Sequence[int]], n: int, smoothing: float) -> np.ndarray:
    """First-order Markov chain over items: P(next = j | last = i) estimated from every
    member's consecutive pairs, read at the member's last title; ``smoothing`` mixes in
    item popularity (max-normalized) so titles the chain never reached are still ordered."""
    counts = np.zeros((n, n), dtype=np.float64)
    popularity = np.zeros(n, dtype=np.float64)
    for sequence in sequences:
        seq = np.asarray(sequence, dtype=np.int64)
        np.add.at(popularity, seq, 1.0)
        if len(seq) > 1:
            np.add.at(counts, (seq[:-1], seq[1:]), 1.0)
    totals = counts.sum(axis=1, keepdims=True)
    totals[totals == 0] = 1.0
    transitions = counts / totals
    if popularity.max() > 0:
        popularity /= popularity.max()
    scores = np.zeros((len(sequences), n), dtype=np.float64)
    for u, sequence in enumerate(sequences):
        if len(sequence):
            scores[u] = transitions[sequence[-1]]
    return scores + smoothing * popularity[None, :]


def sessions_of(
    sequences: Sequence[Sequence[int]], times: Sequence[Sequence[float]], gap: float
) -> tuple[list[list[int]], list[int]]:
    """Viewing sessions (a new one after ``gap`` seconds without an interaction) and their
    members' row numbers."""
    sessions: list[list[int]] = []
    owners: list[int] = []
    for u, (sequence, stamps) in enumerate(zip(sequences, times, strict=True)):
        current: list[int] = []
        last: float | None = None
        for item, stamp in zip(sequence, stamps, strict=True):
            if current and last is not None and stamp - last > gap:
                sessions.append(current)
                owners.append(u)
                current = []
            current.append(item)
            last = stamp
        if current:
            sessions.append(current)
            owners.append(u)
    return sessions, owners


def session_knn(
    sequences: Sequence[Sequence[int]],
    times: Sequence[Sequence[float]],
    n: int,
    *,
    recent: int,
    neighbours: int,
    gap: float,
) -> np.ndarray:
    """V-SkNN (Ludewig & Jannach 2018): the member's ``recent`` last titles, weighted by a
    linear recency decay, against every other member's sessions by cosine similarity; the
    ``neighbours`` most similar sessions vote for their titles with their similarity."""
    sessions, owners = sessions_of(sequences, times, gap)
    matrix = np.zeros((len(sessions), n), dtype=np.float32)
    for s, session in enumerate(sessions):
        matrix[s, session] = 1.0
    session_norms = np.sqrt(np.clip(matrix.sum(axis=1), 1.0, None))
    query = np.zeros((len(sequences), n), dtype=np.float32)
    for u, sequence in enumerate(sequences):
        tail = list(sequence)[-recent:]
        for k, item in enumerate(tail):
            query[u, item] = max(query[u, item], (k + 1) / len(tail))
    query_norms = np.sqrt(np.clip((query > 0).sum(axis=1), 1.0, None))
    similarity = (query @ matrix.T) / (query_norms[:, None] * session_norms[None, :])
    owner = np.asarray(owners)
    similarity[np.arange(len(sequences))[:, None] == owner[None, :]] = 0.0  # not one's own
    k = min(neighbours, similarity.shape[1])
    if k < similarity.shape[1]:
        cut = np.partition(similarity, -k, axis=1)[:, -k][:, None]
        similarity = np.where(similarity >= cut, similarity, 0.0)
    return np.asarray(similarity @ matrix, dtype=np.float64)


# -- our ranker -------------------------------------------------------------------------------
EASE_LAMBDAS = (250.0, 500.0)
RECENCY = ((10, 0.8), (5, 0.5))  # (recent titles, recency decay)
# what a 1- or 2-star rating counts for in the member's history row: like any other title
# (1), nothing (0), or against its neighbours (-0.5); 3 to 5 stars count 1
LOW_RATING_WEIGHTS = (1.0, 0.0, -0.5)
ORDER_GRID: dict[str, Sequence[float]] = {  # tuned first, the other weights at 0
    "sequence": (0.25, 0.5, 1.0),
    "session": (0.5, 1.0, 2.0),
}
REST_GRID: dict[str, Sequence[float]] = {  # then these, at the best of the above
    "graph": (0.0, 0.25),
    "content": (0.0, 0.1),
    "popularity": (0.0, 0.15),
    "embedding": (0.0, 0.1),
}


@dataclass(frozen=True)
class TunedRanker:
    config: RankerConfig
    low_rating_weight: float | None  # None: graded as served (``feedback.rating_weight``)


class CachedEmbedder:
    """The embedder, each text embedded once per evaluation (the ranker is fitted often)."""

    def __init__(self, embedder: Embedder) -> None:
        self.inner = embedder
        self.name = embedder.name
        self.dimension = embedder.dimension
        self.min_similarity = getattr(embedder, "min_similarity", 0.0)
        self._vectors: dict[str, np.ndarray] = {}

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self._vectors]
        if missing:
            for text, vector in zip(missing, self.inner.embed(missing), strict=True):
                self._vectors[text] = np.asarray(vector, dtype=np.float32)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([self._vectors[t] for t in texts])


def graded_feedback(
    histories: Sequence[Sequence[str]],
    ratings: Sequence[Sequence[float]],
    low_rating_weight: float | None,
) -> list[dict[str, float]]:
    """Each member's titles graded by their stars, the latest rating of a title counting:
    ``low_rating_weight`` for 1 or 2 stars and 1 for the rest, or with ``None`` the grades
    served in production (``feedback.rating_weight``)."""
    out = []
    for history, stars in zip(histories, ratings, strict=True):
        grades: dict[str, float] = {}
        for item, star in zip(history, stars, strict=True):
            if low_rating_weight is None:
                grades[item] = rating_weight(star)
            else:
                grades[item] = low_rating_weight if star <= 2 else 1.0
        out.append(grades)
    return out


class _FittedRanker:
    def __init__(
        self, evaluation: Evaluation, phase: str, config: RankerConfig, embedder: Embedder | None
    ) -> None:
        interactions = evaluation.interactions(phase)
        now = max(r.occurred_at for r in interactions)
        features = {i: evaluation.split.features.get(i, ItemFeatures()) for i in evaluation.items}
        started = time.perf_counter()
        self.ranker = Ranker.fit(
            interactions, now=now, features=features, config=config, embedder=embedder
        )
        self.seconds = time.perf_counter() - started
        self.evaluation = evaluation
        self.phase = phase
        # the ranker's item order aligned with the evaluation's
        self.order = np.array([self.ranker.index.get(i, -1) for i in evaluation.items])

    def components(
        self, low_rating_weight: float | None, recency: tuple[int, float] | None = None
    ) -> dict[str, np.ndarray]:
        if recency is not None:  # how much of the history is "recent" needs no re-fit
            self.ranker.config = replace(
                self.ranker.config, recent_items=recency[0], recency_decay=recency[1]
            )
        histories = self.evaluation.histories(self.phase)
        feedback = graded_feedback(
            histories, self.evaluation.ratings(self.phase), low_rating_weight
        )
        seen, recent = self.ranker.history_vectors(histories, feedback)
        parts = self.ranker.components(seen, recent)
        known = self.order >= 0
        aligned = {}
        for name, scores in parts.items():
            out = np.full((scores.shape[0], len(self.order)), -1e6, dtype=np.float32)
            out[:, known] = scores[:, self.order[known]]
            aligned[name] = out
        return aligned


def _ndcg(scores: np.ndarray, seen: np.ndarray, targets: np.ndarray) -> float:
    return float(evaluate_scores(scores, seen, targets).ndcg10.mean())


def tune_ranker(
    evaluation: Evaluation, report: Report, embedder: Embedder | None = None
) -> TunedRanker:
    """Every setting of our ranker tuned on the validation item: the EASE regularization,
    how many recent titles count and how fast they fade, what low ratings count for, and the
    blend weights (the order-aware ones first, then the rest at the best of those)."""
    seen = evaluation.matrix("validation")
    targets = evaluation.targets("validation")
    best: tuple[float, float, tuple[int, float], float | None, dict[str, float]] | None = None
    order_names = list(ORDER_GRID)
    fitted_by_lambda = {}
    for ease_lambda in EASE_LAMBDAS:
        fitted = _FittedRanker(
            evaluation, "validation", RankerConfig(ease_lambda=ease_lambda), embedder
        )
        fitted_by_lambda[ease_lambda] = fitted
        for recency in RECENCY:
            for low in LOW_RATING_WEIGHTS:
                parts = fitted.components(low, recency)
                for values in itertools.product(*(ORDER_GRID[n] for n in order_names)):
                    chosen = dict(zip(order_names, values, strict=True))
                    weights = BlendWeights(
                        ease=1.0, graph=0, content=0, popularity=0, embedding=0, **chosen
                    )
                    ndcg = _ndcg(Ranker.blend(parts, weights), seen, targets)
                    if best is None or ndcg > best[0]:
                        best = (ndcg, ease_lambda, recency, low, chosen)
    assert best is not None
    _, ease_lambda, recency, best_low, chosen = best
    parts = fitted_by_lambda[ease_lambda].components(best_low, recency)
    rest_names = list(REST_GRID)
    top: tuple[float, BlendWeights] | None = None
    for values in itertools.product(*(REST_GRID[n] for n in rest_names)):
        weights = BlendWeights(ease=1.0, **chosen, **dict(zip(rest_names, values, strict=True)))
        ndcg = _ndcg(Ranker.blend(parts, weights), seen, targets)
        if top is None or ndcg > top[0]:
            top = (ndcg, weights)
    assert top is not None
    config = RankerConfig(
        ease_lambda=ease_lambda,
        recent_items=recency[0],
        recency_decay=recency[1],
        weights=top[1],
    )
    tuned = TunedRanker(config, best_low)
    report(f"  tuned {OURS}: validation NDCG@10 {top[0]:.4f} with {_describe(tuned)}")
    return tuned


def _describe(tuned: TunedRanker) -> str:
    config = tuned.config
    w = config.weights
    low = (
        "graded as served"
        if tuned.low_rating_weight is None
        else f"1-2 star ratings count {tuned.low_rating_weight:g}"
    )
    return (
        f"EASE λ={config.ease_lambda:g}, last {config.recent_items} titles fading by "
        f"{config.recency_decay:g}, weights ease={w.ease:g} sequence={w.sequence:g} "
        f"session={w.session:g} graph={w.graph:g} content={w.content:g} "
        f"popularity={w.popularity:g} embedding={w.embedding:g}; {low}"
    )


def _tune(
    name: str,
    grid: Sequence[Mapping[str, Any]],
    scorer: Callable[..., np.ndarray],
    evaluation: Evaluation,
    report: Report,
) -> Mapping[str, Any]:
    """The settings of ``grid`` with the best validation NDCG@10; ``scorer(phase, **params)``."""
    seen = evaluation.matrix("validation")
    targets = evaluation.targets("validation")
    best: tuple[float, Mapping[str, Any]] | None = None
    for params in grid:
        scores = scorer("validation", **params)
        ndcg = float(evaluate_scores(scores, seen, targets).ndcg10.mean())
        if best is None or ndcg > best[0]:
            best = (ndcg, params)
    assert best is not None
    report(f"  tuned {name}: validation NDCG@10 {best[0]:.4f} with {dict(best[1])}")
    return best[1]


def _final(
    name: str,
    evaluation: Evaluation,
    scorer: Callable[..., np.ndarray],
    params: Mapping[str, Any],
    settings: str,
) -> Result:
    seen = evaluation.matrix("test")
    targets = evaluation.targets("test")
    started = time.perf_counter()
    scores = scorer("test", **params)
    seconds = time.perf_counter() - started
    metrics = evaluate_scores(scores, seen, targets)
    return Result(name, metrics, len(metrics.top) / len(evaluation.items), seconds, settings)


def _settings(params: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in params.items())


def baseline_scorers(evaluation: Evaluation) -> dict[str, Callable[..., np.ndarray]]:
    """Each baseline as ``scorer(phase, **params)`` -> a users x items score matrix."""
    n = len(evaluation.items)

    def times(phase: str) -> list[list[float]]:
        out = []
        for u in evaluation.users:
            stamps = list(evaluation.split.train_times[u])
            if phase != "validation":
                stamps.append(evaluation.split.validation_times.get(u, (stamps or [0.0])[-1]))
            out.append(stamps)
        return out

    return {
        "most-popular": lambda phase: most_popular(evaluation.matrix(phase)),
        "item-kNN": lambda phase, **p: item_knn(evaluation.matrix(phase), **p),
        "implicit ALS": lambda phase, **p: implicit_als(evaluation.matrix(phase), **p),
        "Markov chain": lambda phase, **p: markov_chain(evaluation.sequences(phase), n, **p),
        "session-kNN": lambda phase, **p: session_knn(
            evaluation.sequences(phase), times(phase), n, **p
        ),
    }


BASELINE_GRIDS: dict[str, list[dict[str, Any]]] = {
    "most-popular": [{}],
    "item-kNN": [{"k": k} for k in (20, 50, 100, 200, 400, 800)],
    "implicit ALS": [
        {"factors": f, "regularization": r, "alpha": a}
        for f in (16, 32, 64, 128)
        for r in (0.01, 0.1)
        for a in (1.0, 10.0)
    ],
    "Markov chain": [{"smoothing": s} for s in (0.0, 0.001, 0.01, 0.1)],
    "session-kNN": [
        {"recent": m, "neighbours": k, "gap": g}
        for m in (5, 10, 20)
        for k in (50, 200, 500)
        for g in (3600.0, float("inf"))
    ],
}


def run_evaluation(
    path: Path,
    report: Report = print,
    progress: bool = True,
    embedder: Embedder | None = None,
    *,
    ties: TieOrder = "file",
    seed: int = 0,
    split: Split | None = None,
    grids: Mapping[str, list[dict[str, Any]]] | None = None,
) -> list[Result]:
    """Tune on validation, report on test; returns the rows of the printed table."""
    from tqdm import tqdm

    started = time.perf_counter()
    embedder = embedder or HashingEmbedder()
    split = split or load_split(path, ties=ties, seed=seed)
    evaluation = Evaluation(split)
    interactions = sum(len(v) for v in split.train.values()) + 2 * len(split.users)
    tie_text = "in file order" if ties == "file" else f"in a random order (seed {seed})"
    report(
        f"MovieLens-100K: {len(split.users)} members, {len(split.items)} titles, "
        f"{interactions} interactions; leave-last-out, same-second ties {tie_text}, "
        "full ranking."
    )
    results: list[Result] = []
    scorers = baseline_scorers(evaluation)
    grid_of = {**BASELINE_GRIDS, **(grids or {})}
    stages = tqdm(total=len(BASELINES) + 1, desc="evaluate", unit="model", disable=not progress)

    report("Tuning on the validation item:")
    for name in BASELINES:
        if name == "implicit ALS" and (missing := implicit_available()) is not None:
            report(f"  implicit ALS skipped: {missing}")
            stages.update()
            continue
        grid = grid_of[name]
        params = _tune(name, grid, scorers[name], evaluation, report) if len(grid) > 1 else grid[0]
        results.append(_final(name, evaluation, scorers[name], params, _settings(params) or "-"))
        stages.update()

    report(f"  title embeddings: {embedder.name}")
    embedder = CachedEmbedder(embedder)
    tuned = tune_ranker(evaluation, report, embedder)
    seen = evaluation.matrix("test")
    targets = evaluation.targets("test")
    ease_only = BlendWeights(1.0, 0, 0, 0, 0, 0, 0)
    variants = (
        ("EASE alone (ablation)", TunedRanker(tuned.config.with_weights(ease_only), 1.0)),
        (OURS, tuned),
        (SERVED, TunedRanker(tuned.config, None)),
    )
    fitted = _FittedRanker(evaluation, "test", tuned.config, embedder)
    for name, variant in variants:
        scores = Ranker.blend(
            fitted.components(
                variant.low_rating_weight,
                (variant.config.recent_items, variant.config.recency_decay),
            ),
            variant.config.weights,
        )
        metrics = evaluate_scores(scores, seen, targets)
        results.append(
            Result(
                name,
                metrics,
                len(metrics.top) / len(evaluation.items),
                fitted.seconds,
                _describe(variant),
            )
        )
    stages.update()
    stages.close()
    liked = np.array([split.test_ratings.get(u, 5.0) >= 4 for u in evaluation.users])
    print_table(results, report, liked)
    report(f"Run time: {time.perf_counter() - started:.0f} s.")
    return results


def best_baseline(results: Sequence[Result]) -> Result:
    return max((r for r in results if r.name in BASELINES), key=lambda r: r.ndcg10)


def print_table(
    results: Sequence[Result], report: Report, liked: np.ndarray | None = None
) -> Comparison:
    report("")
    report("Test item (fitted on training + validation); mean ± standard error over members:")
    report(
        f"{'model':<24}{'NDCG@10':>17}{'HR@10':>17}{'Recall@20':>17}{'coverage':>10}{'train s':>9}"
    )
    for r in results:
        cells = [
            "{:.4f} ± {:.4f}".format(*Metrics.mean_se(values))
            for values in (r.metrics.ndcg10, r.metrics.hr10, r.metrics.recall20)
        ]
        report(
            f"{r.name:<24}{cells[0]:>17}{cells[1]:>17}{cells[2]:>17}"
            f"{r.coverage:>10.3f}{r.train_seconds:>9.2f}"
        )
    ours = next(r for r in results if r.name == OURS)
    best = best_baseline(results)
    comparison = compare(ours.metrics.ndcg10, best.metrics.ndcg10, best.name)
    report("")
    report(f"Best baseline on NDCG@10: {best.name} ({best.ndcg10:.4f}).")
    report(
        f"{OURS.capitalize()}: {ours.ndcg10:.4f} NDCG@10, {comparison.ratio:.2f}x the best "
        f"baseline (paired bootstrap 95% interval {comparison.ratio_low:.2f}x to "
        f"{comparison.ratio_high:.2f}x; paired t-test t = {comparison.t_statistic:.2f}, "
        f"p = {comparison.p_value:.2g})."
    )
    if liked is not None and liked.any():
        report(
            f"Members whose held-out title they rated 4 or 5 ({int(liked.sum())} of "
            f"{len(liked)}), NDCG@10: "
            + ", ".join(
                f"{r.name} {r.metrics.ndcg10[liked].mean():.4f}"
                for r in (best, ours, *[r for r in results if r.name == SERVED])
            )
            + "."
        )
    report("Settings:")
    for r in results:
        report(f"  {r.name}: {r.settings}")
    return comparison
