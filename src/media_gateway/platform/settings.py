"""One frozen settings object, read from the environment.

Every variable is optional: an absent variable means the embedded default (SQLite under the
data folder, Qdrant in local mode, in-process pub/sub and events), never a crash.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from media_gateway.platform.forwarding import TrustedProxies

ALLOWED_JWT_ALGORITHMS = ("RS256", "ES256")
# social sign-in: the presets' client credentials and any other OpenID providers
SOCIAL_SIGN_IN_VARIABLES = (
    "GOOGLE_CLIENT_ID",
    "GOOGLE_CLIENT_SECRET",
    "APPLE_CLIENT_ID",
    "APPLE_CLIENT_SECRET",
    "APPLE_TEAM_ID",
    "APPLE_KEY_ID",
    "APPLE_PRIVATE_KEY",
    "GITHUB_CLIENT_ID",
    "GITHUB_CLIENT_SECRET",
    "OIDC_PROVIDERS",
)


def _text(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name)
    if value is None:
        return None
    value = value.strip()
    return value or None


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    value = _text(env, name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        return default


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    value = _text(env, name)
    if value is None:
        return default
    return value.lower() in {"1", "true", "yes", "on"}


def normalize_database_url(url: str) -> str:
    """Turn the URL forms operators write into the async driver URLs SQLAlchemy needs."""
    for prefix in (
        "postgres://",
        "postgresql://",
        "postgresql+psycopg2://",
        "postgresql+psycopg://",
    ):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    if url.startswith("sqlite://") and not url.startswith("sqlite+aiosqlite://"):
        return "sqlite+aiosqlite://" + url[len("sqlite://") :]
    return url


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    database_schema: str | None = None
    redis_url: str | None = None
    qdrant_url: str | None = None
    qdrant_path: Path | None = None
    kafka_bootstrap_servers: str | None = None
    openai_api_key: str | None = None
    pubnub_publish_key: str | None = None
    pubnub_subscribe_key: str | None = None
    pubnub_secret_key: str | None = None
    pubnub_origin: str | None = None
    jwt_issuer: str = "media-gateway"
    jwt_audience: str = "media-gateway"
    jwt_algorithm: str = "RS256"
    jwt_key_dir: Path = field(default_factory=lambda: Path("data/keys"))
    jwt_jwks_url: str | None = None
    jwt_access_token_ttl_seconds: int = 900
    jwt_refresh_token_ttl_seconds: int = 30 * 24 * 3600
    log_level: str = "INFO"
    log_json: bool = True
    seed_demo_data: bool = True
    auto_migrate: bool = True
    identity_url: str | None = None
    catalog_webhook_secret: str | None = None
    # identity: outgoing email (console when unset) and the public address in links
    smtp_url: str | None = None
    email_from: str = "Media Gateway <no-reply@localhost>"
    public_url: str = "http://localhost:4000"
    # identity: how long audit entries are kept, and an account's grace period between an
    # operator asking for its deletion and the deletion
    audit_retention_days: int = 365
    account_deletion_grace_days: int = 14
    # identity as OAuth authorization server: its issuer URL (RFC 8414; default PUBLIC_URL)
    # and the resource indicators it issues audience-bound tokens for (RFC 8707; default
    # the gateway's MCP endpoint, PUBLIC_URL/mcp)
    oauth_issuer: str | None = None
    oauth_resources: tuple[str, ...] | None = None
    # proxies whose forwarded header names the client (gateway and subgraphs alike)
    trusted_proxies: TrustedProxies = field(default_factory=TrustedProxies)
    # identity: social sign-in, the variables of SOCIAL_SIGN_IN_VARIABLES that are set
    # (read by media_gateway.subgraphs.identity.oidc)
    social_sign_in: Mapping[str, str] = field(default_factory=dict)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def oauth_issuer_url(self) -> str:
        return self.oauth_issuer or self.public_url

    @property
    def oauth_resource_urls(self) -> tuple[str, ...]:
        if self.oauth_resources is not None:
            return self.oauth_resources
        return (f"{self.public_url}/mcp",)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        data_dir = Path(_text(env, "MEDIA_GATEWAY_DATA_DIR") or "data").expanduser()
        database_url = _text(env, "DATABASE_URL")
        if database_url is None:
            database_url = f"sqlite+aiosqlite:///{(data_dir / 'media-gateway.sqlite').as_posix()}"
        qdrant_url = _text(env, "QDRANT_URL")
        qdrant_path_text = _text(env, "QDRANT_PATH")
        qdrant_path = Path(qdrant_path_text) if qdrant_path_text else None
        if qdrant_url is None and qdrant_path is None:
            qdrant_path = data_dir / "qdrant"
        algorithm = (_text(env, "JWT_ALGORITHM") or "RS256").upper()
        if algorithm not in ALLOWED_JWT_ALGORITHMS:
            algorithm = "RS256"
        key_dir_text = _text(env, "JWT_KEY_DIR")
        return cls(
            data_dir=data_dir,
            database_url=normalize_database_url(database_url),
            database_schema=_text(env, "DATABASE_SCHEMA"),
            redis_url=_text(env, "REDIS_URL"),
            qdrant_url=qdrant_url,
            qdrant_path=qdrant_path,
            kafka_bootstrap_servers=_text(env, "KAFKA_BOOTSTRAP_SERVERS"),
            openai_api_key=_text(env, "OPENAI_API_KEY"),
            pubnub_publish_key=_text(env, "PUBNUB_PUBLISH_KEY"),
            pubnub_subscribe_key=_text(env, "PUBNUB_SUBSCRIBE_KEY"),
            pubnub_secret_key=_text(env, "PUBNUB_SECRET_KEY"),
            pubnub_origin=_text(env, "PUBNUB_ORIGIN"),
            jwt_issuer=_text(env, "JWT_ISSUER") or "media-gateway",
            jwt_audience=_text(env, "JWT_AUDIENCE") or "media-gateway",
            jwt_algorithm=algorithm,
            jwt_key_dir=Path(key_dir_text) if key_dir_text else data_dir / "keys",
            jwt_jwks_url=_text(env, "JWT_JWKS_URL"),
            jwt_access_token_ttl_seconds=_int(env, "JWT_ACCESS_TOKEN_TTL_SECONDS", 900),
            jwt_refresh_token_ttl_seconds=_int(
                env, "JWT_REFRESH_TOKEN_TTL_SECONDS", 30 * 24 * 3600
            ),
            log_level=(_text(env, "LOG_LEVEL") or "INFO").upper(),
            log_json=_bool(env, "LOG_JSON", True),
            seed_demo_data=_bool(env, "MEDIA_GATEWAY_SEED_DEMO", True),
            auto_migrate=_bool(env, "MEDIA_GATEWAY_AUTO_MIGRATE", True),
            identity_url=_text(env, "IDENTITY_URL"),
            catalog_webhook_secret=_text(env, "CATALOG_WEBHOOK_SECRET"),
            smtp_url=_text(env, "SMTP_URL"),
            email_from=_text(env, "EMAIL_FROM") or "Media Gateway <no-reply@localhost>",
            public_url=(_text(env, "PUBLIC_URL") or "http://localhost:4000").rstrip("/"),
            audit_retention_days=max(1, _int(env, "AUDIT_RETENTION_DAYS", 365)),
            account_deletion_grace_days=max(0, _int(env, "ACCOUNT_DELETION_GRACE_DAYS", 14)),
            oauth_issuer=(_text(env, "OAUTH_ISSUER") or "").rstrip("/") or None,
            oauth_resources=_resources(env),
            trusted_proxies=TrustedProxies.from_env(env),
            social_sign_in={
                name: value
                for name in SOCIAL_SIGN_IN_VARIABLES
                if (value := _text(env, name)) is not None
            },
        )


def _resources(env: Mapping[str, str]) -> tuple[str, ...] | None:
    """OAUTH_RESOURCES (space- or comma-separated), else the MCP endpoint's URL when
    GATEWAY_MCP_RESOURCE_URL names it."""
    listed = _text(env, "OAUTH_RESOURCES") or _text(env, "GATEWAY_MCP_RESOURCE_URL")
    if listed is None:
        return None
    return tuple(r for r in listed.replace(",", " ").split() if r)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings.from_env()


def reset_settings_cache() -> None:
    get_settings.cache_clear()
