"""Recommendations storage: interactions, item features, model artifacts, experiments."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from media_gateway.auth.profiles import DEFAULT_PROFILE, PROFILE_ID_LENGTH
from media_gateway.storage.types import timestamp_field


class InteractionRecord(SQLModel, table=True):
    """A profile watched (or rated) a title; ``weight`` is the implicit-feedback strength."""

    __tablename__ = "recommendations_interactions"

    id: int | None = Field(default=None, primary_key=True)
    user_id: str = Field(index=True, max_length=64)
    profile_id: str = Field(
        default=DEFAULT_PROFILE,
        max_length=PROFILE_ID_LENGTH,
        sa_column_kwargs={"server_default": DEFAULT_PROFILE},
    )
    content_id: str = Field(index=True, max_length=160)
    weight: float = 1.0
    occurred_at: datetime = timestamp_field(index=True)
    source: str = Field(default="playback", max_length=24)  # playback | import | demo


class ItemFeaturesRecord(SQLModel, table=True):
    """The recommender's own copy of catalog metadata (fed from catalog data)."""

    __tablename__ = "recommendations_item_features"

    content_id: str = Field(primary_key=True, max_length=160)
    title: str | None = Field(default=None, max_length=500)  # the catalog's name for it
    genres: str = Field(default="", max_length=500)  # "|"-joined
    year: int | None = None
    runtime_minutes: int | None = None
    content_rating: str | None = Field(default=None, max_length=16)
    regions: str = Field(default="", max_length=1000)  # ","-joined; "" = no offers known
    updated_at: datetime = timestamp_field()


class ModelArtifactRecord(SQLModel, table=True):
    """A trained ranker (numpy arrays, ``.npz``); replicas serve the newest version."""

    __tablename__ = "recommendations_models"

    version: int | None = Field(default=None, primary_key=True)
    created_at: datetime = timestamp_field(index=True)
    config: str = Field(sa_type=sa.Text)  # JSON of the ranker settings
    items: str = Field(sa_type=sa.Text)  # JSON list of content ids
    artifact: bytes = Field(sa_type=sa.LargeBinary)
    interactions: int = 0
    train_seconds: float = 0.0


class ExperimentRecord(SQLModel, table=True):
    __tablename__ = "recommendations_experiments"

    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    active: bool = Field(default=True, index=True)
    variants: str = Field(sa_type=sa.Text)  # JSON: [{"name", "share", "weights"}]
    created_at: datetime = timestamp_field()
    # draft -> running <-> stopped -> concluded (``experiments.TRANSITIONS``); ``active`` is
    # ``state == "running"``, what serving reads
    state: str = Field(default="draft", max_length=16, sa_column_kwargs={"server_default": "draft"})
    started_at: datetime | None = timestamp_field(nullable=True)
    stopped_at: datetime | None = timestamp_field(nullable=True)
    concluded_at: datetime | None = timestamp_field(nullable=True)
    winner: str | None = Field(default=None, max_length=64)  # the variant kept, if any


class ExposureRecord(SQLModel, table=True):
    """A recommendation served to a member under an experiment variant."""

    __tablename__ = "recommendations_exposures"

    id: int | None = Field(default=None, primary_key=True)
    experiment_id: str = Field(index=True, max_length=64)
    variant: str = Field(max_length=64)
    user_id: str = Field(index=True, max_length=64)
    content_id: str = Field(max_length=160)
    position: int = 0
    served_at: datetime = timestamp_field()


class OutcomeRecord(SQLModel, table=True):
    """What a member did with a recommended title: click, play or finish."""

    __tablename__ = "recommendations_outcomes"

    id: int | None = Field(default=None, primary_key=True)
    experiment_id: str = Field(index=True, max_length=64)
    variant: str = Field(max_length=64)
    user_id: str = Field(index=True, max_length=64)
    content_id: str = Field(max_length=160)
    kind: str = Field(max_length=16)  # click | play | finish
    occurred_at: datetime = timestamp_field()
