"""The catalog's embedders: the shared ones (see ``media_gateway.platform.embeddings``)."""

from __future__ import annotations

from media_gateway.platform.embeddings import Embedder as Embedder
from media_gateway.platform.embeddings import HashingEmbedder as HashingEmbedder
from media_gateway.platform.embeddings import MiniLMEmbedder as MiniLMEmbedder
from media_gateway.platform.embeddings import OpenAIEmbedder as OpenAIEmbedder
from media_gateway.platform.embeddings import make_embedder as make_embedder
