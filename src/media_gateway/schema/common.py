"""What the subgraph schemas share: error helpers, cursors and page info."""

from __future__ import annotations

import base64
import binascii
import weakref
from collections.abc import Callable
from typing import Any, Literal

import strawberry
from graphql import GraphQLError
from graphql.type.definition import GraphQLResolveInfoHelpers
from strawberry.extensions import MaskErrors, ParserCache, ValidationCache
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

FEDERATION_VERSION: Literal["2.5"] = "2.5"
MAX_PAGE_SIZE = 100


class ClientError(GraphQLError):
    """A GraphQL error a client can act on, with ``extensions.code``."""

    def __init__(self, message: str, code: str, **extensions: Any) -> None:
        super().__init__(message, extensions={"code": code, **extensions})


def unauthenticated(message: str = "Sign in to do this.") -> ClientError:
    return ClientError(message, "UNAUTHENTICATED")


def forbidden(message: str = "You may not see or change this.") -> ClientError:
    return ClientError(message, "FORBIDDEN")


def bad_input(message: str, **extensions: Any) -> ClientError:
    return ClientError(message, "BAD_USER_INPUT", **extensions)


def not_found(message: str) -> ClientError:
    return ClientError(message, "NOT_FOUND")


def clamp_first(first: int | None, default: int = 20, maximum: int = MAX_PAGE_SIZE) -> int:
    if first is None:
        return default
    if first < 0:
        raise bad_input("`first` must not be negative.", argumentName="first")
    return min(first, maximum)


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    """The offset after ``cursor`` (0 when absent); a malformed cursor is a client error."""
    if cursor is None:
        return 0
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        text = base64.urlsafe_b64decode(padded.encode()).decode()
        prefix, _, number = text.partition(":")
        if prefix != "offset":
            raise ValueError(cursor)
        offset = int(number)
        if offset < 0:
            raise ValueError(cursor)
        return offset + 1
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise bad_input("Invalid cursor.", argumentName="after") from exc


@strawberry.federation.type(shareable=True, description="Relay-style pagination information.")
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


class SubgraphSchema(strawberry.federation.Schema):
    """A federation schema that logs unexpected errors only (not errors meant for clients)."""

    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        unexpected = [
            error
            for error in errors
            if not isinstance(error, ClientError)
            and not isinstance(error.original_error, ClientError)
            and error.original_error is not None
        ]
        if unexpected:
            super().process_errors(unexpected, execution_context)


# distinct documents a subgraph keeps parsed and validated: its clients are gateways, which
# send the few documents their query plans contain, again and again
DOCUMENT_CACHE_SIZE = 1024


class _AcyclicExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """graphql-core's executor hands resolvers helpers that are its own bound methods: a
    reference cycle per operation, so everything the operation touched (its context, loaders,
    records) waited for the garbage collector instead of being freed when it ended. Under
    load those collections paused the process for tens of milliseconds (measured on
    bench/subscriptions.py). The helpers here reach the executor through weak references;
    it is alive whenever a resolver can call them."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.async_helpers = GraphQLResolveInfoHelpers(
            gather=_weakly(self.gather_async_work), track=_weakly(self.track_async_work)
        )


def _weakly(method: Callable[..., Any]) -> Callable[..., Any]:
    ref = weakref.WeakMethod(method)

    def call(*args: Any, **kwargs: Any) -> Any:
        bound = ref()
        if bound is None:
            raise RuntimeError("the operation has ended")
        return bound(*args, **kwargs)

    return call


class HideInternalErrors(MaskErrors):
    """An error a client cannot act on (an unreachable backend, a bug) reaches it as
    INTERNAL_SERVER_ERROR without its text, which may name internal hosts; the log keeps
    the detail. Refusals raised on purpose (``ClientError`` and other GraphQL errors) and
    validation errors pass unchanged."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=_is_internal, error_message="Internal server error.")

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        return GraphQLError(
            message=self.error_message,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            extensions={"code": "INTERNAL_SERVER_ERROR"},
        )


def _is_internal(error: GraphQLError) -> bool:
    original = error.original_error  # raised while resolving a field, and not on purpose
    return (
        error.path is not None and original is not None and not isinstance(original, GraphQLError)
    )


def build_schema(**kwargs: Any) -> SubgraphSchema:
    """A subgraph's schema. Parsing and validating each request's document again was most
    of a subgraph's CPU time under load (measured with py-spy on bench/subscriptions.py);
    both are cached per document text."""
    extensions = [
        lambda: ParserCache(maxsize=DOCUMENT_CACHE_SIZE),
        lambda: ValidationCache(maxsize=DOCUMENT_CACHE_SIZE),
        HideInternalErrors,
    ]
    return SubgraphSchema(
        federation_version=FEDERATION_VERSION,
        execution_context_class=_AcyclicExecutionContext,
        extensions=[*extensions, *kwargs.pop("extensions", ())],
        **kwargs,
    )
