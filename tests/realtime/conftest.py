"""Fixtures: the platform of the subgraph tests, served by a real gateway on loopback."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from media_gateway.app import Platform

try:  # the test folders are packages; their parent may or may not be one
    from tests.subgraphs.conftest import platform, settings
except ImportError:  # pragma: no cover
    from subgraphs.conftest import (  # type: ignore[no-redef,unused-ignore]  # noqa: F401
        platform,
        settings,
    )

from .helpers import Gateway

REGISTER = """
mutation($email: String!, $password: String!, $name: String!) {
  register(input: {email: $email, password: $password, displayName: $name}) { id }
}
"""
LOGIN = """
mutation($email: String!, $password: String!) {
  login(input: {email: $email, password: $password}) { accessToken user { id } }
}
"""
DEVICE = """
mutation($name: String!, $kind: DeviceKind!, $caps: [DeviceCapability!]) {
  registerDevice(name: $name, kind: $kind, capabilities: $caps) { id }
}
"""


@pytest.fixture
async def gateway(platform: Platform) -> AsyncIterator[Gateway]:
    gw = Gateway(platform)
    await gw.start()
    try:
        yield gw
    finally:
        await gw.stop()


async def new_viewer(gw: Gateway) -> dict[str, Any]:
    """A new account with a phone and a TV: {id, token, phone, tv}."""
    email = f"viewer-{uuid.uuid4().hex[:8]}@example.com"
    body = await gw.post(
        REGISTER, {"email": email, "password": "correct horse battery", "name": "Test Viewer"}
    )
    assert "errors" not in body, body
    body = await gw.post(LOGIN, {"email": email, "password": "correct horse battery"})
    session = body["data"]["login"]
    token = session["accessToken"]
    phone = await gw.post(
        DEVICE, {"name": "Phone", "kind": "PHONE", "caps": ["CAST_SOURCE"]}, token
    )
    tv = await gw.post(
        DEVICE,
        {
            "name": "Living room TV",
            "kind": "TV",
            "caps": ["REMOTE_CONTROL", "CAST_TARGET", "VOLUME_CONTROL"],
        },
        token,
    )
    return {
        "id": session["user"]["id"],
        "token": token,
        "phone": phone["data"]["registerDevice"]["id"],
        "tv": tv["data"]["registerDevice"]["id"],
    }


@pytest.fixture
async def viewer(gateway: Gateway) -> dict[str, Any]:
    return await new_viewer(gateway)
