"""The execution service: a prepared plan in, a GraphQL response body out.

Runs the plan's fetches (`executor.Execution`), answers introspection fields from the API
schema, and shapes the result to the client's selection (`shaping.ResponseShaper`). Both the
request path (`pipeline.Pipeline.execute`) and each subscription event
(`subscriptions.resolve_event`) come here; nothing else runs a plan.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from typing import TYPE_CHECKING, Any

from graphql import (
    DocumentNode,
    ExperimentalIncrementalExecutionResults,
    FieldNode,
    OperationDefinitionNode,
    SelectionSetNode,
    experimental_execute_incrementally,
)

from .executor import Execution
from .incremental import payloads
from .shaping import ResponseShaper

if TYPE_CHECKING:
    from .plan import Plan
    from .router import Router


async def execute_plan(
    router: Router,
    plan: Plan,
    variables: dict[str, Any],
    headers: Mapping[str, str],
    *,
    document: DocumentNode | None = None,
    operation: OperationDefinitionNode | None = None,
    expose_plan: bool = False,
    data: dict[str, Any] | None = None,
    errors: list[dict[str, Any]] | None = None,
    shape: Plan | None = None,
) -> dict[str, Any]:
    """Run `plan` and shape its result. `data` / `errors`: what is known before the plan runs
    (a subscription event's root data); `shape`: the plan whose selection the response takes
    (default `plan`)."""
    shape = shape if shape is not None else plan
    run = Execution(plan, router.supergraph, router.clients, variables, headers)
    if data is not None:
        run.data = data
    if errors is not None:
        run.errors = errors
    await run.run()
    if plan.introspection_fields and document is not None and operation is not None:
        _introspect(router, document, operation, variables, run)
    shaper = ResponseShaper(
        router.supergraph.api_schema, router.supergraph, run.errors, shape.shape_cache, shape.denied
    )
    shaped = shaper.shape_root(shape.root_type, run.data, shape.selections)
    body: dict[str, Any] = {}
    if run.errors:
        body["errors"] = run.errors
    body["data"] = shaped
    if expose_plan:
        body["extensions"] = {
            "queryPlan": plan.to_json(),
            "queryPlanText": plan.to_text(),
            "fetches": run.fetch_count,
            "representations": run.representation_count,
        }
    return body


def execute_incremental(
    router: Router,
    plan: Plan,
    variables: dict[str, Any],
    values: dict[str, Any],
    headers: Mapping[str, str],
    *,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    expose_plan: bool = False,
) -> AsyncGenerator[dict[str, Any], None]:
    """Run `plan` and deliver its result incrementally (@defer / @stream): the payloads, in
    order (see incremental.py). `values`: the coerced variables (@stream's arguments)."""
    run = Execution(plan, router.supergraph, router.clients, variables, headers)

    def before_initial() -> None:
        if plan.introspection_fields:
            _introspect(router, document, operation, variables, run)

    def extensions() -> dict[str, Any]:
        return {
            "queryPlan": plan.to_json(),
            "queryPlanText": plan.to_text(),
            "fetches": run.fetch_count,
            "representations": run.representation_count,
        }

    return payloads(
        run,
        plan,
        router.supergraph.api_schema,
        values,
        before_initial=before_initial,
        extensions=extensions if expose_plan else None,
    )


def _introspect(
    router: Router,
    document: DocumentNode,
    op: OperationDefinitionNode,
    variables: dict[str, Any],
    run: Execution,
) -> None:
    only = tuple(
        s
        for s in op.selection_set.selections
        if isinstance(s, FieldNode) and s.name.value in ("__schema", "__type")
    )
    op_only = OperationDefinitionNode(
        operation=op.operation,
        name=op.name,
        variable_definitions=op.variable_definitions,
        directives=op.directives,
        selection_set=SelectionSetNode(selections=only),
    )
    defs = tuple(d for d in document.definitions if not isinstance(d, OperationDefinitionNode))
    # the API schema declares @defer and @stream, which graphql-core's plain `execute` refuses
    executed = experimental_execute_incrementally(
        router.supergraph.api_schema,
        DocumentNode(definitions=(op_only, *defs)),
        variable_values=variables,
    )
    result = (
        executed.initial_result
        if isinstance(executed, ExperimentalIncrementalExecutionResults)
        else executed
    )
    if result.data:  # type: ignore[union-attr]
        run.data.update(result.data)  # type: ignore[union-attr]
    for e in result.errors or ():  # type: ignore[union-attr]
        run.errors.append(dict(e.formatted))
