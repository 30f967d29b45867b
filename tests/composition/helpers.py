"""Small subgraph SDLs for composition tests."""

from __future__ import annotations

from media_gateway.composition import CompositionResult, SubgraphSource, compose


def fed2(imports: str, body: str, version: str = "2.3") -> str:
    names = ", ".join(f'"@{name}"' for name in imports.split())
    return (
        f'extend schema @link(url: "https://specs.apollo.dev/federation/v{version}", '
        f"import: [{names}])\n{body}"
    )


def run(**subgraphs: str) -> CompositionResult:
    return compose(
        [
            SubgraphSource(name, f"http://{name}.test/graphql", sdl)
            for name, sdl in subgraphs.items()
        ]
    )


def sdl_of(**subgraphs: str) -> str:
    result = run(**subgraphs)
    assert result.ok, [str(e) for e in result.errors]
    assert result.supergraph_sdl is not None
    return result.supergraph_sdl


def codes(**subgraphs: str) -> list[str]:
    result = run(**subgraphs)
    assert not result.ok
    return [e.code for e in result.errors]


def block(sdl: str, header: str) -> str:
    """The printed definition that starts with ``header`` (e.g. ``type User``)."""
    for chunk in sdl.rstrip("\n").split("\n\n"):
        if chunk.startswith(header + "\n") or chunk.startswith(header + " "):
            return chunk
    raise AssertionError(f"{header} not found in supergraph")
