"""Apollo Federation 2 composition: subgraph SDLs into a supergraph SDL.

Pure Python and independent of the product's domain: :func:`compose` takes any set of
Federation 2 (or Federation 1) subgraphs and returns the supergraph SDL in the layout Apollo
composition emits (``link``/``join`` specs), or structured errors that name the subgraph, type
and field at fault. :mod:`.diff` compares two supergraph API schemas for breaking changes.
"""

from .compose import CompositionResult, SubgraphSource, compose, compose_or_raise
from .diff import SchemaChange, Severity, breaking_changes, diff_schemas
from .errors import CompositionError, CompositionFailed

__all__ = [
    "CompositionError",
    "CompositionFailed",
    "CompositionResult",
    "SchemaChange",
    "Severity",
    "SubgraphSource",
    "breaking_changes",
    "compose",
    "compose_or_raise",
    "diff_schemas",
]
