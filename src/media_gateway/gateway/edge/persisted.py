"""Trusted documents: persisted query manifests for released clients.

Two manifest formats are read: Apollo's persisted-query manifest
(`{"format": "apollo-persisted-query-manifest", "version": 1, "operations": [{"id", "name",
"type", "body"}]}`) and Relay's `{id: text}` map. A request names a document by
`documentId`, `id` (Relay), `doc_id`, or an APQ-shaped `extensions.persistedQuery.sha256Hash`.

Modes: `off` (manifests ignored), `log-unknown` (everything runs; operations not in the
manifests are logged), `safelist` (only listed operations run, by id or by identical text;
introspection only when allowed).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger("media_gateway.gateway.edge")

APOLLO_FORMAT = "apollo-persisted-query-manifest"


class ManifestError(ValueError):
    pass


@dataclass(frozen=True)
class PersistedOperation:
    id: str
    body: str
    name: str | None = None
    type: str | None = None


@dataclass
class Manifest:
    operations: dict[str, PersistedOperation] = field(default_factory=dict)
    _by_body: dict[str, str] = field(default_factory=dict)

    def add(self, op: PersistedOperation) -> None:
        self.operations[op.id] = op
        self._by_body[op.body] = op.id

    def get(self, doc_id: str) -> PersistedOperation | None:
        return self.operations.get(doc_id)

    def id_of(self, body: str) -> str | None:
        return self._by_body.get(body)

    def __len__(self) -> int:
        return len(self.operations)

    @classmethod
    def load(cls, paths: Iterable[Path]) -> Manifest:
        manifest = cls()
        for path in paths:
            try:
                data = json.loads(Path(path).read_text())
            except (OSError, ValueError) as exc:
                raise ManifestError(f"cannot read manifest {path}: {exc}") from exc
            for op in parse_manifest(data):
                manifest.add(op)
        return manifest

    @classmethod
    def from_data(cls, *datas: Any) -> Manifest:
        manifest = cls()
        for data in datas:
            for op in parse_manifest(data):
                manifest.add(op)
        return manifest


def parse_manifest(data: Any) -> list[PersistedOperation]:
    if isinstance(data, Mapping) and data.get("format") == APOLLO_FORMAT:
        if data.get("version") != 1:
            raise ManifestError("only version 1 of the Apollo manifest format is supported")
        out = []
        for entry in data.get("operations") or ():
            if not isinstance(entry, Mapping):
                raise ManifestError("manifest operations must be objects")
            op_id, body = entry.get("id"), entry.get("body")
            if not isinstance(op_id, str) or not isinstance(body, str):
                raise ManifestError("every manifest operation needs a string id and body")
            out.append(PersistedOperation(op_id, body, entry.get("name"), entry.get("type")))
        return out
    if isinstance(data, Mapping) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        return [PersistedOperation(k, v) for k, v in data.items()]
    raise ManifestError("not an Apollo persisted-query manifest nor a Relay id→text map")


def document_id(params: Mapping[str, Any]) -> str | None:
    for key in ("documentId", "doc_id", "id"):
        v = params.get(key)
        if isinstance(v, str) and v:
            return v
    ext = params.get("extensions")
    if isinstance(ext, Mapping):
        pq = ext.get("persistedQuery")
        if isinstance(pq, Mapping):
            h = pq.get("sha256Hash")
            if isinstance(h, str) and h:
                return h
    return None
