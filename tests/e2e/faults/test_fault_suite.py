"""Faults in the distributed mode: every service a real process on PostgreSQL, Redis and Kafka.

``Cluster`` (what ``media-gateway cluster`` runs) starts the five subgraphs and two gateways.
Under a moderate load of real user operations (the home query, search, progress updates,
remote commands) each subgraph in turn is stopped, restarted, paused and resumed. Per fault
the suite asserts what a client still gets (the fields of the other subgraphs) and how the
loss is reported (null fields, errors with `path` and `extensions.serviceName`); after the
faults, that every acknowledged mutation is in the database, that a subscriber that was cut
resumed with its `since` cursor and missed nothing, and that the gateways' memory stayed
flat. Then one gateway is killed: the other keeps serving and a subscriber reconnecting to
it resumes where it was. The table of what survives each fault is printed and is the one in
docs/partial-failure.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import socket
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from media_gateway.app.cluster import Cluster
from media_gateway.platform.demo import DEMO_EMAIL, DEMO_PASSWORD

try:  # the test folders are packages; their parent may or may not be one
    from tests.realtime.helpers import WsClient
except ImportError:  # pragma: no cover
    from realtime.helpers import WsClient  # type: ignore[no-redef,unused-ignore]

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL")
REDIS_URL = os.environ.get("TEST_REDIS_URL")
KAFKA = os.environ.get("TEST_KAFKA_BOOTSTRAP_SERVERS")

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.kafka,
    pytest.mark.skipif(
        not (POSTGRES_URL and REDIS_URL and KAFKA),
        reason="the fault suite needs TEST_POSTGRES_URL, TEST_REDIS_URL and "
        "TEST_KAFKA_BOOTSTRAP_SERVERS",
    ),
]

REQUEST_TIMEOUT = 3.0  # the gateway's deadline per client request
SUBGRAPH_TIMEOUT = 1.5
VIRTUAL_USERS = 4
COMMAND_TTL = 3600  # commands never expire during the run: a late subscriber must get them all

LOGIN = """
mutation($e: String!, $p: String!) { login(input: {email: $e, password: $p}) { accessToken } }
"""
HOME = """
{ me { displayName
       watchlist { title }
       continueWatching { positionSeconds content { title } }
       recommendations(first: 3) { content { title } } }
  trending(first: 3) { title } }
"""
SEARCH = '{ search(query: "space", first: 3) { totalCount nodes { id title } } }'
START = """
mutation($c: ID!, $d: ID!) { startPlayback(contentId: $c, deviceId: $d, durationSeconds: 7200) {
  id } }
"""
UPDATE = """
mutation($s: ID!, $p: Int!) { updatePlaybackProgress(sessionId: $s, positionSeconds: $p,
  state: PLAYING) { id positionSeconds } }
"""
SEND = """
mutation($target: ID!, $ttl: Int!) {
  sendRemoteCommand(targetDeviceId: $target, command: {type: PAUSE}, ttlSeconds: $ttl) {
    id cursor } }
"""
COMMANDS = """
subscription($device: ID!, $since: String) {
  remoteCommands(deviceId: $device, since: $since) { id cursor type }
}
"""
DEVICE = """
mutation($n: String!, $k: DeviceKind!, $caps: [DeviceCapability!]) {
  registerDevice(name: $n, kind: $k, capabilities: $caps) { id } }
"""
TITLES = ("movie:arrival-2016", "movie:parasite-2019", "movie:spirited-away-2001")

# the fields of the home query whose survival is tracked, as response paths
TRACKED = (
    "me",
    "me.displayName",
    "me.watchlist",
    "me.continueWatching",
    "me.recommendations",
    "trending",
)
# what the docs promise for each subgraph down: the tracked fields that become null
EXPECTED_NULL = {
    "identity": {"me"},
    "catalog": {"me.watchlist", "me.recommendations", "trending"},
    "recommendations": {"me.recommendations", "trending"},
    "playback": {"me.continueWatching"},
    "sync": {"me.watchlist"},
}


# --- the cluster ------------------------------------------------------------------------------


def _free_base_port(count: int = 8) -> int:
    """A base port with ``count`` free ports after it (picked at random, then checked)."""
    for _ in range(200):
        base = random.randrange(20000, 32000 - count)  # below the ephemeral range
        try:
            for port in range(base, base + count):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise RuntimeError("no free range of ports")


def _postgres(statement: str) -> list[Any]:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    from media_gateway.platform.settings import normalize_database_url

    assert POSTGRES_URL is not None

    async def run() -> list[Any]:
        engine = create_async_engine(normalize_database_url(POSTGRES_URL))
        try:
            async with engine.begin() as connection:
                result = await connection.execute(text(statement))
                return list(result.fetchall()) if result.returns_rows else []
        finally:
            await engine.dispose()

    return asyncio.run(run())


@pytest.fixture(scope="module")
def schema() -> Iterator[str]:
    name = f"faults_{uuid.uuid4().hex[:10]}"
    try:
        yield name
    finally:
        _postgres(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, schema: str) -> Iterator[Cluster]:
    assert POSTGRES_URL and REDIS_URL and KAFKA
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATABASE_", "REDIS_", "KAFKA_", "QDRANT_", "GATEWAY_", "JWT_"))
    }
    env.update(
        {
            "DATABASE_URL": POSTGRES_URL,
            "DATABASE_SCHEMA": schema,
            "REDIS_URL": REDIS_URL,
            "KAFKA_BOOTSTRAP_SERVERS": KAFKA,
            "LOG_JSON": "0",
            "LOG_LEVEL": "WARNING",
            "MEDIA_GATEWAY_SEED_DEMO": "1",
            "GATEWAY_REQUEST_TIMEOUT": str(REQUEST_TIMEOUT),
            "GATEWAY_SUBGRAPH_TIMEOUT": str(SUBGRAPH_TIMEOUT),
            "GATEWAY_SUBGRAPH_RETRIES": "0",
            "GATEWAY_BREAKER_RESET_SECONDS": "1",
        }
    )
    started = Cluster(
        data_dir=tmp_path_factory.mktemp("cluster"), base_port=_free_base_port(), env=env
    )
    started.start()
    try:
        yield started
    finally:
        started.stop()


# --- clients ----------------------------------------------------------------------------------


async def _post(
    http: httpx.AsyncClient, gateway: str, query: str, token: str, **variables: Any
) -> dict[str, Any]:
    response = await http.post(
        gateway + "/graphql",
        json={"query": query, "variables": variables},
        headers={"authorization": f"Bearer {token}"} if token else {},
    )
    body: dict[str, Any] = response.json()
    return body


@dataclass
class Viewer:
    user_id: str
    token: str
    phone: str
    tv: str


async def _viewer(http: httpx.AsyncClient, gateway: str) -> Viewer:
    # sign-in limits count per client address, shared through Redis with anything else
    # signing in from this machine: this run signs in from an address of its own (the
    # gateway trusts loopback proxies and forwards it)
    address = f"198.51.100.{random.randrange(1, 255)}"
    response = await http.post(
        gateway + "/graphql",
        json={"query": LOGIN, "variables": {"e": DEMO_EMAIL, "p": DEMO_PASSWORD}},
        headers={"x-forwarded-for": address},
    )
    body = response.json()
    assert "errors" not in body, body
    token = body["data"]["login"]["accessToken"]
    me = await _post(http, gateway, "{ me { id } }", token)
    tv = await _post(
        http, gateway, DEVICE, token, n="Fault TV", k="TV", caps=["REMOTE_CONTROL", "CAST_TARGET"]
    )
    phone = await _post(http, gateway, DEVICE, token, n="Fault phone", k="PHONE", caps=[])
    return Viewer(
        me["data"]["me"]["id"],
        token,
        phone["data"]["registerDevice"]["id"],
        tv["data"]["registerDevice"]["id"],
    )


@dataclass
class Load:
    """Virtual users doing what the apps do; every mutation the gateway acknowledged is kept."""

    gateways: list[str]
    viewer: Viewer
    progress: dict[str, int] = field(default_factory=dict)  # session id -> position
    commands: set[int] = field(default_factory=set)  # acknowledged command cursors
    requests: int = 0
    failures: int = 0  # transport failures (the request got no answer at all)
    running: bool = True

    async def user(self, index: int) -> None:
        gateway = self.gateways[index % len(self.gateways)]
        token = self.viewer.token
        async with httpx.AsyncClient(timeout=REQUEST_TIMEOUT + 10) as http:
            step = 0
            while self.running:
                step += 1
                try:
                    await _post(http, gateway, HOME, token)
                    await _post(http, gateway, SEARCH, token)
                    title = TITLES[step % len(TITLES)]
                    started = await _post(http, gateway, START, token, c=title, d=self.viewer.phone)
                    session = ((started.get("data") or {}).get("startPlayback") or {}).get("id")
                    if session and not started.get("errors"):
                        position = 60 * index + step
                        updated = await _post(http, gateway, UPDATE, token, s=session, p=position)
                        if not updated.get("errors") and (updated.get("data") or {}).get(
                            "updatePlaybackProgress"
                        ):
                            self.progress[session] = position
                    sent = await _post(
                        http, gateway, SEND, token, target=self.viewer.tv, ttl=COMMAND_TTL
                    )
                    command = (sent.get("data") or {}).get("sendRemoteCommand")
                    if command and not sent.get("errors"):
                        self.commands.add(int(command["cursor"]))
                    self.requests += 5
                except (httpx.HTTPError, ValueError):
                    self.failures += 1
                    await asyncio.sleep(0.2)
                await asyncio.sleep(0.05)


@dataclass
class Subscriber:
    """A TV listening to its remote commands; on any cut it reconnects with `since` set to
    the last cursor it saw (to the next gateway when one does not answer)."""

    gateways: list[str]
    viewer: Viewer
    since: str
    received: set[int] = field(default_factory=set)
    reconnects: int = 0
    running: bool = True

    async def run(self) -> None:
        attempt = 0
        while self.running:
            gateway = self.gateways[attempt % len(self.gateways)]
            client = WsClient()
            try:
                await client.connect(gateway.replace("http", "ws") + "/graphql", self.viewer.token)
                await client.subscribe(COMMANDS, {"device": self.viewer.tv, "since": self.since})
                while self.running:
                    message = await client.receive(timeout=3600)
                    if message.get("type") != "next":
                        break  # error or complete: resubscribe
                    event = (message["payload"].get("data") or {}).get("remoteCommands")
                    if not event:
                        break
                    self.received.add(int(event["cursor"]))
                    self.since = event["cursor"]
            except Exception:  # any cut: reconnect below
                pass
            finally:
                await client.close()
            if self.running:
                self.reconnects += 1
                attempt += 1
                await asyncio.sleep(0.5)


# --- what survives a fault --------------------------------------------------------------------


def _at(data: Any, path: str) -> Any:
    value = data
    for key in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _pattern(path: list[Any]) -> str:
    return ".".join("[i]" if isinstance(p, int) else str(p) for p in path).replace(".[i]", "[i]")


@dataclass
class Observation:
    fault: str
    subgraph: str
    nulls: list[str]
    errors: list[tuple[str, str, str]]  # (path pattern, code, serviceName)
    search: str
    seconds: float

    def row(self) -> str:
        errors = "; ".join(f"`{p}` {c} ({s})" for p, c, s in self.errors) or "—"
        nulls = ", ".join(f"`{n}`" for n in self.nulls) or "—"
        return f"| {self.subgraph} {self.fault} | {nulls} | {errors} | {self.search} |"


async def _observe(
    http: httpx.AsyncClient, gateway: str, token: str, fault: str, subgraph: str
) -> tuple[Observation, dict[str, Any]]:
    began = time.monotonic()
    home = await _post(http, gateway, HOME, token)
    seconds = time.monotonic() - began
    search = await _post(http, gateway, SEARCH, token)
    data = home.get("data") or {}
    nulls = [path for path in TRACKED if _at(data, path) is None]
    if data.get("me") is None:
        nulls = [n for n in nulls if not n.startswith("me.")]
    errors = sorted(
        {
            (
                _pattern(e.get("path") or []),
                str(e.get("extensions", {}).get("code")),
                str(e.get("extensions", {}).get("serviceName")),
            )
            for e in home.get("errors", [])
        }
    )
    search_errors = search.get("errors") or []
    outcome = (
        "answers"
        if not search_errors
        else "null: "
        + ", ".join(
            sorted({str(e.get("extensions", {}).get("serviceName")) for e in search_errors})
        )
    )
    return Observation(fault, subgraph, nulls, errors, outcome, seconds), home


def _assert_partial(subgraph: str, home: dict[str, Any], observation: Observation) -> None:
    data = home.get("data")
    assert data is not None, (subgraph, home)
    expected = EXPECTED_NULL[subgraph]
    assert set(observation.nulls) == expected, (subgraph, observation, home)
    # every field of another subgraph survives
    kept = [
        p for p in TRACKED if p not in expected and not any(p.startswith(e + ".") for e in expected)
    ]
    for path in kept:
        assert _at(data, path) is not None, (subgraph, path, home)
    # every lost field is reported, with its path and the subgraph that failed
    errors = home.get("errors", [])
    assert errors, home
    for error in errors:
        assert error.get("path"), error
        assert error["extensions"]["serviceName"] == subgraph, error
    for path in expected:
        prefix = path.split(".")
        assert any(e["path"][: len(prefix)] == prefix for e in errors), (path, errors)


async def _until_whole(http: httpx.AsyncClient, gateways: list[str], token: str) -> None:
    """Every gateway answers the home query and search without an error again."""
    deadline = time.monotonic() + 60
    for gateway in gateways:
        while True:
            home = await _post(http, gateway, HOME, token)
            search = await _post(http, gateway, SEARCH, token)
            if not home.get("errors") and not search.get("errors"):
                break
            assert time.monotonic() < deadline, (home, search)
            await asyncio.sleep(0.5)


def _print_table(observations: list[Observation], capsys: pytest.CaptureFixture[str]) -> None:
    lines = [
        "",
        "| Fault | Null in the home query | Errors (path, code, serviceName) | search |",
        "|---|---|---|---|",
        *(o.row() for o in observations),
    ]
    with capsys.disabled():
        print("\n".join(lines))


def _gateway_rss(cluster: Cluster) -> dict[str, int]:
    return {name: cluster.rss_bytes(name) for name in cluster.gateway_names}


# --- the suite --------------------------------------------------------------------------------


@pytest.mark.timeout(420)
async def test_each_subgraph_stopped_and_paused_under_load(
    cluster: Cluster, schema: str, capsys: pytest.CaptureFixture[str]
) -> None:
    gateways = [cluster.url(name) for name in cluster.gateway_names]
    async with httpx.AsyncClient(timeout=REQUEST_TIMEOUT + 10) as http:
        viewer = await _viewer(http, gateways[0])
        state = await _post(http, gateways[0], "{ syncState { cursor } }", viewer.token)
        subscriber = Subscriber(list(gateways), viewer, state["data"]["syncState"]["cursor"])
        load = Load(list(gateways), viewer)
        tasks = [asyncio.create_task(load.user(i)) for i in range(VIRTUAL_USERS)]
        listening = asyncio.create_task(subscriber.run())
        observations: list[Observation] = []
        try:
            await asyncio.sleep(5)  # warm-up
            await _until_whole(http, gateways, viewer.token)
            warm = _gateway_rss(cluster)
            for subgraph in cluster.subgraphs:
                # stopped (SIGTERM): the parts it serves are null and say so
                await asyncio.to_thread(cluster.stop_service, subgraph)
                await asyncio.sleep(1)
                observation, home = await _observe(
                    http, gateways[0], viewer.token, "stopped", subgraph
                )
                observations.append(observation)
                _assert_partial(subgraph, home, observation)
                await asyncio.sleep(2)
                await asyncio.to_thread(cluster.start_service, subgraph)
                await asyncio.to_thread(cluster.wait_ready, subgraph)
                await _until_whole(http, gateways, viewer.token)

                # paused (SIGSTOP): answers come within the request deadline, its part null
                await asyncio.to_thread(cluster.pause, subgraph)
                try:
                    await asyncio.sleep(0.5)
                    observation, home = await _observe(
                        http, gateways[0], viewer.token, "paused", subgraph
                    )
                    observations.append(observation)
                    assert observation.seconds < REQUEST_TIMEOUT + 5, observation
                    _assert_partial(subgraph, home, observation)
                    await asyncio.sleep(2)
                finally:
                    await asyncio.to_thread(cluster.resume, subgraph)
                await _until_whole(http, gateways, viewer.token)
            await asyncio.sleep(3)  # load on the healed cluster
        finally:
            load.running = False
            await asyncio.gather(*tasks, return_exceptions=True)
        _print_table(observations, capsys)

        # the subscriber that was cut resumed with its cursor and missed no acknowledged command
        deadline = time.monotonic() + 30
        while not load.commands <= subscriber.received and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
        subscriber.running = False
        listening.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listening
        missing = load.commands - subscriber.received
        assert not missing, (len(missing), len(load.commands), subscriber.reconnects)
        assert subscriber.reconnects >= 1  # it was cut (sync was stopped) and came back

    # nothing acknowledged to a client was lost
    assert load.progress and load.commands, load
    sessions = dict(
        await asyncio.to_thread(
            _postgres,
            f'SELECT id, position_seconds FROM "{schema}".playback_sessions '
            f"WHERE id IN ({','.join(repr(s) for s in load.progress)})",
        )
    )
    assert sessions == load.progress
    stored = {
        int(row[0])
        for row in await asyncio.to_thread(
            _postgres,
            f"SELECT seq FROM \"{schema}\".realtime_events WHERE user_id = '{viewer.user_id}' "
            "AND kind = 'command'",
        )
    }
    assert load.commands <= stored, load.commands - stored

    # memory stays flat: resident size after the run within 1.5x of after the warm-up
    after = _gateway_rss(cluster)
    with capsys.disabled():
        print(
            f"\n{load.requests} operations, {len(load.progress)} progress updates and "
            f"{len(load.commands)} commands acknowledged; subscriber reconnects: "
            f"{subscriber.reconnects}; gateway RSS MiB after warm-up "
            f"{ {k: round(v / 2**20) for k, v in warm.items()} }, after the faults "
            f"{ {k: round(v / 2**20) for k, v in after.items()} }"
        )
    for name, size in after.items():
        assert size < warm[name] * 1.5, (name, warm[name], size)


@pytest.mark.timeout(180)
async def test_a_killed_gateway_leaves_the_other_serving_and_subscribers_resume(
    cluster: Cluster,
) -> None:
    first, second = (cluster.url(name) for name in cluster.gateway_names[:2])
    async with httpx.AsyncClient(timeout=REQUEST_TIMEOUT + 10) as http:
        viewer = await _viewer(http, first)
        tv = WsClient()
        await tv.connect(first.replace("http", "ws") + "/graphql", viewer.token)
        await tv.subscribe(COMMANDS, {"device": viewer.tv})
        await tv.nothing_within(0.5)
        sent = await _post(http, first, SEND, viewer.token, target=viewer.tv, ttl=COMMAND_TTL)
        assert "errors" not in sent, sent
        got = (await tv.next_payload())["data"]["remoteCommands"]
        since = got["cursor"]

        await asyncio.to_thread(cluster.kill, cluster.gateway_names[0])
        with contextlib.suppress(Exception):
            await tv.receive(timeout=5)  # the connection ends
        await tv.close()

        # the second instance keeps serving the whole home screen
        home = await _post(http, second, HOME, viewer.token)
        assert "errors" not in home and home["data"]["me"]["displayName"], home
        missed = []
        for _ in range(3):
            body = await _post(http, second, SEND, viewer.token, target=viewer.tv, ttl=COMMAND_TTL)
            assert "errors" not in body, body
            missed.append(body["data"]["sendRemoteCommand"]["cursor"])

        # the TV reconnects to the second instance and gets what it missed, from its cursor
        tv = WsClient()
        await tv.connect(second.replace("http", "ws") + "/graphql", viewer.token)
        try:
            await tv.subscribe(COMMANDS, {"device": viewer.tv, "since": since})
            resumed = [
                (await tv.next_payload())["data"]["remoteCommands"]["cursor"] for _ in missed
            ]
        finally:
            await tv.close()
        assert resumed == missed

    # the killed instance comes back
    await asyncio.to_thread(cluster.start_service, cluster.gateway_names[0])
    await asyncio.to_thread(cluster.wait_ready, cluster.gateway_names[0])
