"""The console's way to the platform: the public GraphQL API of the gateway, called with the
operator's own access token (so the router and the subgraphs enforce the operator's scopes and
the audit log names the operator), and the gateway's and the services' operator endpoints for
service health. The console never reads a subgraph's tables or calls its code.

``GatewayLink.in_process(app)`` calls the gateway's ASGI app of this process (``serve``);
``GatewayLink.remote(url)`` calls a gateway over HTTP (the distributed mode)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

GRAPHQL_TIMEOUT_SECONDS = 30.0


class GraphQLFailure(Exception):
    """The gateway refused an operation or could not be reached: ``message`` for the page,
    ``code`` (``extensions.code``: FORBIDDEN, UNAUTHENTICATED, BAD_USER_INPUT, CONFLICT...),
    ``field_errors`` (``[(field, message)]`` of a validation refusal)."""

    def __init__(
        self,
        message: str,
        code: str | None = None,
        field_errors: Sequence[tuple[str, str]] = (),
        extensions: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.field_errors = list(field_errors)
        self.extensions = dict(extensions or {})


# reads the Prometheus text of one service's metrics (``/metrics``); None when unreachable
MetricsSource = Callable[[], Awaitable[str | None]]


@dataclass
class GatewayLink:
    """An HTTP client of the gateway (its ``/graphql``, ``/ready``, ``/health/subgraphs``)
    and where the services' metrics are read."""

    http: httpx.AsyncClient
    metrics: dict[str, MetricsSource] = field(default_factory=dict)

    @classmethod
    def in_process(
        cls, app: Any, metrics: Mapping[str, MetricsSource] | None = None
    ) -> GatewayLink:
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 0))
        http = httpx.AsyncClient(
            transport=transport, base_url="http://gateway.internal", timeout=GRAPHQL_TIMEOUT_SECONDS
        )
        return cls(http, dict(metrics or {}))

    @classmethod
    def remote(cls, url: str, metrics: Mapping[str, MetricsSource] | None = None) -> GatewayLink:
        http = httpx.AsyncClient(base_url=url.rstrip("/"), timeout=GRAPHQL_TIMEOUT_SECONDS)
        return cls(http, dict(metrics or {}))

    async def graphql(
        self,
        query: str,
        variables: Mapping[str, Any] | None = None,
        *,
        token: str | None = None,
        address: str | None = None,
    ) -> dict[str, Any]:
        """The operation's ``data``; ``GraphQLFailure`` for its first error (or none at all)."""
        headers = {"accept": "application/graphql-response+json, application/json"}
        if token:
            headers["authorization"] = f"Bearer {token}"
        if address:
            headers["x-forwarded-for"] = address
        try:
            response = await self.http.post(
                "/graphql", json={"query": query, "variables": dict(variables or {})},
                headers=headers,
            )  # fmt: skip
        except httpx.HTTPError as exc:
            raise GraphQLFailure(
                "The gateway could not be reached; try again in a moment.", "UNAVAILABLE"
            ) from exc
        try:
            body = response.json()
        except ValueError as exc:
            raise GraphQLFailure(
                f"The gateway answered {response.status_code} without a GraphQL response.",
                "UNAVAILABLE",
            ) from exc
        errors = body.get("errors") if isinstance(body, dict) else None
        if errors:
            first = errors[0] if isinstance(errors[0], dict) else {}
            extensions = first.get("extensions") or {}
            field_errors = [
                (str(item.get("field", "")), str(item.get("message", "")))
                for item in extensions.get("fieldErrors") or []
                if isinstance(item, dict)
            ]
            raise GraphQLFailure(
                str(first.get("message") or "The request was refused."),
                extensions.get("code"),
                field_errors,
                extensions,
            )
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict):
            raise GraphQLFailure("The gateway answered without data.", "UNAVAILABLE")
        return data

    async def get_json(self, path: str) -> tuple[int, Any]:
        """GET one of the gateway's operator endpoints: (status, JSON body or None)."""
        try:
            response = await self.http.get(path)
        except httpx.HTTPError:
            return 0, None
        try:
            return response.status_code, response.json()
        except ValueError:
            return response.status_code, None

    async def aclose(self) -> None:
        await self.http.aclose()


def remote_metrics(url: str, timeout: float = 3.0) -> MetricsSource:
    """Reads ``url`` (a service's ``/metrics``) over HTTP."""

    async def read() -> str | None:
        try:
            async with httpx.AsyncClient(timeout=timeout) as client:
                response = await client.get(url)
        except httpx.HTTPError:
            return None
        return response.text if response.status_code == 200 else None

    return read
