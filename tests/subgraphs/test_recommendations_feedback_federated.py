"""Imported MovieLens members sign in through the gateway and see lists that respect what they
rated: a 2-of-5 title counts against its neighbours, reasons name the catalog's real title of
the watched title that contributed most, rows list their items best first; rating and
disliking through the API do the same for any member."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from media_gateway.app import Platform
from media_gateway.app.movielens import Accounts, MovieLensFormatError, import_movielens
from media_gateway.assembly.base import Runtime
from media_gateway.platform.settings import Settings

PASSWORD = "quiet harbour lantern 42"
ACTION = {
    1: ("Mad Max: Fury Road", 2015),
    3: ("The Terminator", 1984),
    4: ("Aliens", 1986),
    5: ("Predator", 1987),
    6: ("Die Hard", 1988),
    7: ("John Wick", 2014),
}
FAMILY = {
    2: ("Monsters, Inc.", 2001),
    8: ("Toy Story", 1995),
    9: ("Finding Nemo", 2003),
    10: ("Shrek", 2001),
    11: ("Ratatouille", 2007),
}


def _dataset(folder: Path) -> Path:
    """Twelve action fans and twelve family viewers; member 1 is an action fan who watched
    Monsters, Inc. last and rated it 2; member 30 loved Monsters, Inc."""
    folder.mkdir()
    items = ["item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n"]
    items += [f"{i}\t{t}\t{y}\tAction Sci-Fi\n" for i, (t, y) in ACTION.items()]
    items += [f"{i}\t{t}\t{y}\tAnimation Children's Comedy\n" for i, (t, y) in FAMILY.items()]
    (folder / "ml-100k.item").write_text("".join(items), encoding="utf-8")
    rows: list[tuple[int, int, int, int]] = []
    action, family = list(ACTION), list(FAMILY)
    for u in range(12):
        for k in range(4):
            rows.append((2 + u, action[(u + k) % len(action)], 5, 1000 + 600 * k))
            rows.append((14 + u, family[(u + k) % len(family)], 5, 1000 + 600 * k))
    rows += [(1, 1, 5, 1000), (1, 4, 5, 1600), (1, 3, 5, 2200), (1, 2, 2, 2800)]
    rows += [(30, 2, 5, 1000), (30, 1, 3, 1600)]
    inter = ["user_id:token\titem_id:token\trating:float\ttimestamp:float\n"]
    inter += [f"{u}\t{i}\t{r}\t{t}\n" for u, i, r, t in rows]
    (folder / "ml-100k.inter").write_text("".join(inter), encoding="utf-8")
    return folder


@pytest.fixture
async def platform(tmp_path: Path) -> AsyncIterator[Platform]:
    settings = Settings.from_env(
        {
            "MEDIA_GATEWAY_DATA_DIR": str(tmp_path / "data"),
            "MEDIA_GATEWAY_SEED_DEMO": "false",
            "LOG_LEVEL": "WARNING",
        }
    )
    platform = Platform.create(Runtime.create(settings))
    await platform.runtime.database.migrate()
    summary = await import_movielens(
        platform.runtime.database,
        _dataset(tmp_path / "ml"),
        progress=False,
        report=lambda _line: None,
        accounts=Accounts(PASSWORD),
    )
    assert summary.accounts_added == summary.users == 26
    await platform.startup()  # trains the first model on the imported ratings
    try:
        yield platform
    finally:
        await platform.shutdown()


@pytest.fixture
async def gateway(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    from media_gateway.app.serve import build_gateway_app, load_supergraph

    app = build_gateway_app(platform, load_supergraph())
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),  # type: ignore[arg-type]
        base_url="http://gw",
    ) as http:
        yield http


async def ask(
    http: httpx.AsyncClient, query: str, token: str | None = None, **variables: Any
) -> Any:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    response = await http.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    assert response.status_code == 200, response.text
    return response.json()


LOGIN = """mutation($email: String!, $password: String!) {
  login(input: {email: $email, password: $password}) { accessToken user { id displayName } } }"""
PICKS = """{ me { recommendations(first: 4) {
  content { id title genres } score reasonKind reason basedOn { id title } } } }"""
ROWS = """{ me { rows(itemsPerRow: 2) { kind title basedOn { id title }
  items { content { id title } score reason basedOn { title } } } } }"""


async def sign_in(http: httpx.AsyncClient, member: int) -> str:
    body = await ask(http, LOGIN, email=f"movielens-{member}@example.com", password=PASSWORD)
    assert "errors" not in body, body
    assert body["data"]["login"]["user"]["id"] == f"movielens-{member}"
    return str(body["data"]["login"]["accessToken"])


async def test_imported_members_sign_in_and_a_low_rating_counts_against(
    gateway: httpx.AsyncClient,
) -> None:
    refused = await ask(gateway, LOGIN, email="movielens-1@example.com", password="wrong guess")
    assert refused["errors"]

    token = await sign_in(gateway, 1)
    picks = (await ask(gateway, PICKS, token))["data"]["me"]["recommendations"]
    assert len(picks) == 4
    # the 2-of-5 Monsters, Inc. neither brings in family titles nor is anyone's reason
    top = [p["content"]["title"] for p in picks[:3]]
    assert set(top) <= {t for t, _ in ACTION.values()}, top
    assert all((p["basedOn"] or {}).get("title") != "Monsters, Inc." for p in picks)
    # best first, and each reason names the real title of what contributed most
    scores = [p["score"] for p in picks]
    assert scores == sorted(scores, reverse=True)
    for pick in picks:
        if pick["basedOn"]:
            assert pick["reason"] == f"Because you watched {pick['basedOn']['title']}"
    assert "Because you watched Mad Max: Fury Road" in {p["reason"] for p in picks} | {
        "Because you watched Aliens",
        "Because you watched The Terminator",
    }
    assert any(p["basedOn"] for p in picks)


async def test_a_second_import_leaves_the_accounts_as_they_are(
    platform: Platform, gateway: httpx.AsyncClient, tmp_path: Path
) -> None:
    again = await import_movielens(
        platform.runtime.database,
        _dataset(tmp_path / "again"),
        progress=False,
        report=lambda _line: None,
        accounts=Accounts("another long passphrase for everyone"),
    )
    assert again.accounts_added == 0
    await sign_in(gateway, 1)  # the first import's password still signs in
    with pytest.raises(MovieLensFormatError, match="password"):
        await import_movielens(
            platform.runtime.database,
            tmp_path / "again",
            progress=False,
            report=lambda _line: None,
            accounts=Accounts("password"),
        )


async def test_rows_name_real_titles_and_list_items_best_first(
    gateway: httpx.AsyncClient,
) -> None:
    token = await sign_in(gateway, 30)
    rows = (await ask(gateway, ROWS, token))["data"]["me"]["rows"]
    assert rows
    because = [r for r in rows if r["kind"] == "BECAUSE_YOU_WATCHED"]
    assert because, rows
    for row in because:
        # the catalog's title, punctuation and all, never one rebuilt from the id
        assert row["title"] == f"Because you watched {row['basedOn']['title']}"
        assert all(i["basedOn"]["title"] == row["basedOn"]["title"] for i in row["items"])
    assert "Because you watched Monsters, Inc." in {r["title"] for r in because}
    for row in rows:
        scores = [i["score"] for i in row["items"]]
        assert scores == sorted(scores, reverse=True), row["title"]


RATE = """mutation($id: ID!, $stars: Int!) { rateTitle(contentId: $id, stars: $stars) {
  content { id title } stars disliked weight } }"""
DISLIKE = """mutation($id: ID!) { dislikeTitle(contentId: $id) { stars disliked weight } }"""


async def test_rating_and_disliking_through_the_api(gateway: httpx.AsyncClient) -> None:
    token = await sign_in(gateway, 30)  # loved Monsters, Inc., watched Mad Max
    before = (await ask(gateway, PICKS, token))["data"]["me"]["recommendations"]
    assert "Monsters, Inc." in {(p["basedOn"] or {}).get("title") for p in before}

    rated = await ask(gateway, RATE, token, id="movie:monsters-inc-2001", stars=1)
    assert "errors" not in rated, rated
    assert rated["data"]["rateTitle"]["weight"] < 0
    assert rated["data"]["rateTitle"]["content"]["title"] == "Monsters, Inc."
    after = (await ask(gateway, PICKS, token))["data"]["me"]["recommendations"]
    assert "Monsters, Inc." not in {(p["basedOn"] or {}).get("title") for p in after}
    family = {t for t, _ in FAMILY.values()}
    assert sum(p["content"]["title"] in family for p in after) < sum(
        p["content"]["title"] in family for p in before
    )

    disliked = await ask(gateway, DISLIKE, token, id="movie:mad-max-fury-road-2015")
    assert disliked["data"]["dislikeTitle"] == {"stars": None, "disliked": True, "weight": -1.0}

    bad = await ask(gateway, RATE, token, id="movie:monsters-inc-2001", stars=9)
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    unknown = await ask(gateway, RATE, token, id="movie:no-such-title", stars=4)
    assert unknown["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    anonymous = await ask(gateway, RATE, None, id="movie:monsters-inc-2001", stars=4)
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
