"""GraphiQL on the platform as ``media-gateway serve`` runs it: the first visit shows how to
sign in, and a subscription run with a token in the Headers tab is authenticated (the headers
travel as the WebSocket's ``connection_init`` payload) and shows an event a mutation sends.
Headless Chromium through chromedriver (selenium); skipped, with the reason, when either or the
built GraphiQL assets are missing."""

from __future__ import annotations

import json
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from media_gateway.gateway.graphiql import assets_available

from chromium import skip_module_without_chromium  # isort: skip

# starting the platform with its demo catalog takes a while on a small machine
pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

skip_module_without_chromium(
    None if assets_available() else "GraphiQL assets are not built (run scripts/build-graphiql.sh)"
)

from graphiql_driver import (  # noqa: E402  # isort: skip
    editor_text,
    open_graphiql,
    response,
    run,
    type_headers,
    type_query,
    wait,
    wait_for_operation_name,
    QUERY_EDITOR,
)
from pages_site import ServedPlatform  # noqa: E402  # isort: skip
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402

PASSWORD = "correct horse battery staple"
TITLE = "movie:arrival-2016"  # in the demo catalog
# short enough for the editor to show it all on one line
SUBSCRIPTION = "subscription W { watchlistChanged { inWatchlist } }"


@pytest.fixture(scope="module")
def site() -> Iterator[ServedPlatform]:
    with tempfile.TemporaryDirectory(prefix="graphiql-site-") as data_dir:
        # the demo catalog, for a title to put on the watchlist
        environment = {"MEDIA_GATEWAY_SEED_DEMO": "true"}
        served = ServedPlatform(Path(data_dir), environment=environment, graphiql=True)
        served.start()
        try:
            yield served
        finally:
            served.stop()


def test_the_first_visit_shows_how_to_sign_in(driver: WebDriver, site: ServedPlatform) -> None:
    open_graphiql(driver, f"{site.url}/graphql", fresh=True)
    shown = wait(driver, lambda d: editor_text(d, QUERY_EDITOR), "the default operations")
    assert "mutation SignIn" in shown
    assert "Headers tab" in shown


def test_a_subscription_with_the_token_in_the_headers_tab_shows_a_mutations_event(
    driver: WebDriver, site: ServedPlatform
) -> None:
    token = site.register(f"graphiql-{uuid.uuid4().hex[:8]}@example.com", PASSWORD)
    open_graphiql(driver, f"{site.url}/graphql", fresh=True)
    type_query(driver, SUBSCRIPTION)
    wait_for_operation_name(driver, "W")
    type_headers(driver, json.dumps({"Authorization": f"Bearer {token}"}))
    run(driver)

    # a mutation from elsewhere changes the watchlist; until the subscription is open its events
    # may come too early, so the title is taken off and put back until one is shown
    def event_shown(d: WebDriver) -> dict[str, Any] | None:
        value = response(d)
        change = ((value or {}).get("data") or {}).get("watchlistChanged") or {}
        if value is not None and ("errors" in value or change.get("inWatchlist") is True):
            return value
        for mutation in ("removeFromWatchlist", "addToWatchlist"):
            operation = f"mutation($c: ID!) {{ {mutation}(contentId: $c) {{ id }} }}"
            site.graphql(operation, {"c": TITLE}, token)
        return None

    shown = wait(driver, event_shown, "the watchlist event in the response pane")
    assert "errors" not in shown, shown
    assert shown["data"]["watchlistChanged"] == {"inWatchlist": True}


def test_without_the_token_the_subscription_is_refused_with_a_clear_error(
    driver: WebDriver, site: ServedPlatform
) -> None:
    open_graphiql(driver, f"{site.url}/graphql", fresh=True)
    type_query(driver, SUBSCRIPTION)
    wait_for_operation_name(driver, "W")
    run(driver)
    shown = wait(driver, response, "the refusal in the response pane")
    codes = [e.get("extensions", {}).get("code") for e in shown.get("errors", [])]
    assert codes == ["UNAUTHENTICATED"], shown
