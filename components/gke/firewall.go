package gke

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/compute"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// ControlPlanePort is a port on the cluster's pods that the Kubernetes API server itself calls:
// an admission webhook's or an aggregated API's (For names it, for the rule's description).
type ControlPlanePort struct {
	Port int    `pulumi:"port"`
	For  string `pulumi:"for"`
}

// GKEOpenPorts are the ports GKE's own firewall rule opens from the control plane to private
// nodes; every other port a webhook or aggregated API listens on needs a rule of ours.
var GKEOpenPorts = []int{443, 10250}

// FirewallPorts are the ports the created cluster's firewall opens to the control plane for
// ports: those GKE does not open itself, each once, in order.
func FirewallPorts(ports []ControlPlanePort) []int {
	var out []int
	for _, p := range ports {
		if !slices.Contains(GKEOpenPorts, p.Port) && !slices.Contains(out, p.Port) {
			out = append(out, p.Port)
		}
	}
	slices.Sort(out)
	return out
}

// controlPlaneFirewall lets the control plane reach ports on the nodes' pods (nothing when every
// port is one GKE opens). Without it a webhook's calls time out (istiod's: every pod creation in
// an injected namespace; KEDA's: every ScaledObject write waits 10 s) and an aggregated API is
// unavailable (KEDA's external metrics: every model's HPA reports FailedGetExternalMetric and
// never scales; namespace deletion, and so `pulumi destroy`, can stall on it). A cluster without
// a masterIpv4CidrBlock uses Private Service Connect, whose control plane endpoint takes an
// address in the node subnet: that subnet is the source.
func controlPlaneFirewall(ctx *pulumi.Context, name, project, base string, network *compute.Network,
	ports []ControlPlanePort, opts ...pulumi.ResourceOption) error {
	open := FirewallPorts(ports)
	if len(open) == 0 {
		return nil
	}
	allowed := make(pulumi.StringArray, len(open))
	for i, p := range open {
		allowed[i] = pulumi.String(strconv.Itoa(p))
	}
	var users []string
	for _, p := range ports {
		if slices.Contains(open, p.Port) {
			users = append(users, fmt.Sprintf("%d %s", p.Port, p.For))
		}
	}
	_, err := compute.NewFirewall(ctx, name+"-webhooks", &compute.FirewallArgs{
		Name:         pulumi.String(base + "-webhooks"),
		Project:      pulumi.String(project),
		Network:      network.Name,
		Direction:    pulumi.String("INGRESS"),
		SourceRanges: pulumi.StringArray{pulumi.String(NodesCIDR)},
		Allows: compute.FirewallAllowArray{&compute.FirewallAllowArgs{
			Protocol: pulumi.String("tcp"), Ports: allowed,
		}},
		Description: pulumi.String("control plane to admission webhooks and aggregated APIs: " + strings.Join(users, ", ")),
	}, opts...)
	return err
}
