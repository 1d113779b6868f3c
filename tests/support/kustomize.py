"""A small kustomize: renders deploy/k8s without the kustomize binary (none ships on PyPI for
Python 3.11), for the subset those manifests use.

Supported kustomization fields: `resources` (files and directories), `components`
(`kind: Component`), `namespace`, `labels` (`pairs`, `includeTemplates`), `images` (`newName`,
`newTag`, `digest`), `replicas`, and `patches` given by `path` or inline `patch` as
strategic-merge patches matched by apiVersion, kind and name (`null` removes a key, `$patch: delete`
removes the object). Transformers run in kustomize's order: components, patches, namespace,
labels, replicas, images. Any other field raises `Unsupported`, so a feature the renderer does
not know is never silently ignored.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

Object = dict[str, Any]

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
SUPPORTED = frozenset(
    {
        "apiVersion",
        "kind",
        "resources",
        "components",
        "namespace",
        "labels",
        "images",
        "replicas",
        "patches",
    }
)
CLUSTER_SCOPED = frozenset(
    {
        "Namespace",
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "PersistentVolume",
        "StorageClass",
        "PriorityClass",
        "IngressClass",
        "ValidatingWebhookConfiguration",
        "MutatingWebhookConfiguration",
        "ClusterTriggerAuthentication",
    }
)
WORKLOADS_WITH_TEMPLATE = frozenset(
    {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "ReplicationController"}
)
# patchMergeKey of the built-in list fields the manifests patch (from the Kubernetes OpenAPI);
# every other list is replaced whole, as strategic merge does for lists without a merge key.
MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "imagePullSecrets": "name",
    "topologySpreadConstraints": "topologyKey",
}
BUILTIN_GROUPS = frozenset(
    {
        "v1",
        "apps/v1",
        "batch/v1",
        "policy/v1",
        "autoscaling/v2",
        "networking.k8s.io/v1",
        "rbac.authorization.k8s.io/v1",
    }
)


class Unsupported(ValueError):
    """The kustomization uses something this renderer does not implement."""


def build(directory: Path | str) -> list[Object]:
    """The objects `kustomize build directory` would print (order not guaranteed)."""
    return _build(Path(directory), component=False)


def _load_kustomization(directory: Path) -> Object:
    for name in KUSTOMIZATION_FILES:
        path = directory / name
        if path.is_file():
            data = yaml.safe_load(path.read_text())
            if not isinstance(data, dict):
                raise Unsupported(f"{path}: not a mapping")
            unknown = set(data) - SUPPORTED
            if unknown:
                raise Unsupported(f"{path}: fields not supported here: {sorted(unknown)}")
            return data
    raise FileNotFoundError(f"no kustomization file in {directory}")


def _read_objects(path: Path) -> list[Object]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def _build(directory: Path, *, component: bool) -> list[Object]:
    kustomization = _load_kustomization(directory)
    is_component = kustomization.get("kind") == "Component"
    if is_component != component:
        raise Unsupported(f"{directory}: a Component must be listed under `components` only")
    objects: list[Object] = []
    for entry in kustomization.get("resources", []):
        objects.extend(_resource(directory / entry))
    for entry in kustomization.get("components", []):
        objects = _apply_component(directory / entry, objects)
    return _transform(directory, kustomization, objects)


def _resource(path: Path) -> list[Object]:
    if path.is_dir():
        return _build(path, component=False)
    return _read_objects(path)


def _apply_component(directory: Path, objects: list[Object]) -> list[Object]:
    kustomization = _load_kustomization(directory)
    if kustomization.get("kind") != "Component":
        raise Unsupported(f"{directory}: listed under `components` but is not a Component")
    objects = list(objects)
    for entry in kustomization.get("resources", []):
        objects.extend(_resource(directory / entry))
    for entry in kustomization.get("components", []):
        objects = _apply_component(directory / entry, objects)
    return _transform(directory, kustomization, objects)


def _transform(directory: Path, kustomization: Object, objects: list[Object]) -> list[Object]:
    for entry in kustomization.get("patches", []):
        for patch in _patches(directory, entry):
            objects = _apply_patch(objects, patch)
    if "namespace" in kustomization:
        _set_namespace(objects, kustomization["namespace"])
    for entry in kustomization.get("labels", []):
        _add_labels(objects, entry)
    for entry in kustomization.get("replicas", []):
        _set_replicas(objects, entry)
    for entry in kustomization.get("images", []):
        _set_image(objects, entry)
    _check_unique(directory, objects)
    return objects


def _patches(directory: Path, entry: Object) -> list[Object]:
    if set(entry) - {"path", "patch"}:
        raise Unsupported(f"patch options not supported here: {sorted(entry)}")
    if "path" in entry:
        return _read_objects(directory / entry["path"])
    return [doc for doc in yaml.safe_load_all(entry["patch"]) if doc]


def _key(obj: Object) -> tuple[str, str, str]:
    meta = obj.get("metadata") or {}
    return obj["kind"], meta.get("name", ""), meta.get("namespace", "")


def _check_unique(directory: Path, objects: list[Object]) -> None:
    seen: set[tuple[str, str, str]] = set()
    for obj in objects:
        key = _key(obj)
        if key in seen:
            raise ValueError(f"{directory}: {key} is declared twice")
        seen.add(key)


def _apply_patch(objects: list[Object], patch: Object) -> list[Object]:
    kind, name = patch["kind"], patch["metadata"]["name"]
    namespace = patch["metadata"].get("namespace")
    # Like kustomize, by group/version too: a patch without apiVersion matches nothing.
    api_version = patch.get("apiVersion")
    matches = [
        i
        for i, obj in enumerate(objects)
        if obj["kind"] == kind
        and obj.get("apiVersion") == api_version
        and obj["metadata"]["name"] == name
        and (namespace is None or obj["metadata"].get("namespace") == namespace)
    ]
    if len(matches) != 1:
        raise ValueError(f"patch for {kind}/{name} matches {len(matches)} objects, not one")
    index = matches[0]
    if patch.get("$patch") == "delete":
        return objects[:index] + objects[index + 1 :]
    body = {k: v for k, v in patch.items() if k not in ("apiVersion", "kind")}
    builtin = objects[index].get("apiVersion") in BUILTIN_GROUPS
    merged = strategic_merge(objects[index], body, builtin=builtin)
    return [*objects[:index], merged, *objects[index + 1 :]]


def strategic_merge(target: Object, patch: Object, *, builtin: bool = True) -> Object:
    """`patch` merged into a copy of `target`: maps recursively, `None` deletes a key, lists
    with a known merge key merged item by item (built-in kinds only), other lists replaced."""
    result = copy.deepcopy(target)
    for key, value in patch.items():
        if key.startswith("$"):
            raise Unsupported(f"strategic-merge directive {key} not supported here")
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = strategic_merge(result[key], value, builtin=builtin)
        elif (
            builtin
            and isinstance(value, list)
            and isinstance(result.get(key), list)
            and key in MERGE_KEYS
        ):
            result[key] = _merge_list(result[key], value, MERGE_KEYS[key])
        else:
            result[key] = copy.deepcopy(value)
    return result


def _merge_list(target: list[Object], patch: list[Object], merge_key: str) -> list[Object]:
    merged = [copy.deepcopy(item) for item in target]
    for item in patch:
        position = next(
            (i for i, existing in enumerate(merged) if existing.get(merge_key) == item[merge_key]),
            None,
        )
        if position is None:
            merged.append(copy.deepcopy(item))
        else:
            merged[position] = strategic_merge(merged[position], item)
    return merged


def _set_namespace(objects: list[Object], namespace: str) -> None:
    for obj in objects:
        if obj["kind"] not in CLUSTER_SCOPED:
            obj["metadata"]["namespace"] = namespace


def _add_labels(objects: list[Object], entry: Object) -> None:
    if set(entry) - {"pairs", "includeTemplates", "includeSelectors"} or entry.get(
        "includeSelectors"
    ):
        raise Unsupported(f"labels options not supported here: {entry}")
    pairs = entry["pairs"]
    for obj in objects:
        obj["metadata"].setdefault("labels", {}).update(pairs)
        if entry.get("includeTemplates") and obj["kind"] in WORKLOADS_WITH_TEMPLATE:
            template = obj["spec"]["template"]
            template.setdefault("metadata", {}).setdefault("labels", {}).update(pairs)


def _set_replicas(objects: list[Object], entry: Object) -> None:
    targets = [
        obj
        for obj in objects
        if obj["metadata"]["name"] == entry["name"]
        and obj["kind"] in {"Deployment", "StatefulSet", "ReplicaSet", "ReplicationController"}
    ]
    if not targets:
        raise ValueError(f"replicas: no workload named {entry['name']}")
    for obj in targets:
        obj["spec"]["replicas"] = entry["count"]


def _containers(obj: Object) -> list[Object]:
    spec = obj.get("spec") or {}
    if obj["kind"] == "Pod":
        pod = spec
    elif obj["kind"] == "CronJob":
        pod = spec["jobTemplate"]["spec"]["template"]["spec"]
    elif obj["kind"] in WORKLOADS_WITH_TEMPLATE:
        pod = spec["template"]["spec"]
    else:
        return []
    return [*pod.get("initContainers", []), *pod.get("containers", [])]


def split_image(image: str) -> tuple[str, str | None, str | None]:
    """`registry/name:tag@digest` -> (name with registry, tag, digest)."""
    name, _, digest = image.partition("@")
    slash = name.rfind("/")
    colon = name.rfind(":")
    tag = None
    if colon > slash:
        name, tag = name[:colon], name[colon + 1 :]
    return name, tag, digest or None


def _set_image(objects: list[Object], entry: Object) -> None:
    for obj in objects:
        for container in _containers(obj):
            name, tag, digest = split_image(container["image"])
            if name != entry["name"]:
                continue
            name = entry.get("newName", name)
            if "digest" in entry:
                container["image"] = f"{name}@{entry['digest']}"
                continue
            tag = entry.get("newTag", tag)
            image = f"{name}:{tag}" if tag else name
            container["image"] = f"{image}@{digest}" if digest and "newTag" not in entry else image
