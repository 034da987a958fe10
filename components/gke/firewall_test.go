package gke_test

import (
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llm-platform/llm-platform/components/gke"
	"github.com/llm-platform/llm-platform/internal/pulumimock"
)

const firewallType = "gcp:compute/firewall:Firewall"

type firewall struct {
	Name         string   `json:"name"`
	Network      string   `json:"network"`
	Direction    string   `json:"direction"`
	SourceRanges []string `json:"sourceRanges"`
	Description  string   `json:"description"`
	Allows       []struct {
		Protocol string   `json:"protocol"`
		Ports    []string `json:"ports"`
	} `json:"allows"`
}

func deployPorts(t *testing.T, create bool, ports []gke.ControlPlanePort) *mockGCP {
	t.Helper()
	cfg := config()
	cfg.Cluster.Create = create
	m := newMockGCP()
	require.NoError(t, pulumi.RunErr(func(ctx *pulumi.Context) error {
		_, err := gke.New(ctx, "gke", gke.Args{Config: cfg, ControlPlanePorts: ports})
		return err
	}, pulumi.WithMocks(pulumimock.Project, "test", m)))
	return m
}

// TestControlPlaneReachesEveryWebhookPort: private nodes accept only 443 and 10250 from the
// control plane unless told otherwise; the created cluster's firewall opens every other port it
// is given (istiod's webhooks, KEDA's metrics API and webhooks), each once, from the node subnet.
func TestControlPlaneReachesEveryWebhookPort(t *testing.T) {
	m := deployPorts(t, true, []gke.ControlPlanePort{
		{Port: 15017, For: "istiod webhooks"},
		{Port: 10250, For: "prometheus-operator webhooks"},
		{Port: 6443, For: "KEDA metrics API"},
		{Port: 9443, For: "KEDA webhooks"},
		{Port: 15017, For: "istio-base default validator"},
	})
	_, n := decode[network](t, m, networkType, "gke-network")
	fw := pulumimock.View[firewall](t, m.Find(t, firewallType, "gke-webhooks"))
	assert.Equal(t, n.Name, fw.Network)
	assert.Equal(t, n.Name+"-webhooks", fw.Name, "the rule's name is unchanged: no replacement")
	assert.Equal(t, "INGRESS", fw.Direction)
	assert.Equal(t, []string{gke.NodesCIDR}, fw.SourceRanges, "a Private Service Connect control plane takes a node-subnet address")
	require.Len(t, fw.Allows, 1)
	assert.Equal(t, "tcp", fw.Allows[0].Protocol)
	assert.Equal(t, []string{"6443", "9443", "15017"}, fw.Allows[0].Ports, "what GKE does not open, once each, sorted")
	for _, want := range []string{"15017 istiod webhooks", "6443 KEDA metrics API", "9443 KEDA webhooks"} {
		assert.Contains(t, fw.Description, want)
	}
	assert.NotContains(t, fw.Description, "10250", "GKE opens it")
}

// TestNoExtraPortNoFirewall: nothing beyond GKE's own ports, no rule; an adopted cluster's
// network is not ours to change.
func TestNoExtraPortNoFirewall(t *testing.T) {
	assert.Empty(t, deployPorts(t, true, []gke.ControlPlanePort{{Port: 10250, For: "prometheus-operator webhooks"}}).ByType(firewallType))
	assert.Empty(t, deployPorts(t, true, nil).ByType(firewallType))
	assert.Empty(t, deployPorts(t, false, []gke.ControlPlanePort{{Port: 15017, For: "istiod"}}).ByType(firewallType))
}
