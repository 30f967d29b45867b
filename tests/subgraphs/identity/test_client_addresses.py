"""Client addresses: forwarded headers count only from trusted proxies (``TRUSTED_PROXIES``),
at the gateway and at every subgraph; the gateway hands subgraphs the address it found."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from media_gateway.app import Platform
from media_gateway.assembly.base import Runtime
from media_gateway.gateway.edge.config import EdgeConfig
from media_gateway.gateway.edge.ratelimiting import client_key
from media_gateway.platform.forwarding import TrustedProxies
from media_gateway.platform.settings import Settings

from .conftest import REGISTER, Client, _drop_redis_keys, error_codes

REGISTER_LIMIT = 20  # registrations per address per hour (Limits.register_per_address)


def _random_address() -> str:
    n = uuid.uuid4().int
    return f"198.18.{n % 250}.{(n >> 8) % 250 + 1}"


async def _registrations(client: Client, count: int, headers: Any) -> list[str]:
    """``count`` registrations refused for their password (nothing stored), each with the
    headers ``headers()`` gives; the error code of each."""
    codes = []
    for _ in range(count):
        email = f"bulk-{uuid.uuid4().hex[:8]}@example.com"
        body = await client(
            REGISTER, {"email": email, "password": "x", "name": "Bulk"}, headers=headers()
        )
        codes.append(error_codes(body)[0])
    return codes


@pytest.fixture
async def proxied(
    request: pytest.FixtureRequest, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Platform]:
    """The platform with loopback (where the test client connects from) a trusted proxy."""
    monkeypatch.setenv("TRUSTED_PROXIES", "loopback")
    trusted = dataclasses.replace(settings, trusted_proxies=TrustedProxies.parse("loopback"))
    platform = Platform.create(Runtime.create(trusted))
    prefix = None
    if request.node.callspec.params.get("settings") == "redis":
        from media_gateway.platform.ratelimit import SlidingWindowLimiter
        from media_gateway.subgraphs.identity.codes import CodeStore

        from .conftest import REDIS_URL, identity_services

        prefix = f"mgtest:identity:{uuid.uuid4().hex[:10]}"
        stores = identity_services(platform["identity"]).stores
        stores.codes = CodeStore(stores.database, REDIS_URL, prefix)
        stores.limiter = SlidingWindowLimiter(REDIS_URL, f"{prefix}:rl")
    await platform.startup()
    try:
        yield platform
    finally:
        await platform.shutdown()
        if prefix:
            await _drop_redis_keys(prefix)


async def test_rotating_forwarded_headers_does_not_escape_address_limits(
    gateway: Client,
) -> None:
    """No trusted proxy configured: the header is the client's own claim and is ignored."""
    codes = await _registrations(
        gateway,
        REGISTER_LIMIT + 2,
        lambda: {"x-forwarded-for": _random_address(), "forwarded": f"for={_random_address()}"},
    )
    assert codes[:REGISTER_LIMIT] == ["BAD_USER_INPUT"] * REGISTER_LIMIT
    assert codes[REGISTER_LIMIT:] == ["RATE_LIMITED"] * 2


async def test_identity_service_ignores_forwarded_headers_from_untrusted_peers(
    identity_app: Client,
) -> None:
    codes = await _registrations(
        identity_app, REGISTER_LIMIT + 1, lambda: {"x-forwarded-for": _random_address()}
    )
    assert codes[-1] == "RATE_LIMITED"


async def test_behind_a_trusted_proxy_the_hop_it_appended_counts(
    proxied: Platform, supergraph_sdl: str
) -> None:
    """Loopback trusted: the proxy's hop names the client; what the client wrote to the
    left of it changes nothing, and other clients behind the proxy are not affected."""
    from media_gateway.app.serve import build_gateway_app

    gateway = Client(build_gateway_app(proxied, supergraph_sdl), "http://gateway")
    try:
        client = _random_address()
        codes = await _registrations(
            gateway,
            REGISTER_LIMIT + 1,
            lambda: {"x-forwarded-for": f"{_random_address()}, {client}"},
        )
        assert codes[-1] == "RATE_LIMITED"
        other = await _registrations(
            gateway, 1, lambda: {"x-forwarded-for": f"{client}, {_random_address()}"}
        )
        assert other == ["BAD_USER_INPUT"]
    finally:
        await gateway.aclose()


async def test_a_subgraph_behind_the_gateway_takes_the_address_the_gateway_sends(
    proxied: Platform,
) -> None:
    """The identity service with the gateway (loopback) among its trusted proxies: the
    address in the gateway's x-forwarded-for counts, one per client."""
    service = Client(proxied["identity"].asgi_app(), "http://identity")
    try:
        first, second = _random_address(), _random_address()
        codes = await _registrations(
            service, REGISTER_LIMIT + 1, lambda: {"x-forwarded-for": first}
        )
        assert codes[-1] == "RATE_LIMITED"
        assert await _registrations(service, 1, lambda: {"x-forwarded-for": second}) == [
            "BAD_USER_INPUT"
        ]
    finally:
        await service.aclose()


def test_the_trusted_proxy_rule() -> None:
    none = TrustedProxies()
    assert none.client_address("203.0.113.5", {"x-forwarded-for": "1.2.3.4"}) == "203.0.113.5"
    proxies = TrustedProxies.parse("10.0.0.0/8, 192.0.2.1")
    chain = {"x-forwarded-for": "6.6.6.6, 198.51.100.9, 10.1.2.3"}
    assert proxies.client_address("192.0.2.1", chain) == "198.51.100.9"
    assert proxies.client_address("198.51.100.200", chain) == "198.51.100.200"
    assert proxies.client_address("192.0.2.1", {"x-forwarded-for": "not-an-ip"}) == "192.0.2.1"
    rfc = TrustedProxies.parse("loopback", "forwarded")
    headers = {"Forwarded": 'for=6.6.6.6, for="[2001:db8::7]:4711";proto=https'}
    assert rfc.client_address("::1", headers) == "2001:db8::7"
    # with x-forwarded-for configured, a Forwarded header the client wrote is not read
    assert proxies.client_address("192.0.2.1", {"forwarded": "for=6.6.6.6"}) == "192.0.2.1"


def test_settings_and_the_gateway_read_one_setting() -> None:
    env = {"TRUSTED_PROXIES": "private, 198.51.100.1, nonsense"}
    settings = Settings.from_env(env)
    edge = EdgeConfig.from_env(env)
    assert settings.trusted_proxies == edge.trusted_proxies
    assert settings.trusted_proxies.trusts("10.4.5.6")
    assert settings.trusted_proxies.trusts("198.51.100.1")
    assert not settings.trusted_proxies.trusts("198.51.100.2")


def test_gateway_rate_limit_key_uses_the_trusted_proxy_rule() -> None:
    untrusted = EdgeConfig()
    spoofed = {"x-forwarded-for": "6.6.6.6"}
    assert client_key(spoofed, "203.0.113.5", untrusted) == "addr:203.0.113.5"
    trusted = dataclasses.replace(untrusted, trusted_proxies=TrustedProxies.parse("loopback"))
    assert client_key(spoofed, "127.0.0.1", trusted) == "addr:6.6.6.6"
    assert client_key(spoofed, "203.0.113.5", trusted) == "addr:203.0.113.5"
