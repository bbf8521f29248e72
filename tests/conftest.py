"""Shared test helpers. The mocks are the product's own (``edgefleet.mocks.FleetMocks``, keyed by
type token), so tests and ``edgefleet plan`` see the same outputs."""

from __future__ import annotations

import os
import shutil
import subprocess
import textwrap
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from edgefleet.components.config import FleetSpec, load_stack, parse_stack_text
from edgefleet.components.config.model import WorkloadSpec
from edgefleet.components.config.source import StackSource
from edgefleet.components.placement import catalog
from edgefleet.engine import ProgramRun, run_program

# CI (.ci/run sets HYPOTHESIS_PROFILE=ci) replays the same examples every run, so a red build is
# reproducible; locally each run explores new ones.
settings.register_profile("ci", derandomize=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

REPO = Path(__file__).resolve().parent.parent
STACKS = REPO / "stacks"
# Upstream files the tests validate against (CRDs, schemas, chart values), copied into the
# repository with their source, version and licence: tests/ref/SOURCE.md.
REF = REPO / "tests" / "ref"

# A kubeconfig whose token is a value no output may ever show.
PLANTED = "planted-secret-3f9c2d7e1b"
KUBECONFIG = textwrap.dedent(
    f"""\
    apiVersion: v1
    kind: Config
    clusters:
      - name: shop
        cluster: {{server: "https://10.20.30.40:6443", certificate-authority-data: {PLANTED}-ca}}
    contexts:
      - name: shop
        context: {{cluster: shop, user: shop}}
    current-context: shop
    users:
      - name: shop
        user: {{token: {PLANTED}-token}}
    """
)


def user_project(root: Path, *folders: str) -> Path:
    """A user's checkout in ``root``: the project file and the program (``__main__.py``, which
    `edgefleet plan` and `check` run), an empty ``stacks/`` and each of ``folders``."""
    root.mkdir(parents=True, exist_ok=True)
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(REPO / name, root / name)
    for folder in ("stacks", *folders):
        (root / folder).mkdir()
    return root


def stack_text(fleet_yaml: str, extra: str = "") -> str:
    """A stack settings file around an ``edgefleet:fleet`` body (indented YAML)."""
    body = textwrap.indent(textwrap.dedent(fleet_yaml).strip("\n"), "    ")
    return f"config:\n  edgefleet:fleet:\n{body}\n{extra}"


def source_of(text: str, stack: str = "test") -> StackSource:
    return parse_stack_text(text, f"stacks/Pulumi.{stack}.yaml", stack)


def plan_text(text: str, stack: str = "test") -> tuple[FleetSpec, ProgramRun]:
    """Validate and run the real program for a stack file's text."""
    source = source_of(text, stack)
    return load_stack(source), run_program(REPO, source)


@pytest.fixture(scope="session")
def dev_plan() -> tuple[FleetSpec, ProgramRun]:
    """The example dev stack, planned once per session."""
    return plan_text((STACKS / "Pulumi.dev.yaml").read_text(), "dev")


def workload_on(spec: WorkloadSpec, cluster: str, vendor: str, replicas: int) -> dict[str, Any]:
    """EdgeWorkload's public args for ``spec`` on a cluster of ``vendor`` (its first catalog region,
    or a shop in Hamburg)."""
    entry: dict[str, Any] = {"name": cluster, "vendor": vendor}
    if vendor == "existing":
        entry["location"] = {"city": "Hamburg", "country": "DE"}
        entry["cni"] = {"plugin": "calico", "installed": True}
    else:
        entry["region"] = catalog.regions(vendor)[0].id
    if vendor == "gcp":
        entry["project"] = "acme-edge"
    if vendor in ("linode", "digitalocean"):  # their API servers are always public
        entry["endpoint"] = {"public": True, "allowed_cidrs": ["198.51.100.0/24"]}
    return {
        "owner": "platform-team",
        "environment": "test",
        "cluster": entry,
        "workload": spec.model_dump(mode="json", exclude_unset=True),
        "replicas": replicas,
    }


def wait_until_ready(server: subprocess.Popen[bytes], url: str, log: Path, seconds: float = 60) -> None:
    """Wait for a Prometheus started as ``server`` to answer ``/-/ready`` at ``url``; fail the test
    with the end of its ``log`` if it exits or does not within ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(f"{url}/-/ready", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"prometheus did not start: {log.read_text()[-2000:]}")
        time.sleep(0.2)
