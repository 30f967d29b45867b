"""The console's pages: sign-in and sign-out, accounts (find, sessions, revoke, lock and
unlock), a title's availability (find, list, add, change, remove offers), the audit log,
search analytics and service health. Each page is a thin GraphQL client of the gateway: it
sends one operation as the operator and renders the answer or the refusal."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from .client import GraphQLFailure
from .framework import (
    PREFIX,
    Console,
    ConsoleError,
    NotAllowed,
    Operator,
    local_path,
    seconds_until,
    text,
)
from .health import read_health

OFFER_TYPES = ("SUBSCRIPTION", "FREE", "RENT", "BUY")
QUALITIES = ("SD", "HD", "UHD")
AUDIT_PAGE = 25

LOGIN = """
mutation ConsoleSignIn($input: LoginInput!) {
  login(input: $input) { accessToken refreshToken refreshTokenExpiresAt scopes }
}"""
WHO = "query ConsoleWho { me { id email } }"
LOGOUT = "mutation ConsoleSignOut($token: String!) { logout(refreshToken: $token) }"
FIND_ACCOUNTS = """
query ConsoleFindAccounts($query: String, $after: String) {
  adminAccounts(query: $query, first: 20, after: $after) {
    edges { node { id email displayName role lockedAt deletionDueAt } }
    pageInfo { hasNextPage endCursor }
  }
}"""
ACCOUNT = """
query ConsoleAccount($id: ID!) {
  adminAccount(id: $id) {
    id email displayName role createdAt emailVerified mfaEnabled lockedAt deletionDueAt
    sessions { id clientId profileId startedAt lastRefreshedAt expiresAt }
    profiles { id name kids }
    user { adminDevices { id name kind registeredAt lastSeenAt } }
  }
}"""
REVOKE = """
mutation ConsoleRevoke($userId: ID!, $sessionId: ID) {
  adminRevokeSessions(userId: $userId, sessionId: $sessionId)
}"""
LOCK = """
mutation ConsoleLock($userId: ID!, $reason: String) {
  adminLockAccount(userId: $userId, reason: $reason) { lockedAt }
}"""
UNLOCK = "mutation ConsoleUnlock($userId: ID!) { adminUnlockAccount(userId: $userId) { id } }"
FIND_TITLES = """
query ConsoleFindTitles($prefix: String!) {
  autocomplete(prefix: $prefix, limit: 20) { kind id text content { id title year } }
}"""
TITLE = """
query ConsoleTitle($id: ID!) {
  content(id: $id) {
    id title year retiredAt
    availability { platform region offerType deepLink quality price currency leavesAt isDemoData }
  }
  catalogHistory(id: $id, first: 5) {
    currentVersion changes { id action actorId changedFields createdAt }
  }
}"""
SET_AVAILABILITY = """
mutation ConsoleSetAvailability($id: ID!, $version: Int!, $offers: [OfferInput!]!) {
  setTitleAvailability(id: $id, expectedVersion: $version, offers: $offers) { id version }
}"""
AUDIT = """
query ConsoleAudit($filter: AuditLogFilter, $first: Int, $after: String) {
  auditLog(filter: $filter, first: $first, after: $after) {
    edges { node { id occurredAt actorId action targetType targetId before after detail } }
    pageInfo { hasNextPage endCursor }
  }
}"""
ANALYTICS = """
query ConsoleSearchAnalytics($since: DateTime, $region: String) {
  searchAnalytics(since: $since, region: $region) {
    since until region searches queries zeroResultSearches searchesWithPlay plays
    clickThroughRate
    topQueries(first: 20) { ...row }
    zeroResultQueries(first: 20) { ...row }
    unplayedQueries(first: 20) { ...row }
  }
  trendingSearches(region: $region, first: 20) {
    query region recentSearches baselineSearches lift
  }
}
fragment row on SearchQueryStats {
  query searches viewers zeroResultSearches averageResults searchesWithPlay clickThroughRate
  lastSearchedAt
}"""

SECTIONS = (
    # (path, title, the scope it needs, what it is for)
    ("/accounts", "Accounts", "accounts:read", "Find a member, see their sessions, revoke, lock."),
    ("/titles", "Titles", "catalog:write", "Find a title and edit where it can be watched."),
    ("/audit", "Audit log", "audit:read", "Security events and every operator action."),
    ("/search", "Search analytics", "search:admin", "What viewers search and what they play."),
    ("/health", "Service health", None, "Subgraphs, circuit breakers and outbox lag."),
)


def console_routes(console: Console) -> list[BaseRoute]:
    pages = ConsolePages(console)
    g = console.guarded
    return [
        Route(PREFIX, g(pages.home), methods=["GET"]),
        Route(PREFIX + "/", g(pages.home), methods=["GET"]),
        Route(PREFIX + "/sign-in", g(pages.sign_in_page), methods=["GET"]),
        Route(PREFIX + "/sign-in", g(pages.sign_in), methods=["POST"]),
        Route(PREFIX + "/sign-out", g(pages.sign_out), methods=["POST"]),
        Route(PREFIX + "/accounts", g(pages.accounts), methods=["GET"]),
        Route(PREFIX + "/accounts/{id}", g(pages.account), methods=["GET"]),
        Route(PREFIX + "/accounts/{id}/revoke", g(pages.revoke), methods=["POST"]),
        Route(PREFIX + "/accounts/{id}/lock", g(pages.lock), methods=["POST"]),
        Route(PREFIX + "/accounts/{id}/unlock", g(pages.unlock), methods=["POST"]),
        Route(PREFIX + "/titles", g(pages.titles), methods=["GET"]),
        Route(PREFIX + "/titles/{id}", g(pages.title), methods=["GET"]),
        Route(PREFIX + "/titles/{id}/offers", g(pages.offers), methods=["POST"]),
        Route(PREFIX + "/audit", g(pages.audit), methods=["GET"]),
        Route(PREFIX + "/search", g(pages.search_analytics), methods=["GET"]),
        Route(PREFIX + "/health", g(pages.health), methods=["GET"]),
    ]


class ConsolePages:
    def __init__(self, console: Console) -> None:
        self.console = console

    def render(
        self, request: Request, template: str, status: int = 200, **context: Any
    ) -> Response:
        return self.console.render(request, template, status, **context)

    # -- signing in and out --------------------------------------------------------------
    async def home(self, request: Request) -> Response:
        operator = self.console.require(request)
        me = (await self.console.call(request, operator, WHO)).get("me") or {}
        sections = [s for s in SECTIONS if s[2] is None or operator.may(s[2])]
        return self.render(
            request, "home.html", operator=operator, title="Operations console",
            sections=sections, scopes=sorted(operator.operator_scopes), email=me.get("email"),
        )  # fmt: skip

    async def sign_in_page(self, request: Request) -> Response:
        operator = self.console.operator(request)
        destination = local_path(request.query_params.get("next"))
        if operator is not None and operator.operator_scopes:
            return self.console.redirect(destination)
        return self.render(
            request, "sign_in.html", title="Sign in to the console", next=destination, email=""
        )

    async def sign_in(self, request: Request) -> Response:
        form = await self.console.form(request)
        email, password, code = (
            text(form.get("email")),
            form.get("password"),
            text(form.get("code")),
        )
        destination = local_path(text(form.get("next"), 2000))
        if not email or not isinstance(password, str) or not password:
            return self.render(
                request, "sign_in.html", 400, title="Sign in to the console", next=destination,
                email=email, error="Enter your email address and your password.",
            )  # fmt: skip
        variables = {"input": {"email": email, "password": password, "totpCode": code or None}}
        try:
            data = await self.console.gateway.graphql(
                LOGIN, variables, address=self.console.client_address(request)
            )
        except GraphQLFailure as exc:
            status = 429 if exc.code in ("RATE_LIMITED", "TOO_MANY_REQUESTS") else 400
            return self.render(
                request, "sign_in.html", status, title="Sign in to the console",
                next=destination, email=email, error=exc.message,
                ask_code=exc.code == "MFA_REQUIRED" or bool(code),
            )  # fmt: skip
        payload = data["login"]
        scopes = set(payload.get("scopes") or [])
        from media_gateway.auth.scopes import OPERATOR_SCOPES

        if not scopes & set(OPERATOR_SCOPES):
            # a member: their new session is ended again at once, and nothing is kept
            with contextlib.suppress(GraphQLFailure):
                await self.console.gateway.graphql(
                    LOGOUT, {"token": payload["refreshToken"]}, token=payload["accessToken"]
                )
            raise NotAllowed()
        seconds = seconds_until(payload.get("refreshTokenExpiresAt"))
        response = self.console.redirect(destination)
        self.console.signed_in(response, payload["accessToken"], payload["refreshToken"], seconds)
        return response

    async def sign_out(self, request: Request) -> Response:
        await self.console.form(request)
        operator = self.console.operator(request)
        if operator is not None and operator.refresh_token:
            with contextlib.suppress(GraphQLFailure):  # an ended session: nothing to end
                await self.console.gateway.graphql(
                    LOGOUT, {"token": operator.refresh_token}, token=operator.token
                )
        response = self.render(
            request, "message.html", title="Signed out",
            notice="You are signed out of the console.", sign_in_again=True,
        )  # fmt: skip
        return self.console.forget(response)

    # -- accounts ------------------------------------------------------------------------
    async def accounts(self, request: Request) -> Response:
        operator = self.console.require(request)
        query = request.query_params.get("q", "").strip()[:200]
        after = request.query_params.get("after") or None
        accounts: list[dict[str, Any]] = []
        page_info: dict[str, Any] = {}
        error = None
        status = 200
        if query:
            try:
                data = await self.console.call(
                    request, operator, FIND_ACCOUNTS, {"query": query, "after": after}
                )
                connection = data["adminAccounts"] or {}
                accounts = [edge["node"] for edge in connection.get("edges", [])]
                page_info = connection.get("pageInfo") or {}
            except GraphQLFailure as exc:
                error = exc.message
                status = _status(exc)
        return self.render(
            request, "accounts.html", status,
            operator=operator, title="Accounts", query=query, accounts=accounts,
            page_info=page_info, searched=bool(query), error=error,
        )  # fmt: skip

    async def account(
        self,
        request: Request,
        *,
        status: int = 200,
        error: str | None = None,
        notice: str | None = None,
    ) -> Response:
        operator = self.console.require(request)
        account_id = request.path_params["id"]
        try:
            data = await self.console.call(request, operator, ACCOUNT, {"id": account_id})
        except GraphQLFailure as exc:
            raise ConsoleError(exc.message, _status(exc)) from exc
        account = data.get("adminAccount")
        if account is None:
            raise ConsoleError("There is no account with this id.", 404)
        notice = notice or _notice(request)
        return self.render(
            request, "account.html", status, operator=operator, title=account["email"],
            account=account, error=error, notice=notice,
        )  # fmt: skip

    async def revoke(self, request: Request) -> Response:
        form = await self.console.form(request)
        operator = self.console.require(request)
        account_id = request.path_params["id"]
        session_id = text(form.get("session_id")) or None
        try:
            data = await self.console.call(
                request, operator, REVOKE, {"userId": account_id, "sessionId": session_id}
            )
        except GraphQLFailure as exc:
            return await self.account(request, status=_status(exc), error=exc.message)
        ended = int(data.get("adminRevokeSessions") or 0)
        return self.console.redirect(f"{PREFIX}/accounts/{account_id}?done=revoked&count={ended}")

    async def lock(self, request: Request) -> Response:
        form = await self.console.form(request)
        operator = self.console.require(request)
        account_id = request.path_params["id"]
        reason = text(form.get("reason"), 500) or None
        try:
            await self.console.call(
                request, operator, LOCK, {"userId": account_id, "reason": reason}
            )
        except GraphQLFailure as exc:
            return await self.account(request, status=_status(exc), error=exc.message)
        return self.console.redirect(f"{PREFIX}/accounts/{account_id}?done=locked")

    async def unlock(self, request: Request) -> Response:
        await self.console.form(request)
        operator = self.console.require(request)
        account_id = request.path_params["id"]
        try:
            await self.console.call(request, operator, UNLOCK, {"userId": account_id})
        except GraphQLFailure as exc:
            return await self.account(request, status=_status(exc), error=exc.message)
        return self.console.redirect(f"{PREFIX}/accounts/{account_id}?done=unlocked")

    # -- titles and their availability ---------------------------------------------------
    async def titles(self, request: Request) -> Response:
        operator = self.console.require(request)
        query = request.query_params.get("q", "").strip()[:200]
        titles: list[dict[str, Any]] = []
        error = None
        status = 200
        if query:
            if len(query) < 2:
                error = "Type at least two characters of the title."
                status = 400
            else:
                try:
                    data = await self.console.call(
                        request, operator, FIND_TITLES, {"prefix": query}
                    )
                    titles = [
                        s["content"] or {"id": s["id"], "title": s["text"], "year": None}
                        for s in data.get("autocomplete") or []
                        if s.get("kind") == "TITLE"
                    ]
                except GraphQLFailure as exc:
                    error = exc.message
                    status = _status(exc)
        return self.render(
            request, "titles.html", status, operator=operator, title="Titles", query=query,
            titles=titles, searched=bool(query), error=error,
        )  # fmt: skip

    async def _title(self, request: Request, operator: Operator, title_id: str) -> dict[str, Any]:
        try:
            data = await self.console.call(request, operator, TITLE, {"id": title_id})
        except GraphQLFailure as exc:
            raise ConsoleError(exc.message, _status(exc)) from exc
        content = data.get("content")
        if content is None:
            raise ConsoleError("There is no title with this id.", 404)
        history = data.get("catalogHistory") or {"currentVersion": 0, "changes": []}
        return {"content": content, "history": history}

    async def title(self, request: Request) -> Response:
        operator = self.console.require(request)
        found = await self._title(request, operator, request.path_params["id"])
        return self.render(
            request, "title.html", operator=operator, title=found["content"]["title"],
            offer_types=OFFER_TYPES, qualities=QUALITIES, notice=_notice(request),
            draft=None, draft_index=None, field_errors=[], **found,
        )  # fmt: skip

    async def offers(self, request: Request) -> Response:
        """Add (``action=add``), change (``change``, ``index``) or remove (``remove``,
        ``index``) one offer: the console reads the title's offers, applies the one change and
        sends the whole list with the version the page was read at."""
        form = await self.console.form(request)
        operator = self.console.require(request)
        title_id = request.path_params["id"]
        found = await self._title(request, operator, title_id)
        current = [_offer_input(o) for o in found["content"]["availability"] or []]
        action = text(form.get("action"))
        version_text = text(form.get("expected_version"))
        if not version_text.isdigit():
            raise ConsoleError("Open the title again: the form lacks the version it was read at.")
        index_text = text(form.get("index"))
        index = int(index_text) if index_text.isdigit() else None
        draft = _offer_from_form(form) if action in ("add", "change") else None
        offers = list(current)
        if action == "add" and draft is not None:
            offers.append(draft)
            draft_index = len(offers) - 1
        elif action in ("change", "remove") and index is not None and index < len(offers):
            key = (text(form.get("key_platform")), text(form.get("key_region")))
            if (offers[index]["platform"], offers[index]["region"]) != key:
                return self._title_page(
                    request, operator, found, 409, draft, index,
                    error="The title's offers changed since you opened it; here they are now.",
                )  # fmt: skip
            if action == "remove":
                offers.pop(index)
            elif draft is not None:
                offers[index] = draft
            draft_index = index
        else:
            raise ConsoleError("That change is not one the console knows; open the title again.")
        own_errors = _offer_form_errors(draft)
        if own_errors:
            return self._title_page(
                request, operator, found, 400, draft, draft_index,
                error="The offer was not saved: correct the fields below.", field_errors=own_errors,
            )  # fmt: skip
        try:
            await self.console.call(
                request, operator, SET_AVAILABILITY,
                {"id": title_id, "version": int(version_text), "offers": offers},
            )  # fmt: skip
        except GraphQLFailure as exc:
            errors = [
                (_offer_field(name, draft_index), message) for name, message in exc.field_errors
            ]
            message = exc.message
            if exc.code == "CONFLICT":
                message = (
                    "Someone changed this title since you opened it; here it is now. "
                    "Make your change again."
                )
                found = await self._title(request, operator, title_id)
                now = found["content"]["availability"] or []
                if action == "add":  # what was typed goes back to the add form
                    draft_index = len(now)
                elif draft_index >= len(now) or (
                    now[draft_index]["platform"],
                    now[draft_index]["region"],
                ) != (text(form.get("key_platform")), text(form.get("key_region"))):
                    draft = None  # the offer it changed is not where it was
            return self._title_page(
                request, operator, found, _status(exc), draft,
                draft_index if action != "remove" else None, error=message, field_errors=errors,
            )  # fmt: skip
        done = {"add": "added", "change": "changed", "remove": "removed"}[action]
        return self.console.redirect(f"{PREFIX}/titles/{title_id}?done=offer-{done}")

    def _title_page(
        self,
        request: Request,
        operator: Operator,
        found: dict[str, Any],
        status: int,
        draft: dict[str, Any] | None,
        draft_index: int | None,
        *,
        error: str,
        field_errors: list[tuple[str, str]] | None = None,
    ) -> Response:
        return self.render(
            request, "title.html", status, operator=operator, title=found["content"]["title"],
            offer_types=OFFER_TYPES, qualities=QUALITIES, error=error,
            field_errors=field_errors or [], draft=draft, draft_index=draft_index, **found,
        )  # fmt: skip

    # -- the audit log -------------------------------------------------------------------
    async def audit(self, request: Request) -> Response:
        operator = self.console.require(request)
        params = request.query_params
        values = {
            key: params.get(key, "").strip()[:200]
            for key in ("actor", "action", "target_type", "target", "since", "until", "size")
        }
        problems: list[str] = []
        size = AUDIT_PAGE
        if values["size"]:
            if values["size"].isdigit() and 1 <= int(values["size"]) <= 200:
                size = int(values["size"])
            else:
                problems.append("Entries a page: a number from 1 to 200.")
        audit_filter: dict[str, Any] = {}
        for key, name in (
            ("actor", "actorId"),
            ("action", "actionPrefix"),
            ("target_type", "targetType"),
            ("target", "targetId"),
        ):
            if values[key]:
                audit_filter[name] = values[key]
        for key, name in (("since", "since"), ("until", "until")):
            if values[key]:
                moment = _parse_time(values[key])
                if moment is None:
                    problems.append(
                        f"“{values[key]}” is not a date (use 2026-01-31 or 2026-01-31T08:00)."
                    )
                else:
                    audit_filter[name] = moment.isoformat()
        entries: list[dict[str, Any]] = []
        page_info: dict[str, Any] = {}
        error = " ".join(problems) or None
        status = 400 if problems else 200
        if not problems:
            try:
                data = await self.console.call(
                    request, operator, AUDIT,
                    {"filter": audit_filter or None, "first": size,
                     "after": params.get("after") or None},
                )  # fmt: skip
                connection = data.get("auditLog") or {}
                entries = [edge["node"] for edge in connection.get("edges", [])]
                page_info = connection.get("pageInfo") or {}
            except GraphQLFailure as exc:
                error = exc.message
                status = _status(exc)
        next_query = None
        if page_info.get("hasNextPage") and page_info.get("endCursor"):
            next_query = _query_string({**values, "after": page_info["endCursor"]})
        for entry in entries:
            for part in ("before", "after", "detail"):
                value = entry.get(part)
                entry[part + "_text"] = (
                    json.dumps(value, sort_keys=True, ensure_ascii=False) if value else ""
                )
        return self.render(
            request, "audit.html", status, operator=operator,
            title="Audit log", values=values, entries=entries, next_query=next_query,
            first_page=bool(params.get("after")), first_query=_query_string(values), error=error,
        )  # fmt: skip

    # -- search analytics ----------------------------------------------------------------
    async def search_analytics(self, request: Request) -> Response:
        operator = self.console.require(request)
        days_text = request.query_params.get("days", "7").strip()
        region = request.query_params.get("region", "").strip().upper()[:2] or None
        if not days_text.isdigit() or not 1 <= int(days_text) <= 365:
            return self.render(
                request, "search.html", 400, operator=operator, title="Search analytics",
                days=days_text, region=region or "", analytics=None, trending=[],
                error="The period is a number of days from 1 to 365.",
            )  # fmt: skip
        since = datetime.now(UTC) - timedelta(days=int(days_text))
        analytics = None
        trending: list[dict[str, Any]] = []
        error = None
        status = 200
        try:
            data = await self.console.call(
                request, operator, ANALYTICS, {"since": since.isoformat(), "region": region}
            )
            analytics = data.get("searchAnalytics")
            trending = data.get("trendingSearches") or []
        except GraphQLFailure as exc:
            error = exc.message
            status = _status(exc)
        return self.render(
            request, "search.html", status, operator=operator,
            title="Search analytics", days=days_text, region=region or "",
            analytics=analytics, trending=trending, error=error,
        )  # fmt: skip

    # -- service health ------------------------------------------------------------------
    async def health(self, request: Request) -> Response:
        operator = self.console.require(request)
        await self.console.call(request, operator, WHO)  # a session the gateway accepts
        health = await read_health(self.console.gateway)
        return self.render(
            request, "health.html", operator=operator, title="Service health", health=health
        )


def _status(exc: GraphQLFailure) -> int:
    return {
        "FORBIDDEN": 403,
        "NOT_FOUND": 404,
        "CONFLICT": 409,
        "BAD_USER_INPUT": 400,
        "UNAVAILABLE": 503,
    }.get(exc.code or "", 400)


def _notice(request: Request) -> str | None:
    done = request.query_params.get("done")
    count = request.query_params.get("count", "")
    if done == "revoked":
        n = int(count) if count.isdigit() else 0
        return f"{n} session{'s' if n != 1 else ''} ended; their access tokens stop working now."
    return {
        "locked": "The account is locked: it cannot sign in, and its sessions ended.",
        "unlocked": "The account is unlocked: it can sign in again.",
        "offer-added": "The offer was added.",
        "offer-changed": "The offer was changed.",
        "offer-removed": "The offer was removed.",
    }.get(done or "")


def _offer_input(offer: dict[str, Any]) -> dict[str, Any]:
    """An offer as the page read it, stated exactly as it stands (so it keeps its source)."""
    return {
        "platform": offer["platform"],
        "region": offer["region"],
        "offerType": offer["offerType"],
        "deepLink": offer["deepLink"],
        "quality": offer["quality"],
        "price": offer.get("price"),
        "currency": offer.get("currency"),
        "leavesAt": offer.get("leavesAt"),
    }


def _offer_from_form(form: Any) -> dict[str, Any]:
    price_text = text(form.get("price"), 40)
    price: float | str | None = None
    if price_text:
        try:
            price = float(price_text)
        except ValueError:
            price = price_text  # refused below, on the page
    leaves = text(form.get("leaves_at"), 40)
    if len(leaves) == 10 and _parse_time(leaves) is not None:  # a date: its start, in UTC
        leaves = f"{leaves}T00:00:00+00:00"
    return {
        "platform": text(form.get("platform"), 100),
        "region": text(form.get("region"), 10).upper(),
        "offerType": text(form.get("offer_type"), 20).upper(),
        "deepLink": text(form.get("deep_link"), 2000),
        "quality": text(form.get("quality"), 10).upper() or "HD",
        "price": price,
        "currency": text(form.get("currency"), 10).upper() or None,
        "leavesAt": leaves or None,
    }


def _offer_form_errors(draft: dict[str, Any] | None) -> list[tuple[str, str]]:
    """What the console itself can tell is wrong before asking (a price that is no number,
    a date that is no date); the catalog validates everything else."""
    if draft is None:
        return []
    errors = []
    if isinstance(draft["price"], str):
        errors.append(("price", "Enter the price as a number, e.g. 3.99."))
    if draft["leavesAt"] is not None and _parse_time(draft["leavesAt"]) is None:
        errors.append(("leaves on", "Enter a date, e.g. 2027-01-31."))
    return errors


def _offer_field(name: str, draft_index: int | None) -> str:
    """``offers[2].region`` as the page says it."""
    label = name
    if name.startswith("offers[") and "]" in name:
        number, _, rest = name[len("offers[") :].partition("]")
        rest = rest.lstrip(".")
        field = {
            "deepLink": "deep link", "offerType": "offer type", "leavesAt": "leaves on",
        }.get(rest, rest)  # fmt: skip
        if number.isdigit() and draft_index is not None and int(number) == draft_index:
            return field or "offer"
        which = f"offer {int(number) + 1}" if number.isdigit() else "an offer"
        return f"{which}, {field}" if field else which
    return label


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _query_string(values: dict[str, str]) -> str:
    from urllib.parse import urlencode

    return urlencode({k: v for k, v in values.items() if v})
