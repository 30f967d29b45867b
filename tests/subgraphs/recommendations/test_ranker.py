"""The ranker, experiments and the evaluation protocol, without storage."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from media_gateway.subgraphs.recommendations.experiments import (
    Experiment,
    Variant,
    wilson_interval,
)
from media_gateway.subgraphs.recommendations.ranker import Interaction, Ranker

NOW = datetime(2024, 6, 1, tzinfo=UTC)


def _fit(rows: dict[str, list[str]]) -> Ranker:
    return Ranker.fit(
        [
            Interaction(user, item, 1.0, NOW - timedelta(days=10 - k))
            for user, items in rows.items()
            for k, item in enumerate(items)
        ],
        now=NOW,
    )


def test_co_watched_titles_rank_first_and_history_is_excluded_by_serving() -> None:
    ranker = _fit(
        {
            "a": ["alien", "aliens", "predator"],
            "b": ["alien", "aliens"],
            "c": ["alien", "aliens", "heat"],
            "d": ["toy-story", "up", "coco"],
            "e": ["toy-story", "up"],
            "f": ["up", "coco", "heat"],
        }
    )
    scores, _ = ranker.score(["alien"])
    ordered = [ranker.items[i] for i in scores.argsort()[::-1] if ranker.items[i] != "alien"]
    assert ordered[0] == "aliens"


def test_cold_start_is_popularity() -> None:
    ranker = _fit({"a": ["x", "y"], "b": ["x"], "c": ["x", "z"], "d": ["y"]})
    scores, _ = ranker.score([])
    assert [ranker.items[i] for i in scores.argsort()[::-1]][:2] == ["x", "y"]


def test_assignment_is_stable_and_follows_shares() -> None:
    experiment = Experiment("blend", "Blend", (Variant("a", 0.8), Variant("b", 0.2)))
    users = [f"user-{k}" for k in range(4000)]
    first = [experiment.assign(u).name for u in users]
    assert first == [experiment.assign(u).name for u in users]
    share_a = first.count("a") / len(users)
    assert 0.76 < share_a < 0.84


def test_wilson_interval_contains_the_rate() -> None:
    low, high = wilson_interval(30, 100)
    assert low < 0.3 < high and low >= 0 and high <= 1
    assert wilson_interval(0, 0) == (0.0, 0.0)


MOVIELENS = Path(
    os.environ.get("MOVIELENS_PATH")
    or Path(__file__).resolve().parents[3] / "../shared/data/movielens-100k"
)


def test_protocol_split_on_movielens() -> None:
    if not (MOVIELENS / "ml-100k.inter").is_file():
        pytest.skip("MovieLens-100K not found (set MOVIELENS_PATH)")
    from media_gateway.subgraphs.recommendations.evaluation import load_split

    split = load_split(MOVIELENS)
    assert len(split.users) == 943
    total = sum(len(v) for v in split.train.values()) + 2 * len(split.users)
    assert total == 100_000
    assert all(split.train_times[u] == sorted(split.train_times[u]) for u in split.users)


def test_one_member_scoring_matches_the_batch_scoring() -> None:
    """Serving reads only the member's rows; evaluation multiplies whole matrices: same
    scores (the PageRank walk is one precomputed operator in both)."""
    import numpy as np

    from media_gateway.subgraphs.recommendations.ranker import ItemFeatures

    titles = [f"t{k}" for k in range(12)]
    rows = {f"u{u}": [titles[(u * 5 + k * 3) % 12] for k in range(5 + u % 4)] for u in range(30)}
    features = {
        t: ItemFeatures(("Drama",) if k % 2 else ("Comedy",), 1990 + k)
        for k, t in enumerate(titles)
    }
    ranker = Ranker.fit(
        [
            Interaction(user, item, 1.0, NOW - timedelta(days=10 - k))
            for user, items in rows.items()
            for k, item in enumerate(items)
        ],
        now=NOW,
        features=features,
    )
    history = ["t3", "t7", "t1", "t7", "t9"]
    seen, recent = ranker.history_vectors([history])
    batch = ranker.components(seen, recent)
    single = ranker.member_components(history)
    for name, scores in batch.items():
        assert np.allclose(scores[0], single[name], atol=1e-4), name
    # the walk operator is the few-step personalized PageRank it replaces
    restart = recent / recent.sum()
    walk, ppr = restart.copy(), np.zeros_like(restart)
    for _ in range(ranker.config.graph_steps):
        walk = walk @ ranker.graph
        ppr += walk
        walk *= 1 - ranker.config.graph_restart
    assert np.allclose(ppr, restart @ ranker.walk, atol=1e-5)


def test_partial_sort_matches_a_full_stable_sort() -> None:
    import numpy as np

    from media_gateway.subgraphs.recommendations.selection import ranked

    rng = np.random.default_rng(7)
    scores = rng.integers(0, 20, size=300).astype(np.float32)  # many ties
    full = np.argsort(-scores, kind="stable")
    for needed in (1, 10, 80, 300, 400):
        top = ranked(scores, needed)
        assert len(top) == min(needed, 300)
        assert np.array_equal(scores[top], scores[full[: len(top)]])
        assert list(top) == sorted(top, key=lambda i: (-scores[i], i))


def test_embedding_signal_ranks_the_near_identical_title_first() -> None:
    """Title embeddings (the catalog's embedder over title, genres and synopsis): the title
    whose text nearly matches what the member just watched scores highest, even though
    co-watching points elsewhere; vectors are stored normalized with the embedder's name."""
    import json
    from dataclasses import asdict

    import numpy as np

    from media_gateway.platform.embeddings import HashingEmbedder
    from media_gateway.subgraphs.recommendations.models import ModelArtifactRecord
    from media_gateway.subgraphs.recommendations.ranker import ItemFeatures, item_text
    from media_gateway.subgraphs.recommendations.training import _deserialize, _serialize

    catalog = {
        "deep-orbit": ("Deep Orbit", ("Science Fiction",), "A crew drifts past Jupiter."),
        "deep-orbit-2": ("Deep Orbit II", ("Science Fiction",), "A crew drifts past Saturn."),
        "harbour-lights": ("Harbour Lights", ("Drama",), "A fishing town loses its mill."),
        "the-last-waltz": ("The Last Waltz", ("Music",), "A band plays its final concert."),
        "kitchen-wars": ("Kitchen Wars", ("Comedy",), "Two chefs share one restaurant."),
        "frozen-pass": ("Frozen Pass", ("Adventure",), "Climbers wait out a storm."),
    }
    features = {
        cid: ItemFeatures(genres, 2000, item_text(title, genres, synopsis))
        for cid, (title, genres, synopsis) in catalog.items()
    }
    rows = {  # co-watching ties "deep-orbit" to everything but its sequel
        f"u{u}": ["deep-orbit", other]
        for u, other in enumerate(["harbour-lights", "the-last-waltz", "kitchen-wars"] * 3)
    }
    embedder = HashingEmbedder()
    ranker = Ranker.fit(
        [
            Interaction(user, item, 1.0, NOW - timedelta(days=5 - k))
            for user, items in rows.items()
            for k, item in enumerate(items)
        ],
        now=NOW,
        features=features,
        embedder=embedder,
    )
    history = ["deep-orbit"]
    scores = ranker.member_components(history)["embedding"]
    candidates = [i for i, item in enumerate(ranker.items) if item not in history]
    assert ranker.items[max(candidates, key=lambda i: scores[i])] == "deep-orbit-2"
    assert ranker.items[int(np.argmax(ranker.member_components(history)["ease"]))] != (
        "deep-orbit-2"
    )

    assert ranker.vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(ranker.vectors, axis=1), 1.0, atol=1e-5)
    assert ranker.embedding_model == embedder.name

    # stored with the model version and served the same after loading
    record = ModelArtifactRecord(
        config=json.dumps(asdict(ranker.config)),
        items=json.dumps(ranker.items),
        artifact=_serialize(ranker),
    )
    loaded = _deserialize(record)
    assert loaded.embedding_model == embedder.name
    assert loaded.vectors.dtype == np.float32
    assert np.allclose(loaded.member_components(history)["embedding"], scores, atol=1e-6)
