"""netcheck: the probes in every cluster's plan, the one Pod Security exception and how narrow the
policy pack keeps it, the config block, and the agent reading the environment the DaemonSet gives it."""

from __future__ import annotations

from typing import Any

import pytest
from pulumi_policy import ResourceValidationArgs

from edgefleet.components.config import ConfigError, FleetSpec, parse_fleet
from edgefleet.components.config.model import NETPROBE_IMAGE
from edgefleet.components.netcheck import HOST_NAMESPACE, NAMESPACE, NetcheckSpec, agent_env
from edgefleet.engine import ProgramRun, Registration
from edgefleet.netprobe import agent as agent_module
from edgefleet.netprobe.agent import Identity, config_from_env
from edgefleet.policies.rules import RESOURCE_POLICIES
from edgefleet.policies.rules import kubernetes as k
from tests.clusters.support import build, fleet_config
from tests.policies.harness import changed, options, proxied, violations

DAEMONSET = "kubernetes:apps/v1:DaemonSet"
ADMIN = {"public": True, "allowed_cidrs": ["203.0.113.0/24"]}
ENTRIES: dict[str, dict[str, Any]] = {
    "aws": {"vendor": "aws", "region": "eu-central-1"},
    "azure": {"vendor": "azure", "region": "westeurope"},
    "gcp": {"vendor": "gcp", "region": "europe-west3"},
    "gcp-autopilot": {"vendor": "gcp", "region": "europe-west1", "autopilot": True},
    "digitalocean": {"vendor": "digitalocean", "region": "fra1", "endpoint": ADMIN},
    "linode": {"vendor": "linode", "region": "de-fra-2", "endpoint": ADMIN},
}


def _daemonsets(run: ProgramRun) -> dict[tuple[str, str], Registration]:
    found = {}
    for r in run.registrations:
        if r.type == DAEMONSET:
            meta = r.inputs["metadata"]
            found[(meta["labels"]["edgefleet-cluster"], meta["name"])] = r
    return found


def _args(registration: Registration, *, urn: str | None = None, props: Any = None) -> ResourceValidationArgs:
    return ResourceValidationArgs(
        registration.type,
        proxied(registration.inputs if props is None else props),
        urn or registration.urn,
        registration.name,
        options(),
        None,
        {},
    )


def test_every_cluster_of_the_dev_stack_gets_both_agents(dev_plan: tuple[FleetSpec, ProgramRun]) -> None:
    spec, run = dev_plan
    daemonsets = _daemonsets(run)
    assert set(daemonsets) == {(c.name, n) for c in spec.clusters for n in ("netprobe", "netprobe-host")}
    for (cluster, name), ds in daemonsets.items():
        pod = ds.inputs["spec"]["template"]["spec"]
        host = name == "netprobe-host"
        assert ds.inputs["metadata"]["namespace"] == (HOST_NAMESPACE if host else NAMESPACE)
        assert pod.get("hostNetwork", False) is host
        assert not {"hostPID", "hostIPC", "volumes"} & set(pod)
        (container,) = pod["containers"]
        assert container["image"] == NETPROBE_IMAGE
        assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env["NETPROBE_CLUSTER"] == cluster
        assert env["NETPROBE_SIZES"] == "64,1400"
        annotations = ds.inputs["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true"
        assert annotations["prometheus.io/port"] == "9799"


def test_every_rule_passes_the_probes_and_the_exception_is_that_narrow(dev_plan: tuple[FleetSpec, ProgramRun]) -> None:
    _, run = dev_plan
    host = next(r for (_, name), r in _daemonsets(run).items() if name == "netprobe-host")
    namespaces = [r for r in run.registrations if r.type == "kubernetes:core/v1:Namespace"]
    host_ns = next(r for r in namespaces if r.inputs["metadata"]["name"] == HOST_NAMESPACE)
    rules = [p for p in RESOURCE_POLICIES if p.name.startswith("k8s-")]
    for registration in (host, host_ns):
        for rule in rules:
            assert violations(rule, _args(registration)) == [], (rule.name, registration.name)
    # The same DaemonSet, not made by the netcheck component: hostNetwork is refused.
    foreign = host.urn.replace("edgefleet:netcheck:Netcheck$", "edgefleet:index:EdgeWorkload$")
    assert violations(k.K8S_NO_HOST_NAMESPACES, _args(host, urn=foreign)) == ["the pod sets hostNetwork: true"]
    # Made by it, but asking for more than the host network: refused, each.
    for key in ("hostPID", "hostIPC"):
        wider = changed(host.inputs, f"spec.template.spec.{key}", True)
        assert violations(k.K8S_NO_HOST_NAMESPACES, _args(host, props=wider)) == [f"the pod sets {key}: true"]
    wider = changed(host.inputs, "spec.template.spec.volumes", [{"name": "root", "hostPath": {"path": "/"}}])
    assert violations(k.K8S_NO_HOST_PATH_VOLUMES, _args(host, props=wider)) == ["volume 'root' mounts a host path (/)"]
    wider = changed(host.inputs, "spec.template.spec.containers.0.securityContext.privileged", True)
    assert violations(k.K8S_NO_PRIVILEGED, _args(host, props=wider)) == ["container 'netprobe' runs privileged"]
    # Another name or namespace under the component: refused.
    for path, value in (("metadata.name", "debug"), ("metadata.namespace", NAMESPACE)):
        moved = changed(host.inputs, path, value)
        assert violations(k.K8S_NO_HOST_NAMESPACES, _args(host, props=moved)) == ["the pod sets hostNetwork: true"]
    # The namespace: privileged only there, only from the component, only still warning at restricted.
    foreign_ns = host_ns.urn.replace("edgefleet:netcheck:Netcheck$", "")
    assert violations(k.K8S_NAMESPACE_RESTRICTED, _args(host_ns, urn=foreign_ns)) == [
        f"namespace '{HOST_NAMESPACE}' enforces Pod Security level privileged, not restricted"
    ]
    labels = dict(host_ns.inputs["metadata"]["labels"])
    del labels["pod-security.kubernetes.io/warn"]
    quiet = changed(host_ns.inputs, "metadata.labels", labels)
    assert violations(k.K8S_NAMESPACE_RESTRICTED, _args(host_ns, props=quiet)) == [
        f"namespace '{HOST_NAMESPACE}' (netcheck's host probe) must still warn at Pod Security restricted"
    ]


def _fleet(environment: str, netcheck: dict[str, Any] | None = None) -> dict[str, Any]:
    raw = fleet_config([ENTRIES["aws"]], environment=environment)
    if netcheck is None:  # as written: no netcheck key at all
        del raw["netcheck"]
    else:
        raw["netcheck"] = netcheck
    return raw


def test_on_by_default_in_prod_only() -> None:
    assert parse_fleet(_fleet("prod")).netcheck == NetcheckSpec()
    assert parse_fleet(_fleet("dev")).netcheck is None
    assert parse_fleet(_fleet("dev", {"enabled": True})).netcheck is not None
    assert parse_fleet(_fleet("prod", {"enabled": False})).netcheck is None


@pytest.mark.parametrize("vendor", sorted(ENTRIES))
def test_a_cluster_of_every_vendor_gets_both_agents_through_its_provider(vendor: str) -> None:
    built = build([ENTRIES[vendor]], netcheck=True)
    (cluster,) = built.spec.clusters
    daemonsets = _daemonsets(built.run)
    assert set(daemonsets) == {(cluster.name, "netprobe"), (cluster.name, "netprobe-host")}
    # The cluster's own provider (a cloud cluster also has `-k8s-cni` for its CNI), by name.
    provider = next(r for r in built.run.registrations if r.name == f"{cluster.name}-k8s")
    assert all(ds.provider_urn is not None and ds.provider_urn.startswith(provider.urn) for ds in daemonsets.values())


@pytest.mark.parametrize(
    ("netcheck", "message"),
    [
        ({"rate": 0}, "fleet.netcheck.rate"),
        ({"image": "ghcr.io/edgefleet/netprobe:latest"}, "fleet.netcheck.image"),
        ({"large_packet": 100}, "fleet.netcheck.large_packet"),
        ({"nic_devices": ["eth0/../x"]}, "fleet.netcheck.nic_devices"),
        ({"enabled": "yes"}, "fleet.netcheck.enabled"),
        ({"colour": "blue"}, "fleet.netcheck"),
    ],
)
def test_bad_netcheck_settings_name_their_path(netcheck: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_fleet(_fleet("prod", netcheck))
    assert any(str(issue).startswith(message) for issue in caught.value.issues), caught.value.issues


@pytest.mark.parametrize("host", [False, True])
def test_the_agent_reads_the_environment_the_daemonset_gives_it(host: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(agent_module, "zone_from_metadata", lambda: "eu-central-1b")  # no metadata service here
    # The Downward API fills the fieldRef variables on a real node; here with plausible values.
    fields = {"spec.nodeName": "ip-10-0-1-5", "metadata.name": "netprobe-x7k2p", "status.podIP": "10.1.4.9",
              "status.hostIP": "10.0.1.5",
              "metadata.labels['topology.kubernetes.io/zone']": ""}  # fmt: skip  (no such pod label before 1.35)
    env = {}
    for item in agent_env("aws-eu-central-1", NetcheckSpec(large_packet=1380), host=host, vendor="aws"):
        value_from = item.get("value_from")
        env[item["name"]] = fields[value_from["field_ref"]["field_path"]] if value_from else item["value"]  # type: ignore[index]
    config = config_from_env(env)
    pod = "" if host else "netprobe-x7k2p"
    assert config.identity == Identity("aws-eu-central-1", "ip-10-0-1-5", "eu-central-1b" if host else "", pod)
    assert config.own_addresses == (("10.0.1.5",) if host else ("10.1.4.9",))
    paths = {d.path: d for d in config.discover}
    assert set(paths) == ({"host"} if host else {"pod", "service"})
    assert all(d.sizes == (64, 1380) for d in config.discover)
    assert config.nic_devices == (("eth0", "ens5") if host else ())
    assert config.rate == 10.0
