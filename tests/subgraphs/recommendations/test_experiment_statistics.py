"""The statistics of experiment results, without storage: the interval of the difference
between two variants' rates, and which changes each lifecycle state allows."""

from __future__ import annotations

import pytest

from media_gateway.subgraphs.recommendations.experiments import (
    CONCLUDED,
    DRAFT,
    RUNNING,
    STOPPED,
    TRANSITIONS,
    VariantResult,
    compare,
    difference_interval,
)


def test_difference_interval_matches_newcombes_worked_example() -> None:
    # Newcombe (1998), "Interval estimation for the difference between independent
    # proportions", example (a): 56/70 against 48/80, method 10: 0.0524 to 0.3339
    difference, low, high = difference_interval((48, 80), (56, 70))
    assert difference == pytest.approx(0.2)
    assert (round(low, 4), round(high, 4)) == (0.0524, 0.3339)


def test_difference_interval_is_bounded_and_contains_the_difference() -> None:
    for a, b in (((0, 10), (0, 20)), ((10, 10), (0, 5)), ((3, 40), (7, 41)), ((0, 0), (1, 2))):
        difference, low, high = difference_interval(a, b)
        assert -1.0 <= low <= difference <= high <= 1.0


def test_each_variant_is_compared_with_the_first_for_every_outcome() -> None:
    results = [
        VariantResult("control", 0.5, 10, 100, {"click": 10}),
        VariantResult("bold", 0.25, 5, 50, {"click": 10, "play": 60}),
        VariantResult("mild", 0.25, 5, 50, {}),
    ]
    comparisons = compare(results)
    assert [(c.variant, c.kind) for c in comparisons] == [
        (name, kind) for name in ("bold", "mild") for kind in ("click", "play", "finish")
    ]
    bold_click = comparisons[0]
    assert bold_click.control == "control"
    assert bold_click.difference == pytest.approx(0.2 - 0.1)
    bold_play = comparisons[1]
    assert bold_play.difference == pytest.approx(1.0)  # outcomes never above exposures
    assert compare(results[:1]) == []


def test_the_lifecycle_allows_what_it_says() -> None:
    allowed = {action: sources for action, (sources, _) in TRANSITIONS.items()}
    assert allowed["start"] == {DRAFT, STOPPED}
    assert allowed["stop"] == {RUNNING}
    assert CONCLUDED not in set().union(*allowed.values())  # concluded is final
    assert {target for _, target in TRANSITIONS.values()} == {RUNNING, STOPPED, CONCLUDED}
