"""The search engine: an in-memory view of the catalog's titles with

* a Tantivy index (BM25, English stemming; title and people boosted) for keyword retrieval,
* a Qdrant collection of title embeddings for semantic retrieval,
* numpy columns for filters and facets over the whole matching set,
* a spelling corrector and an autocompleter built from the same vocabulary.

Keyword and semantic rankings are fused by reciprocal rank fusion. Facets are disjunctive:
each facet's counts apply every active filter except its own.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import tantivy

from media_gateway.platform import ratings
from media_gateway.subgraphs.catalog.search.autocomplete import (
    AutocompleteHit,
    Autocompleter,
    Suggestion,
)
from media_gateway.subgraphs.catalog.search.duplicates import NO_DUPLICATES, Duplicates
from media_gateway.subgraphs.catalog.search.embeddings import Embedder, HashingEmbedder
from media_gateway.subgraphs.catalog.search.parser import ParsedQuery, expand_synonyms, parse
from media_gateway.subgraphs.catalog.search.relaxation import relax, relaxation_steps
from media_gateway.subgraphs.catalog.search.spelling import QueryCorrector
from media_gateway.subgraphs.catalog.search.vocabulary import (
    GENRES,
    OFFER_TYPES,
    PLATFORMS,
    STOPWORDS,
)
from media_gateway.subgraphs.catalog.text import fold

log = logging.getLogger(__name__)

MAX_QUERY_CHARS = 500
RRF_K = 60
SEMANTIC_DEPTH = 100
QUERY_VECTOR_CACHE = 4096
# when the query names a title, a title found only by meaning stays when its similarity to the
# query is at least this share of the named title's own (a close sequel or remake, not a vague
# likeness: on the demo catalog with all-MiniLM-L6-v2, "amelie" is 0.85 from Amélie and 0.50
# from the nearest other title, La Dolce Vita)
NAMED_TITLE_NEIGHBOUR_RATIO = 0.8
_WORD = re.compile(r"[a-z0-9]+")
RATING_BUCKETS: tuple[tuple[str, float, float], ...] = (
    ("9+", 9.0, 10.01),
    ("8-9", 8.0, 9.0),
    ("7-8", 7.0, 8.0),
    ("6-7", 6.0, 7.0),
    ("below 6", 0.0, 6.0),
)


@dataclass(frozen=True)
class TitleDocument:
    id: str
    kind: str
    title: str
    year: int | None = None
    runtime: int | None = None
    content_rating: str | None = None
    popularity: float = 0.0
    quality_score: float | None = None
    genres: tuple[str, ...] = ()
    people: tuple[tuple[str, str], ...] = ()  # (person id, name)
    offers: tuple[tuple[str, str, str], ...] = ()  # (platform, region, offer type)
    original_title: str | None = None
    synopsis: str | None = None

    def embedding_text(self) -> str:
        parts = [self.title, self.original_title or "", " ".join(self.genres)]
        parts.append(" ".join(name for _, name in self.people[:6]))
        if self.synopsis:
            parts.append(self.synopsis)
        return ". ".join(p for p in parts if p)


@dataclass
class SearchFilters:
    genres: list[str] | None = None
    platforms: list[str] | None = None
    offer_types: list[str] | None = None
    regions: list[str] | None = None
    kinds: list[str] | None = None
    year_from: int | None = None
    year_to: int | None = None
    min_rating: float | None = None
    max_rating: float | None = None
    min_runtime: int | None = None
    max_runtime: int | None = None
    content_ratings: list[str] | None = None
    max_content_rating: str | None = None


@dataclass
class FacetValue:
    value: str
    count: int
    selected: bool = False


@dataclass
class FacetCounts:
    genres: list[FacetValue] = field(default_factory=list)
    platforms: list[FacetValue] = field(default_factory=list)
    offer_types: list[FacetValue] = field(default_factory=list)
    release_years: list[FacetValue] = field(default_factory=list)
    ratings: list[FacetValue] = field(default_factory=list)


@dataclass
class SearchOutcome:
    ids: list[str]
    total_count: int
    facets: FacetCounts
    corrected_query: str | None = None
    interpretation: ParsedQuery | None = None
    # what the query implied but had to be dropped to find anything (``relaxation``)
    relaxed: list[str] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)  # the fused relevance of each of ``ids``
    exact_id: str | None = None  # the title the query names exactly, if any


@dataclass(frozen=True)
class IndexBuild:
    """What a full build did: titles indexed, vectors computed, vectors reused from storage."""

    titles: int
    embedded: int
    reused: int


TEXT_HASH = "text_sha256"  # the payload key naming the text a stored vector was embedded from


def text_hash(doc: TitleDocument) -> str:
    return hashlib.sha256(doc.embedding_text().encode()).hexdigest()


def _merge_list(explicit: list[str] | None, parsed: list[str]) -> list[str] | None:
    if explicit:
        return explicit
    return parsed or None


class SearchEngine:
    """Built from the catalog's titles at start; updated as titles and offers change."""

    def __init__(
        self,
        embedder: Embedder | None = None,
        *,
        qdrant_url: str | None = None,
        qdrant_path: Path | None = None,
        collection: str = "catalog_titles",
    ) -> None:
        self.embedder: Embedder = embedder or HashingEmbedder()
        self._qdrant_url = qdrant_url
        self._qdrant_path = qdrant_path
        self._collection = f"{collection}_{re.sub(r'[^a-z0-9]+', '_', self.embedder.name.lower())}"
        self._qdrant: Any = None
        self._memory_qdrant = False
        # Qdrant's local mode scans every point without an index; there the same vectors are
        # searched in memory with numpy, and a Qdrant server (QDRANT_URL) answers itself. The
        # matrix is column-major (``_new_vectors``): a scan reads each dimension contiguously,
        # and a sparse query vector (the hashing embedder's) reads only its non-zero dimensions
        self._vectors = self._new_vectors(0)
        self._vectors_only = False
        self._lock = threading.RLock()
        self.docs: list[TitleDocument | None] = []
        self.by_id: dict[str, int] = {}
        self._dirty = True
        self._index = self._new_index()
        self.corrector = QueryCorrector()
        self.autocompleter = Autocompleter()
        self._people: dict[str, tuple[str, float]] = {}
        self._titles_folded: dict[str, int] = {}
        self.duplicates: Duplicates = NO_DUPLICATES
        self.ready = False
        self.last_build: IndexBuild | None = None  # what the last full build reused and embedded
        self.embedded = 0  # titles embedded by this engine since it was created
        self._query_vectors: dict[str, np.ndarray] = {}  # recent queries' embeddings

    # -- building -------------------------------------------------------------------------

    @staticmethod
    def _schema() -> Any:
        builder = tantivy.SchemaBuilder()
        builder.add_integer_field("idx", indexed=True, fast=True)
        builder.add_text_field("title", tokenizer_name="en_stem")
        builder.add_text_field("people", tokenizer_name="en_stem")
        builder.add_text_field("genres", tokenizer_name="en_stem")
        builder.add_text_field("synopsis", tokenizer_name="en_stem")
        return builder.build()

    def _new_index(self) -> Any:
        return tantivy.Index(self._schema())

    def _connect_qdrant(self) -> Any:
        from qdrant_client import QdrantClient

        if self._qdrant_url:
            return QdrantClient(url=self._qdrant_url)
        if self._qdrant_path is not None:
            try:
                self._qdrant_path.mkdir(parents=True, exist_ok=True)
                return QdrantClient(path=str(self._qdrant_path))
            except (RuntimeError, OSError) as exc:  # the folder is held by another process
                log.warning("qdrant folder busy; using memory", extra={"error": str(exc)})
        self._memory_qdrant = True
        return QdrantClient(location=":memory:")

    def _tantivy_document(self, idx: int, doc: TitleDocument) -> Any:
        document = tantivy.Document()
        document.add_integer("idx", idx)
        document.add_text("title", fold(doc.title))
        if doc.original_title and doc.original_title != doc.title:
            document.add_text("title", fold(doc.original_title))
        document.add_text("people", fold(" ".join(name for _, name in doc.people)))
        document.add_text("genres", fold(" ".join(doc.genres)))
        if doc.synopsis:
            document.add_text("synopsis", fold(doc.synopsis))
        return document

    def build(self, documents: Iterable[TitleDocument]) -> None:
        """Index every title from scratch (at start)."""

        with self._lock:
            self.docs = []
            self.by_id = {}
            for doc in documents:
                self.by_id[doc.id] = len(self.docs)
                self.docs.append(doc)
            self._index = self._new_index()
            writer = self._index.writer(heap_size=64_000_000, num_threads=1)
            for idx, maybe in enumerate(self.docs):
                if maybe is not None:
                    writer.add_document(self._tantivy_document(idx, maybe))
            writer.commit()
            writer.wait_merging_threads()
            self._index.reload()
            if self._qdrant is None:
                self._qdrant = self._connect_qdrant()
            self.last_build = self._restore_vectors()
            self._dirty = True
            self._refresh()
            self.ready = True

    def _stored_points(self) -> dict[int, tuple[str | None, np.ndarray]]:
        """The vectors the collection holds, by point id, with the text hash each was made of."""
        client = self._qdrant
        points_by_id: dict[int, tuple[str | None, np.ndarray]] = {}
        if not client.collection_exists(self._collection):
            return points_by_id
        offset: Any = None
        while True:
            points, offset = client.scroll(
                self._collection, limit=4096, offset=offset, with_vectors=True, with_payload=True
            )
            for point in points:
                text = (point.payload or {}).get(TEXT_HASH)
                vector = np.asarray(point.vector, dtype=np.float32)
                if vector.shape == (self.embedder.dimension,):
                    points_by_id[int(point.id)] = (text if isinstance(text, str) else None, vector)
            if offset is None:
                return points_by_id

    def _restore_vectors(self) -> IndexBuild:
        """Reuse every stored vector whose title text is unchanged; embed only the others.

        Each point carries the hash of the text it was embedded from (and the collection's name
        the embedder's), so a vector is reused exactly when the embedder and the text match.
        """
        from qdrant_client import models

        client = self._qdrant
        stored = self._stored_points()
        hashes = [text_hash(doc) if doc is not None else None for doc in self.docs]
        alive = [i for i, h in enumerate(hashes) if h is not None]
        self._vectors = self._new_vectors(len(self.docs))
        unchanged = (
            client.collection_exists(self._collection)
            and len(stored) == len(alive)
            and all(i in stored and stored[i][0] == hashes[i] for i in alive)
        )
        if unchanged:
            for i in alive:
                self._vectors[i] = stored[i][1]
            return IndexBuild(titles=len(alive), embedded=0, reused=len(alive))
        known = {text: vector for text, vector in stored.values() if text is not None}
        missing: list[int] = []
        for i in alive:
            vector = known.get(hashes[i])  # type: ignore[arg-type]
            if vector is None:
                missing.append(i)
            else:
                self._vectors[i] = vector
        if client.collection_exists(self._collection):
            client.delete_collection(self._collection)
        client.create_collection(
            self._collection,
            vectors_config=models.VectorParams(
                size=self.embedder.dimension, distance=models.Distance.COSINE
            ),
        )
        self._embed(missing)
        self._store_vectors(alive)
        return IndexBuild(
            titles=len(alive), embedded=len(missing), reused=len(alive) - len(missing)
        )

    def _new_vectors(self, rows: int) -> np.ndarray:
        """A zeroed matrix of title vectors, one row per title, stored column by column."""
        return np.zeros((rows, self.embedder.dimension), dtype=np.float32, order="F")

    def _embed(self, indexes: Sequence[int]) -> None:
        """Compute the vectors of these titles (in memory; ``_store_vectors`` persists them)."""
        if len(self._vectors) < len(self.docs):
            grown = self._new_vectors(len(self.docs))
            grown[: len(self._vectors)] = self._vectors
            self._vectors = grown
        for start in range(0, len(indexes), 2048):
            batch = list(indexes[start : start + 2048])
            self._vectors[batch] = self.embedder.embed(
                [self.docs[i].embedding_text() for i in batch]  # type: ignore[union-attr]
            )
        self.embedded += len(indexes)

    def _store_vectors(self, indexes: Sequence[int]) -> None:
        from qdrant_client import models

        if self._vectors_only:
            return
        for start in range(0, len(indexes), 2048):
            batch = list(indexes[start : start + 2048])
            self._qdrant.upsert(
                self._collection,
                points=models.Batch(
                    ids=list[int | str | uuid.UUID](batch),
                    vectors=self._vectors[batch].tolist(),
                    payloads=[
                        {TEXT_HASH: text_hash(self.docs[i])}  # type: ignore[arg-type]
                        for i in batch
                    ],
                ),
                wait=True,
            )

    def _upsert_vectors(
        self, indexes: Sequence[int], previous: dict[str, np.ndarray] | None = None
    ) -> None:
        """Vectors for changed titles: kept when their text is unchanged, else embedded."""
        alive = [i for i in indexes if self.docs[i] is not None]
        if len(self._vectors) < len(self.docs):
            grown = self._new_vectors(len(self.docs))
            grown[: len(self._vectors)] = self._vectors
            self._vectors = grown
        missing: list[int] = []
        for i in alive:
            vector = (previous or {}).get(text_hash(self.docs[i]))  # type: ignore[arg-type]
            if vector is None:
                missing.append(i)
            else:
                self._vectors[i] = vector
        self._embed(missing)
        self._store_vectors(alive)

    def upsert(self, documents: Sequence[TitleDocument]) -> None:
        """Add or replace titles (after an import or an ingested change)."""
        from qdrant_client import models

        with self._lock:
            writer = self._index.writer(heap_size=32_000_000, num_threads=1)
            changed: list[int] = []
            previous: dict[str, np.ndarray] = {}  # vectors of replaced titles, by text hash
            for doc in documents:
                old = self.by_id.get(doc.id)
                if old is not None:
                    writer.delete_documents_by_term("idx", old)
                    replaced = self.docs[old]
                    if replaced is not None and old < len(self._vectors):
                        previous[text_hash(replaced)] = self._vectors[old].copy()
                    self.docs[old] = None
                    if self._qdrant is not None:
                        self._qdrant.delete(
                            self._collection, points_selector=models.PointIdsList(points=[old])
                        )
                idx = len(self.docs)
                self.docs.append(doc)
                self.by_id[doc.id] = idx
                writer.add_document(self._tantivy_document(idx, doc))
                changed.append(idx)
            writer.commit()
            writer.wait_merging_threads()
            self._index.reload()
            if self._qdrant is not None:
                self._upsert_vectors(changed, previous)
            self._dirty = True
            self._refresh()

    def remove(self, ids: Sequence[str]) -> None:
        from qdrant_client import models

        with self._lock:
            writer = self._index.writer(heap_size=16_000_000, num_threads=1)
            gone: list[int | str | uuid.UUID] = []
            for content_id in ids:
                idx = self.by_id.pop(content_id, None)
                if idx is None:
                    continue
                writer.delete_documents_by_term("idx", idx)
                self.docs[idx] = None
                gone.append(idx)
            writer.commit()
            self._index.reload()
            if gone and self._qdrant is not None:
                self._qdrant.delete(
                    self._collection, points_selector=models.PointIdsList(points=gone)
                )
            self._dirty = True
            self._refresh()

    def close(self) -> None:
        if self._qdrant is not None:
            try:
                self._qdrant.close()
            except Exception:  # closing twice or a gone server is not an error
                log.debug("qdrant close failed", exc_info=True)
            self._qdrant = None

    def _refresh(self) -> None:
        """Rebuild the numpy columns, the vocabulary and the autocomplete entries."""
        if not self._dirty:
            return
        docs = self.docs
        n = len(docs)
        self.alive = np.array([d is not None for d in docs], dtype=bool)
        self.year = np.array([(d.year if d and d.year else -1) for d in docs], dtype=np.int32)
        self.runtime = np.array(
            [(d.runtime if d and d.runtime else -1) for d in docs], dtype=np.int32
        )
        self.quality = np.array(
            [(d.quality_score if d and d.quality_score is not None else np.nan) for d in docs],
            dtype=np.float32,
        )
        self.popularity = np.array([(d.popularity if d else 0.0) for d in docs], dtype=np.float32)
        self.rating_rank = np.array(
            [ratings.rank(d.content_rating) if d else 99 for d in docs], dtype=np.int8
        )
        self.kind_movie = np.array([bool(d and d.kind == "movie") for d in docs], dtype=bool)
        self.genre_names: list[str] = list(GENRES)
        for d in docs:
            for genre in d.genres if d else ():
                if genre not in self.genre_names:
                    self.genre_names.append(genre)
        genre_index = {g: i for i, g in enumerate(self.genre_names)}
        self.genre_matrix = np.zeros((n, len(self.genre_names)), dtype=bool)
        self.platform_names: list[str] = list(PLATFORMS)
        self.region_names: list[str] = []
        offer_doc: list[int] = []
        offer_platform: list[int] = []
        offer_region: list[int] = []
        offer_type: list[int] = []
        for idx, d in enumerate(docs):
            if d is None:
                continue
            for genre in d.genres:
                self.genre_matrix[idx, genre_index[genre]] = True
            for platform, region, kind in d.offers:
                if platform not in self.platform_names:
                    self.platform_names.append(platform)
                if region not in self.region_names:
                    self.region_names.append(region)
                offer_doc.append(idx)
                offer_platform.append(self.platform_names.index(platform))
                offer_region.append(self.region_names.index(region))
                offer_type.append(OFFER_TYPES.index(kind) if kind in OFFER_TYPES else 0)
        self.offer_doc = np.array(offer_doc, dtype=np.int64)
        self.offer_platform = np.array(offer_platform, dtype=np.int64)
        self.offer_region = np.array(offer_region, dtype=np.int64)
        self.offer_type = np.array(offer_type, dtype=np.int64)
        self._rebuild_vocabulary()
        self._dirty = False

    def _rebuild_vocabulary(self) -> None:
        corrector = QueryCorrector()
        people: dict[str, tuple[str, float]] = {}
        suggestions: list[Suggestion] = []
        titles: dict[str, int] = {}
        for idx, d in enumerate(self.docs):
            if d is None:
                continue
            weight = 1.0 + d.popularity / 10.0
            for text in (d.title, d.original_title or ""):
                corrector.add_phrase(_WORD.findall(fold(text)), weight)
            titles.setdefault(fold(d.title), idx)
            for person_id, name in d.people:
                corrector.add_phrase(_WORD.findall(fold(name)), weight)
                known = people.get(person_id)
                people[person_id] = (name, (known[1] if known else 0.0) + d.popularity)
            suggestions.append(
                Suggestion("title", d.id, d.title, d.popularity, self.rating_rank[idx])
            )
        for genre in self.genre_names:
            corrector.add_all(_WORD.findall(fold(genre)), 50.0)
            count = int(self.genre_matrix[:, self.genre_names.index(genre)].sum())
            if count:
                suggestions.append(Suggestion("genre", genre, genre, 100.0 + count / 10.0, 0))
        for person_id, (name, popularity) in people.items():
            suggestions.append(Suggestion("person", person_id, name, popularity, 0))
        self.corrector = corrector
        self._people = people
        self._titles_folded = titles
        self.duplicates = Duplicates.find(self.docs)
        self.autocompleter.build(suggestions)

    # -- queries --------------------------------------------------------------------------

    def correct(self, text: str) -> tuple[str, bool]:
        """The query as the catalog writes it (spelling, run-together and split words,
        numerals; see ``QueryCorrector``), and whether it was rewritten."""
        return self.corrector.correct(text)

    def _keyword(self, text: str) -> list[int]:
        words = [w for w in _WORD.findall(text) if w not in {"and", "or", "not"}][:32]
        if not words:
            return []
        searcher = self._index.searcher()
        limit = max(1, searcher.num_docs)
        fields = ["title", "people", "genres", "synopsis"]
        boosts = {"title": 3.0, "people": 2.0, "genres": 1.0, "synopsis": 0.5}
        for conjunction in (True, False):
            query = self._index.parse_query(
                " ".join(words), fields, field_boosts=boosts, conjunction_by_default=conjunction
            )
            result = searcher.search(query, limit=limit, count=False)
            if result.hits or len(words) == 1:
                break
        if not result.hits:
            return []
        values = searcher.fast_field_values("idx", [address for _, address in result.hits])
        return [int(v) for v in values if v is not None]

    def _query_vector(self, text: str) -> np.ndarray:
        """The query's embedding; the last few thousand are kept (queries repeat)."""
        vector = self._query_vectors.get(text)
        if vector is None:
            vector = self.embedder.embed([text])[0]
            if len(self._query_vectors) >= QUERY_VECTOR_CACHE:
                self._query_vectors.pop(next(iter(self._query_vectors)))
            self._query_vectors[text] = vector
        return vector

    def _meaningful(self, word: str) -> bool:
        """Whether a query word means something: a word of the catalog's titles or names, or
        one English or the embedding model knows; never a number no title carries nor a run
        of one repeated character."""
        if word in self.corrector:
            return True
        if word.isdigit() or (len(word) > 2 and len(set(word)) == 1):
            return False
        knows = getattr(self.embedder, "knows", None)
        return self.corrector.known(word) or (knows is not None and knows(word))

    def _semantic(self, text: str) -> tuple[list[int], list[float]]:
        """The titles nearest the query's meaning, nearest first, with their similarity.

        Only the query's meaningful words are embedded; a query with none (junk, a repeated
        character) has no meaning to search for, and the semantic side finds nothing."""
        words = [w for w in _WORD.findall(fold(text)) if w not in STOPWORDS]
        meaningful = " ".join(w for w in words if self._meaningful(w))
        if self._qdrant is None or not meaningful:
            return [], []
        vector = self._query_vector(meaningful)
        if not self._qdrant_url:
            used = np.flatnonzero(vector)
            if len(used) * 4 < len(vector):  # a sparse query: only its dimensions are read
                scores = self._vectors[:, used] @ vector[used]
            else:
                scores = self._vectors @ vector
            scores[~self.alive[: len(scores)]] = -1.0
            # only titles near enough count: rank those, not the whole catalog
            near = np.flatnonzero(scores >= self.embedder.min_similarity)
            if len(near) > SEMANTIC_DEPTH:
                near = near[np.argpartition(-scores[near], SEMANTIC_DEPTH - 1)[:SEMANTIC_DEPTH]]
            top = near[np.argsort(-scores[near], kind="stable")]
            return [int(i) for i in top], [float(scores[i]) for i in top]
        response = self._qdrant.query_points(
            self._collection,
            query=vector.tolist(),
            limit=SEMANTIC_DEPTH,
            score_threshold=self.embedder.min_similarity,
        )
        return [int(p.id) for p in response.points], [float(p.score) for p in response.points]

    def _similarity(self, idx: int, text: str) -> float:
        """How near a title is to the query's meaning (as ``_semantic`` embedded it)."""
        words = [w for w in _WORD.findall(fold(text)) if w not in STOPWORDS]
        meaningful = " ".join(w for w in words if self._meaningful(w))
        if not meaningful or idx >= len(self._vectors):
            return 0.0
        return float(self._vectors[idx] @ self._query_vector(meaningful))

    def _near_the_named_title(
        self,
        exact: int,
        text: str,
        keyword: list[int],
        semantic: list[int],
        similarity: list[float],
    ) -> list[int]:
        """A query that names a title asks for that title: the titles its words match stay,
        and of the titles only near its meaning, those nearly as near as the named title.

        Without this, "amelie" answers Amélie and then nineteen titles whose only tie to the
        query is a vague likeness of the name (La Dolce Vita, Casablanca, ...)."""
        named = dict(zip(semantic, similarity, strict=True)).get(exact)
        if named is None:
            named = self._similarity(exact, text)
        bar = named * NAMED_TITLE_NEIGHBOUR_RATIO
        matched = set(keyword)
        return [
            i for i, near in zip(semantic, similarity, strict=True) if i in matched or near >= bar
        ]

    def _doc_masks(self, cand: np.ndarray, filters: SearchFilters) -> dict[str, np.ndarray | None]:
        """Per facet dimension, the candidates passing that dimension's filter (None = all)."""
        masks: dict[str, np.ndarray | None] = {}
        if filters.genres:
            wanted = [self.genre_names.index(g) for g in filters.genres if g in self.genre_names]
            masks["genres"] = (
                self.genre_matrix[cand][:, wanted].any(axis=1)
                if wanted
                else np.zeros(len(cand), dtype=bool)
            )
        else:
            masks["genres"] = None
        if filters.year_from is not None or filters.year_to is not None:
            years = self.year[cand]
            mask = years >= 0
            if filters.year_from is not None:
                mask &= years >= filters.year_from
            if filters.year_to is not None:
                mask &= years <= filters.year_to
            masks["years"] = mask
        else:
            masks["years"] = None
        if filters.min_rating is not None or filters.max_rating is not None:
            quality = self.quality[cand]
            mask = ~np.isnan(quality)
            if filters.min_rating is not None:
                mask &= quality >= filters.min_rating
            if filters.max_rating is not None:
                mask &= quality <= filters.max_rating
            masks["ratings"] = mask
        else:
            masks["ratings"] = None
        other = np.ones(len(cand), dtype=bool)
        if filters.kinds:
            is_movie = self.kind_movie[cand]
            kinds = set(filters.kinds)
            if kinds == {"movie"}:
                other &= is_movie
            elif kinds == {"series"}:
                other &= ~is_movie
        if filters.min_runtime is not None or filters.max_runtime is not None:
            runtime = self.runtime[cand]
            other &= runtime >= 0
            if filters.min_runtime is not None:
                other &= runtime >= filters.min_runtime
            if filters.max_runtime is not None:
                other &= runtime <= filters.max_runtime
        if filters.content_ratings:
            ranks = {ratings.rank(r) for r in filters.content_ratings if ratings.is_known(r)}
            other &= np.isin(self.rating_rank[cand], list(ranks))
        limit = ratings.max_rank(filters.max_content_rating)
        if limit is not None:
            other &= self.rating_rank[cand] <= limit
        masks["other"] = other
        return masks

    def _offer_masks(self, filters: SearchFilters) -> dict[str, np.ndarray | None]:
        def pick(values: list[str] | None, names: Sequence[str], column: np.ndarray) -> Any:
            if not values:
                return None
            wanted = [names.index(v) for v in values if v in names]
            return np.isin(column, wanted)

        return {
            "platforms": pick(filters.platforms, self.platform_names, self.offer_platform),
            "regions": pick(filters.regions, self.region_names, self.offer_region),
            "offer_types": pick(filters.offer_types, list(OFFER_TYPES), self.offer_type),
        }

    def _availability_mask(
        self, cand: np.ndarray, offer_masks: dict[str, np.ndarray | None], skip: str | None
    ) -> np.ndarray | None:
        active = [m for name, m in offer_masks.items() if m is not None and name != skip]
        if not active:
            return None
        ok = active[0].copy()
        for mask in active[1:]:
            ok &= mask
        has = np.zeros(len(self.docs), dtype=bool)
        has[self.offer_doc[ok]] = True
        return has[cand]

    def search(
        self, query: str, filters: SearchFilters | None = None, *, first: int = 20, offset: int = 0
    ) -> SearchOutcome:
        with self._lock:
            self._refresh()
            return self._search(query, filters or SearchFilters(), first, offset)

    def _search(self, query: str, filters: SearchFilters, first: int, offset: int) -> SearchOutcome:
        raw = " ".join(query[:MAX_QUERY_CHARS].split())
        interpretation: ParsedQuery | None = None
        explicit = filters  # what the client chose; only what the query implied is relaxed
        text = raw
        if raw and fold(raw) not in self._titles_folded:
            parsed = parse(raw)
            if parsed.has_filters:
                interpretation = parsed
                text = parsed.text
                filters = SearchFilters(
                    genres=_merge_list(filters.genres, parsed.genres),
                    platforms=_merge_list(filters.platforms, parsed.platforms),
                    offer_types=_merge_list(filters.offer_types, parsed.offer_types),
                    regions=filters.regions,
                    kinds=_merge_list(filters.kinds, parsed.kinds),
                    year_from=filters.year_from
                    if filters.year_from is not None
                    else parsed.year_from,
                    year_to=filters.year_to if filters.year_to is not None else parsed.year_to,
                    min_rating=filters.min_rating
                    if filters.min_rating is not None
                    else parsed.min_rating,
                    max_rating=filters.max_rating,
                    min_runtime=filters.min_runtime,
                    max_runtime=filters.max_runtime
                    if filters.max_runtime is not None
                    else parsed.max_runtime,
                    content_ratings=filters.content_ratings,
                    max_content_rating=_stricter(
                        filters.max_content_rating, parsed.max_content_rating
                    ),
                )
        corrected_query: str | None = None
        if text:
            corrected, changed = self.correct(text)
            if changed:
                corrected_query = corrected
                text = corrected
            expanded = expand_synonyms(text)
        else:
            expanded = ""
        n = len(self.docs)
        score = np.zeros(n, dtype=np.float64)
        exact: int | None = None
        if expanded.strip():
            keyword = self._keyword(expanded)
            semantic, similarity = self._semantic(expanded)
            exact = self._titles_folded.get(fold(expanded))
            if exact is None:
                exact = self._titles_folded.get(fold(text))
            if exact is not None and semantic:
                semantic = self._near_the_named_title(
                    exact, expanded, keyword, semantic, similarity
                )
            if keyword:
                ranks = np.arange(len(keyword), dtype=np.float64)
                score[np.asarray(keyword, dtype=np.int64)] += 1.0 / (RRF_K + 1 + ranks)
            if semantic:
                ranks = np.arange(len(semantic), dtype=np.float64)
                score[np.asarray(semantic, dtype=np.int64)] += 1.0 / (RRF_K + 1 + ranks)
            if exact is not None and score[exact] > 0:
                score[exact] += 1.0
            self.duplicates.demote(score, self.popularity, 1e-6)  # the order's weight below
            matched = np.zeros(n, dtype=bool)
            matched[score > 0] = True
            matched &= self.alive
            cand = np.flatnonzero(matched)
        else:
            cand = np.flatnonzero(self.alive)
        exact_id: str | None = None
        if expanded.strip() and exact is not None and self.docs[exact] is not None:
            exact_id = self.docs[exact].id  # type: ignore[union-attr]
        # a request the query implied may be relaxed: its facets are counted once, at the end
        may_relax = interpretation is not None
        outcome = self._select(cand, score, filters, first, offset, with_facets=not may_relax)
        if may_relax:
            relaxed: list[str] = []
            if outcome.total_count == 0:
                # an over-constrained request: drop what the query implied, step by step
                for step in relaxation_steps(explicit, filters):
                    filters = relax(filters, step, explicit)
                    relaxed.append(step)
                    if self._select(cand, score, filters, 0, 0, with_facets=False).total_count:
                        break
            outcome = self._select(cand, score, filters, first, offset)
            outcome.relaxed = relaxed
        outcome.corrected_query = corrected_query
        outcome.interpretation = interpretation
        outcome.exact_id = exact_id
        return outcome

    def _select(
        self,
        cand: np.ndarray,
        score: np.ndarray,
        filters: SearchFilters,
        first: int,
        offset: int,
        *,
        with_facets: bool = True,
    ) -> SearchOutcome:
        """The page of matching titles that pass ``filters``, best first, and the facets."""
        masks = self._doc_masks(cand, filters)
        offer_masks = self._offer_masks(filters)
        dims: dict[str, np.ndarray | None] = {
            "genres": masks["genres"],
            "years": masks["years"],
            "ratings": masks["ratings"],
            "availability": self._availability_mask(cand, offer_masks, None),
        }
        other = masks["other"]
        assert other is not None

        def passing(skip: str | None) -> np.ndarray:
            mask = other.copy()
            for name, dim_mask in dims.items():
                if name != skip and dim_mask is not None:
                    mask &= dim_mask
            return mask

        selected = cand[passing(None)]
        total = len(selected)
        order_score = score[selected] + self.popularity[selected] * 1e-6
        order = np.lexsort((selected, -order_score))
        page = selected[order][offset : offset + first] if first > 0 else selected[:0]
        facets = (
            self._facets(cand, filters, dims, offer_masks, passing)
            if with_facets
            else FacetCounts()
        )
        return SearchOutcome(
            ids=[self.docs[int(i)].id for i in page],  # type: ignore[union-attr]
            total_count=total,
            facets=facets,
            scores=[float(score[int(i)]) for i in page],
        )

    def _facets(
        self,
        cand: np.ndarray,
        filters: SearchFilters,
        dims: dict[str, np.ndarray | None],
        offer_masks: dict[str, np.ndarray | None],
        passing: Any,
    ) -> FacetCounts:
        facets = FacetCounts()
        # genres: every filter except the genre filter
        genre_docs = cand[passing("genres")]
        counts = self.genre_matrix[genre_docs].sum(axis=0) if len(genre_docs) else None
        chosen = set(filters.genres or ())
        if counts is not None:
            facets.genres = sorted(
                (
                    FacetValue(name, int(counts[i]), name in chosen)
                    for i, name in enumerate(self.genre_names)
                    if counts[i] or name in chosen
                ),
                key=lambda f: (-f.count, f.value),
            )
        # platforms and offer types: availability filters except their own, matched jointly
        base = passing("availability")
        for facet_name, column, names, chosen_values in (
            ("platforms", self.offer_platform, self.platform_names, filters.platforms),
            ("offer_types", self.offer_type, list(OFFER_TYPES), filters.offer_types),
        ):
            in_set = np.zeros(len(self.docs), dtype=bool)
            docs = cand[base]
            in_set[docs] = True
            ok = in_set[self.offer_doc] if len(self.offer_doc) else np.zeros(0, dtype=bool)
            for name, mask in offer_masks.items():
                if mask is not None and name != facet_name:
                    ok = ok & mask
            pairs = np.unique(self.offer_doc[ok] * len(names) + column[ok])
            values = np.bincount(pairs % len(names), minlength=len(names)) if len(pairs) else None
            chosen_set = set(chosen_values or ())
            items = [
                FacetValue(name, int(values[i]) if values is not None else 0, name in chosen_set)
                for i, name in enumerate(names)
            ]
            items = [f for f in items if f.count or f.selected]
            items.sort(key=lambda f: (-f.count, f.value))
            setattr(facets, facet_name, items)
        # release years by decade
        year_docs = cand[passing("years")]
        years = self.year[year_docs]
        years = years[years > 0]
        decades = np.bincount((years // 10).astype(np.int64)) if len(years) else np.zeros(0)
        facets.release_years = [
            FacetValue(f"{decade * 10}s", int(count))
            for decade, count in sorted(enumerate(decades), reverse=True)
            if count
        ]
        # rating buckets
        rating_docs = cand[passing("ratings")]
        quality = self.quality[rating_docs]
        quality = quality[~np.isnan(quality)]
        facets.ratings = [
            FacetValue(label, int(((quality >= low) & (quality < high)).sum()))
            for label, low, high in RATING_BUCKETS
        ]
        facets.ratings = [f for f in facets.ratings if f.count]
        return facets

    def autocomplete(
        self, prefix: str, limit: int, max_content_rating: str | None = None
    ) -> list[AutocompleteHit]:
        with self._lock:
            self._refresh()
            limit_rank = ratings.max_rank(max_content_rating)
            allow = None
            if limit_rank is not None:

                def allow(suggestion: Suggestion) -> bool:
                    return suggestion.rating_rank <= limit_rank

            return self.autocompleter.complete(prefix, limit, allow)

    def title_count(self) -> int:
        return int(self.alive.sum()) if self.ready else 0


def _stricter(a: str | None, b: str | None) -> str | None:
    if a is None:
        return b
    if b is None:
        return a
    return a if ratings.rank(a) <= ratings.rank(b) else b
