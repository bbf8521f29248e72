"""Property tests of the fleet config parser: random edits of the valid example never crash it.

Starting from ``stacks/Pulumi.dev.yaml`` (as the plain data Pulumi hands a program), hypothesis
applies random edits at random paths: delete a key or item, replace a value with one of another
type, insert an unknown key (or a near-miss of a known one), replace a string with garbage,
duplicate a list item, set numbers negative or huge, move a value from elsewhere in the config.
``parse_fleet`` must return a ``FleetSpec`` or raise ``ConfigError`` whose every issue has a
``fleet...`` path and a one-line message; any other exception is a bug.
"""

from __future__ import annotations

import copy
import io
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from edgefleet.components.config import (
    ConfigError,
    FleetSpec,
    StackFileError,
    load_stack,
    parse_fleet,
    parse_stack_text,
    split_evenly,
)
from edgefleet.components.placement.cities import known_countries

DEV = Path(__file__).resolve().parent.parent / "stacks" / "Pulumi.dev.yaml"
SOURCE = parse_stack_text(DEV.read_text(encoding="utf-8"), "stacks/Pulumi.dev.yaml", "dev")
BASE: dict[str, Any] = SOURCE.fleet
KEYS: frozenset[str] = frozenset(SOURCE.values)

PathT = tuple[str | int, ...]
LINE_BREAKS = ("\n", "\r")

SETTINGS = settings(
    max_examples=250,
    deadline=None,  # the first city lookup builds an index (~3 s)
    database=None,  # no .hypothesis/ directory in the checkout
    suppress_health_check=[HealthCheck.too_slow],
)


@pytest.fixture(scope="module", autouse=True)
def _city_index() -> None:
    """Build the world-cities index once, before any timed example."""
    assert "DE" in known_countries()


# --- data helpers ---------------------------------------------------------------------------------


def _paths(node: Any, prefix: PathT = ()) -> list[PathT]:
    """Every path in ``node``, the root ``()`` first."""
    out = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            out += _paths(value, (*prefix, index))
    return out


def _get(node: Any, path: PathT) -> Any:
    for part in path:
        node = node[part]
    return node


def _set(root: Any, path: PathT, value: Any) -> Any:
    if not path:
        return value
    _get(root, path[:-1])[path[-1]] = value
    return root


def _delete(root: Any, path: PathT) -> Any:
    if not path:
        return {}
    parent = _get(root, path[:-1])
    if isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent.pop(path[-1])
    return root


def _kind(value: Any) -> str:
    return "bool" if isinstance(value, bool) else type(value).__name__


# --- strategies -----------------------------------------------------------------------------------

# Values close to real ones, so that mutations reach the cross-checks and not only the shapes.
PLAUSIBLE = [
    "existing",
    "aws",
    "gcp",
    "azure",
    "linode",
    "digitalocean",
    "pinned",
    "latency",
    "everywhere",
    "store-berlin-01",
    "store-munich-01",
    "store-hamburg-01",
    "EU",
    "US",
    "APAC",
    "DE",
    "FR",
    "XX",
    "de",
    "Berlin",
    "München",
    "Atlantis",
    "1.33",
    "cilium",
    "calico",
    "flannel",
    "vendor",
    "network-policy",
    "public",
    "internal",
    "ghcr.io/acme/api:latest",
    "ghcr.io/acme/api",
    "10.0.0.0/8",
    "10.0.0.1/8",
    "::/0",
    "storeBerlin01Kubeconfig",
    "edgefleet:storeMunich01Kubeconfig",
    "",
    " ",
    "\n",
    "a\nb",
    "🚀",
    "\x00",
    "-",
    "a" * 300,
]
NUMBERS = [-1, 0, 1, 2, 3, -(2**63), 2**63, 10**30, 65536, 1e308, -1e-308, 0.5, 48.137, math.inf, -math.inf, math.nan]

SCALARS: dict[str, st.SearchStrategy[Any]] = {
    "NoneType": st.none(),
    "bool": st.booleans(),
    "int": st.one_of(st.integers(), st.sampled_from([n for n in NUMBERS if isinstance(n, int)])),
    "float": st.floats(),
    "str": st.one_of(st.text(max_size=40), st.sampled_from(PLAUSIBLE)),
}
ANY_VALUE: st.SearchStrategy[Any] = st.recursive(
    st.one_of(*SCALARS.values()),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.text(max_size=12), inner, max_size=3),
    ),
    max_leaves=8,
)
CONTAINERS: dict[str, st.SearchStrategy[Any]] = {
    "list": st.lists(ANY_VALUE, max_size=3),
    "dict": st.dictionaries(st.text(max_size=12), ANY_VALUE, max_size=3),
}
KINDS = {**SCALARS, **CONTAINERS}
# Keys may hold anything, line breaks included: the error must still be one line.
KEY_TEXT = st.one_of(st.text(min_size=1, max_size=20), st.sampled_from(["a\nb", "x\ry", " ", "a b", "\u2028"]))

Draw = Callable[[st.SearchStrategy[Any]], Any]


def _op_delete(data: Any, path: PathT, draw: Draw) -> Any:
    return _delete(data, path)


def _op_retype(data: Any, path: PathT, draw: Draw) -> Any:
    current = _kind(_get(data, path))
    other = draw(st.sampled_from(sorted(k for k in KINDS if k != current)))
    return _set(data, path, draw(KINDS[other]))


def _op_unknown_key(data: Any, path: PathT, draw: Draw) -> Any:
    mappings = [p for p in _paths(data) if isinstance(_get(data, p), dict)]
    if not mappings:
        return data
    # the nearest mapping at or above `path`, else any mapping
    above = [p for p in mappings if path[: len(p)] == p]
    target = max(above, key=len) if above else draw(st.sampled_from(mappings))
    node = _get(data, target)
    known = sorted(str(k) for k in node)
    if known and draw(st.booleans()):  # a typo of a key that is there: exercises did-you-mean
        key = draw(st.sampled_from(known))
        at = draw(st.integers(0, len(key)))
        key = key[:at] + draw(st.sampled_from(["x", "_", "s", ""])) + key[at + 1 :]
    else:
        key = draw(KEY_TEXT)
    node[key] = draw(ANY_VALUE)
    return data


def _op_garbage_string(data: Any, path: PathT, draw: Draw) -> Any:
    return _set(data, path, draw(st.text(min_size=0, max_size=60)))


def _op_duplicate_item(data: Any, path: PathT, draw: Draw) -> Any:
    lists = [p for p in _paths(data) if isinstance(_get(data, p), list) and _get(data, p)]
    if not lists:
        return data
    above = [p for p in lists if path[: len(p)] == p]
    target = max(above, key=len) if above else draw(st.sampled_from(lists))
    items = _get(data, target)
    items.insert(draw(st.integers(0, len(items))), copy.deepcopy(draw(st.sampled_from(items))))
    return data


def _op_number(data: Any, path: PathT, draw: Draw) -> Any:
    return _set(data, path, draw(st.sampled_from(NUMBERS)))


def _op_transplant(data: Any, path: PathT, draw: Draw) -> Any:
    donor = draw(st.sampled_from(_paths(BASE)))
    return _set(data, path, copy.deepcopy(_get(BASE, donor)))


def _op_plausible(data: Any, path: PathT, draw: Draw) -> Any:
    return _set(data, path, draw(st.sampled_from(PLAUSIBLE)))


OPS = [
    _op_delete,
    _op_retype,
    _op_unknown_key,
    _op_garbage_string,
    _op_duplicate_item,
    _op_number,
    _op_transplant,
    _op_plausible,
]


@st.composite
def mutated_fleets(draw: Draw) -> Any:
    data: Any = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        paths = _paths(data)
        # the root is rarely the interesting place; keep it possible but unlikely
        path = draw(st.sampled_from(paths[1:] if len(paths) > 1 and draw(st.integers(0, 19)) else paths))
        op = draw(st.sampled_from(OPS))
        data = op(data, path, draw)
    return data


def _outcome(raw: Any) -> FleetSpec | ConfigError:
    try:
        return parse_fleet(raw, available_keys=KEYS)
    except ConfigError as exc:
        return exc


def _check_issues(error: ConfigError) -> None:
    assert error.issues, "a ConfigError without issues"
    for issue in error.issues:
        assert issue.path, issue
        assert issue.path == "fleet" or issue.path.startswith(("fleet.", "fleet[")), issue
        assert issue.message.strip(), issue
        assert not any(b in issue.message for b in LINE_BREAKS), repr(issue.message)
        assert not any(b in issue.path for b in LINE_BREAKS), repr(issue.path)


# --- properties -----------------------------------------------------------------------------------


def test_the_unmutated_example_is_valid() -> None:
    spec = parse_fleet(copy.deepcopy(BASE), available_keys=KEYS)
    assert isinstance(spec, FleetSpec)
    assert [c.name for c in spec.clusters] == ["store-berlin-01", "store-munich-01"]
    assert spec.workloads[0].replicas == (("store-berlin-01", 2), ("store-munich-01", 2))


def _edited(edit: Callable[[dict[str, Any]], object]) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    edit(data)
    return data


@pytest.mark.parametrize(
    ("edit", "path"),
    [
        (lambda d: d.pop("owner"), "fleet.owner"),
        (lambda d: d.__setitem__("ownr", "x"), "fleet.ownr"),
        (lambda d: d["workloads"][0].__setitem__("port", -1), "fleet.workloads[0].port"),
        (lambda d: d["clusters"][0]["location"].__setitem__("city", "Atlantis"), "fleet.clusters[0].location.city"),
        (lambda d: d["clusters"].append(copy.deepcopy(d["clusters"][0])), "fleet.clusters[2].name"),
        (lambda d: d["workloads"][0].__setitem__("replicas", 3), "fleet.workloads[0].replicas"),
    ],
    ids=["delete", "unknown-key", "negative", "garbage-city", "duplicate-item", "too-few"],
)
def test_single_edits_are_rejected_at_their_path(edit: Callable[[dict[str, Any]], object], path: str) -> None:
    """The harness is not vacuous: each kind of edit, alone, gives a proper issue at its path."""
    outcome = _outcome(_edited(edit))
    assert isinstance(outcome, ConfigError)
    _check_issues(outcome)
    assert path in [issue.path for issue in outcome.issues]


@SETTINGS
@given(raw=mutated_fleets())
def test_parse_fleet_returns_a_spec_or_config_error(raw: Any) -> None:
    snapshot = copy.deepcopy(raw)
    try:
        spec = parse_fleet(raw, available_keys=KEYS)
    except ConfigError as exc:
        _check_issues(exc)
    else:
        assert isinstance(spec, FleetSpec)
        assert len({c.name for c in spec.clusters}) == len(spec.clusters)
        for workload in spec.workloads:
            assert sum(n for _, n in workload.replicas) == workload.spec.replicas
            names = {c.name for c in spec.clusters}
            assert all(name in names for name, _ in workload.replicas)
    # repr, not ==: NaN is a value hypothesis draws, and nan != nan
    assert repr(raw) == repr(snapshot), "parse_fleet changed its input"


@SETTINGS
@given(raw=mutated_fleets())
def test_parse_fleet_is_deterministic(raw: Any) -> None:
    first = _outcome(copy.deepcopy(raw))
    second = _outcome(copy.deepcopy(raw))
    assert type(first) is type(second)
    if isinstance(first, ConfigError):
        assert isinstance(second, ConfigError)
        assert first.issues == second.issues
    else:
        assert repr(first) == repr(second)


def _dump(raw: Any) -> str:
    yaml = YAML(typ="rt")
    buffer = io.StringIO()
    yaml.dump({"config": {"edgefleet:fleet": raw, **{k: {"secure": "v1:eA=="} for k in sorted(KEYS)}}}, buffer)
    return buffer.getvalue()


@settings(SETTINGS, max_examples=120)
@given(raw=mutated_fleets())
def test_errors_from_a_file_point_into_the_file(raw: Any) -> None:
    text = _dump(raw)
    lines = text.count("\n") + 1
    source = parse_stack_text(text, "stack.yaml", "stack")  # the dumped YAML itself is always readable
    try:
        load_stack(source)
    except ConfigError as exc:
        error = exc
    else:
        return
    assert not isinstance(error, StackFileError)
    _check_issues(error)
    for issue in error.issues:
        assert issue.position is not None, issue
        assert issue.position.file == "stack.yaml"
        assert 1 <= issue.position.line <= lines, issue
        assert issue.position.col >= 1, issue
    positions = [issue.position for issue in error.issues if issue.position is not None]
    assert positions == sorted(positions), "issues are in file order"


# --- split_evenly ---------------------------------------------------------------------------------

NAMES = st.lists(st.text(min_size=1, max_size=8), min_size=1, max_size=12, unique=True)


@settings(SETTINGS, max_examples=300)
@given(names=NAMES, minimum=st.integers(0, 20), extra=st.integers(0, 500), order=st.randoms())
def test_split_evenly(names: list[str], minimum: int, extra: int, order: Any) -> None:
    total = len(names) * minimum + extra
    result = split_evenly(total, minimum, names)
    assert [name for name, _ in result] == sorted(names)
    counts = [n for _, n in result]
    assert sum(counts) == total
    assert min(counts) >= minimum
    assert max(counts) - min(counts) <= 1
    assert counts == sorted(counts, reverse=True), "the remainder goes to the first names"
    shuffled = list(names)
    order.shuffle(shuffled)
    assert split_evenly(total, minimum, shuffled) == result


@settings(SETTINGS, max_examples=100)
@given(names=NAMES, minimum=st.integers(1, 20), short=st.integers(1, 50))
def test_split_evenly_refuses_too_few(names: list[str], minimum: int, short: int) -> None:
    total = len(names) * minimum - short
    assume(total >= 0)
    with pytest.raises(ValueError, match="replicas cannot give"):
        split_evenly(total, minimum, names)


def test_split_evenly_of_no_names_is_empty() -> None:
    assert split_evenly(5, 1, []) == ()


# --- keys with line breaks: quoted, so one error stays one line ------------------------------------


def test_unknown_key_with_newline_stays_on_one_line() -> None:
    raw = copy.deepcopy(BASE)
    raw["own\ner"] = "x"
    outcome = _outcome(raw)
    assert isinstance(outcome, ConfigError)
    _check_issues(outcome)
    (issue,) = outcome.issues
    assert issue.path == 'fleet."own\\ner"'
    assert "did you mean `owner`?" in issue.message


def test_label_key_with_newline_stays_on_one_line() -> None:
    raw = copy.deepcopy(BASE)
    raw["defaults"]["labels"] = {"ti\ner": "store"}
    outcome = _outcome(raw)
    assert isinstance(outcome, ConfigError)
    _check_issues(outcome)
    assert [issue.path for issue in outcome.issues] == ['fleet.defaults.labels."ti\\ner"']
