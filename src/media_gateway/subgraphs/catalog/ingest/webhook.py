"""The signed ingestion webhook: ``POST /webhooks/ingest/{platform}``.

A push carries ``X-Signature-Timestamp`` (Unix seconds) and ``X-Signature``
(``sha256=`` + hex HMAC-SHA256 over ``"{timestamp}." + body`` with
``CATALOG_WEBHOOK_SECRET``). Pushes older or newer than the replay window, with a bad
signature, or seen before within the window are refused; an unset secret disables the
endpoint.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from media_gateway.subgraphs.catalog.ingest.canonical import FeedError
from media_gateway.subgraphs.catalog.ingest.ingester import Ingester, IngestSummary
from media_gateway.subgraphs.catalog.ingest.normalizers import normalizer_for

REPLAY_WINDOW_SECONDS = 300
MAX_BODY_BYTES = 5_000_000


def sign(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


class SignatureChecker:
    def __init__(self, secret: str | None, window: int = REPLAY_WINDOW_SECONDS) -> None:
        self.secret = secret
        self.window = window
        self._seen: dict[str, float] = {}

    def check(self, timestamp_text: str | None, signature: str | None, body: bytes) -> str | None:
        """None when the push is authentic and fresh, else the reason it is refused."""
        if not self.secret:
            return "webhooks are not configured"
        if not timestamp_text or not signature:
            return "missing signature headers"
        try:
            timestamp = int(timestamp_text)
        except ValueError:
            return "bad timestamp"
        now = time.time()
        if abs(now - timestamp) > self.window:
            return "timestamp outside the replay window"
        if not hmac.compare_digest(sign(self.secret, timestamp, body), signature):
            return "bad signature"
        for key, seen_at in list(self._seen.items()):
            if now - seen_at > self.window:
                del self._seen[key]
        if signature in self._seen:
            return "replayed delivery"
        self._seen[signature] = now
        return None


def webhook_route(
    secret: str | None,
    ingester: Ingester,
    on_ingested: Callable[[IngestSummary], Awaitable[None]],
) -> Route:
    checker = SignatureChecker(secret)

    async def receive(request: Request) -> Response:
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return JSONResponse({"error": "payload too large"}, status_code=413)
        reason = checker.check(
            request.headers.get("x-signature-timestamp"), request.headers.get("x-signature"), body
        )
        if reason == "webhooks are not configured":
            return JSONResponse({"error": reason}, status_code=404)
        if reason is not None:
            return JSONResponse({"error": reason}, status_code=401)
        try:
            _, normalize = normalizer_for(request.path_params["platform"])
            feed = json.loads(body)
            if not isinstance(feed, dict):
                raise FeedError("the payload is not a JSON object")
            titles = normalize(feed)
        except (FeedError, ValueError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        summary = await ingester.ingest(titles)
        await on_ingested(summary)
        return JSONResponse(
            {
                "titlesNew": summary.titles_new,
                "titlesMatched": summary.titles_matched,
                "offersNew": summary.offers_new,
                "offersChanged": summary.offers_changed,
                "offersExpiring": summary.offers_expiring,
                "offersRemoved": summary.offers_removed,
                "events": summary.events,
            }
        )

    return Route("/webhooks/ingest/{platform}", receive, methods=["POST"])
