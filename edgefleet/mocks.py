"""Realistic mock outputs per resource type, for the offline engine and the tests.

The engine returns what a provider would: ids, generated metadata, statuses, endpoints. Outputs
are derived from the URN-like (type, name) pair only, so the same config gives the same plan.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from typing import Any

from pulumi.runtime import MockCallArgs, MockResourceArgs, Mocks

from edgefleet.mock_outputs import CALLS, RESOURCES

RANDOM_BYTES = "random:index/randomBytes:RandomBytes"  # the WAN probes' key (components/netcheck.py)
_NAMESPACE = uuid.UUID("6f1c3a52-61f5-4d7e-9a8e-0e5f3d1c2b7a")


def stable_uuid(*parts: str) -> str:
    """A UUID that depends only on ``parts``."""
    return str(uuid.uuid5(_NAMESPACE, "\x1f".join(parts)))


def _documentation_ip(*parts: str) -> str:
    """An address from TEST-NET-3 (RFC 5737), stable per resource."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return f"203.0.113.{1 + digest[0] % 254}"


# The Kubernetes kinds whose desired ``spec`` the mock answers back among the outputs. A real
# preview echoes every input, but offline nothing reads an object's spec back as an output (the plan,
# the manifests and the policy pack read the registered inputs), while the SDK rebuilds the typed
# output tree of every property answered: echoing each Deployment's pod template, PDB and
# NetworkPolicy spec cost a fifth of the plan's time at 20 clusters (benchmarks/README.md, "Plan
# scale"). A Service's spec stays: it carries the computed ``clusterIP``.
SPEC_ECHOED_KINDS = frozenset({"Service"})


def _kubernetes(args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
    """Identity, metadata (with the server-set uid, resourceVersion and generation) and status of
    a Kubernetes object, and its other inputs; ``spec`` only for ``SPEC_ECHOED_KINDS``."""
    kind = args.typ.rsplit(":", 1)[-1]
    state: dict[str, Any] = {k: v for k, v in args.inputs.items() if k != "spec" or kind in SPEC_ECHOED_KINDS}
    meta = dict(state.get("metadata") or {})
    state["metadata"] = meta
    name = meta.get("name") or args.name
    meta["name"] = name
    namespace = meta.get("namespace")
    meta.setdefault("uid", stable_uuid(args.typ, args.name))
    meta.setdefault("resourceVersion", "1")
    meta.setdefault("generation", 1)
    spec = dict(args.inputs.get("spec") or {})
    if kind == "Deployment":
        replicas = spec.get("replicas", 1)
        state["status"] = {
            "replicas": replicas,
            "readyReplicas": replicas,
            "availableReplicas": replicas,
            "updatedReplicas": replicas,
            "observedGeneration": 1,
        }
    elif kind == "Service":
        spec.setdefault("clusterIP", "10.43.0." + str(1 + int(stable_uuid(args.name)[:2], 16) % 250))
        state["spec"] = spec
        if spec.get("type") == "LoadBalancer":
            state["status"] = {"loadBalancer": {"ingress": [{"ip": _documentation_ip(args.typ, args.name)}]}}
        else:
            state["status"] = {"loadBalancer": {}}
    elif kind == "Namespace":
        state["status"] = {"phase": "Active"}
    elif kind == "PodDisruptionBudget":
        state["status"] = {"currentHealthy": 0, "desiredHealthy": 0, "disruptionsAllowed": 0, "expectedPods": 0}
    return (f"{namespace}/{name}" if namespace else str(name)), state


class FleetMocks(Mocks):
    """Mocks keyed by type token. Unknown types echo their inputs with a stable id."""

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict[Any, Any]]:
        if args.typ.startswith("pulumi:providers:"):
            return stable_uuid(args.typ, args.name), dict(args.inputs)
        if args.typ.startswith("kubernetes:"):
            return _kubernetes(args)
        if args.typ == RANDOM_BYTES:
            # A stand-in for the bytes made at create (secret outputs: the plan shows "[secret]").
            made = hashlib.sha256(f"{args.name}\x1fnot-a-key".encode()).digest()[: int(args.inputs["length"])]
            state = {**args.inputs, "hex": made.hex(), "base64": base64.b64encode(made).decode()}
            return stable_uuid(args.typ, args.name)[:16], state
        vendor = RESOURCES.get(args.typ)
        if vendor is not None:
            return vendor(args)
        return f"{args.name}-{stable_uuid(args.typ, args.name)[:8]}", dict(args.inputs)

    def call(self, args: MockCallArgs) -> tuple[dict[Any, Any], list[tuple[str, str]] | None]:
        answer = CALLS.get(args.token)
        if answer is None:
            raise NotImplementedError(f"no mock for function {args.token}; add one to edgefleet/mock_outputs/")
        return answer(args), []
