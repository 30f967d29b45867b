"""Structured composition errors."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CompositionError:
    """One reason a set of subgraphs does not compose.

    ``code`` follows the codes Apollo composition uses (``INVALID_FIELD_SHARING``,
    ``FIELD_TYPE_MISMATCH``, ...). ``subgraphs``, ``type_name`` and ``field_name`` locate the
    problem when it concerns one element.
    """

    code: str
    message: str
    subgraphs: tuple[str, ...] = ()
    type_name: str | None = None
    field_name: str | None = None

    @property
    def coordinate(self) -> str | None:
        if self.type_name is None:
            return None
        if self.field_name is None:
            return self.type_name
        return f"{self.type_name}.{self.field_name}"

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}"


class CompositionFailed(Exception):
    """Raised by :func:`compose_or_raise` when composition reports errors."""

    def __init__(self, errors: list[CompositionError]) -> None:
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))
