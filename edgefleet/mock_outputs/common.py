"""Shared shapes and helpers for per-vendor mock outputs.

A ``ResourceMock`` gets the engine's ``MockResourceArgs`` and returns ``(id, state)``: the state is
what the provider would report (inputs plus computed outputs such as ids, ARNs, endpoints and
certificate data), derived from the type and name only so plans are deterministic. A ``CallMock``
answers a provider function (an invoke) the program makes.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Callable
from typing import Any

from pulumi.runtime import MockCallArgs, MockResourceArgs

ResourceMock = Callable[[MockResourceArgs], tuple[str, dict[str, Any]]]
CallMock = Callable[[MockCallArgs], dict[str, Any]]

_NAMESPACE = uuid.UUID("6f1c3a52-61f5-4d7e-9a8e-0e5f3d1c2b7a")


def stable_uuid(*parts: str) -> str:
    """A UUID that depends only on ``parts``."""
    return str(uuid.uuid5(_NAMESPACE, "\x1f".join(parts)))


def stable_hex(length: int, *parts: str) -> str:
    """``length`` hex digits that depend only on ``parts``."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:length]


def documentation_ip(*parts: str) -> str:
    """An address from TEST-NET-3 (RFC 5737), stable per resource."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return f"203.0.113.{1 + digest[0] % 254}"


def fake_ca(*parts: str) -> str:
    """Base64 of a PEM-shaped placeholder certificate (what a cluster's CA output looks like)."""
    body = base64.b64encode(hashlib.sha512("\x1f".join(parts).encode()).digest() * 4).decode()
    pem = "-----BEGIN CERTIFICATE-----\n" + "\n".join(body[i : i + 64] for i in range(0, len(body), 64))
    return base64.b64encode((pem + "\n-----END CERTIFICATE-----\n").encode()).decode()


def echo(args: MockResourceArgs, **outputs: Any) -> tuple[str, dict[str, Any]]:
    """Inputs plus ``outputs``, with a stable id ``<name>-<8 hex>``."""
    state = dict(args.inputs)
    state.update(outputs)
    return f"{args.name}-{stable_hex(8, args.typ, args.name)}", state
