"""CORS for the gateway's HTTP endpoints, as the edge configuration says (no origins: no
CORS headers at all)."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware.cors import CORSMiddleware

from .edge.config import EdgeConfig


def add_cors(app: Starlette, config: EdgeConfig) -> None:
    if not config.cors_origins:
        return
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(config.cors_origins),
        allow_credentials=config.cors_allow_credentials,
        allow_methods=["GET", "POST"],
        allow_headers=["*"],
        expose_headers=["ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"],
    )
