"""netcheck's designated WAN probes in the plan (one public UDP load balancer per cluster, each
cluster's probes wired to the others' addresses, the stack's key secret), the existing clusters'
zone label (a token and get-nodes RBAC for the host agent alone), and how narrow the policy pack
keeps each of these exceptions."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from pulumi_policy import PolicyResource, ResourceValidationArgs, StackValidationArgs

from edgefleet.check import evaluate
from edgefleet.components.config import ConfigError, FleetSpec, parse_fleet
from edgefleet.components.config.model import NetcheckWanSpec
from edgefleet.components.fleet import Fleet
from edgefleet.components.netcheck import WanLayout, wan_egress, wan_layout
from edgefleet.engine import ProgramRun, Registration, run_under_mocks
from edgefleet.mocks import RANDOM_BYTES
from edgefleet.policies.rules import ALL_POLICIES
from edgefleet.policies.rules import kubernetes as k
from edgefleet.policies.rules import network as n
from tests.clusters.support import GCP_PROJECT, fleet_args, fleet_config
from tests.conftest import REPO
from tests.policies.harness import changed, options, proxied, violations

ADMIN = {"public": True, "allowed_cidrs": ["203.0.113.0/24"]}
CLUSTERS: list[dict[str, Any]] = [
    {"vendor": "aws", "region": "eu-central-1"},
    {"vendor": "gcp", "region": "europe-west3"},
    {"vendor": "azure", "region": "westeurope"},
    {"vendor": "digitalocean", "region": "fra1", "endpoint": ADMIN},
    {"vendor": "linode", "region": "de-fra-2", "endpoint": ADMIN},
    {"vendor": "existing", "name": "shop-berlin", "location": {"city": "Berlin", "country": "DE"}},
]  # fmt: skip
SERVICE = "kubernetes:core/v1:Service"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
DAEMONSET = "kubernetes:apps/v1:DaemonSet"
POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"


def _plan(clusters: list[dict[str, Any]], wan: dict[str, Any] | None = None) -> tuple[FleetSpec, ProgramRun]:
    raw = fleet_config(clusters, netcheck=True)
    if wan is not None:
        raw["netcheck"]["wan"] = wan
    made: dict[str, Fleet] = {}

    def program() -> None:
        made["fleet"] = Fleet("fleet", fleet_args(raw))

    run = run_under_mocks(program, stack="prod", project_dir=REPO)
    return made["fleet"].spec, run


def _named(run: ProgramRun, kind: str, name: str) -> dict[str, Registration]:
    return {
        r.inputs["metadata"]["labels"]["edgefleet-cluster"]: r
        for r in run.registrations
        if r.type == kind and r.inputs["metadata"]["name"] == name
    }


@pytest.fixture(scope="module")
def every_vendor() -> tuple[FleetSpec, ProgramRun]:
    return _plan(CLUSTERS)


def test_every_cluster_but_linodes_gets_designated_probes_behind_a_udp_load_balancer(
    every_vendor: tuple[FleetSpec, ProgramRun],
) -> None:
    spec, run = every_vendor
    names = {c.vendor.value: c.name for c in spec.clusters}
    services = _named(run, SERVICE, "netprobe-wan")
    members = {names[v] for v in ("aws", "gcp", "azure", "digitalocean", "existing")}
    assert set(services) == members  # Linode: UDP only on premium NodeBalancers, skipped by default
    aws = "service.beta.kubernetes.io/aws-load-balancer-"
    expected = {
        names["aws"]: {f"{aws}type": "nlb", f"{aws}scheme": "internet-facing"},
        names["gcp"]: None,
        names["azure"]: None,
        names["digitalocean"]: None,
        names["existing"]: None,
    }
    for cluster, service in services.items():
        spec_ = service.inputs["spec"]
        assert spec_["type"] == "LoadBalancer"
        assert spec_["externalTrafficPolicy"] == "Local"
        assert spec_["ports"] == [{"name": "probe", "port": 9798, "protocol": "UDP", "targetPort": "probe"}]
        assert spec_["selector"]["app.kubernetes.io/component"] == "wan"
        assert service.inputs["metadata"].get("annotations") == expected[cluster], cluster
    deployments = _named(run, DEPLOYMENT, "netprobe-wan")
    assert set(deployments) == members
    by_urn = {s.urn: c for c, s in services.items()}
    for cluster, deployment in deployments.items():
        pod = deployment.inputs["spec"]["template"]["spec"]
        assert deployment.inputs["spec"]["replicas"] == 2
        assert pod["automountServiceAccountToken"] is False
        assert "hostNetwork" not in pod
        env = {e["name"]: e for e in pod["containers"][0]["env"]}
        peers = dict(item.split("=") for item in env["NETPROBE_WAN_PEERS"]["value"].split(","))
        assert set(peers) == members - {cluster}
        # Each peer's address is its Service's load balancer address (the mock's ingress IP).
        assert all(p.startswith("203.0.113.") and p.endswith(":9798") for p in peers.values())
        assert env["NETPROBE_KEY"]["valueFrom"] == {"secretKeyRef": {"name": "netprobe-wan-key", "key": "key"}}
        waits_for = {by_urn[d] for d in deployment.dependencies if d in by_urn}
        assert waits_for == members - {cluster}  # the others' Services, never its own
    # No cycle: no WAN Service waits for a Deployment.
    deployment_urns = {d.urn for d in deployments.values()}
    assert not any(deployment_urns & set(s.dependencies) for s in services.values())


def test_the_key_is_generated_once_and_never_in_the_plan(every_vendor: tuple[FleetSpec, ProgramRun]) -> None:
    _, run = every_vendor
    keys = [r for r in run.registrations if r.type == RANDOM_BYTES]
    assert [(k_.name, k_.inputs) for k_ in keys] == [("netcheck-wan-key", {"length": 32})]
    # The random provider's generated bytes are secret outputs (declared by the SDK itself).
    assert set(keys[0].additional_secret_outputs) >= {"hex", "base64"}
    secrets = _named(run, "kubernetes:core/v1:Secret", "netprobe-wan-key")
    assert len(secrets) == 5
    assert all(s.inputs["stringData"] == "[secret]" for s in secrets.values())
    everything = json.dumps([r.inputs for r in run.registrations])
    stand_in = hashlib.sha256(f"{keys[0].name}\x1fnot-a-key".encode()).digest()[:32].hex()
    assert stand_in not in everything


def test_linode_premium_skip_lists_and_a_lone_cluster() -> None:
    _, run = _plan(CLUSTERS[3:5], {"linode": "premium"})
    services = _named(run, SERVICE, "netprobe-wan")
    linode = next(s for c, s in services.items() if c.startswith("linode"))
    assert linode.inputs["metadata"]["annotations"] == {
        "service.beta.kubernetes.io/linode-loadbalancer-nodebalancer-type": "premium"
    }
    assert linode.inputs["spec"]["externalTrafficPolicy"] == "Cluster"  # its UDP NodeBalancer checks nothing
    spec, run = _plan(CLUSTERS[:3], {"skip": ["aws-eu-central-1"]})
    assert set(_named(run, SERVICE, "netprobe-wan")) == {c.name for c in spec.clusters} - {"aws-eu-central-1"}
    _, run = _plan(CLUSTERS[:1])  # one location: nothing to probe, no load balancer, no key
    assert _named(run, SERVICE, "netprobe-wan") == {}
    assert not [r for r in run.registrations if r.type == "pulumi-python:dynamic:Resource"]
    _, run = _plan(CLUSTERS[:3], {"enabled": False})
    assert _named(run, SERVICE, "netprobe-wan") == {}


def test_the_layout_says_why_a_cluster_has_no_wan_probes() -> None:
    clusters = [("a", "aws"), ("l", "linode"), ("s", "existing"), ("g", "gcp")]
    layout = wan_layout(clusters, NetcheckWanSpec(skip=("s",)))
    assert layout.members == ("a", "g")
    assert layout.skipped["l"].startswith("Linode NodeBalancers carry UDP only as premium")
    assert layout.skipped["s"] == "listed in netcheck.wan.skip"
    assert wan_layout(clusters[:2], NetcheckWanSpec()) == WanLayout(
        (), {"a": "no other cluster of this fleet has WAN probes", "l": layout.skipped["l"]}
    )
    assert wan_layout(clusters, NetcheckWanSpec(enabled=False)).members == ()


def test_egress_goes_to_the_peers_addresses_or_udp_anywhere_for_a_named_load_balancer() -> None:
    udp = [{"port": 9798, "protocol": "UDP"}]
    assert wan_egress(["203.0.113.9", "198.51.100.4", "203.0.113.9"]) == [
        {"to": [{"ip_block": {"cidr": "198.51.100.4/32"}}, {"ip_block": {"cidr": "203.0.113.9/32"}}], "ports": udp}
    ]
    assert wan_egress(["2001:db8::1"]) == [{"to": [{"ip_block": {"cidr": "2001:db8::1/128"}}], "ports": udp}]
    named = wan_egress(["203.0.113.9", "a1b2.elb.eu-central-1.amazonaws.com"])
    assert named == [{"to": [{"ip_block": {"cidr": "0.0.0.0/0"}}], "ports": udp}]
    # No address yet (a Service still pending, a peer slice not deployed): nothing allowed for it.
    assert wan_egress(["", ""]) == []
    assert wan_egress(["", "203.0.113.9"]) == [{"to": [{"ip_block": {"cidr": "203.0.113.9/32"}}], "ports": udp}]


def test_only_the_existing_clusters_host_agent_gets_a_token_and_it_may_only_get_nodes(
    every_vendor: tuple[FleetSpec, ProgramRun],
) -> None:
    spec, run = every_vendor
    existing = next(c.name for c in spec.clusters if c.vendor.value == "existing")
    daemonsets = [r for r in run.registrations if r.type == DAEMONSET]
    with_token = [d for d in daemonsets if d.inputs["spec"]["template"]["spec"]["automountServiceAccountToken"]]
    assert [
        (d.inputs["metadata"]["labels"]["edgefleet-cluster"], d.inputs["metadata"]["name"]) for d in with_token
    ] == [(existing, "netprobe-host")]
    pod = with_token[0].inputs["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "netprobe-host"
    env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
    assert env["NETPROBE_ZONE_FROM"] == "node-label"
    zone_from = {
        d.inputs["metadata"]["labels"]["edgefleet-cluster"]: {
            e["name"]: e.get("value") for e in d.inputs["spec"]["template"]["spec"]["containers"][0]["env"]
        }.get("NETPROBE_ZONE_FROM")
        for d in daemonsets
        if d.inputs["metadata"]["name"] == "netprobe-host"
    }
    vendor = {c.name: c.vendor.value for c in spec.clusters}
    # Linode and DigitalOcean regions have no zones: nothing to read there.
    assert {vendor[c]: z for c, z in zone_from.items()} == {
        "aws": "metadata", "gcp": "metadata", "azure": "metadata", "digitalocean": None, "linode": None,
        "existing": "node-label",
    }  # fmt: skip
    roles = [r for r in run.registrations if r.type.startswith("kubernetes:rbac.authorization.k8s.io")]
    assert sorted(r.type.rsplit(":", 1)[-1] for r in roles) == ["ClusterRole", "ClusterRoleBinding"]
    role = next(r for r in roles if r.type.endswith(":ClusterRole"))
    assert role.inputs["rules"] == [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get"]}]


def test_the_policy_pack_passes_every_vendors_probes(every_vendor: tuple[FleetSpec, ProgramRun]) -> None:
    _, run = every_vendor
    _, found, _ = evaluate(run, ALL_POLICIES, {})
    netcheck = [f for f in found if "netcheck" in f[1] or "netprobe" in f[2]]
    assert netcheck == []


# ---------------------------------------------------------------------------------------------
# The exceptions, each as narrow as stated

CHAIN = "edgefleet:index:Fleet$edgefleet:netcheck:Netcheck$"
WAN_CHAIN = CHAIN + "edgefleet:netcheck:NetcheckWan$"
FOREIGN = "edgefleet:index:Fleet$edgefleet:index:EdgeWorkload$"


def _resource(kind: str, name: str, props: dict[str, Any], chain: str = CHAIN) -> PolicyResource:
    urn = f"urn:pulumi:prod::edgefleet::{chain}{kind}::{name}"
    return PolicyResource(kind, proxied(props), urn, name, options(), None, None, [], {})


def _stack_violations(rule: Any, *resources: PolicyResource) -> list[str]:
    return [v.rsplit(" @ ", 1)[0] for v in violations(rule, StackValidationArgs(list(resources), {}))]


def _resource_args(kind: str, props: dict[str, Any], chain: str = CHAIN) -> ResourceValidationArgs:
    r = _resource(kind, "x", props, chain)
    return ResourceValidationArgs(kind, r.props, r.urn, r.name, options(), None, {})


def _wan_service() -> dict[str, Any]:
    return {
        "metadata": {"name": "netprobe-wan", "namespace": "edgefleet-netcheck"},
        "spec": {"type": "LoadBalancer", "ports": [{"name": "probe", "port": 9798, "protocol": "UDP"}]},
    }


def test_the_wan_load_balancer_is_accepted_exactly() -> None:
    rule = k.K8S_LOADBALANCER_ONLY_PUBLIC
    assert _stack_violations(rule, _resource(SERVICE, "wan", _wan_service())) == []
    refused = "Service 'netprobe-wan' is a LoadBalancer but its workload is not `expose: public`"
    assert _stack_violations(rule, _resource(SERVICE, "wan", _wan_service(), FOREIGN)) == [refused]
    wider = changed(_wan_service(), "spec.ports", [*_wan_service()["spec"]["ports"], {"port": 22, "protocol": "TCP"}])
    assert _stack_violations(rule, _resource(SERVICE, "wan", wider)) == [refused]
    for path, value in (("spec.ports.0.protocol", "TCP"), ("spec.ports.0.port", 53), ("metadata.name", "debug"),
                        ("metadata.namespace", "default")):  # fmt: skip
        other = changed(_wan_service(), path, value)
        assert _stack_violations(rule, _resource(SERVICE, "wan", other)), path


def _wan_policy(to: list[dict[str, Any]], ports: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "metadata": {"name": "allow-netprobe-wan", "namespace": "edgefleet-netcheck"},
        "spec": {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"to": to, "ports": ports}]},
    }


def test_udp_to_the_probe_port_anywhere_is_accepted_for_the_wan_probes_only() -> None:
    rule = n.NETWORK_NO_EGRESS_EVERYWHERE
    world = [{"ipBlock": {"cidr": "0.0.0.0/0"}}]
    udp = [{"port": 9798, "protocol": "UDP"}]
    assert violations(rule, _resource_args(POLICY, _wan_policy(world, udp), WAN_CHAIN)) == []
    refused = ["NetworkPolicy 'allow-netprobe-wan' allows egress to 0.0.0.0/0"]
    assert violations(rule, _resource_args(POLICY, _wan_policy(world, udp), FOREIGN)) == refused
    for ports in ([{"port": 9798, "protocol": "TCP"}], [*udp, {"port": 443, "protocol": "TCP"}], []):
        assert violations(rule, _resource_args(POLICY, _wan_policy(world, ports), WAN_CHAIN)) == refused, ports
    renamed = changed(_wan_policy(world, udp), "metadata.name", "allow-netprobe")
    assert violations(rule, _resource_args(POLICY, renamed, WAN_CHAIN)) == [
        "NetworkPolicy 'allow-netprobe' allows egress to 0.0.0.0/0"
    ]


def _reader_role() -> dict[str, Any]:
    return {
        "metadata": {"name": "edgefleet-netcheck-node-reader"},
        "rules": [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get"]}],
    }


def _reader_binding() -> dict[str, Any]:
    return {
        "metadata": {"name": "edgefleet-netcheck-node-reader"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                    "name": "edgefleet-netcheck-node-reader"},
        "subjects": [{"kind": "ServiceAccount", "name": "netprobe-host", "namespace": "edgefleet-netcheck-host"}],
    }  # fmt: skip


ROLE = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole"
BINDING = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding"


def test_the_node_reader_is_get_nodes_and_nothing_wider() -> None:
    rule = k.K8S_NETCHECK_RBAC_EXACT
    role, binding = _resource(ROLE, "r", _reader_role()), _resource(BINDING, "b", _reader_binding())
    assert _stack_violations(rule, role, binding) == []
    for path, value in (
        ("rules.0.verbs", ["get", "list"]),
        ("rules.0.resources", ["nodes", "secrets"]),
        ("rules.0.apiGroups", ["*"]),
        ("rules", [*_reader_role()["rules"], {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]),
    ):
        wider = _resource(ROLE, "r", changed(_reader_role(), path, value))
        (message,) = _stack_violations(rule, wider, binding)
        assert message.startswith("ClusterRole 'edgefleet-netcheck-node-reader' may do more than get nodes"), path
    aggregated = _resource(ROLE, "r", {**_reader_role(), "aggregationRule": {"clusterRoleSelectors": []}})
    assert len(_stack_violations(rule, aggregated, binding)) == 1
    extra = _reader_binding()["subjects"] + [{"kind": "ServiceAccount", "name": "default", "namespace": "default"}]
    more = _resource(BINDING, "b", changed(_reader_binding(), "subjects", extra))
    (message,) = _stack_violations(rule, role, more)
    assert message.startswith("ClusterRoleBinding 'edgefleet-netcheck-node-reader' binds more than")
    admin = _resource(BINDING, "b", changed(_reader_binding(), "roleRef.name", "cluster-admin"))
    (message,) = _stack_violations(rule, role, admin)
    assert message.startswith("ClusterRoleBinding 'edgefleet-netcheck-node-reader' binds another role")
    # Any other RBAC object of netcheck is refused, and nothing else may bind the host agent's account.
    other = _resource("kubernetes:rbac.authorization.k8s.io/v1:Role", "x", {"metadata": {"name": "extra"}})
    assert _stack_violations(rule, role, binding, other) == [
        "Role 'extra': netcheck grants no permission but its node reader"
    ]
    elsewhere = _resource(BINDING, "c", {**_reader_binding(), "metadata": {"name": "sneaky"}}, FOREIGN)
    assert _stack_violations(rule, role, binding, elsewhere) == [
        "ClusterRoleBinding 'sneaky' grants netcheck's host agent account more than netcheck does"
    ]


def test_the_token_is_accepted_on_the_host_agent_with_its_account_only(
    every_vendor: tuple[FleetSpec, ProgramRun],
) -> None:
    _, run = every_vendor
    host = next(
        r for r in run.registrations
        if r.type == DAEMONSET and r.inputs["spec"]["template"]["spec"].get("serviceAccountName") == "netprobe-host"
    )  # fmt: skip

    def args(props: dict[str, Any], urn: str = host.urn) -> ResourceValidationArgs:
        return ResourceValidationArgs(DAEMONSET, proxied(props), urn, host.name, options(), None, {})

    rule = k.K8S_NO_TOKEN_AUTOMOUNT
    refused = ["the pod mounts a service account token: set automountServiceAccountToken: false"]
    assert violations(rule, args(host.inputs)) == []
    assert violations(rule, args(changed(host.inputs, "spec.template.spec.serviceAccountName", "default"))) == refused
    assert (
        violations(rule, args(host.inputs, host.urn.replace("edgefleet:netcheck:Netcheck$", FOREIGN[22:]))) == refused
    )
    assert violations(rule, args(changed(host.inputs, "metadata.name", "netprobe"))) == refused


@pytest.mark.parametrize(
    ("wan", "message"),
    [
        ({"skip": ["nowhere"]}, "fleet.netcheck.wan.skip[0]: no cluster 'nowhere' in this fleet"),
        (
            {"skip": ["aws-eu-central-1", "aws-eu-central-1"]},
            "fleet.netcheck.wan.skip[1]: cluster 'aws-eu-central-1' is listed twice",
        ),
        ({"replicas": 0}, "fleet.netcheck.wan.replicas"),
        ({"replicas": 6}, "fleet.netcheck.wan.replicas"),
        ({"linode": "yes"}, "fleet.netcheck.wan.linode"),
        ({"colour": "blue"}, "fleet.netcheck.wan"),
    ],
)
def test_bad_wan_settings_name_their_path(wan: dict[str, Any], message: str) -> None:
    raw = fleet_config(CLUSTERS[:2], netcheck=True)
    raw["netcheck"]["wan"] = wan
    with pytest.raises(ConfigError) as caught:
        parse_fleet(raw, provider_config={"gcp:project": GCP_PROJECT})
    assert any(str(issue).startswith(message) for issue in caught.value.issues), caught.value.issues


def test_the_plan_with_wan_probes_is_byte_identical(tmp_path: Path) -> None:
    from typer.testing import CliRunner  # noqa: PLC0415

    from edgefleet.cli import app  # noqa: PLC0415

    runner = CliRunner()
    outputs = []
    for i in range(2):
        result = runner.invoke(app, ["plan", "prod", "--json", str(tmp_path / f"plan{i}.json")])
        assert result.exit_code == 0, result.output
        outputs.append((tmp_path / f"plan{i}.json").read_bytes())
    assert outputs[0] == outputs[1]
    assert b"netprobe-wan" in outputs[0]



def test_each_network_policy_allows_exactly_what_its_agents_need(every_vendor: tuple[FleetSpec, ProgramRun]) -> None:
    spec, run = every_vendor
    cluster = next(c.name for c in spec.clusters if c.vendor.value == "gcp")
    policies = {
        (r.inputs["metadata"]["namespace"], r.inputs["metadata"]["name"]): r.inputs["spec"]
        for r in run.registrations
        if r.type == POLICY and r.inputs["metadata"]["labels"]["edgefleet-cluster"] == cluster
    }
    pods = policies[("edgefleet-netcheck", "allow-netprobe")]
    assert pods["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "pod"  # not the WAN probes
    wan = policies[("edgefleet-netcheck", "allow-netprobe-wan")]
    assert wan["podSelector"]["matchLabels"] == {
        "app.kubernetes.io/name": "netprobe",
        "app.kubernetes.io/component": "wan",
    }
    assert wan["ingress"] == [
        {"from": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [{"port": 9798, "protocol": "UDP"}]},
        {"from": [{"namespaceSelector": {}}], "ports": [{"port": 9799, "protocol": "TCP"}]},
    ]
    probes, dns = wan["egress"]
    assert probes["ports"] == [{"port": 9798, "protocol": "UDP"}]
    peers = {s.inputs["metadata"]["labels"]["edgefleet-cluster"]: s for s in run.registrations
             if s.type == SERVICE and s.inputs["metadata"]["name"] == "netprobe-wan"}  # fmt: skip
    assert len(probes["to"]) == len(peers) - 1  # one /32 per other location's load balancer
    assert all(p["ipBlock"]["cidr"].endswith("/32") for p in probes["to"])
    assert dns["ports"] == [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]
