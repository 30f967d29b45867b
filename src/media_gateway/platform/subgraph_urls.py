"""Where another subgraph answers, for a subgraph that runs alone and asks it over HTTP.

``SUBGRAPH_URL_<NAME>`` names it; otherwise the default the product registered with
``set_default_urls`` (each subgraph's local port).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

_defaults: dict[str, str] = {}


def set_default_urls(urls: Mapping[str, str]) -> None:
    """The URL of each subgraph when ``SUBGRAPH_URL_<NAME>`` does not say."""
    _defaults.update(urls)


def subgraph_url(name: str) -> str | None:
    """The GraphQL URL of the subgraph ``name``, or None when nothing says where it is."""
    return os.environ.get(f"SUBGRAPH_URL_{name.upper()}") or _defaults.get(name)
