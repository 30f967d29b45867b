"""The catalog's search engine: keyword (Tantivy BM25) and semantic (Qdrant) retrieval fused
by reciprocal rank fusion, filters, disjunctive facets, spelling, synonyms, a natural-language
query parser and autocomplete."""

from media_gateway.subgraphs.catalog.search.engine import (
    AutocompleteHit,
    FacetCounts,
    IndexBuild,
    SearchEngine,
    SearchFilters,
    SearchOutcome,
    TitleDocument,
)

__all__ = [
    "AutocompleteHit",
    "FacetCounts",
    "IndexBuild",
    "SearchEngine",
    "SearchFilters",
    "SearchOutcome",
    "TitleDocument",
]
