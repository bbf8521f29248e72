"""Pulumi Kubernetes Operator ``Stack`` resources for a fleet's slices (``edgefleet stacks export --operator``).

A management cluster running the operator (v2) keeps every slice deployed: one ``pulumi.com/v1`` ``Stack``
per slice, each pointing at the project repository and the slice's Pulumi stack, and the ``global`` slice
waiting on all others through ``spec.prerequisites``. The slice's configuration, including its ``secure:``
values, stays in the checked-in stack settings file; the Stacks carry only *references* to Kubernetes
Secrets (access token, passphrase, git credentials, optionally the slice's secret config), never a value.

Pure: no Pulumi import, no cluster access. ``docs/operator.md`` is the user's guide; the CRD facts this
module relies on are cited next to the code that relies on them (``pulumi.com_stacks.yaml``, operator v2.9).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from io import StringIO
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from edgefleet.components.config.slices import Slice
from edgefleet.files import replace_file

__all__ = [
    "API_VERSION",
    "EXPORT_HEADER",
    "KIND",
    "MAX_STACK_NAME",
    "ExportFileError",
    "GitAuth",
    "OperatorOptions",
    "SecretsProvider",
    "SliceSecrets",
    "operator_stacks",
    "render_operator_stacks",
    "resource_name",
    "slice_secret_key",
    "slice_secret_name",
    "write_operator_stacks",
]

API_VERSION = "pulumi.com/v1"  # the CRD's served *storage* version
KIND = "Stack"
# The CRD's x-kubernetes-validations rule `size(self.metadata.name) <= 42`: the operator derives the names of
# the Workspace's StatefulSet, Service and pod from the Stack's name.
MAX_STACK_NAME = 42
EXPORT_HEADER = "# Written by `edgefleet stacks export --operator`"

LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
LABEL_FLEET = "edgefleet.dev/fleet"
LABEL_SLICE = "edgefleet.dev/slice"
ANNOTATION_STACK_FILE = "edgefleet.dev/stack-file"
ANNOTATION_CLUSTERS = "edgefleet.dev/clusters"

# Well-known keys inside the Secrets the user creates (docs/operator.md shows the `kubectl create secret` lines).
ACCESS_TOKEN_KEY = "accessToken"
PASSPHRASE_KEY = "passphrase"
GIT_TOKEN_KEY = "accessToken"
GIT_SSH_KEY = "sshPrivateKey"
GIT_USERNAME_KEY = "username"
GIT_PASSWORD_KEY = "password"

DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")  # RFC 1123 label; use fullmatch
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_PULUMI_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_CONFIG_KEY = re.compile(r"^[A-Za-z0-9_.-]+:[A-Za-z0-9_.-]+$")
_SCP_LIKE = re.compile(r"^[A-Za-z0-9_.-]+@[A-Za-z0-9.-]+:[^/].*$")  # git@github.com:acme/edge.git
_ESC_ENV = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)?(@[A-Za-z0-9_.-]+)?$")
_BRANCH_BAD = re.compile(r"[\s~^:?*\[\\]|\.\.|@\{|//")


class SecretsProvider(StrEnum):
    """How the slices' ``secure:`` config values are encrypted (the stacks' secrets provider)."""

    SERVICE = "service"  # Pulumi Cloud's per-stack key: the access token is all the workspace needs
    PASSPHRASE = "passphrase"  # PULUMI_CONFIG_PASSPHRASE from `passphrase_secret`
    CLOUD_KMS = "cloud-kms"  # awskms/gcpkms/azurekeyvault/hashivault: the service account's cloud identity


class GitAuth(StrEnum):
    """How the workspace clones ``repo``; credentials come from ``git_auth_secret``."""

    NONE = "none"  # a public repository
    ACCESS_TOKEN = "access-token"  # https URL; Secret key `accessToken` (a read-only token)
    SSH = "ssh"  # ssh URL; Secret key `sshPrivateKey` (a read-only deploy key without passphrase)
    BASIC = "basic"  # https URL; Secret keys `username` and `password`


class SliceSecrets(StrEnum):
    """Where a slice's secret config values (``Slice.secret_keys``) come from."""

    STACK_FILE = "stack-file"  # the `secure:` values checked into the stack file; nothing in the Stack
    KUBERNETES_SECRET = "kubernetes-secret"  # Secret `<stack-resource>-config`, key = config key with ':' -> '.'


@dataclass(frozen=True)
class OperatorOptions:
    """Everything a management cluster needs that the fleet definition does not say.

    Defaults are the safe choice: existing stacks only, no destroy when a Stack object is deleted,
    run on new commits only, Secrets referenced by name (never copied).
    """

    repo: str  # git URL of the project repository (https://..., ssh://..., or git@host:path)
    branch: str = "main"
    repo_dir: str = ""  # directory of Pulumi.yaml inside the repository; "" = the repository root
    namespace: str = "edgefleet"  # the Stacks, the Secrets they reference and the service account live here
    organization: str = ""  # Pulumi organization: spec.stack = "<organization>/<stack>"; "" = the token's default
    backend: str = ""  # "" = Pulumi Cloud; or a self-managed backend URL (https://, s3://, gs://, azblob://)
    service_account: str = "edgefleet-workspace"  # the workspace pods' identity (needs system:auth-delegator)
    access_token_secret: str = "pulumi-access-token"  # Secret with key `accessToken`; "" for a DIY backend
    secrets_provider: SecretsProvider = SecretsProvider.SERVICE
    passphrase_secret: str = "pulumi-config-passphrase"  # Secret with key `passphrase` (PASSPHRASE only)
    git_auth: GitAuth = GitAuth.NONE
    git_auth_secret: str = "edgefleet-git-auth"  # Secret holding the git credentials (unless NONE)
    slice_secrets: SliceSecrets = SliceSecrets.STACK_FILE
    resync_seconds: int = 600  # how often the operator polls `branch` (>= 60, the operator's floor)
    rerun_unchanged: bool = False  # also re-run slices every resync on an unchanged commit (drift correction)
    refresh: bool = True  # refresh state before every update (edge clusters drift)
    create_stacks: bool = False  # let the operator `pulumi stack init` a missing stack
    environments: tuple[str, ...] = ()  # Pulumi ESC environments ("project/env") for cloud credentials
    workspace_image: str = ""  # pin the workspace image (e.g. pulumi/pulumi:3.202.0-nonroot); "" = default


class ExportFileError(Exception):
    """The output path cannot be written: it exists and was not written by edgefleet."""


def resource_name(stack: str) -> str:
    """The Stack resource's name for a Pulumi stack name: lower case, runs of anything outside
    ``[a-z0-9]`` become one ``-`` (RFC 1123 label)."""
    return re.sub(r"[^a-z0-9]+", "-", stack.lower()).strip("-")


def _fail(option: str, problem: str, fix: str) -> ValueError:
    return ValueError(f"{option}: {problem}; {fix}")


def _check_secret_name(option: str, value: str) -> None:
    if not value:
        raise _fail(option, "is empty", "name the Kubernetes Secret (see docs/operator.md)")
    if len(value) > 253 or not _DNS_SUBDOMAIN.fullmatch(value):
        raise _fail(option, f"{value!r} is not a Kubernetes object name", "use lower-case letters, digits, '-', '.'")


def _check_repo(options: OperatorOptions) -> None:
    repo = options.repo.strip()
    if not repo:
        raise _fail("repo", "is empty", "pass the project repository's git URL (https://... or git@host:path)")
    if repo != options.repo or any(c.isspace() for c in repo):
        raise _fail("repo", f"{options.repo!r} contains white space", "pass the URL alone")
    scp_like = bool(_SCP_LIKE.match(repo))
    scheme = repo.split("://", 1)[0].lower() if "://" in repo else ""
    if not scp_like and scheme not in {"https", "ssh", "http", "git"}:
        raise _fail("repo", f"{repo!r} is not a git URL", "use https://host/path, ssh://host/path or git@host:path")
    if scheme in {"http", "git"}:
        raise _fail("repo", f"{repo!r} is unencrypted ({scheme}://)", "use https:// or ssh://")
    if scheme in {"https", "ssh"} and "@" in repo.split("://", 1)[1].split("/", 1)[0]:
        userinfo = repo.split("://", 1)[1].split("/", 1)[0].rsplit("@", 1)[0]
        if ":" in userinfo or scheme == "https":
            raise _fail("repo", "contains credentials", "remove them from the URL and use --git-auth with a Secret")
    ssh_url = scp_like or scheme == "ssh"
    if options.git_auth is GitAuth.SSH and not ssh_url:
        raise _fail("repo", f"{repo!r} is not an ssh URL but git auth is ssh", "use git@host:path or ssh://")
    if options.git_auth in {GitAuth.ACCESS_TOKEN, GitAuth.BASIC} and scheme != "https":
        raise _fail("repo", f"{repo!r} is not an https URL but git auth is {options.git_auth}", "use https://")


def _check_options(options: OperatorOptions) -> None:
    _check_repo(options)
    if not options.branch or _BRANCH_BAD.search(options.branch) or options.branch.endswith(("/", ".", ".lock")):
        raise _fail("branch", f"{options.branch!r} is not a git branch name", "pass a branch such as main")
    repo_dir = options.repo_dir
    if repo_dir.startswith("/") or ".." in repo_dir.split("/") or "\\" in repo_dir:
        raise _fail("repo_dir", f"{repo_dir!r} leaves the repository", "pass a relative path such as infra/edgefleet")
    if len(options.namespace) > 63 or not DNS_LABEL.fullmatch(options.namespace):
        raise _fail(
            "namespace",
            f"{options.namespace!r} is not a namespace name",
            "use at most 63 lower-case letters, digits, '-'",
        )
    if options.organization and not _PULUMI_NAME.fullmatch(options.organization):
        raise _fail(
            "organization",
            f"{options.organization!r} is not a Pulumi organization name",
            "use letters, digits, '-', '_', '.'",
        )
    if options.backend and not re.fullmatch(r"^(https|s3|gs|azblob|file)://\S+$", options.backend):
        raise _fail("backend", f"{options.backend!r} is not a backend URL", "use https://, s3://, gs:// or azblob://")
    if len(options.service_account) > 253 or not _DNS_SUBDOMAIN.fullmatch(options.service_account):
        raise _fail(
            "service_account",
            f"{options.service_account!r} is not a service account name",
            "create one (docs/operator.md) and pass its name",
        )
    if _uses_pulumi_cloud(options) or options.access_token_secret:  # a DIY backend needs no token
        _check_secret_name("access_token_secret", options.access_token_secret)
    if options.secrets_provider is SecretsProvider.PASSPHRASE:
        _check_secret_name("passphrase_secret", options.passphrase_secret)
    if options.git_auth is not GitAuth.NONE:
        _check_secret_name("git_auth_secret", options.git_auth_secret)
    if isinstance(options.resync_seconds, bool) or not isinstance(options.resync_seconds, int):
        raise _fail("resync_seconds", f"{options.resync_seconds!r} is not a number of seconds", "pass an integer >= 60")
    if options.resync_seconds < 60:
        raise _fail(
            "resync_seconds", f"{options.resync_seconds} is below the operator's floor of 60", "pass 60 or more"
        )
    for env in options.environments:
        if not _ESC_ENV.fullmatch(env):
            raise _fail("environments", f"{env!r} is not a Pulumi ESC environment name", "use <project>/<environment>")
    if options.environments and not _uses_pulumi_cloud(options):
        raise _fail("environments", "Pulumi ESC needs Pulumi Cloud", "drop them or use an https:// backend")
    if options.workspace_image and any(c.isspace() for c in options.workspace_image):
        raise _fail(
            "workspace_image",
            f"{options.workspace_image!r} is not an image reference",
            "pass e.g. pulumi/pulumi:3.202.0-nonroot",
        )


def _uses_pulumi_cloud(options: OperatorOptions) -> bool:
    return not options.backend or options.backend.startswith("https://")


def _check_slices(fleet: str, slices: Sequence[Slice]) -> dict[str, Slice]:
    if not fleet or len(fleet) > 63 or not _LABEL_VALUE.fullmatch(fleet):
        raise _fail("fleet", f"{fleet!r} cannot be a label value", "name the fleet with letters, digits, '-', '_', '.'")
    if not slices:
        raise _fail("slices", "there are none", "write the slice stack files first (`edgefleet stacks sync`)")
    by_name: dict[str, Slice] = {}
    for s in slices:
        if not _PULUMI_NAME.fullmatch(s.stack) or len(s.stack) > 63 or not _LABEL_VALUE.fullmatch(s.stack):
            raise _fail(
                "stack", f"{s.stack!r} is not a usable stack name", "use letters, digits, '-', '_', '.' (at most 63)"
            )
        name = resource_name(s.stack)
        if not name:
            raise _fail("stack", f"{s.stack!r} has no letter or digit", "rename the slice's stack")
        if len(name) > MAX_STACK_NAME:
            raise _fail(
                "stack",
                f"{s.stack!r} gives a Stack name of {len(name)} characters (the operator allows {MAX_STACK_NAME})",
                "shorten the slice's stack name",
            )
        if name in by_name:
            raise _fail(
                "stack",
                f"{by_name[name].stack!r} and {s.stack!r} both give the Stack name {name!r}",
                "rename one slice's stack",
            )
        if Path(s.file).name != f"Pulumi.{s.stack}.yaml" or Path(s.file).is_absolute() or ".." in Path(s.file).parts:
            raise _fail(
                "file", f"{s.file!r} is not the stack file of {s.stack!r}", f"pass stacks/Pulumi.{s.stack}.yaml"
            )
        for key in s.secret_keys:
            if not _CONFIG_KEY.fullmatch(key):
                raise _fail(
                    "secret_keys", f"{key!r} in {s.stack!r} is not a namespaced config key", "use <namespace>:<key>"
                )
        by_name[name] = s
    globals_ = [s.stack for s in slices if s.is_global]
    if len(globals_) > 1:
        raise _fail("slices", f"more than one global slice ({', '.join(sorted(globals_))})", "keep exactly one")
    return by_name


def _secret_ref(name: str, key: str) -> dict[str, Any]:
    # ResourceRef type "Secret": the operator mounts the Secret into the workspace pod (env var or file);
    # the value never enters the Stack, the Workspace object or this file. The `namespace` field is left
    # out: v2 rejects cross-namespace references ("namespace isolation").
    return {"type": "Secret", "secret": {"name": name, "key": key}}


def _git_auth(options: OperatorOptions) -> dict[str, Any] | None:
    secret = options.git_auth_secret
    match options.git_auth:
        case GitAuth.NONE:
            return None
        case GitAuth.ACCESS_TOKEN:
            return {"accessToken": _secret_ref(secret, GIT_TOKEN_KEY)}
        case GitAuth.SSH:
            return {"sshAuth": {"sshPrivateKey": _secret_ref(secret, GIT_SSH_KEY)}}
        case GitAuth.BASIC:
            return {
                "basicAuth": {
                    "userName": _secret_ref(secret, GIT_USERNAME_KEY),
                    "password": _secret_ref(secret, GIT_PASSWORD_KEY),
                }
            }


def slice_secret_name(stack: str) -> str:
    """The Secret holding a slice's secret config under ``SliceSecrets.KUBERNETES_SECRET``."""
    return f"{resource_name(stack)}-config"


def slice_secret_key(config_key: str) -> str:
    """A config key as a Secret data key: ``edgefleet:storeKubeconfig`` -> ``edgefleet.storeKubeconfig``."""
    return config_key.replace(":", ".", 1)


def _stack(fleet: str, s: Slice, prerequisites: list[str], options: OperatorOptions) -> dict[str, Any]:
    name = resource_name(s.stack)
    annotations = {ANNOTATION_STACK_FILE: s.file}
    if s.clusters:
        annotations[ANNOTATION_CLUSTERS] = ",".join(sorted(s.clusters))
    metadata = {
        "name": name,
        "namespace": options.namespace,
        "labels": {LABEL_MANAGED_BY: "edgefleet", LABEL_FLEET: fleet, LABEL_SLICE: s.stack},
        "annotations": annotations,
    }
    spec: dict[str, Any] = {
        "stack": f"{options.organization}/{s.stack}" if options.organization else s.stack,
        "projectRepo": options.repo,
        "branch": options.branch,
    }
    if options.repo_dir:
        spec["repoDir"] = options.repo_dir.strip("/")
    spec["shallow"] = True
    if options.backend:
        spec["backend"] = options.backend
    spec["serviceAccountName"] = options.service_account
    env: dict[str, Any] = {}
    if options.access_token_secret:
        env["PULUMI_ACCESS_TOKEN"] = _secret_ref(options.access_token_secret, ACCESS_TOKEN_KEY)
    if options.secrets_provider is SecretsProvider.PASSPHRASE:
        env["PULUMI_CONFIG_PASSPHRASE"] = _secret_ref(options.passphrase_secret, PASSPHRASE_KEY)
    if env:
        spec["envRefs"] = env
    git_auth = _git_auth(options)
    if options.environments:
        spec["environment"] = list(options.environments)  # order matters: later environments override
    if git_auth is not None:
        spec["gitAuth"] = git_auth
    if options.slice_secrets is SliceSecrets.KUBERNETES_SECRET and s.secret_keys:
        spec["secretsRef"] = {
            key: _secret_ref(slice_secret_name(s.stack), slice_secret_key(key)) for key in sorted(s.secret_keys)
        }
    if prerequisites:
        # A prerequisite is met when that Stack's last update succeeded at its current generation; the
        # operator re-queues this Stack whenever a prerequisite changes, so no polling is needed.
        spec["prerequisites"] = [{"name": p} for p in prerequisites]
    spec["refresh"] = options.refresh
    scheduled = s.window_minutes is not None
    # A scheduled fleet places the window of the time it runs: every slice re-runs at least once per
    # window, on an unchanged commit too, so a new window's placement is applied within one resync.
    window_seconds = (s.window_minutes or 0) * 60
    spec["resyncFrequencySeconds"] = (
        min(options.resync_seconds, window_seconds) if scheduled else options.resync_seconds
    )
    # The global slice re-runs on an unchanged commit: a prerequisite is judged by generation, not commit,
    # so after a push the global slice may run before a slice has applied it; re-running (cheap: DNS
    # records) converges within one resync period.
    spec["continueResyncOnCommitMatch"] = options.rerun_unchanged or s.is_global or scheduled
    # The stack file's `secure:` values are encrypted for an existing stack; a stack the operator creates
    # could not decrypt them, so by default a missing stack is an error, not a new empty stack.
    spec["useLocalStackOnly"] = not options.create_stacks
    # Deleting a Stack object must never destroy a fleet slice: destroy is a deliberate `pulumi destroy`.
    spec["destroyOnFinalize"] = False
    if options.workspace_image:
        spec["workspaceTemplate"] = {"spec": {"image": options.workspace_image}}
    return {"apiVersion": API_VERSION, "kind": KIND, "metadata": metadata, "spec": spec}


def operator_stacks(fleet: str, slices: Sequence[Slice], options: OperatorOptions) -> list[dict[str, Any]]:
    """One ``pulumi.com/v1`` ``Stack`` per slice, sorted by resource name; the global slice's Stack has
    ``prerequisites`` on every other slice's Stack (the operator runs it after they all succeed).

    Raises ``ValueError`` (one line: ``<option>: <problem>; <fix>``) for unusable options or slices.
    """
    _check_options(options)
    by_name = _check_slices(fleet, slices)
    others = sorted(name for name, s in by_name.items() if not s.is_global)
    return [_stack(fleet, s, others if s.is_global else [], options) for name, s in sorted(by_name.items())]


def render_operator_stacks(docs: Sequence[Mapping[str, Any]]) -> str:
    """The multi-document YAML text: the edgefleet header, then one document per Stack, in the given order."""
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.width = 4096  # one value, one line: long URLs and cluster lists do not wrap
    buffer = StringIO()
    buffer.write(
        f"{EXPORT_HEADER}: Pulumi Kubernetes Operator (v2) Stacks, one per slice.\n"
        "# Replaced on every export: change the fleet or the export options, not this file. See docs/operator.md.\n"
    )
    for doc in docs:
        buffer.write("---\n")
        yaml.dump(dict(doc), buffer)
    return buffer.getvalue()


def write_operator_stacks(docs: Sequence[Mapping[str, Any]], out: Path | None) -> str:
    """Render ``docs`` (``render_operator_stacks``) and, when ``out`` is a path, write them there as one file,
    replacing it atomically. Returns the text (the CLI prints it when ``out`` is None).

    Raises ``ExportFileError`` if ``out`` is a directory, or an existing file that does not start with the
    edgefleet header: a file edgefleet did not write is never overwritten.
    """
    text = render_operator_stacks(docs)
    if out is None:
        return text
    if out.is_dir():
        raise ExportFileError(f"{out} is a directory; pass a file path such as {out / 'stacks.yaml'}")
    if out.exists():
        with out.open(encoding="utf-8", errors="replace") as f:
            first = f.readline()
        if not first.startswith(EXPORT_HEADER):
            raise ExportFileError(f"{out} exists and was not written by edgefleet; choose another path or remove it")
    out.parent.mkdir(parents=True, exist_ok=True)
    replace_file(out, text)
    return text
