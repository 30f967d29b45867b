"""The README's remote-command example, run as written: its three operations are read from the
README and sent through a served gateway (a phone pauses the TV over graphql-transport-ws)."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

from .conftest import Gateway

try:  # the test folders are packages; their parent may or may not be one
    from tests.realtime.helpers import WsClient
except ImportError:  # pragma: no cover
    from realtime.helpers import WsClient  # type: ignore[no-redef,unused-ignore]

README = Path(__file__).resolve().parents[3] / "README.md"
BLOCK = re.compile(r"```graphql\n(.*?)```", re.S)
PASSWORD = "correct horse battery"


def readme_operation(name: str) -> str:
    """The README's GraphQL block that defines the operation ``name``."""
    blocks = [b for b in BLOCK.findall(README.read_text(encoding="utf-8")) if f" {name}" in b]
    assert len(blocks) == 1, f"the README should show {name} once"
    return str(blocks[0])


async def signed_in(gateway: Gateway) -> str:
    email = f"remote-{uuid.uuid4().hex[:8]}@example.com"
    registered = await gateway.post(
        "mutation($e: String!, $p: String!) { register(input: {email: $e, password: $p, "
        'displayName: "A viewer"}) { id } }',
        {"e": email, "p": PASSWORD},
    )
    assert "errors" not in registered, registered
    body = await gateway.post(
        "mutation($e: String!, $p: String!) { login(input: {email: $e, password: $p}) "
        "{ accessToken } }",
        {"e": email, "p": PASSWORD},
    )
    return str(body["data"]["login"]["accessToken"])


async def test_the_readme_phone_pauses_the_tv(gateway: Gateway) -> None:
    token = await signed_in(gateway)
    devices = await gateway.post(readme_operation("RegisterDevices"), token=token)
    assert "errors" not in devices, devices
    tv, phone = devices["data"]["tv"], devices["data"]["phone"]
    assert "REMOTE_CONTROL" in tv["capabilities"] and phone["capabilities"] == ["CAST_SOURCE"]

    listener = WsClient()
    await listener.connect(gateway.ws_url, token)
    try:
        await listener.subscribe(readme_operation("TvCommands"), {"tv": tv["id"]})
        sent: dict[str, Any] = await gateway.post(
            readme_operation("Pause"), {"tv": tv["id"], "phone": phone["id"]}, token
        )
        assert "errors" not in sent, sent
        assert sent["data"]["sendRemoteCommand"]["type"] == "PAUSE"
        received = await listener.next_payload()
        command = received["data"]["remoteCommands"]
        assert (command["type"], command["fromDeviceId"]) == ("PAUSE", phone["id"])
    finally:
        await listener.close()

    # a phone is not remote-controlled: the refusal names what it lacks
    refused = await gateway.post(
        readme_operation("Pause"), {"tv": phone["id"], "phone": tv["id"]}, token
    )
    assert refused["errors"][0]["extensions"]["code"] == "CAPABILITY_MISSING"
