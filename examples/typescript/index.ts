// A TypeScript program using edgefleet's components through the SDK that
// `pulumi package add https://github.com/<your org>/edgefleet@v0.1.0` (or a path) generates.
// Property names are the schema's (camelCase); tests/test_public_api.py checks them.
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import * as edgefleet from "@pulumi/edgefleet";

const config = new pulumi.Config();

const shop = new edgefleet.ExistingCluster("store-berlin-01", {
    owner: "platform-team",
    environment: "dev",
    name: "store-berlin-01",
    location: { country: "DE", city: "Berlin" },
    kubeconfig: config.requireSecret("shopKubeconfig"),
    cni: { plugin: "calico", podCidr: "10.42.0.0/16" },
});

// Other languages build the Kubernetes provider from the cluster's (secret) kubeconfig.
const shopProvider = new k8s.Provider("store-berlin-01", { kubeconfig: shop.kubeconfig });

new edgefleet.EdgeWorkload("price-board-store-berlin-01", {
    owner: "platform-team",
    environment: "dev",
    cluster: {
        name: "store-berlin-01",
        vendor: "existing",
        location: { country: "DE", city: "Berlin" },
        cni: { plugin: "calico", podCidr: "10.42.0.0/16" },
    },
    workload: {
        name: "price-board",
        image: "ghcr.io/acme/price-board:1.2.0",
        port: 8080,
        probePath: "/healthz",
    },
    replicas: 2,
    secretEnv: { API_TOKEN: config.requireSecret("priceBoardToken") },
}, { provider: shopProvider });

const edge = new edgefleet.EksCluster("aws-eu-central-1", {
    owner: "platform-team",
    environment: "dev",
    region: "eu-central-1",
    cni: { plugin: "cilium" },
    nodePools: [{ name: "general", size: "medium", min: 2, max: 4 }],
});

export const edgeEndpoint = edge.endpoint;
