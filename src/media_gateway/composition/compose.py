"""``compose``: subgraph SDLs in, supergraph SDL (or errors) out."""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import CompositionError, CompositionFailed
from .merge import merge
from .postmerge import validate_supergraph
from .printer import print_supergraph
from .subgraph import Subgraph, read_subgraph
from .supergraph import Supergraph
from .upgrade import upgrade_fed1
from .validate_subgraph import validate_subgraph


@dataclass(frozen=True)
class SubgraphSource:
    """A subgraph to compose: its name, routing URL and SDL."""

    name: str
    url: str
    sdl: str


@dataclass
class CompositionResult:
    """The supergraph SDL when composition succeeds, the errors otherwise."""

    supergraph_sdl: str | None = None
    errors: list[CompositionError] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)
    supergraph: Supergraph | None = None

    @property
    def ok(self) -> bool:
        return not self.errors and self.supergraph_sdl is not None


def compose(subgraphs: list[SubgraphSource]) -> CompositionResult:
    """Compose Federation 2 (or 1) subgraphs into an Apollo-style supergraph SDL."""
    errors: list[CompositionError] = []
    if not subgraphs:
        return CompositionResult(
            errors=[CompositionError("NO_SUBGRAPHS", "No subgraphs to compose.")]
        )
    seen: set[str] = set()
    models: list[Subgraph] = []
    for source in sorted(subgraphs, key=lambda s: s.name):
        if source.name in seen:
            errors.append(
                CompositionError(
                    "INVALID_SUBGRAPH_NAME",
                    f'A subgraph named "{source.name}" is listed more than once.',
                    (source.name,),
                )
            )
            continue
        seen.add(source.name)
        sub, read_errors = read_subgraph(source.name, source.url, source.sdl)
        errors.extend(read_errors)
        if sub is not None:
            models.append(sub)
    if errors:
        return CompositionResult(errors=errors)
    models, upgrade_errors = upgrade_fed1(models)
    errors.extend(upgrade_errors)
    for sub in models:
        errors.extend(validate_subgraph(sub))
    if errors:
        return CompositionResult(errors=errors)
    supergraph, merge_errors, hints = merge(models)
    errors.extend(merge_errors)
    if not errors:
        errors.extend(validate_supergraph(supergraph, models))
    if errors:
        return CompositionResult(errors=errors, hints=hints)
    return CompositionResult(
        supergraph_sdl=print_supergraph(supergraph), hints=hints, supergraph=supergraph
    )


def compose_or_raise(subgraphs: list[SubgraphSource]) -> str:
    """The supergraph SDL; raises :class:`CompositionFailed` when composition fails."""
    result = compose(subgraphs)
    if not result.ok:
        raise CompositionFailed(result.errors)
    assert result.supergraph_sdl is not None
    return result.supergraph_sdl
