package addons_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llm-platform/llm-platform/components/addons"
)

// kubePrometheusStackSwitches are the values that switch the cluster components' scrapes and
// rules, named as kube-prometheus-stack 88.5.3 names them.
type kubePrometheusStackSwitches struct {
	KubeControllerManager *struct{ Enabled *bool } `json:"kubeControllerManager"`
	KubeScheduler         *struct{ Enabled *bool } `json:"kubeScheduler"`
	KubeEtcd              *struct{ Enabled *bool } `json:"kubeEtcd"`
	KubeProxy             *struct{ Enabled *bool } `json:"kubeProxy"`
	CoreDNS               *struct{ Enabled *bool } `json:"coreDns"`
	DefaultRules          struct {
		Rules map[string]bool `json:"rules"`
	} `json:"defaultRules"`
}

func monitoringValues(t *testing.T, hidden addons.HiddenComponents) kubePrometheusStackSwitches {
	t.Helper()
	args := addons.Args{Namespace: "llm", Monitoring: &addons.MonitoringArgs{
		Namespace: "monitoring", DashboardLabel: "grafana_dashboard", DashboardLabelValue: "1", Hidden: hidden,
	}}
	m, _ := deploy(t, args)
	_, rel := release(t, m, addons.MonitoringRelease)
	return values[kubePrometheusStackSwitches](t, rel)
}

// enabled reads an exporter's switch, which must be set explicitly (the chart's default is on).
func enabled(t *testing.T, name string, v *struct{ Enabled *bool }) bool {
	t.Helper()
	require.NotNil(t, v, "%s is set", name)
	require.NotNil(t, v.Enabled, "%s.enabled is set", name)
	return *v.Enabled
}

// TestHiddenComponentsAreNeitherScrapedNorAlertedOn: each hidden component's exporter is off, and
// so are the chart's rule groups about it (KubeSchedulerDown, KubeControllerManagerDown,
// KubeProxyDown, etcd*); what is not hidden stays on, explicitly.
func TestHiddenComponentsAreNeitherScrapedNorAlertedOn(t *testing.T) {
	for _, tc := range []struct {
		name                             string
		hidden                           addons.HiddenComponents
		controlPlane, kubeProxy, coreDNS bool
	}{
		{"nothing hidden (existing)", addons.HiddenComponents{}, true, true, true},
		{"eks", addons.HiddenComponents{ControlPlane: true, KubeProxy: true}, false, false, true},
		{"gke", addons.HiddenComponents{ControlPlane: true, KubeProxy: true, CoreDNS: true}, false, false, false},
		{"kube-proxy only", addons.HiddenComponents{KubeProxy: true}, true, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := monitoringValues(t, tc.hidden)
			assert.Equal(t, tc.controlPlane, enabled(t, "kubeControllerManager", v.KubeControllerManager))
			assert.Equal(t, tc.controlPlane, enabled(t, "kubeScheduler", v.KubeScheduler))
			assert.Equal(t, tc.controlPlane, enabled(t, "kubeEtcd", v.KubeEtcd))
			assert.Equal(t, tc.kubeProxy, enabled(t, "kubeProxy", v.KubeProxy))
			assert.Equal(t, tc.coreDNS, enabled(t, "coreDns", v.CoreDNS))
			// The defaultRules.rules keys of 88.5.3's values.yaml.
			assert.Equal(t, map[string]bool{
				"kubeControllerManager": tc.controlPlane, "kubeSchedulerAlerting": tc.controlPlane,
				"kubeSchedulerRecording": tc.controlPlane, "etcd": tc.controlPlane, "kubeProxy": tc.kubeProxy,
			}, v.DefaultRules.Rules)
		})
	}
}

// TestKEDAListensWhereTheControlPlaneCalls: the KEDA chart gets the metrics API and webhook
// ports explicitly, the same numbers ControlPlaneEndpoints reports.
func TestKEDAListensWhereTheControlPlaneCalls(t *testing.T) {
	m, _ := deploy(t, addons.Args{Namespace: "llm", KEDA: true})
	_, rel := release(t, m, "keda")
	v := values[struct {
		Service struct {
			PortHTTPSTarget int `json:"portHttpsTarget"`
		} `json:"service"`
		Webhooks struct {
			Port int `json:"port"`
		} `json:"webhooks"`
	}](t, rel)
	assert.Equal(t, addons.KEDAMetricsAPIPort, v.Service.PortHTTPSTarget)
	assert.Equal(t, addons.KEDAWebhookPort, v.Webhooks.Port)
}

// TestControlPlaneEndpointsFollowWhatIsInstalled: each add-on brings its webhooks and aggregated
// APIs, and only when installed.
func TestControlPlaneEndpointsFollowWhatIsInstalled(t *testing.T) {
	ports := func(args addons.Args) map[string][]int {
		out := map[string][]int{}
		for _, e := range addons.ControlPlaneEndpoints(args) {
			out[e.Release] = append(out[e.Release], e.Port)
		}
		return out
	}
	all := allOn()
	all.KEDA = true
	all.Monitoring = &addons.MonitoringArgs{Namespace: "monitoring"}
	assert.Equal(t, map[string][]int{
		"istio-base": {15017}, "istiod": {15017, 15017},
		addons.MonitoringRelease: {10250},
		"keda":                   {6443, 9443},
	}, ports(all))
	assert.Empty(t, ports(addons.Args{Namespace: "llm"}), "nothing installed, nothing to reach")
	istioOnly := allOn()
	assert.Equal(t, map[string][]int{"istio-base": {15017}, "istiod": {15017, 15017}}, ports(istioOnly))
}
