"""``edgefleet doctor`` and ``edgefleet lab`` (``docs/doctor.md``, ``docs/cli.md``).

doctor exit codes: 0 healthy; 1 a fault found; 2 bad input (no lab, no agents, a bad option, part of
the network not measured); 3 could not reach (agents, Prometheus, the clusters). Never a traceback.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from edgefleet.components.config.errors import one_line
from edgefleet.doctor import collect, lab, report
from edgefleet.doctor.attribution import diagnose
from edgefleet.doctor.evidence import Evidence

if TYPE_CHECKING:
    from edgefleet.components.config.model import FleetSpec

__all__ = ["doctor", "lab_app"]

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)
DEFAULT_WINDOW = 20.0
NETCHECK_NAMESPACES = ("edgefleet-netcheck", "edgefleet-netcheck-host")
METRICS_PORT = 9799
PREFIX_NS = "ef-"


def _say(line: str) -> None:
    err.print(one_line(line), markup=False, highlight=False)


def _exit(code: int, line: str) -> typer.Exit:
    _say(line)
    return typer.Exit(code)


def _check_file_option(option: str, path: Path | None) -> None:
    from edgefleet.cli import output_problem

    if path is not None and (problem := output_problem(path)) is not None:
        raise _exit(report.EXIT_BAD_INPUT, f"{option} {path}: {problem}")


def doctor(  # noqa: PLR0917  one option each
    stack: Annotated[
        str | None, typer.Argument(help="A stack: its clusters' probes (with --prometheus, or its kubeconfigs).")
    ] = None,
    use_lab: Annotated[bool, typer.Option("--lab", help="Read the agents of the lab (`edgefleet lab up`).")] = False,
    prometheus: Annotated[
        str | None, typer.Option("--prometheus", help="Read the probes from this Prometheus (http://host:9090).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print edgefleet.doctor/v1 JSON on stdout.")] = False,
    window: Annotated[
        float, typer.Option("--window", help="Seconds of probes to judge (1% loss needs a few hundred per path).")
    ] = DEFAULT_WINDOW,
    rtt_matrix: Annotated[
        Path | None, typer.Option("--rtt-matrix", help="Write the measured RTT matrix (edgefleet.rtt/v1) here.")
    ] = None,
    fleet: Annotated[
        Path | None,
        typer.Option(
            "--fleet",
            help="Every slice of a sliced fleet (fleets/retail.yaml): all its clusters in one window, "
            "through each slice's kubeconfigs (or --prometheus).",
        ),
    ] = None,
) -> None:
    """Where packets are lost: healthy, or the layer, component, figures, confidence and next step."""
    sources = sum((use_lab, prometheus is not None))
    targets = sum((stack is not None, fleet is not None))
    if sources > 1 or targets > 1 or (use_lab and targets):
        raise _exit(
            report.EXIT_BAD_INPUT,
            "doctor: give one source: STACK or --fleet FLEET (each optionally with --prometheus URL), "
            "--prometheus URL or --lab",
        )
    if not targets and not sources:
        raise _exit(
            report.EXIT_BAD_INPUT, "doctor: say what to examine: STACK, --fleet FLEET, --prometheus URL or --lab"
        )
    if not 1 <= window <= 3600:
        raise _exit(report.EXIT_BAD_INPUT, f"--window must be 1-3600 seconds, got {window:g}")
    _check_file_option("--rtt-matrix", rtt_matrix)
    started = time.monotonic()
    try:
        evidence, context, source = _collect(stack, use_lab, prometheus, window, fleet)
    except (lab.LabError, collect.NoProbes, ValueError) as exc:
        raise _exit(report.EXIT_BAD_INPUT, f"doctor: {exc}") from None
    except collect.Unreachable as exc:
        raise _exit(report.EXIT_UNREACHABLE, f"doctor: could not reach: {exc}") from None
    if not evidence.streams and not evidence.agents:
        raise _exit(report.EXIT_BAD_INPUT, "doctor: no probe results: is netcheck enabled and deployed?")
    diagnosis = diagnose(evidence)
    doc, code = report.document(diagnosis, context, source)
    doc["seconds_to_verdict"] = round(time.monotonic() - started, 1)
    if rtt_matrix is not None:
        from edgefleet.cli import _write_output

        _write_output("--rtt-matrix", rtt_matrix, json.dumps(report.rtt_document(doc), indent=2, sort_keys=True) + "\n")
        _say(
            f"rtt matrix ({len(doc['rtt_matrix'])} pair(s), measured beside the model) written to {rtt_matrix}; "
            "latency placement uses it when a workload names it in `placement.rtt_matrix` (docs/placement.md)"
        )
    if as_json:
        sys.stdout.write(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    else:
        for line in report.text(doc):
            out.print(line, markup=False, highlight=False)
    raise typer.Exit(code)


def _progress(window: float) -> None:
    if err.is_terminal:
        _say(f"measuring for {window:g} s...")


def _collect(
    stack: str | None, use_lab: bool, prometheus: str | None, window: float, fleet: Path | None = None
) -> tuple[Evidence, report.Context, str]:
    if use_lab:
        topo = lab.load_state()
        context = report.Context(lab=True, locations={c: (v[1], v[2]) for c, v in topo.locations.items()})
        _progress(window)
        return collect.from_agents([a.metrics_url for a in topo.agents], window), context, "lab"
    stacks: tuple[str, ...] = (stack,) if stack is not None else ()
    if fleet is not None:
        locations, skipped, stacks = _fleet_facts(fleet)
    elif stack is not None:
        locations, skipped = _stack_facts(stack)
    else:
        locations, skipped = None, {}
    context = report.Context(lab=False, locations=locations, wan_skipped=skipped)
    if prometheus is not None:
        match = ""
        if locations:
            match = 'source_cluster=~"' + "|".join(sorted(locations)) + '"'
        return collect.from_prometheus(prometheus, window, match=match), context, "prometheus"
    assert stacks
    _progress(window)
    return _from_kubeconfigs(stacks, window), context, "kubeconfigs"


def _fleet_facts(fleet: Path) -> tuple[dict[str, tuple[float, float]], dict[str, str], tuple[str, ...]]:
    """Where a sliced fleet's clusters are, which have no WAN probes by design, and the regional
    slices' stacks (their kubeconfigs outputs hold every cluster of the fleet)."""
    from edgefleet.components.config import ConfigError
    from edgefleet.orchestrate import OrchestrationError, fleet_spec_and_slices
    from edgefleet.project import find_project
    from edgefleet.stacks import fleet_file_argument

    try:
        project = find_project()
        fleet_file = fleet_file_argument(project, fleet)
        spec, slices = fleet_spec_and_slices(project, fleet_file)
    except ConfigError as exc:
        raise ValueError(f"{fleet}: {exc.issues[0] if exc.issues else exc}") from None
    except OrchestrationError as exc:
        raise ValueError(f"{fleet}: {exc}") from None
    locations, skipped = _spec_facts(spec)
    return locations, skipped, tuple(s.stack for s in slices if not s.is_global and s.clusters)


def _stack_facts(stack: str) -> tuple[dict[str, tuple[float, float]], dict[str, str]]:
    """Where the stack's clusters are, and which of them have no WAN probes by design (why)."""
    from edgefleet.cli import _load
    from edgefleet.components.config import ConfigError

    try:
        _, _, spec = _load(stack)
    except ConfigError as exc:
        raise ValueError(f"{stack}: {exc.issues[0] if exc.issues else exc}") from None
    return _spec_facts(spec)


def _spec_facts(spec: FleetSpec) -> tuple[dict[str, tuple[float, float]], dict[str, str]]:
    """Where a fleet's clusters are, and which have no WAN probes by design (why)."""
    from edgefleet.components.netcheck import fleet_wan_layout

    skipped = dict(fleet_wan_layout(spec).skipped)
    return {c.name: (c.location.lat, c.location.lon) for c in spec.clusters}, skipped


def _stack_kubeconfigs(stack: str) -> dict[str, str]:
    """A stack's ``kubeconfigs`` output (cluster -> kubeconfig), through the Pulumi CLI."""
    name = Path(stack).name.removeprefix("Pulumi.").removesuffix(".yaml")
    result = subprocess.run(
        ["pulumi", "stack", "output", "kubeconfigs", "--show-secrets", "--json", "-s", name],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    if result.returncode != 0:
        detail = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise collect.Unreachable(f"`pulumi stack output kubeconfigs -s {name}` failed: {detail}")
    try:
        found = json.loads(result.stdout)
    except ValueError:
        raise collect.Unreachable(f"stack {name}'s kubeconfigs output is not JSON") from None
    if not isinstance(found, dict) or not all(isinstance(v, str) for v in found.values()):
        raise collect.Unreachable(f"stack {name}'s kubeconfigs output is not a map of cluster to kubeconfig")
    return {str(k): v for k, v in found.items()}


def _from_kubeconfigs(stacks: tuple[str, ...], window: float) -> Evidence:
    """Every cluster's agents through its API server (``kubectl get --raw .../proxy/metrics``),
    with the kubeconfigs from the stacks' ``kubeconfigs`` outputs (the Pulumi CLI reads them); the
    clusters of several stacks (a fleet's slices) are measured in one window."""
    import tempfile

    name = ", ".join(stacks)
    for tool in ("pulumi", "kubectl"):
        if shutil.which(tool) is None:
            raise collect.Unreachable(
                f"reading {name}'s clusters needs the {tool} CLI; "
                "or pass --prometheus URL of a Prometheus that scrapes them"
            )
    kubeconfigs: dict[str, str] = {}
    for stack in stacks:
        kubeconfigs.update(_stack_kubeconfigs(stack))
    urls: list[str] = []
    files: dict[str, str] = {}
    problems: list[str] = []
    cilium: dict[str, tuple[str, str]] = {}  # a Cilium agent's metrics -> its cluster and node
    with tempfile.TemporaryDirectory() as tmp:
        for cluster, text in sorted(kubeconfigs.items()):
            path = Path(tmp) / f"{cluster}.yaml"
            path.write_text(text)
            files[cluster] = str(path)
            found, problem = _agent_paths(cluster, str(path))
            urls += found
            if problem:
                problems.append(problem)
            elif found:
                cilium.update(_cilium_paths(cluster, str(path)))
        if not urls:
            raise collect.Unreachable("; ".join(problems) or f"stack {name} has no clusters in its kubeconfigs output")

        def fetch(url: str) -> str:
            cluster, _, raw = url.removeprefix("kube://").partition("/")
            done = subprocess.run(
                ["kubectl", "--kubeconfig", files[cluster], "get", "--raw", "/" + raw],
                capture_output=True, text=True, check=False, timeout=30,
            )  # fmt: skip
            if done.returncode != 0:
                raise OSError((done.stderr.strip().splitlines() or ["kubectl failed"])[-1])
            return done.stdout

        evidence = collect.from_agents(urls, window, fetch=fetch, hubble=cilium)
    return replace(evidence, problems=(*problems, *evidence.problems))


HUBBLE_METRICS_PORT = 9965  # the Cilium agent's Hubble metrics (hubble.metrics.port)


def _cilium_paths(cluster: str, kubeconfig: str) -> dict[str, tuple[str, str]]:
    """The Cilium agents' Hubble metrics through the API server's pod proxy, with their node; none
    where Cilium is not there or cannot be listed (Hubble's drops are supporting evidence)."""
    try:
        done = subprocess.run(
            ["kubectl", "--kubeconfig", kubeconfig, "-n", "kube-system", "get", "pods", "-o", "json",
             "-l", "k8s-app=cilium"],
            capture_output=True, text=True, check=False, timeout=60,
        )  # fmt: skip
        items: list[dict[str, Any]] = json.loads(done.stdout).get("items", []) if done.returncode == 0 else []
    except (OSError, subprocess.TimeoutExpired, ValueError, AttributeError):
        return {}
    found = {}
    for pod in items:
        try:
            name, node = str(pod["metadata"]["name"]), str(pod["spec"]["nodeName"])
        except (KeyError, TypeError):
            continue
        path = f"kube://{cluster}/api/v1/namespaces/kube-system/pods/{name}:{HUBBLE_METRICS_PORT}/proxy/metrics"
        found[path] = (cluster, node)
    return found


def _agent_paths(cluster: str, kubeconfig: str) -> tuple[list[str], str | None]:
    """The proxy paths of a cluster's agents, and what went wrong (unreachable, no agents)."""
    paths = []
    errors = []
    for namespace in NETCHECK_NAMESPACES:
        try:
            done = subprocess.run(
                ["kubectl", "--kubeconfig", kubeconfig, "-n", namespace, "get", "pods", "-o", "json",
                 "-l", "app.kubernetes.io/name=netprobe"],
                capture_output=True, text=True, check=False, timeout=60,
            )  # fmt: skip
            if done.returncode != 0:
                errors.append((done.stderr.strip().splitlines() or ["kubectl failed"])[-1])
                continue
            items: list[dict[str, Any]] = json.loads(done.stdout).get("items", [])
        except (OSError, subprocess.TimeoutExpired, ValueError, AttributeError) as exc:
            errors.append(str(exc) or type(exc).__name__)
            continue
        for pod in items:
            pod_name = pod["metadata"]["name"]
            paths.append(f"kube://{cluster}/api/v1/namespaces/{namespace}/pods/{pod_name}:{METRICS_PORT}/proxy/metrics")
    if errors and not paths:
        return paths, f"cluster {cluster}: could not list its probe agents: {errors[-1]}"
    if not paths:
        return paths, f"cluster {cluster}: no probe agents (is netcheck enabled and deployed there?)"
    return paths, None


# ----------------------------------------------------------------------------------------------

lab_app = typer.Typer(
    help="A real network in Linux namespaces (root, iproute2, nftables) to rehearse `edgefleet doctor --lab`.",
    no_args_is_help=True,
)


def _lab_fail(exc: lab.LabError) -> typer.Exit:
    return _exit(report.EXIT_BAD_INPUT, f"lab: {exc}")


@lab_app.command("up")
def lab_up(
    clusters: Annotated[int, typer.Option("--clusters", help="Clusters (locations), 1-8.")] = 2,
    nodes: Annotated[int, typer.Option("--nodes", help="Nodes per cluster, 2-8 (two pods each).")] = 3,
    rate: Annotated[float, typer.Option("--rate", help="Probes per second per stream.")] = 25.0,
) -> None:
    """Build the lab and start a probe agent in every node and pod namespace."""
    try:
        topo = lab.topology(clusters, nodes, rate)
        lab.up(topo, progress=lambda step: _say(f"lab up: {step}"))
    except lab.LabError as exc:
        raise _lab_fail(exc) from None
    except KeyboardInterrupt:
        raise _exit(130, "lab up: interrupted; everything it made was removed") from None
    _say(
        f"lab up: {len(topo.clusters)} cluster(s) x {topo.nodes} node(s), {len(topo.agents)} agents "
        f"({sum(1 for a in topo.agents if a.role == 'wan')} of them designated WAN probes, authenticated); "
        f"namespaces ef-<cluster>-<node>[-<pod>]; next: `edgefleet doctor --lab`"
    )


@lab_app.command("fault")
def lab_fault(
    kind: Annotated[str, typer.Argument(help=f"One of: {', '.join(lab.FAULT_KINDS)}.")],
    target: Annotated[str, typer.Argument(help="A node (c1-n2), a pod (c1-n2-p1), a cluster (c1) or c1:c2.")],
    loss: Annotated[float, typer.Option("--loss", help="Percent of packets dropped at random.")] = 100.0,
) -> None:
    """Drop packets with an nftables rule (uplink, zone, overlay, mtu, veth, service, wan), or take a
    node's NIC away part of every second (nic: the kernel counts the drops)."""
    try:
        topo = lab.load_state()
        fault = lab.fault_rules(topo, kind, target, loss)
        lab.inject(fault)
    except lab.LabError as exc:
        raise _lab_fail(exc) from None
    if fault.flap is not None:
        namespace, link = fault.flap
        how = "down" if loss >= 100 else f"down {loss:g}% of every second"
        counted = f"eth0's tx_dropped in {PREFIX_NS}{target} grows"
        _say(f"lab fault: {kind} {target}: link {link} in {namespace} {how} ({counted})")
        return
    where = ", ".join(ns for ns, _ in fault.rules)
    _say(f"lab fault: {kind} {target}: {loss:g}% dropped (table inet ef-fault in {where})")


@lab_app.command("clear")
def lab_clear() -> None:
    """Remove every injected fault."""
    try:
        cleared = lab.clear(lab.load_state())
    except lab.LabError as exc:
        raise _lab_fail(exc) from None
    _say(f"lab clear: faults removed from {cleared} namespace(s)")


@lab_app.command("down")
def lab_down() -> None:
    """Stop the agents and delete every ef-* namespace, the ef-mgmt bridge and the lab's state."""
    try:
        lab.check_available()
    except lab.LabError as exc:
        raise _lab_fail(exc) from None
    removed = lab.down()
    _say(f"lab down: removed {len(removed)} namespace(s) and link(s)" if removed else "lab down: nothing was up")
