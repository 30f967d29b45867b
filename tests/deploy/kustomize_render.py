"""A small renderer of the Kustomize subset deploy/kubernetes uses.

It reads a kustomization's `resources` (files and folders holding a kustomization),
`namespace`, `images` and `patches` (strategic-merge patches, each applied to the resource it
names or to every resource its `target` selects by kind and anchored name pattern), which is
all the base and overlays need; anything else is refused, so that a manifest using a feature
this renderer does not know fails here instead of rendering differently from `kubectl
kustomize`. test_kubernetes.py checks both renderings agree where kubectl is installed.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import yaml

Resource = dict[str, Any]

KNOWN_FIELDS = {"apiVersion", "kind", "resources", "namespace", "images", "patches"}
# kinds that live outside namespaces (none of them in the base today, listed for safety)
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "PersistentVolume"}
# list fields merged item by item on a key, as Kubernetes' strategic merge patch does
MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "ports": "containerPort",
}


class KustomizeError(ValueError):
    pass


def load_documents(path: Path) -> list[Resource]:
    docs = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]
    for doc in docs:
        if not isinstance(doc, dict) or "kind" not in doc:
            raise KustomizeError(f"{path}: not a Kubernetes object: {doc!r}")
    return docs


def strategic_merge(target: Any, patch: Any, field: str | None = None) -> Any:
    if isinstance(target, dict) and isinstance(patch, dict):
        merged = dict(target)
        for key, value in patch.items():
            merged[key] = strategic_merge(target[key], value, key) if key in target else value
        return merged
    key = MERGE_KEYS.get(field or "")
    if key and isinstance(target, list) and isinstance(patch, list):
        merged_list = list(target)
        for item in patch:
            index = next(
                (i for i, old in enumerate(merged_list) if old.get(key) == item.get(key)), None
            )
            if index is None:
                merged_list.append(item)
            else:
                merged_list[index] = strategic_merge(merged_list[index], item)
        return merged_list
    return copy.deepcopy(patch)


def _selected(resource: Resource, target: dict[str, str]) -> bool:
    for field, value in target.items():
        if field == "kind":
            actual = resource["kind"]
        elif field == "name":
            actual = resource["metadata"]["name"]
        else:
            raise KustomizeError(f"patch target field {field!r} is not supported")
        if not re.fullmatch(value, actual):
            return False
    return True


def _set_image(resource: Resource, images: list[dict[str, str]]) -> None:
    spec = resource.get("spec", {})
    pod = spec.get("template", {}).get("spec", {}) if "template" in spec else None
    if pod is None:
        return
    for container in pod.get("containers", []) + pod.get("initContainers", []):
        name, _, tag = container["image"].partition(":")
        for image in images:
            if image["name"] == name:
                container["image"] = (
                    f"{image.get('newName', name)}:{image.get('newTag', tag or 'latest')}"
                )


def render(folder: Path) -> list[Resource]:
    """The resources `kubectl kustomize folder` prints, in the order they are listed."""
    kustomization = yaml.safe_load((folder / "kustomization.yaml").read_text(encoding="utf-8"))
    unknown = set(kustomization) - KNOWN_FIELDS
    if unknown:
        raise KustomizeError(f"{folder}: unsupported kustomization fields {sorted(unknown)}")
    resources: list[Resource] = []
    for entry in kustomization.get("resources", []):
        path = (folder / entry).resolve()
        resources.extend(render(path) if path.is_dir() else load_documents(path))
    for patch_spec in kustomization.get("patches", []):
        if set(patch_spec) - {"path", "target"}:
            raise KustomizeError(f"{folder}: unsupported patch {patch_spec!r}")
        (patch,) = load_documents(folder / patch_spec["path"])
        target = patch_spec.get("target") or {
            "kind": re.escape(patch["kind"]),
            "name": re.escape(patch["metadata"]["name"]),
        }
        body = {k: v for k, v in patch.items() if k not in ("apiVersion", "kind", "metadata")}
        hits = [r for r in resources if _selected(r, target)]
        if not hits:
            raise KustomizeError(f"{folder}: patch {patch_spec['path']} selects nothing")
        for resource in hits:
            index = resources.index(resource)
            resources[index] = strategic_merge(resource, body)
    if kustomization.get("images"):
        for resource in resources:
            _set_image(resource, kustomization["images"])
    namespace = kustomization.get("namespace")
    if namespace:
        for resource in resources:
            if resource["kind"] not in CLUSTER_SCOPED:
                resource["metadata"]["namespace"] = namespace
    return resources
