"""Search analytics storage: the searches viewers made, the playbacks that came from them, and
the synonyms and rewrites editors manage (migration ``0016_search_analytics``)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from media_gateway.storage.types import timestamp_field

QUERY_LENGTH = 200  # normalised queries are kept to this many characters


class SearchEventRecord(SQLModel, table=True):
    """One search: its id is handed to the client, which passes it to ``startPlayback``."""

    __tablename__ = "catalog_search_events"
    __table_args__ = (sa.Index("ix_catalog_search_events_query_time", "query", "searched_at"),)

    id: str = Field(primary_key=True, max_length=32)
    query: str = Field(max_length=QUERY_LENGTH)  # normalised: folded, single-spaced
    region: str | None = Field(default=None, max_length=8, index=True)
    viewer_id: str | None = Field(default=None, max_length=64, index=True)  # None: anonymous
    result_count: int = 0
    searched_at: datetime = timestamp_field(index=True)


class SearchPlayRecord(SQLModel, table=True):
    """A playback started from a search result (one row per playback session)."""

    __tablename__ = "catalog_search_plays"

    session_id: str = Field(primary_key=True, max_length=64)  # the playback session
    search_id: str = Field(max_length=32, index=True)
    viewer_id: str = Field(max_length=64)
    content_id: str = Field(max_length=160)
    played_at: datetime = timestamp_field(index=True)


class SearchSynonymRecord(SQLModel, table=True):
    """An editor's rule applied to queries: a synonym replaces a word or phrase anywhere in a
    query; a rewrite replaces a whole query (accepted from the proposals analytics make)."""

    __tablename__ = "catalog_search_synonyms"
    __table_args__ = (sa.UniqueConstraint("kind", "term", name="uq_catalog_search_synonyms"),)

    id: str = Field(primary_key=True, max_length=32)
    kind: str = Field(max_length=16)  # synonym | rewrite
    term: str = Field(max_length=QUERY_LENGTH)  # normalised
    replacement: str = Field(max_length=QUERY_LENGTH)  # normalised
    created_by: str | None = Field(default=None, max_length=64)
    created_at: datetime = timestamp_field()
