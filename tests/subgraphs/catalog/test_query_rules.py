"""Editors' query rules applied to a query, without storage: a whole-query rewrite first, then
synonyms by the longest phrase, never applied to their own output."""

from __future__ import annotations

from media_gateway.subgraphs.catalog.search.analytics import normalize_query
from media_gateway.subgraphs.catalog.search.synonyms import apply_rules


def test_queries_are_counted_folded_and_single_spaced() -> None:
    assert normalize_query("  Amélie   POULAIN ") == "amelie poulain"
    assert normalize_query("   ") == ""


def test_a_rewrite_replaces_the_whole_query_only() -> None:
    rewrites = {"buzz lightyear film": "toy story"}
    assert apply_rules("Buzz  Lightyear FILM", rewrites, {}) == "toy story"
    assert apply_rules("buzz lightyear film 2", rewrites, {}) is None


def test_synonyms_replace_the_longest_phrase_and_never_chain() -> None:
    synonyms = {"flick": "movie", "space flick": "science fiction", "movie": "film"}
    assert apply_rules("old space flick", {}, synonyms) == "old science fiction"
    assert apply_rules("a flick", {}, synonyms) == "a movie"  # not "a film"
    assert apply_rules("nothing here", {}, synonyms) is None


def test_synonyms_apply_after_a_rewrite() -> None:
    assert apply_rules("kids flick", {"kids flick": "family flick"}, {"flick": "movie"}) == (
        "family movie"
    )
