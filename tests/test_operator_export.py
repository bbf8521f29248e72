"""``edgefleet stacks export --operator``: the Stacks validate against the operator's own CRD (v2.9),
the global slice waits for every other slice, no secret value is ever written, the file is stable
and never overwrites a file edgefleet did not write, and bad options fail with the option's name.

Validation: the CRD's ``openAPIV3Schema`` of its served storage version, checked with ``jsonschema``
(Draft 7). jsonschema ignores the ``x-kubernetes-*`` keywords, so what they mean is checked here by
hand: the ``x-kubernetes-validations`` CEL rule (name <= 42 characters) in ``metadata_problems``, and
``x-kubernetes-preserve-unknown-fields`` by leaving those objects open in ``closed``. The schema does
not forbid unknown fields (the API server prunes them, and ``kubectl apply``'s default strict field
validation rejects them); ``closed`` forbids them, so a misspelt field fails here as it fails there.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from io import StringIO
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from ruamel.yaml import YAML

from edgefleet.components.config.slices import Slice, SliceSpec
from edgefleet.operator import (
    API_VERSION,
    EXPORT_HEADER,
    KIND,
    MAX_STACK_NAME,
    ExportFileError,
    GitAuth,
    OperatorOptions,
    SecretsProvider,
    SliceSecrets,
    operator_stacks,
    resource_name,
    slice_secret_key,
    slice_secret_name,
    write_operator_stacks,
)
from tests.conftest import PLANTED, REF

CRD_PATH = REF / "pulumi-operator" / "pulumi.com_stacks.yaml"
REPO_URL = "https://github.com/acme/edge-infra.git"
RFC1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


@dataclass(frozen=True)
class Crd:
    group: str
    kind: str
    scope: str
    version: str  # the served storage version
    schema: dict[str, Any]  # its openAPIV3Schema, as published
    validator: jsonschema.Draft7Validator  # over `closed(schema)`


def closed(node: Any) -> Any:
    """The schema with every object that lists ``properties`` closed to other fields, except where the
    CRD says ``x-kubernetes-preserve-unknown-fields`` or already types ``additionalProperties``."""
    if isinstance(node, list):
        return [closed(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: closed(v) for k, v in node.items()}
    if (
        "properties" in out
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


@pytest.fixture(scope="module")
def crd() -> Crd:
    doc = YAML(typ="safe").load(CRD_PATH.read_text(encoding="utf-8"))  # 1.5 MB: once per module
    spec = doc["spec"]
    (version,) = [v for v in spec["versions"] if v.get("served") and v.get("storage")]
    schema = version["schema"]["openAPIV3Schema"]
    return Crd(
        group=spec["group"],
        kind=spec["names"]["kind"],
        scope=spec["scope"],
        version=version["name"],
        schema=schema,
        validator=jsonschema.Draft7Validator(closed(schema)),
    )


def metadata_problems(doc: dict[str, Any], crd: Crd) -> list[str]:
    """What the schema leaves out: apiVersion and kind from the CRD, metadata (the schema says only
    ``type: object``), and the CRD's CEL rule on the name's length."""
    problems = []
    if doc.get("apiVersion") != f"{crd.group}/{crd.version}":
        problems.append(f"apiVersion {doc.get('apiVersion')!r} is not {crd.group}/{crd.version}")
    if doc.get("kind") != crd.kind:
        problems.append(f"kind {doc.get('kind')!r} is not {crd.kind}")
    meta = doc.get("metadata") or {}
    name = meta.get("name", "")
    if not RFC1123_LABEL.match(name):
        problems.append(f"name {name!r} is not an RFC 1123 label")
    rules = [r["rule"] for r in crd.schema.get("x-kubernetes-validations", [])]
    if "size(self.metadata.name) <= 42" in rules and len(name) > 42:
        problems.append(f"name {name!r} is longer than 42 characters (CRD rule)")
    if crd.scope == "Namespaced" and not RFC1123_LABEL.match(meta.get("namespace", "")):
        problems.append(f"namespace {meta.get('namespace')!r} is not a namespace name")
    for key, value in (meta.get("labels") or {}).items():
        if not isinstance(value, str) or len(value) > 63 or not LABEL_VALUE.match(value):
            problems.append(f"label {key}={value!r} is not a label value")
    return problems


def problems(doc: dict[str, Any], crd: Crd) -> list[str]:
    schema_errors = [
        f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in crd.validator.iter_errors(doc)
    ]
    return schema_errors + metadata_problems(doc, crd)


def _slice(stack: str, file: str, is_global: bool, clusters: tuple[str, ...], secret_keys: tuple[str, ...]) -> Slice:
    """A slice as ``fleet_slices`` finds it (``clusters`` selected by name, or the global slice)."""
    spec = SliceSpec(global_=True) if is_global else SliceSpec(clusters=clusters)
    return Slice(stack=stack, file=file, spec=spec, clusters=clusters, secret_keys=secret_keys)


# --- the fleet under test --------------------------------------------------------------------------

SLICES = (
    _slice(
        stack="prod-europe",
        file="stacks/Pulumi.prod-europe.yaml",
        is_global=False,
        clusters=("gcp-europe-west3", "store-berlin", "aws-eu-central-1"),
        secret_keys=("edgefleet:storeBerlinKubeconfig",),
    ),
    _slice("prod-americas", "stacks/Pulumi.prod-americas.yaml", False, ("aws-us-east-1",), ()),
    _slice(
        stack="prod-asia",
        file="stacks/Pulumi.prod-asia.yaml",
        is_global=False,
        clusters=("azure-japaneast", "shop-osaka"),
        secret_keys=("edgefleet:shopOsakaKubeconfig", "edgefleet:shopKyotoKubeconfig"),
    ),
    _slice("prod-global", "stacks/Pulumi.prod-global.yaml", True, (), ()),
)
DEFAULTS = OperatorOptions(repo=REPO_URL)
VARIANTS = {
    "defaults": DEFAULTS,
    "everything": OperatorOptions(
        repo=REPO_URL,
        branch="release/2025-11",
        repo_dir="infra/edgefleet/",
        namespace="edgefleet-prod",
        organization="acme",
        service_account="edgefleet-prod",
        secrets_provider=SecretsProvider.PASSPHRASE,
        git_auth=GitAuth.ACCESS_TOKEN,
        slice_secrets=SliceSecrets.KUBERNETES_SECRET,
        resync_seconds=300,
        rerun_unchanged=True,
        refresh=False,
        create_stacks=True,
        workspace_image="pulumi/pulumi:3.202.0-nonroot",
        environments=("edgefleet/prod-clouds", "edgefleet/prod-dns"),
    ),
    "ssh": OperatorOptions(repo="git@github.com:acme/edge-infra.git", git_auth=GitAuth.SSH),
    "basic-auth": OperatorOptions(repo=REPO_URL, git_auth=GitAuth.BASIC, secrets_provider=SecretsProvider.CLOUD_KMS),
    "diy-backend": OperatorOptions(repo=REPO_URL, backend="s3://acme-pulumi-state", access_token_secret=""),
}


def stacks(options: OperatorOptions = DEFAULTS, slices: tuple[Slice, ...] = SLICES) -> list[dict[str, Any]]:
    return operator_stacks("prod", slices, options)


def load_all(text: str) -> list[dict[str, Any]]:
    return [d for d in YAML(typ="safe").load_all(StringIO(text)) if d is not None]


def walk(node: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    yield path, node
    if isinstance(node, dict):
        for k, v in node.items():
            yield from walk(v, f"{path}/{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from walk(v, f"{path}/{i}")


# --- the CRD ---------------------------------------------------------------------------------------


def test_the_module_targets_the_crds_storage_version(crd: Crd) -> None:
    assert (crd.group, crd.version, crd.kind, crd.scope) == ("pulumi.com", "v1", "Stack", "Namespaced")
    assert f"{crd.group}/{crd.version}" == API_VERSION
    assert crd.kind == KIND
    assert {
        "rule": "size(self.metadata.name) <= 42",
        "message": "Stack name must be no more than 42 characters in length.",
    } in crd.schema["x-kubernetes-validations"]
    assert MAX_STACK_NAME == 42


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_stack_validates_against_the_crd(crd: Crd, variant: str, tmp_path: Path) -> None:
    docs = stacks(VARIANTS[variant])
    assert len(docs) == len(SLICES)
    for doc in docs:
        assert problems(doc, crd) == [], doc["metadata"]["name"]
    # What is written is what was validated: the file parses back to the same objects.
    out = tmp_path / "stacks.yaml"
    write_operator_stacks(docs, out)
    assert load_all(out.read_text(encoding="utf-8")) == docs


def test_names_labels_and_order(crd: Crd) -> None:
    docs = stacks()
    assert [d["metadata"]["name"] for d in docs] == ["prod-americas", "prod-asia", "prod-europe", "prod-global"]
    europe = docs[2]
    assert europe["metadata"]["namespace"] == "edgefleet"
    assert europe["metadata"]["labels"] == {
        "app.kubernetes.io/managed-by": "edgefleet",
        "edgefleet.dev/fleet": "prod",
        "edgefleet.dev/slice": "prod-europe",
    }
    assert (
        europe["metadata"]["annotations"]["edgefleet.dev/clusters"] == "aws-eu-central-1,gcp-europe-west3,store-berlin"
    )
    spec = europe["spec"]
    assert (spec["stack"], spec["projectRepo"], spec["branch"]) == ("prod-europe", REPO_URL, "main")
    assert spec["serviceAccountName"] == "edgefleet-workspace"
    assert spec["useLocalStackOnly"] is True
    assert stacks(replace(DEFAULTS, organization="acme"))[2]["spec"]["stack"] == "acme/prod-europe"
    assert resource_name("Prod_EU.west") == "prod-eu-west"
    everything = stacks(VARIANTS["everything"])[2]["spec"]
    assert everything["environment"] == ["edgefleet/prod-clouds", "edgefleet/prod-dns"]
    assert (everything["repoDir"], everything["branch"]) == ("infra/edgefleet", "release/2025-11")
    assert everything["workspaceTemplate"] == {"spec": {"image": "pulumi/pulumi:3.202.0-nonroot"}}


# --- the validation can fail -----------------------------------------------------------------------


def _broken(mutate: Any) -> dict[str, Any]:
    doc = copy.deepcopy(stacks(VARIANTS["everything"])[-1])
    mutate(doc)
    return doc


@pytest.mark.parametrize(
    ("case", "mutate", "expected"),
    [
        ("misspelt spec field", lambda d: d["spec"].update(destroyOnFinalise=False), "destroyOnFinalise"),
        ("misspelt nested field", lambda d: d["spec"]["prerequisites"][0].update(nmae="x"), "nmae"),
        ("wrong type", lambda d: d["spec"].update(resyncFrequencySeconds="600"), "is not of type 'integer'"),
        ("wrong type, boolean", lambda d: d["spec"].update(destroyOnFinalize="false"), "is not of type 'boolean'"),
        ("missing required", lambda d: d["spec"].pop("stack"), "'stack' is a required property"),
        ("secret ref without key", lambda d: d["spec"]["envRefs"]["PULUMI_ACCESS_TOKEN"]["secret"].pop("key"), "'key'"),
        ("wrong enum", lambda d: d["spec"].update(workspaceReclaimPolicy="Keep"), "'Keep' is not one of"),
        ("wrong apiVersion", lambda d: d.update(apiVersion="pulumi.com/v1alpha1"), "apiVersion"),
        ("wrong kind", lambda d: d.update(kind="Stacks"), "kind"),
        ("name too long", lambda d: d["metadata"].update(name="s" * 43), "longer than 42"),
        ("name not RFC 1123", lambda d: d["metadata"].update(name="Prod_Global"), "RFC 1123"),
    ],
)
def test_a_wrong_stack_fails_the_validation(crd: Crd, case: str, mutate: Any, expected: str) -> None:
    found = problems(_broken(mutate), crd)
    assert found, f"{case}: accepted"
    assert any(expected in p for p in found), found


def test_open_objects_stay_open(crd: Crd) -> None:
    """`spec.config` is x-kubernetes-preserve-unknown-fields and envRefs a map: any key is fine there."""
    doc = _broken(lambda d: d["spec"].update(config={"edgefleet:anything": {"nested": [1, "two"]}}))
    doc["spec"]["envRefs"]["ANY_NAME"] = {"type": "Secret", "secret": {"name": "s", "key": "k"}}
    assert problems(doc, crd) == []


# --- ordering: the global slice waits --------------------------------------------------------------


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_global_waits_for_every_other_slice_and_only_those(variant: str) -> None:
    docs = stacks(VARIANTS[variant])
    by_slice = {d["metadata"]["labels"]["edgefleet.dev/slice"]: d for d in docs}
    others = {d["metadata"]["name"] for s, d in by_slice.items() if s != "prod-global"}
    prerequisites = by_slice["prod-global"]["spec"]["prerequisites"]
    assert sorted(p["name"] for p in prerequisites) == sorted(others)
    assert len(prerequisites) == len(others)
    assert "prod-global" not in {p["name"] for p in prerequisites}
    for s, d in by_slice.items():
        if s != "prod-global":
            assert "prerequisites" not in d["spec"], s
            assert d["metadata"]["namespace"] == by_slice["prod-global"]["metadata"]["namespace"]  # same namespace
    # It re-reads the slices' outputs every resync, since prerequisites are judged by generation, not commit.
    assert by_slice["prod-global"]["spec"]["continueResyncOnCommitMatch"] is True


def test_without_a_global_slice_nothing_waits() -> None:
    docs = stacks(slices=tuple(s for s in SLICES if not s.is_global))
    assert all("prerequisites" not in d["spec"] for d in docs)


# --- secrets ---------------------------------------------------------------------------------------

SECRET_REF_PARENTS = ("/spec/envRefs/", "/spec/secretsRef/", "/spec/gitAuth/")


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_no_secret_value_only_references(variant: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Ambient credentials are never read into the output.
    for env in ("PULUMI_ACCESS_TOKEN", "PULUMI_CONFIG_PASSPHRASE", "GITHUB_TOKEN", "KUBECONFIG"):
        monkeypatch.setenv(env, PLANTED)
    docs = stacks(VARIANTS[variant])
    text = write_operator_stacks(docs, None)
    assert PLANTED not in text
    for doc in docs:
        spec = doc["spec"]
        assert spec["destroyOnFinalize"] is False
        # Inline values and the deprecated name-only fields are never used.
        assert not {"config", "secrets", "accessTokenSecret", "gitAuthSecret", "envs", "envSecrets"} & set(spec)
        refs = [
            (p, n) for p, n in walk(doc) if isinstance(n, dict) and "type" in n and p.startswith(SECRET_REF_PARENTS)
        ]
        for path, ref in refs:
            assert ref["type"] == "Secret", path
            assert set(ref) == {"type", "secret"}, path  # no literal, no env, no filesystem
            assert set(ref["secret"]) == {"name", "key"}, path  # no cross-namespace reference
        env_refs = spec.get("envRefs", {})
        assert set(env_refs) <= {"PULUMI_ACCESS_TOKEN", "PULUMI_CONFIG_PASSPHRASE"}
        assert refs or variant == "diy-backend"  # the walk found the references it checks


def test_access_token_and_passphrase_references() -> None:
    europe = stacks(VARIANTS["everything"])[2]["spec"]
    assert europe["envRefs"] == {
        "PULUMI_ACCESS_TOKEN": {"type": "Secret", "secret": {"name": "pulumi-access-token", "key": "accessToken"}},
        "PULUMI_CONFIG_PASSPHRASE": {
            "type": "Secret",
            "secret": {"name": "pulumi-config-passphrase", "key": "passphrase"},
        },
    }
    assert europe["gitAuth"] == {
        "accessToken": {"type": "Secret", "secret": {"name": "edgefleet-git-auth", "key": "accessToken"}}
    }
    # Service-managed and KMS secrets need no passphrase; a DIY backend needs no access token.
    assert "PULUMI_CONFIG_PASSPHRASE" not in stacks()[0]["spec"]["envRefs"]
    assert "envRefs" not in stacks(VARIANTS["diy-backend"])[0]["spec"]
    assert stacks(VARIANTS["ssh"])[0]["spec"]["gitAuth"] == {
        "sshAuth": {
            "sshPrivateKey": {"type": "Secret", "secret": {"name": "edgefleet-git-auth", "key": "sshPrivateKey"}}
        }
    }


def test_slice_secrets_from_a_kubernetes_secret_reference_every_secret_key() -> None:
    for doc in stacks(VARIANTS["everything"]):
        s = next(s for s in SLICES if s.stack == doc["metadata"]["labels"]["edgefleet.dev/slice"])
        refs = doc["spec"].get("secretsRef", {})
        assert sorted(refs) == sorted(s.secret_keys)
        for key, ref in refs.items():
            assert ref["secret"] == {"name": slice_secret_name(s.stack), "key": slice_secret_key(key)}
    # By default they stay in the stack file (encrypted), and the Stack names none.
    assert all("secretsRef" not in d["spec"] for d in stacks())


# --- the file --------------------------------------------------------------------------------------


def test_same_input_same_bytes(tmp_path: Path) -> None:
    first, second = tmp_path / "a.yaml", tmp_path / "b.yaml"
    write_operator_stacks(stacks(VARIANTS["everything"]), first)
    reordered = tuple(reversed(SLICES))
    write_operator_stacks(operator_stacks("prod", reordered, VARIANTS["everything"]), second)
    assert first.read_bytes() == second.read_bytes()
    assert first.read_text(encoding="utf-8").startswith(EXPORT_HEADER)
    # Its own file is replaced, with the same bytes.
    before = first.read_bytes()
    write_operator_stacks(stacks(VARIANTS["everything"]), first)
    assert first.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.yaml", "b.yaml"]  # no temporary file left


def test_a_foreign_file_is_never_overwritten(tmp_path: Path) -> None:
    foreign = tmp_path / "stacks.yaml"
    foreign.write_text("apiVersion: pulumi.com/v1\nkind: Stack\n# hand-written\n", encoding="utf-8")
    with pytest.raises(ExportFileError, match="not written by edgefleet"):
        write_operator_stacks(stacks(), foreign)
    assert foreign.read_text(encoding="utf-8").endswith("# hand-written\n")
    with pytest.raises(ExportFileError, match="is a directory"):
        write_operator_stacks(stacks(), tmp_path)


def test_parent_directories_are_created(tmp_path: Path) -> None:
    out = tmp_path / "deploy" / "operator" / "stacks.yaml"
    text = write_operator_stacks(stacks(), out)
    assert out.read_text(encoding="utf-8") == text


# --- invalid options -------------------------------------------------------------------------------

LONG = "prod-" + "x" * (MAX_STACK_NAME - 4)  # 43 characters


@pytest.mark.parametrize(
    ("option", "options", "slices"),
    [
        ("repo", OperatorOptions(repo=""), SLICES),
        ("repo", OperatorOptions(repo="   "), SLICES),
        ("repo", OperatorOptions(repo="not a url"), SLICES),
        ("repo", OperatorOptions(repo="http://github.com/acme/edge.git"), SLICES),
        ("repo", OperatorOptions(repo="https://x-token:ghp_abc@github.com/acme/edge.git"), SLICES),
        ("repo", OperatorOptions(repo=REPO_URL, git_auth=GitAuth.SSH), SLICES),
        ("repo", OperatorOptions(repo="git@github.com:acme/edge.git", git_auth=GitAuth.ACCESS_TOKEN), SLICES),
        ("branch", OperatorOptions(repo=REPO_URL, branch=""), SLICES),
        ("branch", OperatorOptions(repo=REPO_URL, branch="feature..x"), SLICES),
        ("repo_dir", OperatorOptions(repo=REPO_URL, repo_dir="../elsewhere"), SLICES),
        ("repo_dir", OperatorOptions(repo=REPO_URL, repo_dir="/abs"), SLICES),
        ("namespace", OperatorOptions(repo=REPO_URL, namespace="Edge_Fleet"), SLICES),
        ("namespace", OperatorOptions(repo=REPO_URL, namespace=""), SLICES),
        ("namespace", OperatorOptions(repo=REPO_URL, namespace="n" * 64), SLICES),
        ("organization", OperatorOptions(repo=REPO_URL, organization="acme/prod"), SLICES),
        ("backend", OperatorOptions(repo=REPO_URL, backend="ftp://state"), SLICES),
        ("service_account", OperatorOptions(repo=REPO_URL, service_account=""), SLICES),
        ("access_token_secret", OperatorOptions(repo=REPO_URL, access_token_secret=""), SLICES),
        ("access_token_secret", OperatorOptions(repo=REPO_URL, access_token_secret="Token!"), SLICES),
        (
            "passphrase_secret",
            OperatorOptions(repo=REPO_URL, secrets_provider=SecretsProvider.PASSPHRASE, passphrase_secret=""),
            SLICES,
        ),
        ("git_auth_secret", OperatorOptions(repo=REPO_URL, git_auth=GitAuth.BASIC, git_auth_secret=""), SLICES),
        ("resync_seconds", OperatorOptions(repo=REPO_URL, resync_seconds=30), SLICES),
        ("environments", OperatorOptions(repo=REPO_URL, environments=("prod clouds",)), SLICES),
        (
            "environments",
            OperatorOptions(repo=REPO_URL, backend="s3://state", access_token_secret="", environments=("a/b",)),
            SLICES,
        ),
        ("workspace_image", OperatorOptions(repo=REPO_URL, workspace_image="pulumi/pulumi latest"), SLICES),
        ("stack", DEFAULTS, (_slice(LONG, f"stacks/Pulumi.{LONG}.yaml", False, ("a",), ()),)),
        (
            "stack",
            DEFAULTS,
            (
                _slice("prod_eu", "stacks/Pulumi.prod_eu.yaml", False, ("a",), ()),
                _slice("prod-eu", "stacks/Pulumi.prod-eu.yaml", False, ("b",), ()),
            ),
        ),
        ("file", DEFAULTS, (_slice("prod-eu", "stacks/Pulumi.prod-us.yaml", False, ("a",), ()),)),
        ("secret_keys", DEFAULTS, (_slice("prod-eu", "stacks/Pulumi.prod-eu.yaml", False, ("a",), ("token",)),)),
        ("slices", DEFAULTS, ()),
        ("slices", DEFAULTS, (SLICES[-1], replace(SLICES[-1], stack="prod-dns", file="stacks/Pulumi.prod-dns.yaml"))),
    ],
)
def test_invalid_options_name_the_option(option: str, options: OperatorOptions, slices: tuple[Slice, ...]) -> None:
    with pytest.raises(ValueError, match=rf"^{option}: ") as raised:
        operator_stacks("prod", slices, options)
    message = str(raised.value)
    assert "\n" not in message
    assert "; " in message  # the problem, then the fix


def test_a_42_character_name_is_accepted(crd: Crd) -> None:
    name = "prod-" + "x" * (MAX_STACK_NAME - 5)
    (doc,) = stacks(slices=(_slice(name, f"stacks/Pulumi.{name}.yaml", False, ("a",), ()),))
    assert len(doc["metadata"]["name"]) == 42
    assert problems(doc, crd) == []


def test_a_bad_fleet_name_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^fleet: "):
        operator_stacks("prod fleet", SLICES, DEFAULTS)
