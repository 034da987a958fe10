package stacks

import (
	"fmt"
	"maps"
	"strings"
	"testing"

	monv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/llm-platform/llm-platform/components/addons"
	"github.com/llm-platform/llm-platform/components/gateway"
	"github.com/llm-platform/llm-platform/components/model"
	"github.com/llm-platform/llm-platform/components/observability"
	"github.com/llm-platform/llm-platform/internal/crdschema"
	"github.com/llm-platform/llm-platform/internal/pulumimock"
	"github.com/llm-platform/llm-platform/internal/versions"
)

const (
	podMonitorType     = "kubernetes:monitoring.coreos.com/v1:PodMonitor"
	serviceMonitorType = "kubernetes:monitoring.coreos.com/v1:ServiceMonitor"
	ruleType           = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"
	configMapType      = "kubernetes:core/v1:ConfigMap"
	serviceType        = "kubernetes:core/v1:Service"
	deploymentType     = "kubernetes:apps/v1:Deployment"
	netpolType         = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
)

// withObservability is a stack config with observability settings added.
func withObservability(config map[string]string, settings string) map[string]string {
	out := maps.Clone(config)
	out["observability"] = settings
	return out
}

func selects(t *testing.T, sel metav1.LabelSelector, set map[string]string) bool {
	t.Helper()
	s, err := metav1.LabelSelectorAsSelector(&sel)
	require.NoError(t, err)
	require.False(t, s.Empty(), "a selector that selects everything")
	return s.Matches(labels.Set(set))
}

// TestObservabilityOffDeclaresNothing: the default (every stack file leaves it off).
func TestObservabilityOffDeclaresNothing(t *testing.T) {
	for _, stack := range []string{"dev", "gke", "eks"} {
		t.Run(stack, func(t *testing.T) {
			m, _, err := run(t, pulumimock.StackConfig(t, "../Pulumi."+stack+".yaml"))
			require.NoError(t, err)
			for _, r := range m.Resources() {
				assert.NotContains(t, r.Type, "monitoring.coreos.com", r.Name)
				assert.NotEqual(t, observability.Type, r.Type)
				assert.NotContains(t, []string{addons.MonitoringRelease, addons.DCGMExporterRelease}, r.Name, "no monitoring chart")
				if r.Type == configMapType {
					assert.NotContains(t, r.Name, "dashboard")
					assert.NotContains(t, r.Name, "llm-platform-overview")
				}
			}
			// The gateway exposes its metrics port all the same (it costs nothing), fenced to
			// edge.metricsNamespaces.
			assert.True(t, m.Has(serviceType, "gateway-metrics"))
		})
	}
}

// TestObservabilityOnExistingCluster: the dev stack with observability on installs the pinned
// kube-prometheus-stack (no DCGM exporter off EKS), and the monitors select exactly the model
// pods' and the gateway's metrics ports.
func TestObservabilityOnExistingCluster(t *testing.T) {
	config := withObservability(pulumimock.StackConfig(t, "../Pulumi.dev.yaml"), `{"enabled":true}`)
	m, _, err := run(t, config)
	require.NoError(t, err)

	// The chart, pinned, with the selectors the monitors' labels rely on.
	rel := pulumimock.View[struct {
		Name           string `json:"name"`
		Chart          string `json:"chart"`
		Version        string `json:"version"`
		Namespace      string `json:"namespace"`
		RepositoryOpts struct {
			Repo string `json:"repo"`
		} `json:"repositoryOpts"`
		Values struct {
			Prometheus struct {
				PrometheusSpec map[string]any `json:"prometheusSpec"`
			} `json:"prometheus"`
			Grafana struct {
				Sidecar struct {
					Dashboards map[string]any `json:"dashboards"`
				} `json:"sidecar"`
			} `json:"grafana"`
		} `json:"values"`
	}](t, m.Find(t, helmReleaseType, addons.MonitoringRelease))
	assert.Equal(t, versions.KubePrometheusStack.Name, rel.Chart)
	assert.Equal(t, versions.KubePrometheusStack.Version, rel.Version)
	assert.Equal(t, versions.KubePrometheusStack.Repo, rel.RepositoryOpts.Repo)
	assert.Equal(t, addons.MonitoringRelease, rel.Name, "a fixed release name: the monitors' release label names it")
	assert.Equal(t, "monitoring", rel.Namespace)
	for _, k := range []string{"serviceMonitorSelectorNilUsesHelmValues", "podMonitorSelectorNilUsesHelmValues", "ruleSelectorNilUsesHelmValues"} {
		assert.Equal(t, true, rel.Values.Prometheus.PrometheusSpec[k], k)
	}
	assert.Equal(t, map[string]any{"enabled": true, "label": "grafana_dashboard", "labelValue": "1", "searchNamespace": "ALL"}, rel.Values.Grafana.Sidecar.Dashboards)
	assert.False(t, m.Has(helmReleaseType, addons.DCGMExporterRelease), "the DCGM exporter is for EKS")

	// PodMonitor: selects every model pod, on the container port serving vLLM's /metrics.
	pm := pulumimock.Decode[monv1.PodMonitor](t, m, podMonitorType, "observability-vllm")
	assert.Equal(t, addons.MonitoringRelease, pm.Labels["release"], "kube-prometheus-stack's Prometheus selects it")
	assert.Equal(t, "llm", pm.Namespace)
	assert.Equal(t, []string{"llm"}, pm.Spec.NamespaceSelector.MatchNames)
	require.Len(t, pm.Spec.PodMetricsEndpoints, 1)
	ep := pm.Spec.PodMetricsEndpoints[0]
	assert.Equal(t, "/metrics", ep.Path)
	assert.Equal(t, monv1.Duration("15s"), ep.Interval)
	sts := pulumimock.Decode[appsv1.StatefulSet](t, m, statefulSetType, "qwen3-0-6b")
	pod := sts.Spec.Template
	assert.True(t, selects(t, pm.Spec.Selector, pod.Labels), "the PodMonitor selects the model's pods")
	require.NotNil(t, ep.Port)
	assert.Equal(t, int32(model.Port), containerPort(t, pod.Spec.Containers, *ep.Port), "the named port is vLLM's")
	// Nothing else: not the gateway's pods.
	dep := pulumimock.Decode[appsv1.Deployment](t, m, deploymentType, "gateway")
	assert.False(t, selects(t, pm.Spec.Selector, dep.Spec.Template.Labels))

	// ServiceMonitor: the gateway's metrics Service, whose port reaches the metrics listener.
	sm := pulumimock.Decode[monv1.ServiceMonitor](t, m, serviceMonitorType, "observability-gateway")
	assert.Equal(t, addons.MonitoringRelease, sm.Labels["release"])
	require.Len(t, sm.Spec.Endpoints, 1)
	assert.Equal(t, "/metrics", sm.Spec.Endpoints[0].Path)
	metricsSvc := pulumimock.Decode[corev1.Service](t, m, serviceType, "gateway-metrics")
	publicSvc := pulumimock.Decode[corev1.Service](t, m, serviceType, "gateway")
	assert.True(t, selects(t, sm.Spec.Selector, metricsSvc.Labels), "selects the metrics Service")
	assert.False(t, selects(t, sm.Spec.Selector, publicSvc.Labels), "and not the public one")
	require.Len(t, metricsSvc.Spec.Ports, 1)
	sp := metricsSvc.Spec.Ports[0]
	assert.Equal(t, sm.Spec.Endpoints[0].Port, sp.Name)
	assert.Equal(t, int32(gateway.MetricsPort), sp.Port)
	assert.Equal(t, int32(gateway.MetricsPort), containerPort(t, dep.Spec.Template.Spec.Containers, sp.TargetPort.String()))
	assert.Equal(t, metricsSvc.Spec.Selector, dep.Spec.Selector.MatchLabels, "the metrics Service fronts the gateway pods")
	assert.Equal(t, gateway.MetricsServiceName(gateway.DefaultName), metricsSvc.Name, "the gateway's Prometheus job name the alerts use")
	for _, p := range publicSvc.Spec.Ports {
		assert.NotEqual(t, int32(gateway.MetricsPort), p.Port, "the public Service never carries the metrics port")
		assert.NotEqual(t, gateway.MetricsPortName, p.TargetPort.String())
	}

	// Rules and dashboards.
	rule := pulumimock.Decode[monv1.PrometheusRule](t, m, ruleType, "observability-alerts")
	assert.Equal(t, addons.MonitoringRelease, rule.Labels["release"])
	var alerts []string
	for _, g := range rule.Spec.Groups {
		for _, r := range g.Rules {
			alerts = append(alerts, r.Alert)
		}
	}
	for _, a := range observability.Alerts {
		assert.Contains(t, alerts, a)
	}
	for _, d := range []string{observability.OverviewDashboard, observability.ModelDashboard, observability.UsageDashboard} {
		cm := pulumimock.Decode[corev1.ConfigMap](t, m, configMapType, "observability-"+d)
		assert.Equal(t, "monitoring", cm.Namespace, "beside Grafana")
		assert.Equal(t, "1", cm.Labels["grafana_dashboard"], "labelled for the sidecar")
		assert.Contains(t, cm.Data[d+".json"], `"uid": "`+d+`-llm"`)
	}

	// The monitors wait for the operator's CRDs.
	stack := m.Find(t, helmReleaseType, addons.MonitoringRelease)
	for _, typ := range []string{podMonitorType, serviceMonitorType, ruleType} {
		r := m.ByType(typ)[0]
		parent := findURN(t, m, r.Parent)
		assert.Contains(t, parent.DependsOn, stack.URN, "%s waits for kube-prometheus-stack", typ)
	}

	// NetworkPolicies: the monitoring namespace reaches the gateway's metrics port, and only it.
	np := pulumimock.Decode[networkingv1.NetworkPolicy](t, m, netpolType, "edge-gateway")
	var metricsRules, otherRules int
	for _, rule := range np.Spec.Ingress {
		ports := map[int32]bool{}
		for _, p := range rule.Ports {
			ports[p.Port.IntVal] = true
		}
		if ports[gateway.MetricsPort] {
			metricsRules++
			assert.Len(t, rule.Ports, 1, "the metrics rule opens the metrics port alone")
			require.NotEmpty(t, rule.From)
			for _, from := range rule.From {
				require.NotNil(t, from.NamespaceSelector)
				assert.Equal(t, map[string]string{"kubernetes.io/metadata.name": "monitoring"}, from.NamespaceSelector.MatchLabels)
				assert.Nil(t, from.PodSelector)
			}
		} else {
			otherRules++
		}
	}
	assert.Equal(t, 1, metricsRules)
	assert.Equal(t, 1, otherRules, "the API rule (ingress gateway, Open WebUI) does not open the metrics port")
	models := pulumimock.Decode[networkingv1.NetworkPolicy](t, m, netpolType, "edge-models")
	var fromMonitoring bool
	for _, from := range models.Spec.Ingress[0].From {
		if from.NamespaceSelector != nil && from.NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] == "monitoring" {
			fromMonitoring = true
		}
	}
	assert.True(t, fromMonitoring, "the monitoring namespace may scrape vLLM")
}

// TestObservabilityOnEKS: the DCGM exporter comes too, pinned, on the GPU nodes, selected by
// the installed Prometheus, keeping the pod labels the GPU panels join on.
func TestObservabilityOnEKS(t *testing.T) {
	config := withObservability(pulumimock.StackConfig(t, "../Pulumi.eks.yaml"), `{"enabled":true,"namespace":"observe"}`)
	m, _ := runCloud(t, config)
	stack := m.Find(t, helmReleaseType, addons.MonitoringRelease)
	rel := pulumimock.View[struct {
		Chart          string `json:"chart"`
		Version        string `json:"version"`
		Namespace      string `json:"namespace"`
		RepositoryOpts struct {
			Repo string `json:"repo"`
		} `json:"repositoryOpts"`
		Values struct {
			ServiceMonitor struct {
				Enabled          bool              `json:"enabled"`
				AdditionalLabels map[string]string `json:"additionalLabels"`
				HonorLabels      bool              `json:"honorLabels"`
			} `json:"serviceMonitor"`
			NodeSelector map[string]string `json:"nodeSelector"`
			Tolerations  []map[string]any  `json:"tolerations"`
		} `json:"values"`
	}](t, m.Find(t, helmReleaseType, addons.DCGMExporterRelease))
	assert.Equal(t, versions.DCGMExporter.Name, rel.Chart)
	assert.Equal(t, versions.DCGMExporter.Version, rel.Version)
	assert.Equal(t, versions.DCGMExporter.Repo, rel.RepositoryOpts.Repo)
	assert.Equal(t, "observe", rel.Namespace)
	assert.True(t, rel.Values.ServiceMonitor.Enabled)
	assert.Equal(t, map[string]string{"release": addons.MonitoringRelease}, rel.Values.ServiceMonitor.AdditionalLabels)
	assert.True(t, rel.Values.ServiceMonitor.HonorLabels)
	assert.Equal(t, map[string]string{"nvidia.com/gpu.present": "true"}, rel.Values.NodeSelector)
	assert.Contains(t, rel.Values.Tolerations, map[string]any{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"})
	assert.Contains(t, m.Find(t, helmReleaseType, addons.DCGMExporterRelease).DependsOn, stack.URN, "its ServiceMonitor needs the operator's CRDs")

	// The namespace the stack runs in is the one the NetworkPolicies admit.
	np := pulumimock.Decode[networkingv1.NetworkPolicy](t, m, netpolType, "edge-gateway")
	var admitted []string
	for _, rule := range np.Spec.Ingress {
		for _, from := range rule.From {
			if from.NamespaceSelector != nil && from.PodSelector == nil {
				admitted = append(admitted, from.NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"])
			}
		}
	}
	assert.Contains(t, admitted, "observe")
}

// TestObservabilityWithExistingStack: install: false installs nothing and labels the monitors
// as told.
func TestObservabilityWithExistingStack(t *testing.T) {
	config := withObservability(pulumimock.StackConfig(t, "../Pulumi.eks.yaml"),
		`{"enabled":true,"install":false,"monitorLabels":{"prometheus":"main"},"dashboardLabels":{"grafana":"dash"}}`)
	m, _ := runCloud(t, config)
	assert.False(t, m.Has(helmReleaseType, addons.MonitoringRelease))
	assert.False(t, m.Has(helmReleaseType, addons.DCGMExporterRelease))
	pm := pulumimock.Decode[monv1.PodMonitor](t, m, podMonitorType, "observability-vllm")
	assert.Equal(t, "main", pm.Labels["prometheus"])
	assert.NotContains(t, pm.Labels, "release")
	cm := pulumimock.Decode[corev1.ConfigMap](t, m, configMapType, "observability-"+observability.OverviewDashboard)
	assert.Equal(t, "dash", cm.Labels["grafana"])
}

// TestMonitoringObjectsMatchTheOperatorsCRDs: the PodMonitor, ServiceMonitor and PrometheusRule
// pass the prometheus-operator's CRD schemas (from the pinned module), as the API server would
// check them.
func TestMonitoringObjectsMatchTheOperatorsCRDs(t *testing.T) {
	crds, err := crdschema.PrometheusOperator()
	require.NoError(t, err)
	config := withObservability(pulumimock.StackConfig(t, "../Pulumi.gke.yaml"), `{"enabled":true}`)
	m, _ := runCloud(t, config)
	var kinds []string
	for _, r := range m.Resources() {
		if !strings.Contains(r.Type, "monitoring.coreos.com") {
			continue
		}
		obj := pulumimock.Plain(r.Inputs)
		kinds = append(kinds, obj["kind"].(string))
		errs := crds.Validate(obj)
		assert.Empty(t, errs, "%s %q would be refused (%s):\n%v", r.Type, r.Name, versions.PrometheusOperatorCRDModule, errs.ToAggregate())
	}
	assert.ElementsMatch(t, []string{"PodMonitor", "ServiceMonitor", "PrometheusRule"}, kinds)
}

// containerPort is the number of the container port named name.
func containerPort(t *testing.T, containers []corev1.Container, name string) int32 {
	t.Helper()
	for _, c := range containers {
		for _, p := range c.Ports {
			if p.Name == name {
				return p.ContainerPort
			}
		}
	}
	t.Fatalf("no container port named %q", name)
	return 0
}

func findURN(t *testing.T, m *pulumimock.Mocks, urn string) pulumimock.Resource {
	t.Helper()
	for _, r := range m.Resources() {
		if r.URN == urn {
			return r
		}
	}
	t.Fatalf("no resource %s", urn)
	return pulumimock.Resource{}
}

// TestMetricsPortsAcceptPrometheusOutsideTheMesh: with strict mutual TLS (the default) a
// Prometheus without a sidecar could not scrape; observability relaxes mTLS on the metrics ports
// alone (vLLM's port, the gateway's metrics port), per workload, and Istio's CRDs accept it.
// Without observability nothing is relaxed.
func TestMetricsPortsAcceptPrometheusOutsideTheMesh(t *testing.T) {
	istio, err := crdschema.Istio()
	require.NoError(t, err)
	const peerAuthType = "kubernetes:security.istio.io/v1:PeerAuthentication"
	type spec struct {
		Selector *struct {
			MatchLabels map[string]string `json:"matchLabels"`
		} `json:"selector"`
		MTLS struct {
			Mode string `json:"mode"`
		} `json:"mtls"`
		PortLevelMTLS map[string]struct {
			Mode string `json:"mode"`
		} `json:"portLevelMtls"`
	}

	off, _, err := run(t, pulumimock.StackConfig(t, "../Pulumi.dev.yaml"))
	require.NoError(t, err)
	require.Len(t, off.ByType(peerAuthType), 1, "only the namespace-wide STRICT policy")

	m, _, err := run(t, withObservability(pulumimock.StackConfig(t, "../Pulumi.dev.yaml"), `{"enabled":true}`))
	require.NoError(t, err)
	require.Len(t, m.ByType(peerAuthType), 3)
	sts := pulumimock.Decode[appsv1.StatefulSet](t, m, statefulSetType, "qwen3-0-6b")
	dep := pulumimock.Decode[appsv1.Deployment](t, m, deploymentType, "gateway")
	for _, tc := range []struct {
		name string
		pods map[string]string
		port int
		not  map[string]string
	}{
		{"edge-metrics-models", sts.Spec.Template.Labels, model.Port, dep.Spec.Template.Labels},
		{"edge-metrics-gateway", dep.Spec.Template.Labels, gateway.MetricsPort, sts.Spec.Template.Labels},
	} {
		r := m.Find(t, peerAuthType, tc.name)
		assert.Empty(t, istio.Validate(pulumimock.Plain(r.Inputs)), "Istio's CRD accepts %s", tc.name)
		pa := pulumimock.View[struct {
			Spec spec `json:"spec"`
		}](t, r).Spec
		assert.Equal(t, "STRICT", pa.MTLS.Mode, "every other port stays STRICT")
		require.NotNil(t, pa.Selector)
		assert.True(t, selects(t, metav1.LabelSelector{MatchLabels: pa.Selector.MatchLabels}, tc.pods))
		assert.False(t, selects(t, metav1.LabelSelector{MatchLabels: pa.Selector.MatchLabels}, tc.not))
		assert.Len(t, pa.PortLevelMTLS, 1)
		assert.Equal(t, "PERMISSIVE", pa.PortLevelMTLS[fmt.Sprint(tc.port)].Mode)
	}
}
