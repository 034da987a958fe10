package addons

import (
	helmv3 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/helm/v3"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/llm-platform/llm-platform/internal/capacity"
	"github.com/llm-platform/llm-platform/internal/versions"
)

// MonitoringRelease is the Helm release name of kube-prometheus-stack. Its Prometheus selects
// ServiceMonitors, PodMonitors and PrometheusRules labelled release=MonitoringRelease (the
// chart's *SelectorNilUsesHelmValues, set explicitly below); with this release name the chart
// names its objects after it: Service MonitoringRelease+"-grafana", and so on.
const MonitoringRelease = "kube-prometheus-stack"

// GrafanaService is the installed Grafana's Service (port 80), for `kubectl port-forward`.
const GrafanaService = MonitoringRelease + "-grafana"

// DCGMExporterRelease is the DCGM exporter's Helm release name.
const DCGMExporterRelease = "dcgm-exporter"

// MonitoringArgs installs kube-prometheus-stack (and the DCGM exporter) into Namespace.
type MonitoringArgs struct {
	// Namespace holds the monitoring stack (created by the chart's release).
	Namespace string `pulumi:"namespace"`
	// DashboardLabel and DashboardLabelValue are what Grafana's sidecar looks for on
	// ConfigMaps (in every namespace) to load dashboards.
	DashboardLabel      string `pulumi:"dashboardLabel"`
	DashboardLabelValue string `pulumi:"dashboardLabelValue"`
	// DCGMExporter installs NVIDIA's DCGM exporter on the GPU nodes (EKS: nothing else
	// exports GPU metrics there).
	DCGMExporter bool `pulumi:"dcgmExporter,optional"`
	// GPUNodeSelector places the DCGM exporter on GPU nodes.
	GPUNodeSelector map[string]string `pulumi:"gpuNodeSelector,optional"`
	// Hidden are the cluster's own components the stack must neither scrape nor alert on; the
	// zero value scrapes all of them (the chart's defaults).
	Hidden HiddenComponents `pulumi:"hidden,optional"`
}

// HiddenComponents are cluster components Prometheus cannot reach. kube-prometheus-stack scrapes
// each by default and alerts when it is missing: KubeSchedulerDown and KubeControllerManagerDown
// are absent(up{...} == 1), critical, so on a cluster that hides them they fire for ever and bury
// every other alert.
type HiddenComponents struct {
	// ControlPlane: kube-scheduler, kube-controller-manager and etcd (managed control planes,
	// GKE and EKS, run them out of the cluster's reach).
	ControlPlane bool `pulumi:"controlPlane,optional"`
	// KubeProxy: absent (GKE Dataplane V2) or serving metrics on 127.0.0.1 only (EKS, kubeadm).
	KubeProxy bool `pulumi:"kubeProxy,optional"`
	// CoreDNS: the chart scrapes port 9153 of the kube-system pods labelled k8s-app=kube-dns,
	// which on GKE are kube-dns, not CoreDNS: every scrape fails and TargetDown fires.
	CoreDNS bool `pulumi:"coreDns,optional"`
}

// Requests of the monitoring stack's pods, set in the chart values and counted by the
// capacity check (node-exporter is a DaemonSet on every node and requests nothing).
const (
	prometheusCPU, prometheusMemory     = "500m", "2Gi"
	grafanaCPU, grafanaMemory           = "100m", "256Mi"
	alertmanagerCPU, alertmanagerMemory = "50m", "128Mi"
	operatorCPU, operatorMemory         = "100m", "128Mi"
	ksmCPU, ksmMemory                   = "50m", "128Mi"
)

// Typed kube-prometheus-stack and dcgm-exporter values: only what we set.
type (
	kubePrometheusStackValues struct {
		Prometheus struct {
			PrometheusSpec struct {
				// true: with no selector given, select release=MonitoringRelease (the chart's
				// default, spelt out: the monitors' labels rely on it).
				ServiceMonitorSelectorNilUsesHelmValues bool      `json:"serviceMonitorSelectorNilUsesHelmValues"`
				PodMonitorSelectorNilUsesHelmValues     bool      `json:"podMonitorSelectorNilUsesHelmValues"`
				RuleSelectorNilUsesHelmValues           bool      `json:"ruleSelectorNilUsesHelmValues"`
				Resources                               resources `json:"resources"`
			} `json:"prometheusSpec"`
		} `json:"prometheus"`
		Alertmanager struct {
			AlertmanagerSpec struct {
				Resources resources `json:"resources"`
			} `json:"alertmanagerSpec"`
		} `json:"alertmanager"`
		PrometheusOperator struct {
			Resources resources `json:"resources"`
		} `json:"prometheusOperator"`
		KubeStateMetrics struct {
			Resources resources `json:"resources"`
		} `json:"kube-state-metrics"`
		// The cluster components' scrapes: each <component>.enabled turns off its Service,
		// ServiceMonitor and (from 88.x on) its rules together; the defaultRules.rules keys
		// say so again for the rules.
		KubeControllerManager switchValues `json:"kubeControllerManager"`
		KubeScheduler         switchValues `json:"kubeScheduler"`
		KubeEtcd              switchValues `json:"kubeEtcd"`
		KubeProxy             switchValues `json:"kubeProxy"`
		CoreDNS               switchValues `json:"coreDns"`
		DefaultRules          struct {
			Rules map[string]bool `json:"rules"`
		} `json:"defaultRules"`
		Grafana struct {
			Resources resources `json:"resources"`
			Sidecar   struct {
				Dashboards struct {
					Enabled         bool   `json:"enabled"`
					Label           string `json:"label"`
					LabelValue      string `json:"labelValue"`
					SearchNamespace string `json:"searchNamespace"`
				} `json:"dashboards"`
			} `json:"sidecar"`
		} `json:"grafana"`
	}
	dcgmExporterValues struct {
		ServiceMonitor struct {
			Enabled          bool              `json:"enabled"`
			AdditionalLabels map[string]string `json:"additionalLabels"`
			// The exporter labels each GPU's series with the pod using it (pod, namespace,
			// container); honorLabels keeps them (not exported_pod), so GPU use joins vLLM's.
			HonorLabels bool `json:"honorLabels"`
		} `json:"serviceMonitor"`
		NodeSelector map[string]string `json:"nodeSelector,omitempty"`
		Tolerations  []toleration      `json:"tolerations"`
	}
)

// switchValues turns one of the chart's exporters on or off.
type switchValues struct {
	Enabled bool `json:"enabled"`
}

// The chart's defaultRules.rules keys (values.yaml at 88.5.3) of the rule groups about each
// hidden component.
var (
	controlPlaneRules = []string{"kubeControllerManager", "kubeSchedulerAlerting", "kubeSchedulerRecording", "etcd"}
	kubeProxyRules    = []string{"kubeProxy"}
)

// clusterScrapes switches the cluster components' scrapes and rules, all explicitly.
func clusterScrapes(v *kubePrometheusStackValues, hidden HiddenComponents) {
	v.KubeControllerManager.Enabled = !hidden.ControlPlane
	v.KubeScheduler.Enabled = !hidden.ControlPlane
	v.KubeEtcd.Enabled = !hidden.ControlPlane
	v.KubeProxy.Enabled = !hidden.KubeProxy
	v.CoreDNS.Enabled = !hidden.CoreDNS
	v.DefaultRules.Rules = map[string]bool{}
	for _, r := range controlPlaneRules {
		v.DefaultRules.Rules[r] = !hidden.ControlPlane
	}
	for _, r := range kubeProxyRules {
		v.DefaultRules.Rules[r] = !hidden.KubeProxy
	}
}

func requests(cpu, memory string) resources {
	return resources{Requests: map[string]string{"cpu": cpu, "memory": memory}}
}

func kubePrometheusStack(args *MonitoringArgs) kubePrometheusStackValues {
	var v kubePrometheusStackValues
	ps := &v.Prometheus.PrometheusSpec
	ps.ServiceMonitorSelectorNilUsesHelmValues = true
	ps.PodMonitorSelectorNilUsesHelmValues = true
	ps.RuleSelectorNilUsesHelmValues = true
	ps.Resources = requests(prometheusCPU, prometheusMemory)
	v.Alertmanager.AlertmanagerSpec.Resources = requests(alertmanagerCPU, alertmanagerMemory)
	v.PrometheusOperator.Resources = requests(operatorCPU, operatorMemory)
	v.KubeStateMetrics.Resources = requests(ksmCPU, ksmMemory)
	v.Grafana.Resources = requests(grafanaCPU, grafanaMemory)
	d := &v.Grafana.Sidecar.Dashboards
	d.Enabled, d.Label, d.LabelValue, d.SearchNamespace = true, args.DashboardLabel, args.DashboardLabelValue, "ALL"
	clusterScrapes(&v, args.Hidden)
	return v
}

// monitoring installs kube-prometheus-stack and, when asked, the DCGM exporter after it (its
// ServiceMonitor needs the operator's CRDs). It returns the stack's release: monitors, rules
// and dashboards depend on it.
func monitoring(ctx *pulumi.Context, args *MonitoringArgs, parent pulumi.ResourceOption) (*helmv3.Release, error) {
	stack, err := release(ctx, MonitoringRelease, versions.KubePrometheusStack, args.Namespace, kubePrometheusStack(args), parent)
	if err != nil {
		return nil, err
	}
	if args.DCGMExporter {
		var v dcgmExporterValues
		v.ServiceMonitor.Enabled = true
		v.ServiceMonitor.AdditionalLabels = map[string]string{"release": MonitoringRelease}
		v.ServiceMonitor.HonorLabels = true
		v.NodeSelector = args.GPUNodeSelector
		v.Tolerations = []toleration{{Key: "nvidia.com/gpu", Operator: "Exists", Effect: "NoSchedule"}}
		if _, err := release(ctx, DCGMExporterRelease, versions.DCGMExporter, args.Namespace, v, parent, pulumi.DependsOn([]pulumi.Resource{stack})); err != nil {
			return nil, err
		}
	}
	return stack, nil
}

// monitoringPods are the monitoring stack's pods on system nodes, for the capacity check.
func monitoringPods() []capacity.Pods {
	return []capacity.Pods{
		{Name: "Prometheus", Requests: capacity.MustParse(prometheusCPU, prometheusMemory), Count: 1},
		{Name: "Grafana", Requests: capacity.MustParse(grafanaCPU, grafanaMemory), Count: 1},
		{Name: "Alertmanager", Requests: capacity.MustParse(alertmanagerCPU, alertmanagerMemory), Count: 1},
		{Name: "the Prometheus operator", Requests: capacity.MustParse(operatorCPU, operatorMemory), Count: 1},
		{Name: "kube-state-metrics", Requests: capacity.MustParse(ksmCPU, ksmMemory), Count: 1},
	}
}
