"""The offline engine: the real Pulumi program under the SDK's mock engine, every registration captured.

No Pulumi CLI, no credentials, no network. ``run_program`` sets the stack's config (a ``secure:``
value, which cannot be decrypted here, becomes a secret of unknown content), runs the project's
``__main__.py`` inside ``pulumi.runtime.set_mocks`` with a monitor that records each
``RegisterResource`` request as the engine would receive it (wire names, secrets and unknowns
marked), and returns the registrations and the stack's exports.
"""

from __future__ import annotations

import gc
import json
import os
import runpy
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from google.protobuf import struct_pb2
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc
from pulumi.runtime import settings as pulumi_settings
from pulumi.runtime.proto import resource_pb2
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _ensure_event_loop, _sync_await

from edgefleet.components.config.source import FLEET_KEY, PROJECT, StackSource
from edgefleet.components.entry import UNDECRYPTABLE
from edgefleet.mocks import FleetMocks

SECRET = "[secret]"
UNKNOWN = "[unknown]"

_SIG = "4dabf18193072939515e22adb298388d"
_SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
_RESOURCE_SIG = "5cf8f73096256a8f31e491e813e4eb8e"
_ASSET_SIG = "c44067f5952c0a294b673a41bacd8c17"
_ARCHIVE_SIG = "0def7320c3a5731c473e5ecbe6d01bc7"
_UNKNOWN_VALUE = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


@dataclass(frozen=True)
class Registration:
    """One ``RegisterResource`` request, as the engine sees it."""

    urn: str
    type: str
    name: str
    custom: bool
    parent: str | None
    provider: str | None
    dependencies: tuple[str, ...]
    protect: bool
    inputs: Mapping[str, Any]
    source: tuple[str, int] | None = None  # (project-relative file, line) of the constructor call
    # The inputs exactly as on the wire (secret signatures, unknown sentinels): what a policy pack
    # deserializes. Not part of the plan document.
    wire: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)
    additional_secret_outputs: tuple[str, ...] = ()
    ignore_changes: tuple[str, ...] = ()
    # The aliases as sent: (urn) for a whole URN, else (name, type, parent URN or "" for the
    # resource's own parent, no_parent) with "" meaning "the resource's own". Not in the plan.
    aliases: tuple[tuple[str, ...], ...] = field(default=(), compare=False)

    @property
    def provider_urn(self) -> str | None:
        """The provider reference is ``<urn>::<id>``; this is the URN part."""
        return self.provider.rsplit("::", 1)[0] if self.provider else None


@dataclass
class ProgramRun:
    """What one run of the program registered and exported."""

    stack: str
    project: str
    registrations: list[Registration] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    # How many times each component registered its outputs (the contract says: once).
    output_registrations: dict[str, int] = field(default_factory=dict)


def wire_to_plain(value: Any) -> Any:
    """A deserialized protobuf Struct in wire form -> JSON with secrets/unknowns marked."""
    if isinstance(value, dict):
        sig = value.get(_SIG)
        if sig == _SECRET_SIG:
            return SECRET
        if sig == _RESOURCE_SIG:
            return value.get("urn", UNKNOWN)
        if sig in (_ASSET_SIG, _ARCHIVE_SIG):
            return {k: wire_to_plain(v) for k, v in sorted(value.items()) if k != _SIG}
        return {k: wire_to_plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [wire_to_plain(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if value == _UNKNOWN_VALUE:
        return UNKNOWN
    return value


def _from_value(value: struct_pb2.Value, specials: list[bool]) -> Any:
    """One protobuf ``Value`` as ``json_format.MessageToDict`` gives it (numbers stay floats, map
    order kept), in one pass; ``specials`` gets an entry when a signature key or the unknown
    sentinel turns up (the SDK's own deserializer then has something to rehydrate)."""
    kind = value.WhichOneof("kind")
    if kind == "string_value":
        text = value.string_value
        if text == _UNKNOWN_VALUE:
            specials.append(True)
        return text
    if kind == "struct_value":
        return _from_struct(value.struct_value, specials)
    if kind == "list_value":
        return [_from_value(v, specials) for v in value.list_value.values]
    if kind == "number_value":
        return value.number_value
    if kind == "bool_value":
        return value.bool_value
    return None


def _from_struct(struct: struct_pb2.Struct, specials: list[bool]) -> dict[str, Any]:
    out = {key: _from_value(v, specials) for key, v in struct.fields.items()}
    if _SIG in out:
        specials.append(True)
    return out


def _mock_inputs(value: Any) -> Any:
    """What the SDK's ``rpc.deserialize_properties`` makes of a request's plain JSON wire form: a
    deep copy in which a map drops its null members (lists keep theirs)."""
    if isinstance(value, dict):
        return {k: _mock_inputs(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_mock_inputs(v) for v in value]
    return value


_SCALARS = (str, bool, int, float, type(None))


def _is_plain(value: Any) -> bool:
    """JSON-shaped data only: what ``Struct.update`` turns into the same protobuf as the SDK's
    ``serialize_properties`` would (no Outputs, resources, assets, futures, custom mappings)."""
    kind = type(value)
    if kind is dict:
        return all(type(k) is str and _is_plain(v) for k, v in value.items())
    if kind is list:
        return all(_is_plain(v) for v in value)
    return kind in _SCALARS


def _alias(alias: Any) -> tuple[str, ...]:
    """One alias of a ``RegisterResource`` request (``resource_pb2.Alias``) as plain strings."""
    if alias.HasField("urn"):
        return (alias.urn,)
    spec = alias.spec
    parent = spec.parentUrn if spec.HasField("parentUrn") else ""
    return (spec.name, spec.type, parent, "no-parent" if spec.HasField("noParent") and spec.noParent else "")


class CapturingMonitor(pulumi_mocks.MockMonitor):
    """The SDK's mock monitor, recording every registration request before answering it.

    ``RegisterResource`` answers as ``MockMonitor.RegisterResource`` does (same mock call, same
    response), but without its per-request round trips through the SDK's async (de)serializers:
    the request's Struct is read once (the captured wire form, and the mock's inputs from it), and
    a mock's plain JSON state becomes the response's Struct directly. Whatever is not plain JSON
    (secrets, unknowns, resource references, assets, transforms) takes the SDK's own path.
    """

    def __init__(
        self, mocks: pulumi_mocks.Mocks, project_dir: Path, on_register: Callable[[int], None] | None = None
    ) -> None:
        super().__init__(mocks)
        self.project_dir = project_dir
        self.captured: list[Registration] = []
        self._lock = threading.Lock()
        self._on_register = on_register
        self.outputs_registered: Counter[str] = Counter()
        self._relative_paths: dict[str, str] = {}

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        """URNs as the real engine builds them: the parent's whole type chain (the root stack
        excluded) before the type. The SDK's mock keeps only the parent's last type."""
        if parent:
            qualified = parent.split("::")[2]
            if qualified != "pulumi:pulumi:Stack":
                type_ = f"{qualified}${type_}"
        return "urn:pulumi:" + "::".join([pulumi.get_stack(), pulumi.get_project(), type_, name])

    def RegisterResourceOutputs(self, request: Any) -> Any:
        with self._lock:
            self.outputs_registered[request.urn] += 1
        return super().RegisterResourceOutputs(request)  # type: ignore[no-untyped-call]

    def RegisterResource(self, request: Any) -> Any:
        urn = self.make_urn(request.parent, request.type, request.name)
        specials: list[bool] = []
        wire = _from_struct(request.object, specials)
        if request.type == "pulumi:pulumi:Stack" or specials or len(request.transforms):
            response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        else:
            response = self._register(request, urn, _mock_inputs(wire))
        source = None
        if request.HasField("sourcePosition") and request.sourcePosition.uri:
            source = (self._relative(request.sourcePosition.uri), int(request.sourcePosition.line))
        registration = Registration(
            urn=urn,
            type=request.type,
            name=request.name,
            custom=bool(request.custom),
            parent=request.parent or None,
            provider=request.provider or None,
            dependencies=tuple(sorted(set(request.dependencies))),
            protect=bool(request.protect),
            inputs=wire_to_plain(wire),
            source=source,
            wire=wire,
            additional_secret_outputs=tuple(request.additionalSecretOutputs),
            ignore_changes=tuple(request.ignoreChanges),
            aliases=tuple(_alias(a) for a in request.aliases),
        )
        with self._lock:
            self.captured.append(registration)
            count = len(self.captured)
        if self._on_register is not None:
            self._on_register(count)
        return response

    def _register(self, request: Any, urn: str, inputs: dict[str, Any]) -> resource_pb2.RegisterResourceResponse:
        """``MockMonitor.RegisterResource`` for a request of plain JSON inputs (``inputs``: what the
        SDK's ``deserialize_properties`` gives for it) and no transforms."""
        args = pulumi_mocks.MockResourceArgs(
            typ=request.type,
            name=request.name,
            inputs=inputs,
            provider=request.provider,
            resource_id=request.importId,
            custom=request.custom or False,
            transforms=[],
        )
        id_, state = self.mocks.new_resource(args)
        if _is_plain(state):
            # The SDK drops top-level properties that serialize to None, and keeps nested ones.
            obj = struct_pb2.Struct()
            obj.update({k: v for k, v in state.items() if v is not None})
        else:
            _ensure_event_loop()  # type: ignore[no-untyped-call]
            obj = _sync_await(rpc.serialize_properties(state, {}))
        # As the SDK's: a mock may answer no id (None), which the response carries as "".
        self.resources[urn] = pulumi_mocks.MockMonitor.ResourceRegistration(urn, id_, state)  # type: ignore[arg-type]
        return resource_pb2.RegisterResourceResponse(urn=urn, id=id_ or "", object=obj)

    def _relative(self, uri: str) -> str:
        # A handful of source files register every resource: resolve each path once.
        known = self._relative_paths.get(uri)
        if known is None:
            path = Path(uri.removeprefix("file://"))
            try:
                known = path.resolve().relative_to(self.project_dir).as_posix()
            except ValueError:
                known = path.name
            self._relative_paths[uri] = known
        return known


def engine_config(source: StackSource) -> tuple[dict[str, str], list[str]]:
    """The stack's config as the engine hands it to a program: strings, objects as JSON."""
    # A slice stack names a shared fleet file (in `values`), which the program reads itself.
    config = {FLEET_KEY: json.dumps(source.fleet, sort_keys=True)} if source.fleet_file is None else {}
    secret_keys: list[str] = []
    for key, entry in sorted(source.values.items()):
        if entry.secure:
            config[key] = UNDECRYPTABLE
            secret_keys.append(key)
        else:
            value = entry.value
            config[key] = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return config, secret_keys


# The garbage collector's thresholds while a program runs (CPython's defaults: 700, 10, 10). Almost
# everything a Pulumi program allocates lives until it ends (each resource's Outputs, futures and
# tasks), so with the defaults the collector rescans that growing heap over and over without
# freeing much: at 50 clusters x 10 workloads, 10 of 30 seconds went to full collections. Young
# collections every 200,000 allocations (as mypy sets them) make it a fraction of a second; the
# peak memory grows by a few percent (cyclic garbage lives a little longer).
GC_THRESHOLDS = (200_000, 30, 30)


@contextmanager
def _gc_thresholds(thresholds: tuple[int, int, int]) -> Iterator[None]:
    before = gc.get_threshold()
    gc.set_threshold(*thresholds)
    try:
        yield
    finally:
        gc.set_threshold(*before)


@contextmanager
def _program_path(project_dir: Path) -> Iterator[None]:
    added = str(project_dir) not in sys.path
    if added:
        sys.path.insert(0, str(project_dir))
    cwd = Path.cwd()
    os.chdir(project_dir)  # as the Pulumi language host runs a program
    try:
        yield
    finally:
        os.chdir(cwd)
        if added:
            sys.path.remove(str(project_dir))


def _resolve_outputs(stack: Any) -> dict[str, Any]:
    """Await the root stack's exports, marking secrets and unknowns."""

    async def resolve(value: Any) -> Any:
        if isinstance(value, Mapping):
            return {str(k): await resolve(v) for k, v in sorted(value.items())}
        if isinstance(value, (list, tuple)):
            return [await resolve(v) for v in value]
        if not isinstance(value, pulumi.Output):
            return value
        data = await value._data
        if data.is_secret:
            return SECRET
        if not data.is_known:
            return UNKNOWN
        return await resolve(data.value)

    out: dict[str, Any] = {}
    for key in sorted(stack.outputs):
        out[key] = _sync_await(resolve(stack.outputs[key]))
    return out


def run_under_mocks(
    program: Callable[[], object],
    *,
    stack: str,
    project_dir: Path,
    config: Mapping[str, str] | None = None,
    secret_keys: Sequence[str] = (),
    on_register: Callable[[int], None] | None = None,
) -> ProgramRun:
    """Run ``program`` as a Pulumi program of ``stack`` under the mock engine; capture everything."""
    project_dir = project_dir.resolve()
    monitor = CapturingMonitor(FleetMocks(), project_dir, on_register)
    pulumi_settings.reset_options(project=PROJECT, stack=stack, preview=True)
    pulumi.runtime.set_all_config(dict(config or {}), list(secret_keys))
    pulumi_mocks.set_mocks(monitor.mocks, project=PROJECT, stack=stack, preview=True, monitor=monitor)
    pulumi_settings.SETTINGS.rpc_manager.clear()
    pulumi_settings.SETTINGS.outputs.clear()
    try:

        def main() -> None:
            program()

        with _gc_thresholds(GC_THRESHOLDS):
            _sync_await(run_pulumi_func(main))
        run = ProgramRun(stack=stack, project=PROJECT, registrations=list(monitor.captured))
        root = pulumi_settings.get_root_resource()
        run.outputs = _resolve_outputs(root) if root is not None else {}
        run.output_registrations = dict(monitor.outputs_registered)
        return run
    finally:
        pulumi.runtime.set_all_config({}, [])
        pulumi_settings.reset_options()


def run_program(
    project_dir: Path, source: StackSource, *, on_register: Callable[[int], None] | None = None
) -> ProgramRun:
    """Run ``project_dir/__main__.py`` for ``source``'s stack under mocks; raise what it raises."""
    project_dir = project_dir.resolve()
    config, secret_keys = engine_config(source)
    program = project_dir / "__main__.py"

    def main() -> None:
        with _program_path(project_dir):
            runpy.run_path(str(program), run_name="__main__")

    return run_under_mocks(
        main,
        stack=source.stack,
        project_dir=project_dir,
        config=config,
        secret_keys=secret_keys,
        on_register=on_register,
    )
