"""Mock outputs for the gcp provider's resources and functions (see ``edgefleet/mocks.py``).

Shapes follow pulumi-gcp 10.x: ids are the provider's import ids (``projects/<p>/...``), ``selfLink``
the Compute API URL, and names the provider would auto-name (``<resource name>-<7 hex>``) where the
program leaves them to Pulumi. The project comes from the resource's own ``project`` input (edgefleet
passes it explicitly), else the key ring or cluster path it names.
"""

from __future__ import annotations

from typing import Any

from pulumi.runtime import MockCallArgs, MockResourceArgs

from edgefleet.mock_outputs.common import (
    CallMock,
    ResourceMock,
    documentation_ip,
    echo,
    fake_ca,
    stable_hex,
)

COMPUTE = "https://www.googleapis.com/compute/v1"
CONTAINER = "https://container.googleapis.com/v1"
FALLBACK_PROJECT = "mock-project"
# What a REGULAR channel cluster runs when the config names no version.
MASTER_VERSION = "1.33.5-gke.1201000"


def _project(args: MockResourceArgs) -> str:
    return str(args.inputs.get("project") or FALLBACK_PROJECT)


def _name(args: MockResourceArgs) -> str:
    """The explicit name, or the one Pulumi's auto-naming would give."""
    return str(args.inputs.get("name") or f"{args.name}-{stable_hex(7, args.typ, args.name)}")


def project_number(project: str) -> str:
    """A 12-digit project number, stable per project id."""
    return str(100000000000 + int(stable_hex(12, "project-number", project), 16) % 900000000000)


def _network(args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
    project, name = _project(args), _name(args)
    path = f"projects/{project}/global/networks/{name}"
    _, state = echo(
        args,
        name=name,
        project=project,
        networkId=str(int(stable_hex(15, args.typ, args.name), 16)),
        selfLink=f"{COMPUTE}/{path}",
        gatewayIpv4="",
    )
    return path, state


def _subnetwork(args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
    project, name, region = _project(args), _name(args), str(args.inputs.get("region", ""))
    path = f"projects/{project}/regions/{region}/subnetworks/{name}"
    cidr = str(args.inputs.get("ipCidrRange", "10.0.0.0/20"))
    first = cidr.split("/", 1)[0].rsplit(".", 1)
    _, state = echo(
        args,
        name=name,
        project=project,
        selfLink=f"{COMPUTE}/{path}",
        gatewayAddress=f"{first[0]}.{int(first[1]) + 1}",
        subnetworkId=str(int(stable_hex(15, args.typ, args.name), 16)),
    )
    return path, state


def _router(args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
    project, name, region = _project(args), _name(args), str(args.inputs.get("region", ""))
    path = f"projects/{project}/regions/{region}/routers/{name}"
    _, state = echo(args, name=name, project=project, selfLink=f"{COMPUTE}/{path}")
    return path, state


def _router_nat(args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
    project, name, region = _project(args), _name(args), str(args.inputs.get("region", ""))
    _, state = echo(args, name=name, project=project)
    return f"projects/{project}/regions/{region}/routers/{args.inputs.get('router', '')}/{name}", state


def _service_account(args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
    project = _project(args)
    account_id = str(args.inputs.get("accountId") or f"{args.name}-{stable_hex(7, args.typ, args.name)}")[:30]
    email = f"{account_id}@{project}.iam.gserviceaccount.com"
    path = f"projects/{project}/serviceAccounts/{email}"
    _, state = echo(
        args,
        accountId=account_id,
        project=project,
        email=email,
        member=f"serviceAccount:{email}",
        name=path,
        uniqueId=str(100000000000000000000 + int(stable_hex(16, args.typ, args.name), 16) % 10**20),
    )
    return path, state


def _iam_member(args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
    """``projects.IAMMember`` and ``kms.CryptoKeyIAMMember``: id ``<resource>/<role>/<member>``."""
    target = args.inputs.get("project") or args.inputs.get("cryptoKeyId", "")
    _, state = echo(args, etag=f"BwY{stable_hex(9, args.typ, args.name)}=")
    return f"{target}/{args.inputs.get('role', '')}/{args.inputs.get('member', '')}", state


def _key_ring(args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
    project, name = _project(args), _name(args)
    path = f"projects/{project}/locations/{args.inputs.get('location', '')}/keyRings/{name}"
    _, state = echo(args, name=name, project=project)
    return path, state


def _crypto_key(args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
    name = _name(args)
    path = f"{args.inputs.get('keyRing', '')}/cryptoKeys/{name}"
    version = {"algorithm": "GOOGLE_SYMMETRIC_ENCRYPTION", "protectionLevel": "SOFTWARE"}
    _, state = echo(
        args,
        name=name,
        versionTemplate=args.inputs.get("versionTemplate", version),
        primaries=[{"name": f"{path}/cryptoKeyVersions/1", "state": "ENABLED"}],
        destroyScheduledDuration=args.inputs.get("destroyScheduledDuration", "2592000s"),
    )
    return path, state


def _private_address(*parts: str) -> str:
    """A stable address in 10.0.0.0/8 for a control plane's internal endpoint."""
    digest = bytes.fromhex(stable_hex(6, *parts))
    return f"10.{digest[0]}.{digest[1]}.{2 + digest[2] % 250}"


def _cluster(args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
    project, name, location = _project(args), _name(args), str(args.inputs.get("location", ""))
    path = f"projects/{project}/locations/{location}/clusters/{name}"
    private = dict(args.inputs.get("privateClusterConfig") or {})
    private_ip = _private_address(args.typ, args.name)
    public_ip = documentation_ip(args.typ, args.name)
    private["privateEndpoint"] = private_ip
    if not private.get("enablePrivateEndpoint"):
        private["publicEndpoint"] = public_ip
    master_auth = dict(args.inputs.get("masterAuth") or {})
    master_auth.update(clusterCaCertificate=fake_ca(args.typ, args.name), clientCertificate="", clientKey="")
    version = args.inputs.get("minMasterVersion")
    master_version = f"{version}.5-gke.1201000" if version else MASTER_VERSION
    # Computed when unset: Autopilot always runs Dataplane V2; Standard defaults to the legacy datapath.
    autopilot = args.inputs.get("enableAutopilot") is True
    datapath = args.inputs.get("datapathProvider") or ("ADVANCED_DATAPATH" if autopilot else "LEGACY_DATAPATH")
    _, state = echo(
        args,
        name=name,
        project=project,
        datapathProvider=datapath,
        endpoint=private_ip if private.get("enablePrivateEndpoint") else public_ip,
        privateClusterConfig=private,
        masterAuth=master_auth,
        masterVersion=master_version,
        selfLink=f"{CONTAINER}/{path}",
        labelFingerprint=stable_hex(8, args.typ, args.name, "labels"),
    )
    return path, state


def _node_pool(args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
    project, name, location = _project(args), _name(args), str(args.inputs.get("location", ""))
    cluster = str(args.inputs.get("cluster", ""))
    zones = list(args.inputs.get("nodeLocations") or [])
    groups = [
        f"{COMPUTE}/projects/{project}/zones/{zone}/instanceGroupManagers/gke-{cluster[:18]}-{name[:12]}-"
        f"{stable_hex(8, args.typ, args.name, zone)}-grp"
        for zone in zones
    ]
    _, state = echo(
        args,
        name=name,
        project=project,
        version=MASTER_VERSION,
        instanceGroupUrls=groups,
        managedInstanceGroupUrls=groups,
    )
    return f"projects/{project}/locations/{location}/clusters/{cluster}/nodePools/{name}", state


def _get_project(args: MockCallArgs) -> dict[str, Any]:
    project = str(args.args.get("projectId") or FALLBACK_PROJECT)
    return {
        "id": f"projects/{project}",
        "projectId": project,
        "name": project,
        "number": project_number(project),
        "labels": {},
        "effectiveLabels": {},
        "pulumiLabels": {},
        "autoCreateNetwork": True,
    }


RESOURCES: dict[str, ResourceMock] = {
    "gcp:compute/network:Network": _network,
    "gcp:compute/subnetwork:Subnetwork": _subnetwork,
    "gcp:compute/router:Router": _router,
    "gcp:compute/routerNat:RouterNat": _router_nat,
    "gcp:serviceaccount/account:Account": _service_account,
    "gcp:projects/iAMMember:IAMMember": _iam_member,
    "gcp:kms/keyRing:KeyRing": _key_ring,
    "gcp:kms/cryptoKey:CryptoKey": _crypto_key,
    "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember": _iam_member,
    "gcp:container/cluster:Cluster": _cluster,
    "gcp:container/nodePool:NodePool": _node_pool,
}
CALLS: dict[str, CallMock] = {
    "gcp:organizations/getProject:getProject": _get_project,
}
