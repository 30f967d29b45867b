"""The operation set: what a product offers agents, as data.

A folder holds one `.graphql` file per tool (one named operation; the `#` comment lines at
its top are the description a model reads) and an optional `mcp.toml`:

```toml
[tools.remove_from_watchlist]      # per tool (the operation's name in snake_case)
destructive = true                 # asks for confirmation, `destructiveHint`
title = "Remove from my watchlist"

[arguments]                        # argument descriptions, by variable name
region = "ISO 3166 country code, e.g. US"

[[prompts]]
name = "find_something_to_watch"
description = "..."
arguments = [{ name = "mood", description = "...", required = false }]
template = "Find ... {mood} ..."

[completions.genre]                # completion values for an argument, from an operation
operation = "CompleteGenres"       # a query of the set (not offered as a tool when `hidden`)
path = "genres[].name"             # where the values are in its data
prefix_variable = "prefix"         # optional: the typed text goes to this variable

[completions.region]
values = ["US", "GB"]              # or fixed values

[[resource_templates]]
uri_template = "media://title/{id}"
name = "title"
operation = "TitleDetails"         # run with the URI's variables
```
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class OperationSetError(ValueError):
    pass


@dataclass(frozen=True)
class OperationSpec:
    name: str  # the tool's name
    text: str  # the operation's document
    description: str
    title: str | None = None
    destructive: bool = False
    hidden: bool = False  # a helper (completion, resource): no tool of its own
    source: str = "operations"  # or "manifest"


@dataclass(frozen=True)
class PromptSpec:
    name: str
    description: str
    template: str
    arguments: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class CompletionSpec:
    argument: str
    operation: str | None  # None: the fixed `values`
    path: str = ""
    prefix_variable: str | None = None
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class ResourceTemplateSpec:
    uri_template: str
    name: str
    operation: str
    description: str = ""
    mime_type: str = "application/json"


@dataclass
class OperationSet:
    operations: dict[str, OperationSpec] = field(default_factory=dict)
    prompts: dict[str, PromptSpec] = field(default_factory=dict)
    completions: dict[str, CompletionSpec] = field(default_factory=dict)
    resource_templates: list[ResourceTemplateSpec] = field(default_factory=list)
    argument_descriptions: dict[str, str] = field(default_factory=dict)
    # what the set was read from, and its state then (to notice changes)
    folder: Path | None = None
    stamp: tuple[tuple[str, float], ...] = ()

    @classmethod
    def load(cls, folder: Path | None) -> OperationSet:
        if folder is None:
            return cls()
        if not folder.is_dir():
            raise OperationSetError(f"the MCP operation set {folder} is not a folder")
        meta: dict[str, Any] = {}
        toml_path = folder / "mcp.toml"
        if toml_path.is_file():
            try:
                meta = tomllib.loads(toml_path.read_text(encoding="utf-8"))
            except tomllib.TOMLDecodeError as exc:
                raise OperationSetError(f"{toml_path.name}: {exc}") from exc
        hints: dict[str, Any] = meta.get("tools", {})
        out = cls(folder=folder, stamp=stamp_of(folder))
        for path in sorted(folder.glob("*.graphql")):
            text = path.read_text(encoding="utf-8")
            name_match = re.search(r"\b(query|mutation)\s+([_A-Za-z][_0-9A-Za-z]*)", text)
            if name_match is None:
                raise OperationSetError(f"{path.name}: no named query or mutation")
            tool = snake_case(name_match.group(2))
            hint = hints.get(tool, {})
            out.operations[tool] = OperationSpec(
                name=tool,
                text=text,
                description=leading_comment(text),
                title=hint.get("title"),
                destructive=bool(hint.get("destructive", False)),
                hidden=bool(hint.get("hidden", False)),
            )
        for prompt in meta.get("prompts", []):
            out.prompts[prompt["name"]] = PromptSpec(
                prompt["name"],
                prompt.get("description", ""),
                prompt["template"],
                tuple(prompt.get("arguments", ())),
            )
        for argument, spec in meta.get("completions", {}).items():
            operation = spec.get("operation")
            out.completions[argument] = CompletionSpec(
                argument,
                snake_case(operation) if operation else None,
                spec.get("path", ""),
                spec.get("prefix_variable"),
                tuple(str(v) for v in spec.get("values", ())),
            )
        for template in meta.get("resource_templates", []):
            out.resource_templates.append(
                ResourceTemplateSpec(
                    template["uri_template"],
                    template["name"],
                    snake_case(template["operation"]),
                    template.get("description", ""),
                    template.get("mime_type", "application/json"),
                )
            )
        out.argument_descriptions = {k: str(v) for k, v in meta.get("arguments", {}).items()}
        return out

    def changed(self) -> bool:
        """Whether the folder's files changed since it was read."""
        return self.folder is not None and stamp_of(self.folder) != self.stamp


def stamp_of(folder: Path) -> tuple[tuple[str, float], ...]:
    try:
        return tuple(
            sorted(
                (p.name, p.stat().st_mtime)
                for p in folder.iterdir()
                if p.suffix in (".graphql", ".toml")
            )
        )
    except OSError:
        return ()


def leading_comment(text: str) -> str:
    lines = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped.startswith("#"):
            break
        lines.append(stripped[1:].strip())
    return "\n".join(lines).strip()


def snake_case(name: str) -> str:
    s = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name)
    return re.sub(r"[^0-9a-zA-Z_]", "_", s).lower()


def values_at(data: Any, path: str) -> list[Any]:
    """The values at `path` in a response's data (`a.b[].c`: every `c` of the list `b`)."""
    current: list[Any] = [data]
    for part in path.split("."):
        many = part.endswith("[]")
        key = part[:-2] if many else part
        following: list[Any] = []
        for item in current:
            if not isinstance(item, dict):
                continue
            value = item.get(key)
            if many and isinstance(value, list):
                following.extend(value)
            elif value is not None:
                following.append(value)
        current = following
    return current
