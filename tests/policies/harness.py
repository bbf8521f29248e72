"""Build rule arguments exactly as the engine does: wire-form props (camelCase, numbers as floats,
secrets and unknowns as on the wire), deserialized by ``pulumi_policy`` and wrapped in
``unknown_checking_proxy``. Tests start from a passing ("happy") input and change one field."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from typing import Any

from pulumi_policy import (
    Policy,
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    StackValidationArgs,
)
from pulumi_policy.deserialize import deserialize_properties
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, unknown_checking_proxy

UNKNOWN = UNKNOWN_STRING_VALUE  # what the engine sends for a value not known at preview
SECRET_SIG = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270"}


def secret(value: Any) -> dict[str, Any]:
    """A secret value as it travels on the wire."""
    return {**SECRET_SIG, "value": value}


def wire(props: Mapping[str, Any]) -> dict[str, Any]:
    """Numbers become floats, as protobuf Struct carries them."""

    def convert(value: Any) -> Any:
        if isinstance(value, bool) or value is None:
            return value
        if isinstance(value, int):
            return float(value)
        if isinstance(value, Mapping):
            return {k: convert(v) for k, v in value.items()}
        if isinstance(value, list):
            return [convert(v) for v in value]
        return value

    return convert(json.loads(json.dumps(props)))


def proxied(props: Mapping[str, Any]) -> Any:
    return unknown_checking_proxy(deserialize_properties(wire(props)))


def options(*, additional_secret_outputs: Sequence[str] = (), parent: str | None = None) -> PolicyResourceOptions:
    return PolicyResourceOptions(
        False, [], None, [], PolicyCustomTimeouts(0, 0, 0), list(additional_secret_outputs), parent
    )


def resource_args(
    resource_type: str,
    props: Mapping[str, Any],
    *,
    name: str = "test",
    opts: PolicyResourceOptions | None = None,
) -> ResourceValidationArgs:
    urn = f"urn:pulumi:test::edgefleet::{resource_type}::{name}"
    return ResourceValidationArgs(resource_type, proxied(props), urn, name, opts or options(), None, {})


def violations(policy: Policy, args: ResourceValidationArgs | StackValidationArgs) -> list[str]:
    """The messages a rule reports (stack rules: "message @ urn-name")."""
    found: list[str] = []

    def report(message: str, urn: str | None = None) -> None:
        found.append(message if urn is None else f"{message} @ {urn.rsplit('::', 1)[-1]}")

    policy.validate(args, report)  # type: ignore[attr-defined]
    return found


def changed(props: Mapping[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of ``props`` with the dotted ``path`` set to ``value`` (``None`` deletes it)."""
    out = copy.deepcopy(dict(props))
    node: Any = out
    parts = path.split(".")
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    last = parts[-1]
    if isinstance(node, list):
        node[int(last)] = value
    elif value is None:
        node.pop(last, None)
    else:
        node[last] = value
    return out


class Stack:
    """A small stack of PolicyResources for stack rules, linked like the engine links them."""

    def __init__(self) -> None:
        self.resources: dict[str, PolicyResource] = {}

    def add(
        self,
        resource_type: str,
        name: str,
        props: Mapping[str, Any],
        *,
        parent: str | None = None,
        provider: str | None = None,
    ) -> str:
        urn = f"urn:pulumi:test::edgefleet::{resource_type}::{name}"
        prov = None
        if provider is not None:
            p = self.resources[provider]
            prov = PolicyProviderResource(p.resource_type, p.props, p.urn, p.name)
        resource = PolicyResource(resource_type, proxied(props), urn, name, options(parent=parent), prov, None, [], {})
        resource.parent = self.resources.get(parent) if parent else None
        self.resources[urn] = resource
        return urn

    def args(self) -> StackValidationArgs:
        return StackValidationArgs(list(self.resources.values()), {})
