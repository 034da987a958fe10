package stacks

import (
	"maps"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llm-platform/llm-platform/components/addons"
	"github.com/llm-platform/llm-platform/internal/pulumimock"
)

// scrapes reads which cluster components the installed kube-prometheus-stack scrapes.
func scrapes(t *testing.T, m *pulumimock.Mocks) map[string]bool {
	t.Helper()
	rel := pulumimock.View[struct {
		Values map[string]any `json:"values"`
	}](t, m.Find(t, helmReleaseType, addons.MonitoringRelease))
	out := map[string]bool{}
	for _, k := range []string{"kubeControllerManager", "kubeScheduler", "kubeEtcd", "kubeProxy", "coreDns"} {
		v, ok := valueAt(rel.Values, k+".enabled")
		require.True(t, ok, "%s.enabled is set explicitly", k)
		out[k] = v.(bool)
	}
	rules, ok := valueAt(rel.Values, "defaultRules.rules")
	require.True(t, ok)
	for k, v := range rules.(map[string]any) {
		out["rules."+k] = v.(bool)
	}
	return out
}

// TestMonitoringFitsEachCloud: kube-prometheus-stack scrapes, and alerts on, only the cluster
// components the cloud lets it reach: on GKE and EKS not the managed control plane (scheduler,
// controller manager, etcd) nor kube-proxy (absent with Dataplane V2; on 127.0.0.1 on EKS), on GKE
// not CoreDNS (GKE runs kube-dns); on an existing cluster everything, unless configured.
func TestMonitoringFitsEachCloud(t *testing.T) {
	on := map[string]bool{
		"kubeControllerManager": true, "kubeScheduler": true, "kubeEtcd": true, "kubeProxy": true, "coreDns": true,
		"rules.kubeControllerManager": true, "rules.kubeSchedulerAlerting": true, "rules.kubeSchedulerRecording": true,
		"rules.etcd": true, "rules.kubeProxy": true,
	}
	managed := map[string]bool{
		"kubeControllerManager": false, "kubeScheduler": false, "kubeEtcd": false, "kubeProxy": false,
		"rules.kubeControllerManager": false, "rules.kubeSchedulerAlerting": false, "rules.kubeSchedulerRecording": false,
		"rules.etcd": false, "rules.kubeProxy": false,
	}
	for _, tc := range []struct {
		name   string
		config map[string]string
		want   map[string]bool
	}{
		{"gke", gkeConfig(`{"name":"llm-gke"}`), merge(on, merge(managed, map[string]bool{"coreDns": false}))},
		{"eks", eksConfig(`{"name":"llm-eks"}`), merge(on, managed)},
		{"existing", map[string]string{"models": cloudModels}, on},
		{"existing without the control plane", map[string]string{"models": cloudModels}, merge(on, map[string]bool{
			"kubeControllerManager": false, "kubeScheduler": false, "kubeEtcd": false,
			"rules.kubeControllerManager": false, "rules.kubeSchedulerAlerting": false, "rules.kubeSchedulerRecording": false, "rules.etcd": false,
		})},
		{"eks whose kube-proxy serves on every address", eksConfig(`{"name":"llm-eks"}`), merge(on, merge(managed, map[string]bool{"kubeProxy": true, "rules.kubeProxy": true}))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.config
			cfg["observability"] = `{"enabled":true}`
			switch tc.name {
			case "existing without the control plane":
				cfg["observability"] = `{"enabled":true,"scrapeControlPlane":false}`
			case "eks whose kube-proxy serves on every address":
				cfg["observability"] = `{"enabled":true,"scrapeKubeProxy":true}`
			}
			m, _ := runCloud(t, cfg)
			assert.Equal(t, tc.want, scrapes(t, m))
		})
	}
}

// merge is a with b's entries over it.
func merge(a, b map[string]bool) map[string]bool {
	out := maps.Clone(a)
	maps.Copy(out, b)
	return out
}
