"""CSRF prevention, as the leading routers do it.

A browser sends a cross-site request without a CORS preflight only when it is "simple": a
GET, or a POST whose Content-Type is a form or plain-text type, carrying no custom header.
The gateway refuses those unless they carry one of the required non-simple headers
(`apollo-require-preflight`, `x-apollo-operation-name` by default), so a form on another
site cannot make a logged-in browser run an operation. CORS itself is Starlette's
`CORSMiddleware`, configured from `EdgeConfig.cors_origins`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

SIMPLE_CONTENT_TYPES = frozenset(
    {"application/x-www-form-urlencoded", "multipart/form-data", "text/plain"}
)

CSRF_MESSAGE = (
    "This operation has been blocked as a potential Cross-Site Request Forgery (CSRF). "
    "Send it as a JSON POST (Content-Type: application/json), or add a non-empty "
    "'{header}' header."
)


def preflighted(headers: Mapping[str, str], required_headers: Iterable[str]) -> bool:
    """True when a browser would have had to preflight this request."""
    content_type = headers.get("content-type")
    if content_type is not None:
        media = content_type.split(";")[0].strip().lower()
        if media and media not in SIMPLE_CONTENT_TYPES:
            return True
    return any(headers.get(h) for h in required_headers)


def csrf_refusal(headers: Mapping[str, str], required_headers: tuple[str, ...]) -> str | None:
    if preflighted(headers, required_headers):
        return None
    return CSRF_MESSAGE.format(header=required_headers[0] if required_headers else "")
