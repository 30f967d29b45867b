"""The distributed mode on one machine without containers: ``media-gateway cluster``.

``Cluster`` starts every service of ``docker-compose.yml`` that is part of the product (the
five subgraphs and any number of gateway instances) as child processes on loopback ports,
each with its own data folder and the environment the README's distributed table lists. The
storage services (PostgreSQL, Redis, Kafka, Qdrant) are not started: their URLs come from the
environment, as for a service started by hand.

Ports follow the compose file from ``base_port`` (4000 by default): gateway 1 on
``base_port``, the subgraphs on ``base_port + 1`` … ``+ 5`` in ``DEFAULT_PORTS`` order, the
other gateways on ``base_port + 6``, ``+ 7``, …

The same class lets a test stop, pause (SIGSTOP), resume, kill and restart one service; it
only ever signals the processes it started, by their id.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from media_gateway.app import DEFAULT_PORTS

SUPERGRAPH = Path(__file__).resolve().parents[1] / "schema" / "supergraph.graphql"
AUTHENTICATOR = "media_gateway.app.authn:authenticate"
# the paths the gateways forward to the identity service
IDENTITY_PATHS = (
    "/login",
    "/logout",
    "/activate",
    "/verify-email",
    "/reset-password",
    "/oauth",
    "/.well-known/jwks.json",
    "/.well-known/oauth-authorization-server",
    "/.well-known/openid-configuration",
)
# what the services of one cluster learn from the cluster, never from the caller's shell
_CLUSTER_VARIABLES = ("JWT_JWKS_URL", "MEDIA_GATEWAY_DATA_DIR", "JWT_KEY_DIR")


class ClusterError(RuntimeError):
    """A service exited or did not become ready."""


@dataclass
class Service:
    """One child process of the cluster."""

    name: str
    kind: str  # "subgraph" | "gateway"
    port: int
    data_dir: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    paused: bool = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ready_path(self) -> str:
        return "/ready" if self.kind == "subgraph" else "/health"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "service.log"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def command(self, supergraph: Path) -> list[str]:
        base = [sys.executable, "-m", "media_gateway.cli"]
        if self.kind == "subgraph":
            return [*base, "subgraph", self.name, "--host", "127.0.0.1", "--port", str(self.port)]
        return [
            *base,
            "gateway",
            "--supergraph",
            str(supergraph),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--no-graphiql",
        ]


@dataclass
class Cluster:
    """The five subgraphs and ``gateways`` router instances as separate processes."""

    data_dir: Path
    base_port: int = 4000
    gateways: int = 2
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    supergraph: Path = SUPERGRAPH
    ready_seconds: float = 120.0
    services: dict[str, Service] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        offsets = {name: port - 4000 for name, port in DEFAULT_PORTS.items()}
        subgraph_urls = {
            name: f"http://127.0.0.1:{self.base_port + offset}" for name, offset in offsets.items()
        }
        common = {k: v for k, v in self.env.items() if not k.startswith("SUBGRAPH_URL_")}
        for variable in _CLUSTER_VARIABLES:
            common.pop(variable, None)
        common.setdefault("TRUSTED_PROXIES", "loopback")
        if not common.get("DATABASE_URL"):  # one database for all: a SQLite file they share
            common["DATABASE_URL"] = f"sqlite+aiosqlite:///{self.data_dir / 'shared.sqlite'}"
        common["JWT_JWKS_URL"] = f"{subgraph_urls['identity']}/.well-known/jwks.json"
        # MCP clients sign in at identity's own address (the gateways do not serve its OAuth
        # endpoints in this mode), for tokens bound to the first gateway's /mcp
        common.setdefault("OAUTH_ISSUER", subgraph_urls["identity"])
        common.setdefault("GATEWAY_MCP_RESOURCE_URL", f"http://127.0.0.1:{self.base_port}/mcp")
        for name, offset in offsets.items():
            env = dict(common)
            if name in ("sync", "playback", "recommendations"):
                env["SUBGRAPH_URL_CATALOG"] = f"{subgraph_urls['catalog']}/graphql"
            if name == "playback":
                env["SUBGRAPH_URL_SYNC"] = f"{subgraph_urls['sync']}/graphql"
            self._add(Service(name, "subgraph", self.base_port + offset, self._dir(name), env))
        gateway_env = dict(common)
        gateway_env.setdefault("GATEWAY_AUTHENTICATOR", AUTHENTICATOR)
        # the platform's MCP tools on each gateway's /mcp
        gateway_env.setdefault("GATEWAY_MCP_OPERATIONS", "media_gateway.mcp")
        for name, url in subgraph_urls.items():
            gateway_env[f"SUBGRAPH_URL_{name.upper()}"] = f"{url}/graphql"
        # the identity service's pages, OAuth endpoints, metadata and JWKS on each gateway's
        # address, as docker-compose.yml forwards them
        gateway_env.setdefault(
            "GATEWAY_FORWARD",
            " ".join(f"{path}={subgraph_urls['identity']}" for path in IDENTITY_PATHS),
        )
        for index in range(self.gateways):
            name = f"gateway-{index + 1}"
            port = self.base_port if index == 0 else self.base_port + len(offsets) + index
            self._add(Service(name, "gateway", port, self._dir(name), dict(gateway_env)))

    def _dir(self, name: str) -> Path:
        return self.data_dir / name

    def _add(self, service: Service) -> None:
        service.env["MEDIA_GATEWAY_DATA_DIR"] = str(service.data_dir)
        self.services[service.name] = service

    # --- the whole cluster ------------------------------------------------------------------

    @property
    def subgraphs(self) -> list[str]:
        return [s.name for s in self.services.values() if s.kind == "subgraph"]

    @property
    def gateway_names(self) -> list[str]:
        return [s.name for s in self.services.values() if s.kind == "gateway"]

    def url(self, name: str) -> str:
        return self.services[name].url

    def start(self) -> None:
        """Identity first (it migrates the database and publishes the keys the others
        verify with), then the other subgraphs side by side, then the gateways."""
        try:
            self._start_and_wait(["identity"])
            self._start_and_wait([n for n in self.subgraphs if n != "identity"])
            self._start_and_wait(self.gateway_names)
        except BaseException:
            self.stop()
            raise

    def stop(self, grace_seconds: float = 20.0) -> None:
        """SIGTERM to every running service (gateways first), then SIGKILL past the grace."""
        order = self.gateway_names + list(reversed(self.subgraphs))
        for name in order:
            service = self.services[name]
            if service.running():
                self._signal(service, signal.SIGCONT)
                self._signal(service, signal.SIGTERM)
        for name in order:
            self._reap(self.services[name], grace_seconds)

    def __enter__(self) -> Cluster:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- one service -------------------------------------------------------------------------

    def start_service(self, name: str) -> None:
        service = self.services[name]
        if service.running():
            raise ClusterError(f"{name} is already running (pid {service.pid})")
        service.data_dir.mkdir(parents=True, exist_ok=True)
        with service.log_path.open("ab") as log:
            service.process = subprocess.Popen(
                service.command(self.supergraph),
                env=service.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        service.paused = False

    def wait_ready(self, name: str, seconds: float | None = None) -> None:
        service = self.services[name]
        deadline = time.monotonic() + (seconds or self.ready_seconds)
        with httpx.Client(timeout=2.0) as http:
            while time.monotonic() < deadline:
                if not service.running():
                    raise ClusterError(f"{name} exited: {self.output(name)[-2000:]}")
                try:
                    if http.get(service.url + service.ready_path).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                time.sleep(0.2)
        raise ClusterError(f"{name} was not ready in time: {self.output(name)[-2000:]}")

    def stop_service(self, name: str, grace_seconds: float = 20.0) -> None:
        """A graceful stop (SIGTERM), as an orchestrator does."""
        service = self.services[name]
        if service.running():
            self._signal(service, signal.SIGCONT)
            self._signal(service, signal.SIGTERM)
        self._reap(service, grace_seconds)

    def kill(self, name: str) -> None:
        """A crash (SIGKILL): nothing is drained, nothing is flushed."""
        service = self.services[name]
        if service.running():
            self._signal(service, signal.SIGKILL)
        self._reap(service, 10.0)

    def pause(self, name: str) -> None:
        """SIGSTOP: the process holds its sockets but answers nothing, as a hung service."""
        service = self.services[name]
        if not service.running():
            raise ClusterError(f"{name} is not running")
        self._signal(service, signal.SIGSTOP)
        service.paused = True

    def resume(self, name: str) -> None:
        service = self.services[name]
        if service.running():
            self._signal(service, signal.SIGCONT)
        service.paused = False

    def restart(self, name: str) -> None:
        self.stop_service(name)
        self.start_service(name)
        self.wait_ready(name)

    def rss_bytes(self, name: str) -> int:
        """The service's resident memory (Linux ``/proc``)."""
        service = self.services[name]
        if not service.running():
            raise ClusterError(f"{name} is not running")
        status = Path(f"/proc/{service.pid}/status").read_text()
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise ClusterError(f"no resident size for {name}")

    def output(self, name: str) -> str:
        path = self.services[name].log_path
        return path.read_text(errors="replace") if path.exists() else ""

    # --- internals ---------------------------------------------------------------------------

    def _start_and_wait(self, names: list[str]) -> None:
        for name in names:
            self.start_service(name)
        for name in names:
            self.wait_ready(name)

    @staticmethod
    def _signal(service: Service, signum: signal.Signals) -> None:
        if service.process is not None and service.process.poll() is None:
            os.kill(service.process.pid, signum)

    @staticmethod
    def _reap(service: Service, grace_seconds: float) -> None:
        process = service.process
        if process is None:
            return
        try:
            process.wait(timeout=grace_seconds)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        service.paused = False


# --- the command ---------------------------------------------------------------------------------


def cmd_cluster(args: argparse.Namespace) -> int:
    cluster = Cluster(
        data_dir=Path(args.data_dir).expanduser().resolve(),
        base_port=args.base_port,
        gateways=args.gateways,
    )
    stopping: list[int] = []

    def on_signal(signum: int, _frame: Any) -> None:
        stopping.append(signum)

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        print(f"Starting {len(cluster.services)} services (logs in {cluster.data_dir}/NAME/) …")
        try:
            cluster.start()
        except ClusterError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        for service in cluster.services.values():
            print(f"{service.name:<16} {service.url}/graphql  (pid {service.pid})")
        print("Ready. Stop with Ctrl-C or SIGTERM.", flush=True)
        while not stopping:
            exited = [s.name for s in cluster.services.values() if not s.running()]
            if exited:
                print(f"error: {', '.join(exited)} exited; stopping the cluster", file=sys.stderr)
                return 1
            time.sleep(0.5)
        return 0
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        cluster.stop()
        print("Stopped every service.")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "cluster",
        help="run the distributed mode on this machine: every subgraph and gateway a process",
        description="Start the five subgraph services and the gateway instances of "
        "docker-compose.yml as local processes. PostgreSQL, Redis, Kafka and Qdrant are not "
        "started: set DATABASE_URL (and DATABASE_SCHEMA), REDIS_URL, KAFKA_BOOTSTRAP_SERVERS, "
        "QDRANT_URL as for any service. SIGTERM stops every service cleanly.",
    )
    p.add_argument(
        "--base-port",
        type=int,
        default=4000,
        help="gateway 1 listens here, the subgraphs on the next five ports, further gateways "
        "after them (default 4000)",
    )
    p.add_argument("--gateways", type=int, default=2, help="gateway instances (default 2)")
    p.add_argument(
        "--data-dir",
        default=os.environ.get("MEDIA_GATEWAY_DATA_DIR", "./run/cluster"),
        help="one folder per service is made under it (default ./run/cluster)",
    )
    p.set_defaults(func=cmd_cluster)
