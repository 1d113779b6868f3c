"""The client's models say what the API answers: the same fields, the same required ones,
the same types as the API's OpenAPI document. If they drift, `secmonkey` and the Python
client refuse real answers from the server (a field the API may leave out is required
here) or silently drop what it sends (a field the client never declared).

`secmonkey.client.models` restates `secmonkey.api.schemas` by hand so that the client
installs without the server; this test is what keeps the two equal. The API is the truth.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import BaseModel

from secmonkey.api.app import create_app
from secmonkey.api.settings import Settings
from secmonkey.client import calls
from secmonkey.client import models as client_models
from secmonkey.client.calls import Call

API_PREFIX = "/api/v1"
_CLIENT_REF = "#/$defs/{model}"
_API_REF = "#/components/schemas/"

# Client model -> the API's component schema, where the names differ.
SCHEMA_NAMES = {
    "Account": "AccountView",
    "AllowlistEntry": "AllowlistView",
    "Subscription": "SubscriptionView",
    "ApiKey": "KeyView",
    "CreatedKey": "KeyCreated",
}


def client_models_by_name() -> dict[str, type[BaseModel]]:
    """Every model the `secmonkey.client.models` package defines (its base class aside)."""
    return {
        name: model
        for name, model in vars(client_models).items()
        if inspect.isclass(model)
        and issubclass(model, BaseModel)
        and model.__module__.startswith(client_models.__name__)
        and model is not client_models.Model
    }


CLIENT_MODELS = client_models_by_name()


def api_name(client_name: str) -> str:
    """The API's name for a schema the client refers to (shared models keep their name)."""
    if client_name in CLIENT_MODELS:
        return SCHEMA_NAMES.get(client_name, client_name)
    return client_name


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    """The API's OpenAPI document as `GET /openapi.json` serves it (no server needed: the
    app connects to nothing until its lifespan runs)."""
    settings = Settings(environment="test", console_secret="t" * 32)
    return create_app(settings).openapi()


@pytest.fixture(scope="module")
def components(openapi: dict[str, Any]) -> dict[str, Any]:
    schemas: dict[str, Any] = openapi["components"]["schemas"]
    return schemas


# Comparing JSON schemas ------------------------------------------------------------------


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1].removesuffix("-Output").removesuffix("-Input")


def _unwrap(schema: dict[str, Any]) -> dict[str, Any]:
    """A lone `allOf` (a `$ref` with a description beside it) is the schema it wraps."""
    while "allOf" in schema and len(schema["allOf"]) == 1:
        schema = schema["allOf"][0]
    return schema


def _without_null(schema: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
    """(nullable, the schema without its `null` alternative)."""
    schema = _unwrap(schema)
    options = schema.get("anyOf")
    if options is None:
        return schema.get("type") == "null", schema
    rest = [o for o in options if o.get("type") != "null"]
    nullable = len(rest) < len(options)
    return nullable, (_unwrap(rest[0]) if len(rest) == 1 else {"anyOf": rest})


def _kind(schema: dict[str, Any], client_side: bool) -> str:
    """The JSON-schema type of a schema, with `$ref` targets in the API's names."""
    if "$ref" in schema:
        name = _ref_name(schema["$ref"])
        return f"ref {api_name(name) if client_side else name}"
    if "anyOf" in schema:
        kinds = sorted(_kind(_without_null(o)[1], client_side) for o in schema["anyOf"])
        return f"one of ({', '.join(kinds)})"
    kind = schema.get("type")
    if kind is None:
        return "any"
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        return "map"
    if kind == "string" and "format" in schema:
        return f"string ({schema['format']})"
    return str(kind)


def type_differences(client: dict[str, Any], api: dict[str, Any], where: str) -> Iterator[str]:
    client_nullable, client = _without_null(client)
    api_nullable, api = _without_null(api)
    if client_nullable != api_nullable:
        yield f"{where}: null allowed by the API: {api_nullable}, by the client: {client_nullable}"
    client_kind, api_kind = _kind(client, True), _kind(api, False)
    if client_kind != api_kind:
        yield f"{where}: the API says {api_kind}, the client {client_kind}"
        return
    if api_kind == "array":
        yield from type_differences(client.get("items", {}), api.get("items", {}), f"{where}[]")
    elif api_kind == "map":
        yield from type_differences(
            client["additionalProperties"], api["additionalProperties"], f"{where}{{}}"
        )
    # A client may read a closed set of values as a plain string (a newer server may add
    # one); when it does list them, they are the API's.
    if "enum" in client and sorted(client["enum"]) != sorted(api.get("enum", [])):
        yield f"{where}: the API allows {api.get('enum')}, the client {client['enum']}"


def field_differences(client: dict[str, Any], api: dict[str, Any], name: str) -> Iterator[str]:
    """What differs between two object schemas: field names, required fields, types."""
    client_fields, api_fields = client.get("properties", {}), api.get("properties", {})
    for missing in sorted(api_fields.keys() - client_fields.keys()):
        yield f"{name}.{missing}: sent by the API, unknown to the client"
    for extra in sorted(client_fields.keys() - api_fields.keys()):
        yield f"{name}.{extra}: expected by the client, not in the API"
    client_required, api_required = set(client.get("required", [])), set(api.get("required", []))
    for field in sorted(client_fields.keys() & api_fields.keys()):
        if (field in client_required) != (field in api_required):
            state = "required" if field in api_required else "optional"
            yield f"{name}.{field}: {state} in the API, not in the client"
        yield from type_differences(client_fields[field], api_fields[field], f"{name}.{field}")


def model_differences(
    client_name: str, model: type[BaseModel], components: dict[str, Any]
) -> Iterator[str]:
    """The client model against its API schema, and every model it nests against the API's."""
    schema = model.model_json_schema(by_alias=True, ref_template=_CLIENT_REF)
    nested = {client_name: schema} | schema.pop("$defs", {})
    for name, client_schema in nested.items():
        target = api_name(name)
        if target not in components:
            yield f"{name}: the API has no schema {target!r}"
            continue
        yield from field_differences(client_schema, _unwrap(components[target]), name)


# Tests ---------------------------------------------------------------------------------


def test_every_client_model_names_an_api_schema(components: dict[str, Any]) -> None:
    assert set(SCHEMA_NAMES) <= set(CLIENT_MODELS), "a mapping for a model the client lacks"
    unknown = {name: api_name(name) for name in CLIENT_MODELS if api_name(name) not in components}
    assert not unknown, f"client models without an API schema (add to SCHEMA_NAMES?): {unknown}"


@pytest.mark.parametrize("name", sorted(CLIENT_MODELS))
def test_client_model_has_the_fields_and_types_the_api_documents(
    name: str, components: dict[str, Any]
) -> None:
    differences = list(model_differences(name, CLIENT_MODELS[name], components))
    assert not differences, "\n".join(differences)


# Every call the client makes, with placeholder arguments: its method and path must be an
# operation of the API, and what it parses the answer as must be what that operation returns.
CALLS: dict[str, Call[Any]] = {
    "groups": calls.groups(),
    "resolve": calls.resolve(["sg-1"]),
    "group": calls.group("sg-1"),
    "usage": calls.usage("sg-0abc1234"),
    "revisions": calls.revisions("sg-1"),
    "revision": calls.revision("sg-1", 1),
    "at": calls.at("sg-1", "2026-01-01T00:00:00Z"),
    "diff": calls.diff("sg-1", 1),
    "search_ip": calls.search_ip("192.0.2.1"),
    "search_cidr": calls.search_cidr("192.0.2.0/24"),
    "issues": calls.issues(),
    "issue": calls.issue("i-1"),
    "justify": calls.justify("i-1", "accepted"),
    "unjustify": calls.unjustify("i-1"),
    "report": calls.report(),
    "exposure": calls.exposure(port=22),
    "report_text": calls.report_text("csv"),
    "compliance_frameworks": calls.compliance_frameworks(),
    "compliance": calls.compliance("pci"),
    "export_ocsf": calls.export_ocsf(),
    "events": calls.events(),
    "accounts": calls.accounts(),
    "account": calls.account("111111111111"),
    "create_account": calls.create_account({}),
    "update_account": calls.update_account("111111111111", {}),
    "delete_account": calls.delete_account("111111111111"),
    "subscriptions": calls.subscriptions(),
    "subscription": calls.subscription("s-1"),
    "create_subscription": calls.create_subscription({}),
    "update_subscription": calls.update_subscription("s-1", {}),
    "delete_subscription": calls.delete_subscription("s-1"),
    "test_subscription": calls.test_subscription("s-1"),
    "allowlist": calls.allowlist(),
    "put_allowlist": calls.put_allowlist("office", "203.0.113.0/24"),
    "delete_allowlist": calls.delete_allowlist("office"),
    "audit_log": calls.audit_log(),
    "keys": calls.keys(),
    "create_key": calls.create_key("ci", "viewer"),
    "update_key": calls.update_key("k-1", enabled=False),
    "delete_key": calls.delete_key("k-1"),
    "sweep": calls.sweep(),
    "discover": calls.discover(),
    "discovery": calls.discovery("0" * 32),
    "dead_letters": calls.dead_letters(),
    "dead_letter": calls.dead_letter("auditor.snapshots", "m-1"),
    "replay_dead_letters": calls.replay_dead_letters("auditor.snapshots"),
    "purge_dead_letters": calls.purge_dead_letters("auditor.snapshots", ["m-1"]),
    "scopes": calls.scopes(),
    "put_scope": calls.put_scope("pci", {}),
    "delete_scope": calls.delete_scope("pci"),
    "change_reviews": calls.change_reviews(),
    "change_review": calls.change_review("aws:111111111111:eu-west-1:sg-1:1"),
    "review_change": calls.review_change("aws:111111111111:eu-west-1:sg-1:1", "approve"),
    "review_changes": calls.review_changes(["x"], "approve", "CHG-1"),
    "verify_chain": calls.verify_chain(),
    "export_chain": calls.export_chain(),
    "anchor_chain": calls.anchor_chain(),
    "latest_anchor": calls.latest_anchor(),
    "evidence": calls.evidence("pci"),
}


def call_builders() -> set[str]:
    return {
        name
        for name, function in vars(calls).items()
        if inspect.isfunction(function)
        and function.__module__.startswith(calls.__name__)
        and not name.startswith("_")
    }


def operation_of(openapi: dict[str, Any], call: Call[Any]) -> dict[str, Any] | None:
    for template, operations in openapi["paths"].items():
        pattern = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, API_PREFIX + call.path):
            operation: dict[str, Any] | None = operations.get(call.method.lower())
            return operation
    return None


def test_the_call_table_lists_every_client_call() -> None:
    assert set(CALLS) == call_builders()


@pytest.mark.parametrize("name", sorted(CALLS))
def test_client_call_reads_the_model_its_api_operation_returns(
    name: str, openapi: dict[str, Any]
) -> None:
    call = CALLS[name]
    operation = operation_of(openapi, call)
    assert operation is not None, f"the API has no {call.method} {API_PREFIX}{call.path}"
    if call.answer is None:  # no body (204), or text (the CSV and HTML report)
        return
    answers = [r for status, r in operation["responses"].items() if status.startswith("2")]
    assert len(answers) == 1, answers
    returned = answers[0]["content"]["application/json"]["schema"]
    expected = call.answer.json_schema(by_alias=True, ref_template=_CLIENT_REF)
    expected.pop("$defs", None)
    if "properties" in expected:  # a model is given inline at the top: name it
        expected = {"$ref": _CLIENT_REF.format(model=expected["title"])}
    differences = list(type_differences(expected, returned, name))
    assert not differences, "\n".join(differences)
