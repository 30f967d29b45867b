"""Offline evaluation on MovieLens-100K: our ranker against standard recommenders.

Protocol (leave-last-out, full ranking):

- every rating counts as an implicit interaction; each member's interactions are ordered by
  timestamp (ties by item id);
- the chronologically last interaction is the **test** item, the one before it the
  **validation** item, the rest **training**;
- tuning: models are fitted on training and scored on the validation item; the chosen
  settings are then re-fitted on training + validation and scored on the test item;
- every title the member has not seen in the fitted data is ranked (no sampled negatives);
  ties are split evenly (expected rank under a random tie-break);
- HR@10, NDCG@10 and Recall@20 (one held-out item, so Recall@20 = HR@20) are averaged
  over members; catalog coverage is the share of all titles appearing in some member's top 10;
  training time is the final fit's wall time.

Baselines, tuned on validation the same way: most-popular, item-kNN (cosine, top-k
neighbours) and the ``implicit`` library's ALS (installed with the ``recs-eval`` extra).
"""

from __future__ import annotations

import csv
import itertools
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from media_gateway.platform.embeddings import Embedder, HashingEmbedder
from media_gateway.subgraphs.recommendations.ranker import (
    BlendWeights,
    Interaction,
    ItemFeatures,
    Ranker,
    RankerConfig,
    item_text,
)

Report = Callable[[str], Any]


@dataclass(frozen=True)
class Split:
    users: list[str]
    items: list[str]
    train: dict[str, list[str]]  # oldest first
    train_times: dict[str, list[float]]
    validation: dict[str, str]
    test: dict[str, str]
    features: dict[str, ItemFeatures]


@dataclass
class Result:
    name: str
    hr10: float
    ndcg10: float
    recall20: float
    coverage: float
    train_seconds: float
    settings: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def _read(path: Path) -> Iterator[dict[str, str]]:
    with path.open(encoding="utf-8", errors="replace", newline="") as handle:
        reader = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader)
        names = [column.split(":", 1)[0] for column in header]
        for row in reader:
            if row:
                yield dict(zip(names, row, strict=False))


def load_split(path: Path) -> Split:
    """MovieLens-100K (RecBole atomic files) split by the protocol above."""
    by_user: dict[str, list[tuple[float, str]]] = {}
    for row in _read(path / "ml-100k.inter"):
        by_user.setdefault(row["user_id"], []).append((float(row["timestamp"]), row["item_id"]))
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
    train: dict[str, list[str]] = {}
    times: dict[str, list[float]] = {}
    validation: dict[str, str] = {}
    test: dict[str, str] = {}
    for user, events in by_user.items():
        events.sort(key=lambda e: (e[0], int(e[1]) if e[1].isdigit() else e[1]))
        if len(events) < 3:
            continue
        test[user] = events[-1][1]
        validation[user] = events[-2][1]
        train[user] = [item for _, item in events[:-2]]
        times[user] = [t for t, _ in events[:-2]]
    users = sorted(train, key=lambda u: int(u) if u.isdigit() else u)
    all_items = sorted(
        set(features) | {i for u in users for i in (*train[u], validation[u], test[u])},
        key=lambda i: int(i) if i.isdigit() else i,
    )
    return Split(users, all_items, train, times, validation, test, features)


# -- metrics ----------------------------------------------------------------------------------
def evaluate_scores(
    scores: np.ndarray, seen: np.ndarray, targets: np.ndarray
) -> tuple[float, float, float, set[int]]:
    """(HR@10, NDCG@10, Recall@20, items in some top 10) for a users x items score matrix."""
    masked = np.where(seen > 0, -np.inf, scores.astype(np.float64))
    rows = np.arange(len(targets))
    target = masked[rows, targets][:, None]
    higher = (masked > target).sum(axis=1)
    ties = (masked == target).sum(axis=1) - 1
    rank = higher + ties / 2.0
    hr10 = float((rank < 10).mean())
    ndcg10 = float(np.where(rank < 10, 1.0 / np.log2(rank + 2.0), 0.0).mean())
    recall20 = float((rank < 20).mean())
    top = np.argpartition(-masked, 10, axis=1)[:, :10]
    return hr10, ndcg10, recall20, {int(i) for i in top.ravel()}


class Evaluation:
    """Fits and scores every model on one split; ``fit_set`` is "validation" or "test"."""

    def __init__(self, split: Split) -> None:
        self.split = split
        self.items = split.items
        self.index = {item: i for i, item in enumerate(self.items)}
        self.users = split.users

    def histories(self, phase: str) -> list[list[str]]:
        if phase == "validation":
            return [list(self.split.train[u]) for u in self.users]
        return [[*self.split.train[u], self.split.validation[u]] for u in self.users]

    def targets(self, phase: str) -> np.ndarray:
        source = self.split.validation if phase == "validation" else self.split.test
        return np.array([self.index[source[u]] for u in self.users])

    def matrix(self, phase: str) -> np.ndarray:
        x = np.zeros((len(self.users), len(self.items)), dtype=np.float32)
        for u, history in enumerate(self.histories(phase)):
            x[u, [self.index[i] for i in history]] = 1.0
        return x

    def interactions(self, phase: str) -> list[Interaction]:
        rows: list[Interaction] = []
        for user in self.users:
            times = list(self.split.train_times[user])
            items = list(self.split.train[user])
            if phase == "test":
                items.append(self.split.validation[user])
                times.append(times[-1] + 1 if times else 0.0)
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


# -- our ranker -------------------------------------------------------------------------------
EASE_LAMBDAS = (100.0, 250.0, 500.0)
WEIGHT_GRID: dict[str, Sequence[float]] = {
    "sequence": (0.0, 0.5, 1.0, 2.0, 4.0),
    "graph": (0.0, 0.25),
    "content": (0.0, 0.05, 0.15),
    "popularity": (0.0, 0.15, 0.35),
    "embedding": (0.0, 0.05, 0.15),
}


def _fit_ranker(
    evaluation: Evaluation, phase: str, config: RankerConfig, embedder: Embedder | None = None
) -> tuple[Ranker, float, dict[str, np.ndarray]]:
    interactions = evaluation.interactions(phase)
    now = max(r.occurred_at for r in interactions)
    features = {i: evaluation.split.features.get(i, ItemFeatures()) for i in evaluation.items}
    started = time.perf_counter()
    ranker = Ranker.fit(interactions, now=now, features=features, config=config, embedder=embedder)
    seconds = time.perf_counter() - started
    seen, recent = ranker.history_vectors(evaluation.histories(phase))
    parts = ranker.components(seen, recent)
    # align the ranker's item order with the evaluation's
    order = np.array([ranker.index.get(i, -1) for i in evaluation.items])
    aligned = {}
    for name, scores in parts.items():
        out = np.full((scores.shape[0], len(order)), -1e6, dtype=np.float32)
        known = order >= 0
        out[:, known] = scores[:, order[known]]
        aligned[name] = out
    return ranker, seconds, aligned


def tune_ranker(
    evaluation: Evaluation, report: Report, embedder: Embedder | None = None
) -> RankerConfig:
    seen = evaluation.matrix("validation")
    targets = evaluation.targets("validation")
    best: tuple[float, RankerConfig] | None = None
    for ease_lambda in EASE_LAMBDAS:
        config = RankerConfig(ease_lambda=ease_lambda)
        _ranker, _seconds, parts = _fit_ranker(evaluation, "validation", config, embedder)
        names = list(WEIGHT_GRID)
        for values in itertools.product(*(WEIGHT_GRID[n] for n in names)):
            weights = BlendWeights(ease=1.0, **dict(zip(names, values, strict=True)))
            scores = Ranker.blend(parts, weights)
            _hr, ndcg, _r, _c = evaluate_scores(scores, seen, targets)
            if best is None or ndcg > best[0]:
                best = (ndcg, config.with_weights(weights))
    assert best is not None
    report(f"  tuned ranker: validation NDCG@10 {best[0]:.4f} with {_describe(best[1])}")
    return best[1]


def _describe(config: RankerConfig) -> str:
    w = config.weights
    return (
        f"EASE λ={config.ease_lambda:g}, weights ease={w.ease:g} sequence={w.sequence:g} "
        f"graph={w.graph:g} content={w.content:g} popularity={w.popularity:g} "
        f"embedding={w.embedding:g}"
    )


def _tune(
    name: str,
    grid: Sequence[Mapping[str, Any]],
    scorer: Callable[..., np.ndarray],
    evaluation: Evaluation,
    report: Report,
) -> Mapping[str, Any]:
    seen = evaluation.matrix("validation")
    targets = evaluation.targets("validation")
    best: tuple[float, Mapping[str, Any]] | None = None
    for params in grid:
        scores = scorer(seen, **params)
        ndcg = evaluate_scores(scores, seen, targets)[1]
        if best is None or ndcg > best[0]:
            best = (ndcg, params)
    assert best is not None
    report(f"  tuned {name}: validation NDCG@10 {best[0]:.4f} with {dict(best[1])}")
    return best[1]


def _final(
    name: str, evaluation: Evaluation, fit: Callable[[np.ndarray], np.ndarray], settings: str
) -> Result:
    seen = evaluation.matrix("test")
    targets = evaluation.targets("test")
    started = time.perf_counter()
    scores = fit(seen)
    seconds = time.perf_counter() - started
    hr, ndcg, recall, top = evaluate_scores(scores, seen, targets)
    return Result(name, hr, ndcg, recall, len(top) / len(evaluation.items), seconds, settings)


def run_evaluation(
    path: Path, report: Report = print, progress: bool = True, embedder: Embedder | None = None
) -> list[Result]:
    """Tune on validation, report on test; returns the rows of the printed table."""
    from tqdm import tqdm

    embedder = embedder or HashingEmbedder()

    split = load_split(path)
    evaluation = Evaluation(split)
    interactions = sum(len(v) for v in split.train.values()) + 2 * len(split.users)
    report(
        f"MovieLens-100K: {len(split.users)} members, {len(split.items)} titles, "
        f"{interactions} interactions; leave-last-out, full ranking."
    )
    results: list[Result] = []
    stages = tqdm(total=4, desc="evaluate", unit="model", disable=not progress)

    report("Tuning on the validation item:")
    results.append(_final("most-popular", evaluation, most_popular, "counts"))
    stages.update()

    knn = _tune(
        "item-kNN", [{"k": k} for k in (20, 50, 100, 200, 400, 800)], item_knn, evaluation, report
    )
    results.append(
        _final("item-kNN", evaluation, lambda x: item_knn(x, **knn), f"cosine, k={knn['k']}")
    )
    stages.update()

    missing = implicit_available()
    if missing is None:
        als_grid = [
            {"factors": f, "regularization": r, "alpha": a}
            for f in (16, 32, 64, 128)
            for r in (0.01, 0.1)
            for a in (1.0, 10.0)
        ]
        als = _tune("implicit ALS", als_grid, implicit_als, evaluation, report)
        results.append(
            _final(
                "implicit ALS",
                evaluation,
                lambda x: implicit_als(x, **als),
                ", ".join(f"{k}={v}" for k, v in als.items()) + ", 15 iterations",
            )
        )
    else:
        report(f"  implicit ALS skipped: {missing}")
    stages.update()

    report(f"  title embeddings: {embedder.name}")
    config = tune_ranker(evaluation, report, embedder)
    seen = evaluation.matrix("test")
    targets = evaluation.targets("test")
    for name, weights in (
        ("EASE alone (ablation)", BlendWeights(1.0, 0.0, 0.0, 0.0, 0.0, 0.0)),
        ("our ranker", config.weights),
    ):
        ranker_config = config.with_weights(weights)
        _ranker, seconds, parts = _fit_ranker(evaluation, "test", ranker_config, embedder)
        scores = Ranker.blend(parts, weights)
        hr, ndcg, recall, top = evaluate_scores(scores, seen, targets)
        results.append(
            Result(
                name,
                hr,
                ndcg,
                recall,
                len(top) / len(evaluation.items),
                seconds,
                _describe(ranker_config),
            )
        )
    stages.update()
    stages.close()

    report("")
    report("Test item (fitted on training + validation):")
    report(
        f"{'model':<24}{'HR@10':>8}{'NDCG@10':>9}{'Recall@20':>11}{'coverage':>10}{'train s':>9}"
    )
    for r in results:
        report(
            f"{r.name:<24}{r.hr10:>8.4f}{r.ndcg10:>9.4f}{r.recall20:>11.4f}"
            f"{r.coverage:>10.3f}{r.train_seconds:>9.2f}"
        )
    ours = next(r for r in results if r.name == "our ranker")
    baselines = [r for r in results if r.name in ("most-popular", "item-kNN", "implicit ALS")]
    best = max(baselines, key=lambda r: r.ndcg10)
    lift = (ours.ndcg10 / best.ndcg10 - 1.0) * 100 if best.ndcg10 > 0 else float("inf")
    report("")
    report(f"Best baseline on NDCG@10: {best.name} ({best.ndcg10:.4f}).")
    report(f"Our ranker: {ours.ndcg10:.4f} NDCG@10, {lift:+.1f}% against it.")
    report("Settings:")
    for r in results:
        report(f"  {r.name}: {r.settings}")
    return results
