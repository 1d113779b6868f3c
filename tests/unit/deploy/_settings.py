"""The `SECMONKEY_*` variables the services actually read, from their Settings classes."""

from __future__ import annotations

import importlib

from secmonkey.common.settings import CommonSettings

SERVICES = ("collector", "auditor", "notifier", "api")


def settings_classes() -> dict[str, type[CommonSettings]]:
    """CommonSettings and every service's `Settings` that exists in the tree."""
    classes: dict[str, type[CommonSettings]] = {"common": CommonSettings}
    for service in SERVICES:
        name = f"secmonkey.{service}.settings"
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        classes[service] = module.Settings
    return classes


def env_names(cls: type[CommonSettings]) -> set[str]:
    prefix = str(cls.model_config.get("env_prefix", ""))
    return {f"{prefix}{name}".upper() for name in cls.model_fields}


def known_variables() -> set[str]:
    """Every SECMONKEY_* variable some service reads."""
    return set().union(*(env_names(cls) for cls in settings_classes().values()))


def listen_variables(service: str) -> list[tuple[str, str]]:
    """Every (host, port) variable pair a service's Settings reads: the shared SECMONKEY_HOST
    and SECMONKEY_PORT, and SECMONKEY_<SERVICE>_HOST/_PORT where a service has its own."""
    cls = settings_classes().get(service, CommonSettings)
    fields = set(cls.model_fields)
    return [
        (f"SECMONKEY_{host.upper()}", f"SECMONKEY_{port.upper()}")
        for host, port in (("host", "port"), (f"{service}_host", f"{service}_port"))
        if host in fields and port in fields
    ]
