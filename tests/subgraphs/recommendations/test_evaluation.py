"""The offline evaluation's protocol on tiny data sets: same-second ties keep the order they
were recorded in (or a seeded random one), the order-aware baselines exist and score what
they should, and a whole run prints every model with standard errors and a paired test."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from media_gateway.subgraphs.recommendations.evaluation import (
    BASELINES,
    OURS,
    SERVED,
    Evaluation,
    compare,
    evaluate_scores,
    load_split,
    markov_chain,
    run_evaluation,
    session_knn,
    split_events,
)
from media_gateway.subgraphs.recommendations.ranker import ItemFeatures

HEADER = "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"


def _write(folder: Path, rows: list[tuple[str, str, float, int]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lines = [HEADER] + [f"{u}\t{i}\t{r:g}\t{t}\n" for u, i, r, t in rows]
    (folder / "ml-100k.inter").write_text("".join(lines), encoding="utf-8")
    return folder


def test_same_second_ties_keep_the_recorded_order(tmp_path: Path) -> None:
    # the member rated four titles in one second, in the order 30, 20, 10, 40; sorting ties by
    # item id would hold out 40 and validate on 30 instead of 40 and then 10
    rows = [
        ("1", "5", 4, 100),
        ("1", "30", 4, 200),
        ("1", "20", 3, 200),
        ("1", "10", 5, 200),
        ("1", "40", 2, 200),
        ("2", "5", 4, 100),
        ("2", "7", 4, 150),
        ("2", "9", 4, 120),  # out of time order in the file: time still decides
    ]
    split = load_split(_write(tmp_path / "ties", rows))
    assert split.test["1"] == "40" and split.validation["1"] == "10"
    assert split.train["1"] == ["5", "30", "20"]
    assert split.validation_ratings["1"] == 5.0
    assert split.test["2"] == "7" and split.validation["2"] == "9" and split.train["2"] == ["5"]

    # a random tie order: reproducible with its seed, and still only among the tied ones
    events = {"1": [(float(t), i, float(r)) for u, i, r, t in rows if u == "1"]}
    orders = {
        tuple(split_events(events, ties="random", seed=seed).train["1"][:1]) for seed in range(20)
    }
    assert orders == {("5",)}  # the only title before the tied second stays first
    again = [split_events(events, ties="random", seed=3).test["1"] for _ in range(3)]
    assert len(set(again)) == 1
    held_out = {split_events(events, ties="random", seed=seed).test["1"] for seed in range(40)}
    assert held_out == {"30", "20", "10", "40"}


def _sequential_split() -> Evaluation:
    """Members walk a fixed chain of titles a -> b -> c -> d -> e -> f, each starting at a
    different point; a few read it in a different order."""
    chain = ["a", "b", "c", "d", "e", "f", "g", "h"]
    by_user: dict[str, list[tuple[float, str, float]]] = {}
    for u in range(30):
        start = u % 4
        titles = chain[start : start + 4 + u % 3]
        by_user[str(u)] = [(float(k), t, 5.0) for k, t in enumerate(titles)]
    features = {t: ItemFeatures(("Drama",), 2000) for t in chain}
    return Evaluation(split_events(by_user, features))


def test_the_markov_chain_predicts_the_next_title_of_the_chain() -> None:
    evaluation = _sequential_split()
    n = len(evaluation.items)
    scores = markov_chain(evaluation.sequences("validation"), n, smoothing=0.0)
    metrics = evaluate_scores(
        scores, evaluation.matrix("validation"), evaluation.targets("validation")
    )
    # the next title of the chain first, but where no training member made that step yet
    assert metrics.hr10.mean() == 1.0 and metrics.ndcg10.mean() > 0.85
    # popularity alone does not know the order
    popular = np.broadcast_to(evaluation.matrix("validation").sum(axis=0), scores.shape)
    assert (
        evaluate_scores(
            popular, evaluation.matrix("validation"), evaluation.targets("validation")
        ).ndcg10.mean()
        < 1.0
    )


def test_session_knn_finds_the_sessions_like_the_members_last_titles() -> None:
    evaluation = _sequential_split()
    n = len(evaluation.items)
    times = [list(evaluation.split.train_times[u]) for u in evaluation.users]
    scores = session_knn(
        evaluation.sequences("validation"), times, n, recent=2, neighbours=10, gap=float("inf")
    )
    metrics = evaluate_scores(
        scores, evaluation.matrix("validation"), evaluation.targets("validation")
    )
    assert 0.5 < metrics.hr10.mean() <= 1.0
    assert 0.0 < metrics.ndcg10.mean() <= metrics.hr10.mean()


def test_standard_errors_and_the_paired_comparison() -> None:
    better = np.array([1.0, 0.5, 0.0, 1.0] * 50)
    worse = np.array([0.5, 0.5, 0.0, 0.5] * 50)
    comparison = compare(better, worse, "worse")
    assert comparison.ratio == better.mean() / worse.mean()
    assert comparison.ratio_low <= comparison.ratio <= comparison.ratio_high
    assert comparison.p_value < 0.01 and comparison.t_statistic > 0
    same = compare(worse, worse, "same")
    assert same.ratio == 1.0


def test_a_whole_run_on_a_tiny_data_set(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    rows: list[tuple[str, str, float, int]] = []
    for u in range(40):
        group = u % 2  # two tastes, each a rough order of titles
        titles = [str(1 + group * 20 + k) for k in range(20)]
        start = int(rng.integers(0, 6))
        for k, title in enumerate(titles[start : start + 8 + u % 5]):
            rows.append((str(u + 1), title, float(rng.integers(1, 6)), 1000 + k * 60))
    folder = _write(tmp_path / "tiny", rows)
    (folder / "ml-100k.item").write_text(
        "item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n"
        + "".join(
            f"{i}\tTitle {i}\t{1990 + i % 10}\t{'Drama' if i <= 20 else 'Comedy'}\n"
            for i in range(1, 41)
        ),
        encoding="utf-8",
    )
    lines: list[str] = []
    results = run_evaluation(
        folder,
        report=lines.append,
        progress=False,
        grids={
            "item-kNN": [{"k": 5}, {"k": 20}],
            "implicit ALS": [{"factors": 4, "regularization": 0.1, "alpha": 1.0}],
            "session-kNN": [{"recent": 3, "neighbours": 10, "gap": 3600.0}],
        },
    )
    names = [r.name for r in results]
    assert set(BASELINES) <= set(names) and OURS in names and SERVED in names
    for r in results:
        for values in (r.metrics.ndcg10, r.metrics.hr10, r.metrics.recall20):
            assert len(values) == 40 and 0.0 <= values.mean() <= 1.0
        assert r.ndcg10 <= r.hr10 <= r.recall20
    text = "\n".join(lines)
    assert "same-second ties in file order" in text
    assert "±" in text and "paired t-test" in text and "Best baseline on NDCG@10" in text
    # ordered data: the order-aware models beat popularity
    by_name = {r.name: r for r in results}
    assert by_name["Markov chain"].hr10 > by_name["most-popular"].hr10
