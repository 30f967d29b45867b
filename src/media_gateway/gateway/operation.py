"""Client operations: parsing, validation, and the normalized selection tree.

The planner and the response shaper both work on a normalized tree: fragment spreads become
inline fragments, and @skip/@include are decided from the request's variables (plans are
cached per document, operation and the values of those condition variables). A fragment
under `@defer` whose `if:` holds keeps a `Defer` marker; with `if: false` it is inlined.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from graphql import (
    ArgumentNode,
    BooleanValueNode,
    DirectiveNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    StringValueNode,
    VariableNode,
)


@dataclass(eq=False)
class CField:
    response_key: str
    name: str
    arguments: tuple[ArgumentNode, ...]
    selections: list[CSelection] = field(default_factory=list)
    directives: tuple[DirectiveNode, ...] = ()

    def args_key(self) -> str:
        from graphql import print_ast

        return ",".join(f"{a.name.value}:{print_ast(a.value)}" for a in self.arguments)


@dataclass(eq=False)
class Defer:
    """A fragment under `@defer` (its `if:` true): delivered after the initial response. The
    object itself is the fragment's identity in the plan and in incremental delivery."""

    label: str | None = None


@dataclass(eq=False)
class CFragment:
    type_condition: str | None
    selections: list[CSelection] = field(default_factory=list)
    defer: Defer | None = None


CSelection = CField | CFragment


class OperationError(Exception):
    """A request error: the operation cannot run (bad name, variables, ...)."""

    def __init__(self, message: str, code: str = "BAD_USER_INPUT", locations: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.locations = locations


def select_operation(document: DocumentNode, operation_name: str | None) -> OperationDefinitionNode:
    ops = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if not ops:
        raise OperationError("The document contains no operation.", "GRAPHQL_VALIDATION_FAILED")
    if operation_name:
        for op in ops:
            if op.name and op.name.value == operation_name:
                return op
        raise OperationError(f"Unknown operation named '{operation_name}'.")
    if len(ops) > 1:
        raise OperationError("Must provide operation name if query contains multiple operations.")
    return ops[0]


def fragment_order(document: DocumentNode) -> list[FragmentDefinitionNode]:
    """The document's fragments, each after every fragment it spreads.

    Analyses that summarise each fragment once, in this order, and reuse the summary at every
    spread stay linear in the document's size however often fragments spread each other. A
    fragment on a cycle (which validation refuses) and everything spreading it are left out.
    """
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    order: list[FragmentDefinitionNode] = []
    done: set[str] = set()
    broken: set[str] = set()
    for start in fragments:
        if start in done or start in broken:
            continue
        # iterative depth-first search: (name, the names it spreads, next index)
        path: list[tuple[str, list[str], int]] = [(start, spread_names(fragments[start]), 0)]
        on_path = {start}
        while path:
            name, deps, i = path[-1]
            if i < len(deps):
                path[-1] = (name, deps, i + 1)
                dep = deps[i]
                if dep in done or dep not in fragments:
                    continue
                if dep in on_path or dep in broken:
                    broken.update(on_path)
                    continue
                path.append((dep, spread_names(fragments[dep]), 0))
                on_path.add(dep)
                continue
            path.pop()
            on_path.discard(name)
            if name not in broken:
                done.add(name)
                order.append(fragments[name])
    return order


def spread_names(node: FragmentDefinitionNode | OperationDefinitionNode) -> list[str]:
    """Names of the fragments spread directly in a definition (not through other fragments)."""
    names: list[str] = []
    stack: list[SelectionSetNode | None] = [node.selection_set]
    while stack:
        sel_set = stack.pop()
        if sel_set is None:
            continue
        for sel in sel_set.selections:
            if isinstance(sel, FragmentSpreadNode):
                names.append(sel.name.value)
            elif isinstance(sel, FieldNode | InlineFragmentNode):
                stack.append(sel.selection_set)
    return names


def condition_variables(op: OperationDefinitionNode, document: DocumentNode) -> tuple[str, ...]:
    """Names of the variables used by @skip/@include (and by @defer's `if:`) anywhere in the
    operation: the values that decide the plan."""
    # an explicit stack, not a recursive closure: that closure would be a reference cycle
    # left for the garbage collector on every request
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    found: set[str] = set()
    seen: set[str] = set()
    stack: list[SelectionSetNode | None] = [op.selection_set]
    while stack:
        sel_set = stack.pop()
        if sel_set is None:
            continue
        for sel in sel_set.selections:
            for d in sel.directives or ():
                if d.name.value in ("skip", "include", "defer"):
                    for a in d.arguments or ():
                        if isinstance(a.value, VariableNode):
                            found.add(a.value.name.value)
            if isinstance(sel, FieldNode | InlineFragmentNode):
                stack.append(sel.selection_set)
            elif isinstance(sel, FragmentSpreadNode) and sel.name.value not in seen:
                seen.add(sel.name.value)
                frag = fragments.get(sel.name.value)
                if frag is not None:
                    stack.append(frag.selection_set)
    return tuple(sorted(found))


def _included(directives: Any, variables: dict[str, Any]) -> bool:
    for d in directives or ():
        name = d.name.value
        if name not in ("skip", "include"):
            continue
        value: Any = None
        for a in d.arguments:
            if a.name.value == "if":
                if isinstance(a.value, BooleanValueNode):
                    value = a.value.value
                elif isinstance(a.value, VariableNode):
                    value = variables.get(a.value.name.value)
        if name == "skip" and value is True:
            return False
        if name == "include" and value is not True:
            return False
    return True


def _deferred(directives: Any, variables: dict[str, Any]) -> Defer | None:
    """The fragment's `@defer`, unless its `if:` is false (then it is inlined)."""
    for d in directives or ():
        if d.name.value != "defer":
            continue
        label: str | None = None
        for a in d.arguments or ():
            if a.name.value == "if":
                if isinstance(a.value, BooleanValueNode) and not a.value.value:
                    return None
                if isinstance(a.value, VariableNode) and variables.get(a.value.name.value) is False:
                    return None
            elif a.name.value == "label" and isinstance(a.value, StringValueNode):
                label = a.value.value
        return Defer(label)
    return None


def normalize(
    op: OperationDefinitionNode, document: DocumentNode, variables: dict[str, Any]
) -> list[CSelection]:
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }

    def convert(sel_set: SelectionSetNode | None) -> list[CSelection]:
        out: list[CSelection] = []
        if sel_set is None:
            return out
        for sel in sel_set.selections:
            if not _included(sel.directives, variables):
                continue
            if isinstance(sel, FieldNode):
                out.append(
                    CField(
                        response_key=(sel.alias or sel.name).value,
                        name=sel.name.value,
                        arguments=tuple(sel.arguments or ()),
                        selections=convert(sel.selection_set),
                        directives=tuple(
                            d
                            for d in sel.directives or ()
                            if d.name.value not in ("skip", "include")
                        ),
                    )
                )
            elif isinstance(sel, InlineFragmentNode):
                tc = sel.type_condition.name.value if sel.type_condition else None
                out.append(
                    CFragment(tc, convert(sel.selection_set), _deferred(sel.directives, variables))
                )
            elif isinstance(sel, FragmentSpreadNode):
                frag = fragments.get(sel.name.value)
                if frag is not None:
                    out.append(
                        CFragment(
                            frag.type_condition.name.value,
                            convert(frag.selection_set),
                            _deferred(sel.directives, variables),
                        )
                    )
        return out

    return convert(op.selection_set)


def validation_errors_to_dicts(errors: list[GraphQLError]) -> list[dict[str, Any]]:
    out = []
    for e in errors:
        d: dict[str, Any] = dict(e.formatted)
        ext = dict(d.get("extensions") or {})
        ext.setdefault("code", "GRAPHQL_VALIDATION_FAILED")
        out.append({**d, "extensions": ext})
    return out
