"""deploy/docker/Dockerfile and .dockerignore, checked without a Docker engine.

No image is built here (this machine has no Docker): these tests read the Dockerfile the way
BuildKit resolves it (stages, inherited USER/HEALTHCHECK/CMD/ENV) and fail when a target
would run as root, lack its health check, start the wrong module, install another service's
code, or need a file that .dockerignore keeps out of the build context.
"""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

import pytest

from tests.unit.deploy._dockerfile import Stage, parse
from tests.unit.deploy._settings import SERVICES, listen_variables

ROOT = Path(__file__).resolve().parents[3]
DOCKERFILE = ROOT / "deploy" / "docker" / "Dockerfile"
IMAGE_UID = 10001
HTTP_PORT = "8000"


@pytest.fixture(scope="module")
def stages() -> dict[str, Stage]:
    return parse(DOCKERFILE)


def workspace_members() -> dict[str, Path]:
    """Workspace package name -> member directory, from the root pyproject."""
    root = tomllib.loads((ROOT / "pyproject.toml").read_text())
    members: dict[str, Path] = {}
    for pattern in root["tool"]["uv"]["workspace"]["members"]:
        for directory in sorted(ROOT.glob(pattern)):
            manifest = directory / "pyproject.toml"
            if manifest.is_file():
                members[tomllib.loads(manifest.read_text())["project"]["name"]] = directory
    return members


def workspace_closure(package: str, members: dict[str, Path]) -> set[str]:
    """`package` and the workspace members it depends on, transitively."""
    seen: set[str] = set()
    todo = [package]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        project = tomllib.loads((members[name] / "pyproject.toml").read_text())["project"]
        for requirement in project.get("dependencies", []):
            dependency = re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0]
            if dependency in members:
                todo.append(dependency)
    return seen


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_has_a_target_that_starts_its_module(
    stages: dict[str, Stage], service: str
) -> None:
    target = stages.get(service)
    assert target is not None, f"`docker build --target {service}` would fail: no such stage"
    assert target.cmd == ["python", "-m", f"secmonkey.{service}"]
    assert target.root_image.startswith("python:3.11-slim"), target.root_image


@pytest.mark.parametrize("service", SERVICES)
def test_each_target_runs_as_a_fixed_non_root_user(stages: dict[str, Stage], service: str) -> None:
    user = stages[service].user
    assert user is not None, f"{service} would run as root: no USER in its stage chain"
    uid = user.split(":")[0]
    assert uid.isdigit(), f"USER {user}: Kubernetes' runAsNonRoot can only verify a numeric UID"
    assert int(uid) == IMAGE_UID != 0


@pytest.mark.parametrize("service", SERVICES)
def test_each_target_checks_its_own_healthz(stages: dict[str, Stage], service: str) -> None:
    target = stages[service]
    check = target.healthcheck
    assert check is not None and not check.args.strip().upper().startswith("NONE")
    assert "/healthz" in check.args
    command = check.args.split("CMD", 1)[1]
    # The port the check asks is the one the service listens on.
    assert "SECMONKEY_PORT" in command and target.env["SECMONKEY_PORT"] == HTTP_PORT
    assert HTTP_PORT in target.exposed


@pytest.mark.parametrize("service", SERVICES)
def test_each_target_listens_on_all_interfaces_port_8000(
    stages: dict[str, Stage], service: str
) -> None:
    """Containers are reached on their pod/container IP: 127.0.0.1 would answer no probe."""
    env = stages[service].env
    pairs = listen_variables(service)
    assert pairs, f"{service} reads no listen address setting"
    for host, port in pairs:
        assert env.get(host) == "0.0.0.0", f"{host} is not 0.0.0.0 in the {service} image"
        assert env.get(port) == HTTP_PORT, f"{port} is not {HTTP_PORT} in the {service} image"


@pytest.mark.parametrize("service", SERVICES)
def test_each_target_installs_only_its_member_with_uv_sync(
    stages: dict[str, Stage], service: str
) -> None:
    members = workspace_members()
    package = f"secmonkey-{service}"
    target = stages[service]
    venv_sources = [src for src, _, dest in target.copies() if dest == "/app/.venv"]
    assert len(venv_sources) == 1 and venv_sources[0] in stages, target.copies()
    build = stages[venv_sources[0]]
    runs = " ".join(i.args for i in build.own("RUN"))
    assert f"uv sync --frozen --package {package} --no-dev" in runs
    assert "--no-editable" in runs, "an editable install would need the source tree at run time"

    copied = {path for src, paths, _ in build.copies() if src is None for path in paths}
    needed = {
        str((members[name] / "src").relative_to(ROOT))
        for name in workspace_closure(package, members)
    }
    assert copied == needed, f"{service} image copies {sorted(copied)}, needs {sorted(needed)}"
    # Nothing but the venv reaches the runtime image: no uv, no sources.
    chain, stage = [], target
    while stage is not None:
        chain.append(stage)
        stage = stage.parent
    runtime_copies = [c for s in chain for c in s.copies()]
    assert all(dest == "/app/.venv" for _, _, dest in runtime_copies), runtime_copies


def test_build_stage_sees_every_workspace_manifest(stages: dict[str, Stage]) -> None:
    """`uv sync --frozen` reads the whole workspace: a member missing here breaks every image."""
    build = stages["build"]
    copied = {path for src, paths, _ in build.copies() if src is None for path in paths}
    expected = {"pyproject.toml", "uv.lock"} | {
        str((directory / "pyproject.toml").relative_to(ROOT))
        for directory in workspace_members().values()
    }
    assert copied == expected


def test_builder_and_runtime_share_the_interpreter(stages: dict[str, Stage]) -> None:
    """The venv's python is a symlink to the build image's interpreter: same image, same path."""
    assert stages["build"].root_image == stages["runtime"].root_image
    assert stages["build"].env["UV_PYTHON"] == "/usr/local/bin/python3.11"
    assert stages["build"].env["UV_PYTHON_DOWNLOADS"] == "never"


# --- .dockerignore ------------------------------------------------------------------------------


def _pattern(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern (Go filepath.Match plus `**`) as a regex on slash paths."""
    regex = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            regex += "(?:.*/)?"
            i += 3
        elif pattern.startswith("**", i):
            regex += ".*"
            i += 2
        elif pattern[i] == "*":
            regex += "[^/]*"
            i += 1
        elif pattern[i] == "?":
            regex += "[^/]"
            i += 1
        elif pattern[i] == "[":
            end = pattern.index("]", i)
            regex += pattern[i : end + 1]
            i = end + 1
        else:
            regex += re.escape(pattern[i])
            i += 1
    return re.compile(regex + "$")


def in_context(path: str, rules: list[tuple[bool, re.Pattern[str]]]) -> bool:
    """Whether Docker sends `path`: the last rule matching it or one of its parents wins."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    included = True
    for negated, regex in rules:
        if any(regex.match(prefix) for prefix in prefixes):
            included = negated
    return included


@pytest.fixture(scope="module")
def ignore_rules() -> list[tuple[bool, re.Pattern[str]]]:
    rules = []
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        rules.append((negated, _pattern(line.lstrip("!").strip("/"))))
    return rules


def tracked_files() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return [line for line in listed.stdout.splitlines() if (ROOT / line).is_file()]


def test_dockerignore_sends_every_file_the_images_copy(
    stages: dict[str, Stage], ignore_rules: list[tuple[bool, re.Pattern[str]]]
) -> None:
    sources = {
        path
        for stage in stages.values()
        for src, paths, _ in stage.copies()
        if src is None
        for path in paths
    }
    files = tracked_files()
    for source in sorted(sources):
        under = [f for f in files if f == source or f.startswith(source + "/")]
        assert under, f"COPY {source}: nothing in the repository"
        left_out = [f for f in under if not in_context(f, ignore_rules)]
        assert not left_out, f"COPY {source}: .dockerignore leaves out {left_out[:5]}"


def test_dockerignore_keeps_the_context_small(
    ignore_rules: list[tuple[bool, re.Pattern[str]]],
) -> None:
    for path in [
        ".git/HEAD",
        ".venv/bin/python",
        ".local/ferretdb/state.sqlite",
        "tests/conftest.py",
        "bench/auditor/run.py",
        "run-data/mail/1.eml",
        "services/api/src/secmonkey/api/__pycache__/app.cpython-311.pyc",
        "deploy/k8s/base/kustomization.yaml",
    ]:
        assert not in_context(path, ignore_rules), f"{path} would be sent to the Docker daemon"
    assert in_context("services/api/src/secmonkey/api/app.py", ignore_rules)
    assert in_context("uv.lock", ignore_rules)
