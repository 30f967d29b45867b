"""Where subgraph SDL comes from: files or live ``_service { sdl }`` endpoints (a product
hands its own subgraphs' SDL to the command, see ``cli.register``)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import httpx

from .compose import SubgraphSource

SERVICE_QUERY = "query SubgraphSdl { _service { sdl } }"


class SourceError(Exception):
    """A subgraph whose SDL could not be obtained."""


def fetch_service_sdl(url: str, *, timeout: float = 10.0) -> str:
    """The SDL a running subgraph reports through ``_service { sdl }``."""
    try:
        response = httpx.post(
            url,
            json={"query": SERVICE_QUERY},
            headers={"accept": "application/json"},
            timeout=timeout,
        )
        response.raise_for_status()
        payload = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise SourceError(f"cannot fetch the SDL of {url}: {exc}") from exc
    sdl = ((payload or {}).get("data") or {}).get("_service", {}).get("sdl")
    if not isinstance(sdl, str):
        errors = (payload or {}).get("errors")
        raise SourceError(f"{url} did not return _service.sdl ({errors or 'no data'})")
    return sdl


def parse_subgraph_option(option: str, routing_urls: dict[str, str]) -> SubgraphSource:
    """``NAME=URL`` (a live subgraph) or ``NAME=FILE`` (an SDL file)."""
    name, sep, location = option.partition("=")
    if not sep or not name or not location:
        raise SourceError(f"--subgraph expects NAME=URL_OR_FILE, got {option!r}")
    if location.startswith(("http://", "https://")):
        return SubgraphSource(name, routing_urls.get(name, location), fetch_service_sdl(location))
    path = Path(location)
    if not path.is_file():
        raise SourceError(f"subgraph {name}: no such file {location}")
    return SubgraphSource(name, routing_urls.get(name, ""), path.read_text(encoding="utf-8"))


def parse_routing_urls(options: Iterable[str]) -> dict[str, str]:
    result: dict[str, str] = {}
    for option in options:
        name, sep, url = option.partition("=")
        if not sep or not name:
            raise SourceError(f"--routing-url expects NAME=URL, got {option!r}")
        result[name] = url
    return result
