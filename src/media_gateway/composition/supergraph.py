"""The composed supergraph before printing."""

from __future__ import annotations

from dataclasses import dataclass, field

from .model import DirectiveDef, TypeDef


@dataclass(frozen=True)
class GraphInfo:
    enum_name: str
    name: str
    url: str


@dataclass(frozen=True)
class SpecLink:
    url: str
    purpose: str | None = None
    imports: tuple[str, ...] = ()


@dataclass
class Supergraph:
    join_version: tuple[int, int]
    graphs: list[GraphInfo]
    types: dict[str, TypeDef] = field(default_factory=dict)
    directive_defs: dict[str, DirectiveDef] = field(default_factory=dict)
    links: list[SpecLink] = field(default_factory=list)
    roots: dict[str, str] = field(default_factory=dict)
    uses_inaccessible: bool = False
    uses_tag: bool = False
    # authorization directives in use: authenticated, requiresScopes, policy
    security_directives: set[str] = field(default_factory=set)
