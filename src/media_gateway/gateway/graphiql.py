"""GraphiQL for browsers: the HTML page and the routes that serve its bundled assets.

The assets (GraphiQL, its explorer plugin, Monaco's workers) are built from npm packages by
``scripts/build-graphiql.sh`` into ``static/graphiql/`` beside this module; nothing is loaded
from a CDN. When they have not been built, :func:`graphiql_html` renders a plain page that says
how to build them, and the asset routes answer 404.

The server decides when to show the page (typically ``GET`` on the GraphQL endpoint from a
client that accepts ``text/html``); this module only renders it::

    routes = [*graphiql_routes(), Route("/graphql", graphql_endpoint, methods=["GET", "POST"])]
    html = graphiql_html("/graphql", subscription_endpoint="/graphql")
"""

from __future__ import annotations

import html
import json
import pathlib

from starlette.responses import PlainTextResponse
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

__all__ = [
    "ASSETS_PATH",
    "BUILD_COMMAND",
    "DEFAULT_QUERY",
    "assets_available",
    "assets_dir",
    "graphiql_html",
    "graphiql_routes",
]

#: URL path under which the bundled assets are served.
ASSETS_PATH = "/graphiql/assets"

#: What an operator runs (from the repository root) to build the assets.
BUILD_COMMAND = "scripts/build-graphiql.sh"

#: The query shown on first visit; it works against any schema.
DEFAULT_QUERY = """\
# Welcome to GraphiQL.
#
# Type a query here, or open the Explorer
# in the sidebar to build one by clicking
# through the schema. Run it with the
# play button or Ctrl-Enter.

query Ping {
  __typename
}
"""

_ENTRY_SCRIPT = "graphiql.js"
_STYLESHEET = "graphiql.css"
_STAMP_FILE = ".build-stamp"


def assets_dir() -> pathlib.Path:
    """The folder holding the built GraphiQL bundle (it may not exist yet)."""
    return pathlib.Path(__file__).resolve().parent / "static" / "graphiql"


def assets_available() -> bool:
    """Whether the bundle has been built: its script and stylesheet are both present."""
    folder = assets_dir()
    return (folder / _ENTRY_SCRIPT).is_file() and (folder / _STYLESHEET).is_file()


def graphiql_html(
    endpoint: str,
    subscription_endpoint: str | None,
    title: str = "Media Gateway",
    *,
    default_query: str | None = None,
) -> str:
    """The GraphiQL page for a GraphQL endpoint.

    ``endpoint`` receives queries and mutations as JSON POSTs; ``subscription_endpoint``, when
    given, receives subscriptions over WebSocket (graphql-transport-ws). Both may be paths
    (``/graphql``), resolved against the page's own address, or absolute URLs.
    """
    if not assets_available():
        return _missing_assets_html(endpoint, title)
    config = {
        "endpoint": endpoint,
        "subscriptionEndpoint": subscription_endpoint,
        "defaultQuery": DEFAULT_QUERY if default_query is None else default_query,
        "title": title,
    }
    version = _asset_version()
    query_string = f"?v={version}" if version else ""
    return _PAGE.format(
        title=html.escape(title),
        stylesheet=f"{ASSETS_PATH}/{_STYLESHEET}{query_string}",
        script=f"{ASSETS_PATH}/{_ENTRY_SCRIPT}{query_string}",
        config=_script_safe_json(config),
    )


def graphiql_routes() -> list[BaseRoute]:
    """Routes serving the bundle at :data:`ASSETS_PATH`."""
    return [Mount(ASSETS_PATH, app=_AssetFiles(), name="graphiql-assets")]


class _AssetFiles:
    """Static files from :func:`assets_dir`, or a 404 that says how to build them.

    The folder is looked up on each request, so assets built while the server runs are served
    without a restart.
    """

    def __init__(self) -> None:
        self._files: StaticFiles | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._files is None:
            if not assets_dir().is_dir():
                response = PlainTextResponse(
                    f"GraphiQL assets are not built. Run {BUILD_COMMAND} and reload.",
                    status_code=404,
                )
                await response(scope, receive, send)
                return
            self._files = StaticFiles(directory=assets_dir())
        await self._files(scope, receive, send)


def _asset_version() -> str:
    """A short fingerprint of the current build, used to bust browser caches."""
    try:
        return (assets_dir() / _STAMP_FILE).read_text(encoding="utf-8").strip()[:12]
    except OSError:
        return ""


def _script_safe_json(value: object) -> str:
    """JSON that can sit inside a <script> element without ending it early."""
    text = json.dumps(value, ensure_ascii=False)
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def _missing_assets_html(endpoint: str, title: str) -> str:
    return _MISSING_PAGE.format(
        title=html.escape(title),
        endpoint=html.escape(endpoint),
        command=html.escape(BUILD_COMMAND),
    )


_PAGE = """\
<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <meta name="robots" content="noindex">
    <title>{title} · GraphiQL</title>
    <link rel="icon" href="data:,">
    <link rel="stylesheet" href="{stylesheet}">
    <style>
      html, body {{ height: 100%; margin: 0; }}
      #graphiql {{ height: 100vh; }}
    </style>
  </head>
  <body>
    <div id="graphiql">Loading GraphiQL…</div>
    <script id="graphiql-config" type="application/json">{config}</script>
    <script type="module" src="{script}"></script>
  </body>
</html>
"""

_MISSING_PAGE = """\
<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="robots" content="noindex">
    <title>{title} · GraphiQL</title>
  </head>
  <body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto;">
    <h1>{title}</h1>
    <p>GraphiQL is not available: its assets have not been built.</p>
    <p>Run <code>{command}</code> from the repository root (it needs Node.js and npm),
      then reload this page.</p>
    <p>The GraphQL endpoint works without it: send a JSON <code>POST</code> to
      <code>{endpoint}</code>.</p>
  </body>
</html>
"""
