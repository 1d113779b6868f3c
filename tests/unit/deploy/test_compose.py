"""docker-compose.yml and deploy/docker/demo.env, checked without Docker: what `docker compose
up` would trip over (a dependency on a missing or never-healthy service, a build target the
Dockerfile lacks, a variable without a default, a setting no service reads)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from secmonkey.collector.simulate.__main__ import _parser as simulate_parser
from tests.unit.deploy._dockerfile import Stage, parse
from tests.unit.deploy._settings import SERVICES, known_variables, settings_classes

ROOT = Path(__file__).resolve().parents[3]
COMPOSE = ROOT / "docker-compose.yml"
DEMO_ENV = ROOT / "deploy" / "docker" / "demo.env"
INFRA = ("mongodb", "rabbitmq")
JOBS = ("provision",)
# What only one service may hold (least privilege): its own credentials.
OWN_SECRETS = {
    "collector": {
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "SECMONKEY_ENCRYPTION_KEYS",
    },
    "auditor": set(),
    "notifier": {"SECMONKEY_SMTP_USERNAME", "SECMONKEY_SMTP_PASSWORD", "SECMONKEY_ENCRYPTION_KEYS"},
    "api": {
        "SECMONKEY_BOOTSTRAP_ADMIN_KEY",
        "SECMONKEY_ENCRYPTION_KEYS",
        "SECMONKEY_CONSOLE_SECRET",
    },
}
DEMO = ("moto", "simulate", "mailpit")
IMAGE_UID = 10001
CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    result: dict[str, dict[str, Any]] = compose["services"]
    return result


@pytest.fixture(scope="module")
def stages() -> dict[str, Stage]:
    return parse(ROOT / "deploy" / "docker" / "Dockerfile")


def demo_env() -> dict[str, str]:
    values = {}
    for line in DEMO_ENV.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def depends_on(service: dict[str, Any]) -> dict[str, dict[str, Any]]:
    raw = service.get("depends_on", {})
    if isinstance(raw, list):  # short syntax
        return {name: {"condition": "service_started"} for name in raw}
    result: dict[str, dict[str, Any]] = raw
    return result


def has_healthcheck(service: dict[str, Any], stages: dict[str, Stage]) -> bool:
    check = service.get("healthcheck")
    if check is not None:
        return not check.get("disable", False) and bool(check.get("test"))
    target = (service.get("build") or {}).get("target")
    return target is not None and stages[target].healthcheck is not None


def test_the_stack_has_infrastructure_services_and_a_demo(
    services: dict[str, dict[str, Any]],
) -> None:
    assert set(services) == {*INFRA, *SERVICES, *DEMO, *JOBS}
    assert services["mongodb"]["image"].startswith("mongo:7")
    assert services["rabbitmq"]["image"].startswith("rabbitmq:")
    assert services["moto"]["image"].startswith("motoserver/moto:")
    assert services["mailpit"]["image"].startswith("axllent/mailpit:")
    for name, service in services.items():
        expected = ["demo"] if name in DEMO else None
        assert service.get("profiles") == expected, f"{name}: profiles {service.get('profiles')}"


def test_every_dependency_exists_and_can_satisfy_its_condition(
    services: dict[str, dict[str, Any]], stages: dict[str, Stage]
) -> None:
    for name, service in services.items():
        for dependency, spec in depends_on(service).items():
            where = f"{name} -> {dependency}"
            assert dependency in services, f"{where}: no such service"
            assert spec["condition"] in CONDITIONS, f"{where}: {spec['condition']}"
            other = services[dependency]
            if spec["condition"] == "service_healthy":
                assert has_healthcheck(other, stages), f"{where}: it never becomes healthy"
            if spec["condition"] == "service_completed_successfully":
                assert other.get("restart", "no") == "no", f"{where}: a restarted job never ends"
            # A service outside the demo profile may wait for a demo service only optionally,
            # or `docker compose up` without the profile refuses to start.
            if other.get("profiles") and not service.get("profiles"):
                assert spec.get("required") is False, f"{where}: needs `required: false`"


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_builds_its_target_and_waits_for_healthy_infrastructure(
    services: dict[str, dict[str, Any]], stages: dict[str, Stage], service: str
) -> None:
    spec = services[service]
    build = spec["build"]
    assert (ROOT / build["context"]).resolve() == ROOT, "images build from the repository root"
    assert (ROOT / build["dockerfile"]).resolve() == ROOT / "deploy/docker/Dockerfile"
    assert build["target"] == service and service in stages
    assert spec["image"] == f"secmonkey/{service}:dev"
    for infra in INFRA:
        assert depends_on(spec)[infra]["condition"] == "service_healthy"
    assert depends_on(spec)["provision"]["condition"] == "service_completed_successfully"
    assert has_healthcheck(spec, stages)


def test_services_share_one_environment_anchor(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    anchor = compose["x-secmonkey-env"]
    for service in SERVICES:
        # The anchor's settings, merged (YAML `<<`), plus the service's own credentials.
        env = services[service]["environment"]
        assert {k: env[k] for k in anchor} == anchor, service
        own = set(env) - set(anchor)
        assert own == {"SECMONKEY_AMQP_URL"} | OWN_SECRETS[service], service
    simulate = services["simulate"]["environment"]
    assert anchor.keys() <= simulate.keys()
    assert {k for k in anchor if simulate[k] != anchor[k]} == set()
    assert anchor["SECMONKEY_MONGO_URL"].endswith("mongodb://mongodb:27017/}")
    assert anchor["SECMONKEY_DECLARE_AT_START"] == "false"


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_signs_in_to_rabbitmq_as_its_own_user_made_by_provision(
    services: dict[str, dict[str, Any]], service: str
) -> None:
    url = services[service]["environment"]["SECMONKEY_AMQP_URL"]
    assert url.startswith(f"amqp://secmonkey-{service}:") and url.endswith("@rabbitmq:5672/")
    job = services["provision"]["environment"]
    assert job[f"SECMONKEY_PROVISION_{service.upper()}_AMQP_URL"] == url
    assert "SECMONKEY_PROVISION_AMQP_URL" not in services[service]["environment"]


def test_the_provision_job_is_a_one_shot_with_settings_it_reads(
    services: dict[str, dict[str, Any]],
) -> None:
    from secmonkey.common.provision import ProvisionSettings

    job = services["provision"]
    assert job["command"] == ["python", "-m", "secmonkey.common.provision"]
    assert job["restart"] == "no" and job["healthcheck"] == {"disable": True}
    fields = {f"SECMONKEY_PROVISION_{f.upper()}" for f in ProvisionSettings.model_fields}
    assert set(job["environment"]) <= fields
    assert job["environment"]["SECMONKEY_PROVISION_RABBITMQ_USERS"] == "management"


def test_every_secmonkey_variable_is_a_setting_some_service_reads(
    compose: dict[str, Any],
) -> None:
    known = known_variables()
    names = {k for k in compose["x-secmonkey-env"] if k.startswith("SECMONKEY_")}
    names |= {k for k in demo_env() if k.startswith("SECMONKEY_")}
    unknown = names - known
    assert not unknown, f"no service reads {sorted(unknown)}: a typo or a removed setting"


def test_every_interpolated_variable_has_a_default() -> None:
    """`docker compose up` warns about (and blanks) unset variables without a default."""
    for match in re.finditer(r"\$\{([^}]*)\}", COMPOSE.read_text()):
        body = match.group(1)
        assert re.fullmatch(r"\w+:?-.*", body), f"${{{body}}} has no default"


def test_only_loopback_ports_are_published_and_the_api_on_8000(
    services: dict[str, dict[str, Any]],
) -> None:
    for name, service in services.items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"
    assert "127.0.0.1:8000:8000" in services["api"]["ports"]


def test_demo_simulates_an_estate_on_the_moto_server_the_collector_reads(
    services: dict[str, dict[str, Any]],
) -> None:
    simulate = services["simulate"]
    command = simulate["command"]
    assert command[:3] == ["python", "-m", "secmonkey.collector.simulate"]
    # The simulator's own parser accepts the job's arguments.
    args = simulate_parser().parse_args(command[3:])
    assert args.command == "fill"
    assert args.accounts >= 2 and args.groups >= 1 and len(args.regions) >= 2
    assert simulate["build"]["target"] == "collector"
    assert simulate["healthcheck"] == {"disable": True}
    assert depends_on(simulate)["moto"]["condition"] == "service_healthy"

    assert args.endpoint_url == "http://moto:5000"
    assert any(str(p).endswith(":5000") for p in services["moto"]["ports"])
    assert depends_on(services["collector"])["simulate"] == {
        "condition": "service_completed_successfully",
        "required": False,
    }
    env = demo_env()
    assert env["COMPOSE_PROFILES"] == "demo"
    assert env["SECMONKEY_AWS_ENDPOINT_URL"] == args.endpoint_url

    # The accounts file the job writes is the one the collector reads, on a shared volume.
    accounts_file = Path(env["SECMONKEY_ACCOUNTS_FILE"])
    assert args.accounts_file == accounts_file

    def volume_for(service: str) -> tuple[str, str]:
        for mount in services[service]["volumes"]:
            volume, target, *mode = str(mount).split(":")
            if accounts_file.is_relative_to(target):
                return volume, (mode or ["rw"])[0]
        raise AssertionError(f"{service} does not mount {accounts_file.parent}")

    assert volume_for("simulate") == ("demo-data", "rw")
    assert volume_for("collector") == ("demo-data", "ro")
    # A fresh named volume takes the ownership of the image's directory: the non-root
    # job can write there only because the image creates it for its user.
    runtime = parse(ROOT / "deploy" / "docker" / "Dockerfile")["runtime"]
    assert any(
        f"install -d -o {IMAGE_UID} -g {IMAGE_UID}" in run.args
        and str(accounts_file.parent) in run.args
        for run in runtime.own("RUN")
    )


def test_demo_mail_goes_to_mailpit(services: dict[str, dict[str, Any]]) -> None:
    env = demo_env()
    assert env["SECMONKEY_SMTP_HOST"] == "mailpit"
    assert env["SECMONKEY_SMTP_PORT"] == "1025"  # Mailpit's SMTP port
    assert env["SECMONKEY_SMTP_SECURITY"] == "none"
    assert "127.0.0.1:8025:8025" in services["mailpit"]["ports"]  # its web UI


def test_demo_settings_are_accepted_by_every_service(monkeypatch: pytest.MonkeyPatch) -> None:
    """The demo env (over the anchor's defaults) parses with each service's Settings."""
    for key in [k for k in os.environ if k.startswith("SECMONKEY_")]:
        monkeypatch.delenv(key)
    for key, value in demo_env().items():
        if key.startswith("SECMONKEY_"):
            monkeypatch.setenv(key, value)
    for name, cls in settings_classes().items():
        settings = cls()
        assert settings.environment == "development", name
