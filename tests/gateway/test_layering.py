"""The router has one request path: transports hand requests to `pipeline.Pipeline` and never
reach the planner or the executor themselves.

Every module of the gateway is read (nothing is listed by hand): a module that talks to the
outside world (it imports Starlette, uvicorn or argparse, or is a `transports_*` module) is a
transport, and may neither import the stages of the request path nor call them.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import media_gateway.gateway as gateway_package

GATEWAY = Path(gateway_package.__file__).parent
PACKAGE = "media_gateway.gateway"

# what makes a module a transport: the frameworks it speaks through
TRANSPORT_FRAMEWORKS = ("starlette", "uvicorn", "argparse")

# modules that speak to the outside world yet are no transport of GraphQL requests
NOT_TRANSPORTS = {
    # builds persisted-document manifests offline, checking each document against a
    # supergraph file; it serves no request
    f"{PACKAGE}.edge.cli": "builds manifests offline",
}

# the stages of the request path, which only the pipeline runs
STAGE_MODULES = {
    f"{PACKAGE}.{name}"
    for name in (
        "router",
        "planner",
        "executor",
        "execution",
        "shaping",
        "operation",
        "incremental",
    )
}
GRAPHQL_STAGES = {"parse", "validate", "execute", "subscribe", "get_variable_values"}
# calls that are stages of the request path, whatever they are called on
STAGE_CALLS = {
    "parse",
    "validate",
    "document",
    "load_document",
    "check",
    "plan",
    "load_plan",
    "authorized_plan",
    "plan_operation",
    "select_operation",
    "normalize",
    "execute",
    "execute_plan",
    "Execution",
    "ResponseShaper",
}


@dataclass
class Module:
    name: str
    path: Path
    tree: ast.Module

    def imports(self) -> set[str]:
        """Every module (and `module.name`) this one imports, relative imports resolved."""
        out: set[str] = set()
        package = self.name if self.path.name == "__init__.py" else self.name.rpartition(".")[0]
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Import):
                out.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")
                    parts = parts[: len(parts) - node.level + 1]
                    base = ".".join(parts + ([base] if base else []))
                out.add(base)
                out.update(f"{base}.{a.name}" for a in node.names)
        return out

    def calls(self) -> set[str]:
        names: set[str] = set()
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Call):
                if isinstance(node.func, ast.Name):
                    names.add(node.func.id)
                elif isinstance(node.func, ast.Attribute):
                    names.add(node.func.attr)
        return names

    def is_transport(self) -> bool:
        if self.name in NOT_TRANSPORTS:
            return False
        if self.name.rpartition(".")[2].startswith("transports_"):
            return True
        return any(
            imported == framework or imported.startswith(framework + ".")
            for imported in self.imports()
            for framework in TRANSPORT_FRAMEWORKS
        )


def gateway_modules() -> list[Module]:
    modules = []
    for path in sorted(GATEWAY.rglob("*.py")):
        relative = path.relative_to(GATEWAY).with_suffix("")
        parts = [p for p in relative.parts if p != "__init__"]
        name = ".".join([PACKAGE, *parts])
        modules.append(Module(name, path, ast.parse(path.read_text(), str(path))))
    return modules


def transports() -> list[Module]:
    return [m for m in gateway_modules() if m.is_transport()]


def test_every_transport_is_found() -> None:
    found = {m.name.removeprefix(PACKAGE + ".") for m in transports()}
    # the HTTP server, the streaming transports and the command line are among them
    assert {"server", "routes", "streaming", "transports_http", "transports_ws", "cli"} <= found
    assert not found & {name.removeprefix(PACKAGE + ".") for name in STAGE_MODULES}
    assert "pipeline" not in found


def test_transports_do_not_import_the_stages() -> None:
    offences = []
    for module in transports():
        for imported in sorted(module.imports()):
            stage = next(
                (s for s in STAGE_MODULES if imported == s or imported.startswith(s + ".")), None
            )
            # the response type of the router is what every layer returns, not a stage
            if stage is not None and imported != f"{PACKAGE}.router.GraphQLResponse":
                if imported == stage and any(i.startswith(stage + ".") for i in module.imports()):
                    continue  # `from .router import X`: judged by X
                offences.append(f"{module.name} imports {imported}")
            if imported.startswith("graphql.") and imported.rpartition(".")[2] in GRAPHQL_STAGES:
                offences.append(f"{module.name} imports {imported}")
    assert not offences, "transports go through pipeline.Pipeline:\n" + "\n".join(offences)


def test_transports_do_not_call_the_stages() -> None:
    offences = [
        f"{module.name} calls {call}()"
        for module in transports()
        for call in sorted(module.calls() & STAGE_CALLS)
    ]
    assert not offences, "transports go through pipeline.Pipeline:\n" + "\n".join(offences)


def test_only_the_pipeline_plans_and_authorizes() -> None:
    """One `prepare`: planning and authorization are called from the pipeline alone."""
    callers = {
        m.name
        for m in gateway_modules()
        if m.calls() & {"load_plan", "authorized_plan", "check", "load_document"}
    }
    assert callers <= {f"{PACKAGE}.pipeline", f"{PACKAGE}.edge.pipeline"}, callers


def test_only_the_router_parses_and_validates_operations() -> None:
    """Operations are parsed and validated in one place (the router's cached `document`);
    the supergraph and API schema modules parse SDL, and the manifest builder checks
    documents offline."""
    parsers = {m.name for m in gateway_modules() if m.calls() & {"parse", "validate"}}
    allowed = {
        f"{PACKAGE}.router",
        f"{PACKAGE}.supergraph",
        f"{PACKAGE}.api_schema",
        *NOT_TRANSPORTS,
    }
    assert parsers <= allowed, parsers - allowed
