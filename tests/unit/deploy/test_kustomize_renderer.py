"""tests/support/kustomize.py behaves like kustomize for the subset it claims, and refuses the
rest: a renderer that silently ignored a field would validate manifests kustomize renders
differently."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support import kustomize

DEPLOYMENT: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "labels": {"app": "web"}},
    "spec": {
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {
                "containers": [
                    {
                        "name": "web",
                        "image": "example/web:1.0",
                        "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                        "args": ["--one", "--two"],
                    },
                    {"name": "sidecar", "image": "registry.local:5000/side@sha256:abc"},
                ]
            },
        },
    },
}


PAUSE = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {paused: true}\n"


def write(directory: Path, files: dict[str, Any]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        docs = content if isinstance(content, list) else [content]
        (directory / name).write_text(yaml.safe_dump_all(docs))
    return directory


def test_strategic_merge_merges_keyed_lists_replaces_others_and_deletes_nulls() -> None:
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "web",
                            "env": [{"name": "B", "value": "3"}, {"name": "C", "value": "4"}],
                            "args": ["--three"],
                        }
                    ]
                }
            }
        },
        "metadata": {"labels": {"app": None, "tier": "front"}},
    }
    merged = kustomize.strategic_merge(DEPLOYMENT, patch)
    web, sidecar = merged["spec"]["template"]["spec"]["containers"]
    assert web["env"] == [
        {"name": "A", "value": "1"},
        {"name": "B", "value": "3"},
        {"name": "C", "value": "4"},
    ]
    assert web["args"] == ["--three"]  # no merge key: replaced
    assert web["image"] == "example/web:1.0"
    assert sidecar["name"] == "sidecar"
    assert merged["metadata"]["labels"] == {"tier": "front"}
    assert DEPLOYMENT["metadata"]["labels"] == {"app": "web"}, "the input is not modified"


def test_custom_resources_get_lists_replaced_not_merged() -> None:
    target = {"spec": {"containers": [{"name": "a", "x": 1}]}}
    merged = kustomize.strategic_merge(
        target, {"spec": {"containers": [{"name": "b"}]}}, builtin=False
    )
    assert merged["spec"]["containers"] == [{"name": "b"}]


def test_overlay_transformers(tmp_path: Path) -> None:
    write(tmp_path / "base", {"kustomization.yaml": {"resources": ["app.yaml"]}})
    write(
        tmp_path / "base",
        {
            "app.yaml": [
                DEPLOYMENT,
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}},
                {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "gone"}},
            ]
        },
    )
    write(
        tmp_path / "overlay",
        {
            "kustomization.yaml": {
                "namespace": "team",
                "resources": ["../base"],
                "labels": [{"pairs": {"env": "test"}, "includeTemplates": True}],
                "images": [
                    {"name": "example/web", "newName": "reg.example/web", "newTag": "2.0"},
                    {"name": "registry.local:5000/side", "digest": "sha256:def"},
                ],
                "replicas": [{"name": "web", "count": 3}],
                "patches": [
                    {"path": "delete.yaml"},
                    {"patch": PAUSE},
                ],
            },
            "delete.yaml": {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "gone"},
                "$patch": "delete",
            },
        },
    )
    objects = {o["kind"]: o for o in kustomize.build(tmp_path / "overlay")}
    assert set(objects) == {"Deployment", "Namespace"}
    web = objects["Deployment"]
    assert web["metadata"]["namespace"] == "team"
    assert "namespace" not in objects["Namespace"]["metadata"]
    assert web["metadata"]["labels"] == {"app": "web", "env": "test"}
    assert web["spec"]["template"]["metadata"]["labels"] == {"app": "web", "env": "test"}
    assert web["spec"]["selector"] == {"matchLabels": {"app": "web"}}, "selectors untouched"
    assert web["spec"]["replicas"] == 3 and web["spec"]["paused"] is True
    images = [c["image"] for c in web["spec"]["template"]["spec"]["containers"]]
    assert images == ["reg.example/web:2.0", "registry.local:5000/side@sha256:def"]


def test_components_add_resources_and_patch_what_came_before(tmp_path: Path) -> None:
    write(tmp_path / "base", {"kustomization.yaml": {"resources": ["app.yaml"]}})
    write(tmp_path / "base", {"app.yaml": DEPLOYMENT})
    write(
        tmp_path / "extra",
        {
            "kustomization.yaml": {
                "apiVersion": "kustomize.config.k8s.io/v1alpha1",
                "kind": "Component",
                "resources": ["svc.yaml"],
                "patches": [{"path": "patch.yaml"}],
            },
            "svc.yaml": {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}},
            "patch.yaml": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "web"},
                "spec": {"paused": True},
            },
        },
    )
    write(
        tmp_path / "overlay",
        {"kustomization.yaml": {"resources": ["../base"], "components": ["../extra"]}},
    )
    objects = {o["kind"]: o for o in kustomize.build(tmp_path / "overlay")}
    assert objects["Service"]["metadata"]["name"] == "web"
    assert objects["Deployment"]["spec"]["paused"] is True


@pytest.mark.parametrize(
    "kustomization",
    [
        {"resources": ["app.yaml"], "commonLabels": {"a": "b"}},
        {"resources": ["app.yaml"], "namePrefix": "x-"},
        {"resources": ["app.yaml"], "configMapGenerator": [{"name": "c"}]},
        {"resources": ["app.yaml"], "labels": [{"pairs": {"a": "b"}, "includeSelectors": True}]},
        {"resources": ["app.yaml"], "patches": [{"path": "p.yaml", "target": {"kind": "X"}}]},
    ],
)
def test_features_outside_the_subset_are_refused(tmp_path: Path, kustomization: Any) -> None:
    write(tmp_path, {"kustomization.yaml": kustomization, "app.yaml": DEPLOYMENT})
    (tmp_path / "p.yaml").write_text("kind: Deployment\nmetadata: {name: web}\n")
    with pytest.raises(kustomize.Unsupported):
        kustomize.build(tmp_path)


@pytest.mark.parametrize("api_version", ["apps/v1beta1", None])
def test_a_patch_that_matches_nothing_is_an_error(tmp_path: Path, api_version: str | None) -> None:
    """Another name, or the right name with another (or no) apiVersion, as kustomize does."""
    write(
        tmp_path,
        {
            "kustomization.yaml": {"resources": ["app.yaml"], "patches": [{"path": "p.yaml"}]},
            "app.yaml": DEPLOYMENT,
            "p.yaml": {
                "apiVersion": api_version,
                "kind": "Deployment",
                "metadata": {"name": "web"},
            },
        },
    )
    with pytest.raises(ValueError, match="matches 0 objects"):
        kustomize.build(tmp_path)


def test_a_patch_for_another_name_is_an_error(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "kustomization.yaml": {"resources": ["app.yaml"], "patches": [{"path": "p.yaml"}]},
            "app.yaml": DEPLOYMENT,
            "p.yaml": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "other"},
                "spec": {},
            },
        },
    )
    with pytest.raises(ValueError, match="matches 0 objects"):
        kustomize.build(tmp_path)


@pytest.mark.parametrize(
    ("image", "parts"),
    [
        ("nginx", ("nginx", None, None)),
        ("nginx:1.27", ("nginx", "1.27", None)),
        ("localhost:5000/team/app:v1", ("localhost:5000/team/app", "v1", None)),
        ("localhost:5000/app@sha256:abc", ("localhost:5000/app", None, "sha256:abc")),
        ("app:v1@sha256:abc", ("app", "v1", "sha256:abc")),
    ],
)
def test_split_image(image: str, parts: tuple[str, str | None, str | None]) -> None:
    assert kustomize.split_image(image) == parts
