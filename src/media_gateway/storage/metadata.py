"""The metadata of every subgraph's tables, for migrations."""

from __future__ import annotations

from sqlalchemy import MetaData


def target_metadata() -> MetaData:
    from sqlmodel import SQLModel

    import media_gateway.subgraphs.catalog.models
    import media_gateway.subgraphs.identity.models
    import media_gateway.subgraphs.playback.models
    import media_gateway.subgraphs.recommendations.models
    import media_gateway.subgraphs.sync.models  # noqa: F401

    return SQLModel.metadata
