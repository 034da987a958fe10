// Package observability declares what makes the platform observable in a Prometheus-operator
// monitoring stack: a PodMonitor for the vLLM pods, a ServiceMonitor for the gateway's metrics
// Service, PrometheusRules (alerts) and Grafana dashboards (ConfigMaps for Grafana's sidecar).
//
// The monitors and rules are the prometheus-operator's own Go API types
// (github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1); the dashboards
// are built with the Grafana Foundation SDK. Every PromQL expression names only metrics from
// Metrics (a test parses them all with Prometheus's parser).
package observability

import (
	"fmt"

	monv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/llm-platform/llm-platform/internal/kube"
)

// Type is the Observability component's type token.
const Type = "llm-platform:index:Observability"

// The prometheus-operator API version of the monitors and rules.
const MonitoringAPIVersion = "monitoring.coreos.com/v1"

// AppName is the app.kubernetes.io/name label of the component's objects.
const AppName = "llm-platform-observability"

// MetricsPath is where vLLM and the gateway serve their metrics.
const MetricsPath = "/metrics"

// ModelRef is one served model.
type ModelRef struct {
	// ServedName is vLLM's model_name label and the gateway's model label.
	ServedName string `pulumi:"servedName"`
	// KubeName is the model's StatefulSet name (kube-state-metrics' statefulset label).
	KubeName string `pulumi:"kubeName"`
	// ColdStartMinutes is, for a model that scales to zero, how long a start from zero may
	// take (a node, the image, the weights; the stack passes the gateway's hold): its
	// no-ready-replica alert waits that long (at least thresholds.noReplicaMinutes) once a
	// replica is asked for. 0 for other models.
	ColdStartMinutes int `pulumi:"coldStartMinutes,optional"`
}

// Args are the component's inputs. All plain: they shape the objects, queries and rules at
// plan time.
type Args struct {
	// Config is the stack's observability settings (Enabled is the caller's business: New
	// always declares).
	Config Config `pulumi:"config"`
	// Namespace is the application namespace: the monitors and rules go there, and every
	// query is limited to it.
	Namespace string `pulumi:"namespace"`
	// Models are the served models (the TTFT alert is per model).
	Models []ModelRef `pulumi:"models"`
	// ModelPods selects every vLLM pod; ModelPort names the container port serving /metrics.
	ModelPods map[string]string `pulumi:"modelPods"`
	ModelPort string            `pulumi:"modelPort"`
	// GatewayService selects the gateway's metrics Service (its labels); GatewayPort names the
	// Service port; GatewayJob is the Service's name (Prometheus' job label for its targets).
	GatewayService map[string]string `pulumi:"gatewayService"`
	GatewayPort    string            `pulumi:"gatewayPort"`
	GatewayJob     string            `pulumi:"gatewayJob"`
	// RunbookURL is the page each alert links to (with "#<alert name in lower case>");
	// DefaultRunbookURL when empty.
	RunbookURL string `pulumi:"runbookUrl,optional"`
}

func (a Args) withDefaults() Args {
	if a.RunbookURL == "" {
		a.RunbookURL = DefaultRunbookURL
	}
	return a
}

// Observability is the declared monitors, rules and dashboards.
type Observability struct {
	pulumi.ResourceState
	// Dashboards are the dashboards' names (ConfigMap keys <name>.json).
	Dashboards []string
}

// Object names, derived from the component's name.
func podMonitorName(name string) string     { return name + "-vllm" }
func serviceMonitorName(name string) string { return name + "-gateway" }
func rulesName(name string) string          { return name + "-alerts" }
func dashboardName(name, d string) string   { return name + "-" + d }

// PodMonitorSpec is the vLLM pods' scrape: every pod matching ModelPods in Namespace, on
// ModelPort's /metrics.
func PodMonitorSpec(args Args) monv1.PodMonitorSpec {
	port := args.ModelPort
	return monv1.PodMonitorSpec{
		Selector:          metav1.LabelSelector{MatchLabels: args.ModelPods},
		NamespaceSelector: monv1.NamespaceSelector{MatchNames: []string{args.Namespace}},
		PodMetricsEndpoints: []monv1.PodMetricsEndpoint{{
			Port:     &port,
			Path:     MetricsPath,
			Interval: monv1.Duration(args.Config.ScrapeInterval),
		}},
	}
}

// ServiceMonitorSpec is the gateway's scrape: its metrics Service's GatewayPort.
func ServiceMonitorSpec(args Args) monv1.ServiceMonitorSpec {
	return monv1.ServiceMonitorSpec{
		Selector:          metav1.LabelSelector{MatchLabels: args.GatewayService},
		NamespaceSelector: monv1.NamespaceSelector{MatchNames: []string{args.Namespace}},
		Endpoints: []monv1.Endpoint{{
			Port:     args.GatewayPort,
			Path:     MetricsPath,
			Interval: monv1.Duration(args.Config.ScrapeInterval),
		}},
	}
}

// RuleSpec is the alerting rules.
func RuleSpec(args Args) monv1.PrometheusRuleSpec {
	args = args.withDefaults()
	return monv1.PrometheusRuleSpec{Groups: ruleGroups(&args)}
}

// New declares the PodMonitor, ServiceMonitor, PrometheusRule and dashboards.
func New(ctx *pulumi.Context, name string, args Args, opts ...pulumi.ResourceOption) (*Observability, error) {
	args = args.withDefaults()
	dashboards, err := Dashboards(args.Namespace, args.GatewayJob)
	if err != nil {
		return nil, err
	}
	o := &Observability{}
	if err := ctx.RegisterComponentResource(Type, name, o, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(o)

	monitorLabels := kube.Labels(AppName, name, "monitoring")
	for k, v := range args.Config.MonitorLabels {
		monitorLabels[k] = v
	}
	if _, err := kube.NewCustomResource(ctx, name+"-vllm", MonitoringAPIVersion, "PodMonitor",
		kube.Meta(podMonitorName(name), args.Namespace, monitorLabels), PodMonitorSpec(args), parent); err != nil {
		return nil, err
	}
	if _, err := kube.NewCustomResource(ctx, name+"-gateway", MonitoringAPIVersion, "ServiceMonitor",
		kube.Meta(serviceMonitorName(name), args.Namespace, monitorLabels), ServiceMonitorSpec(args), parent); err != nil {
		return nil, err
	}
	if _, err := kube.NewCustomResource(ctx, name+"-alerts", MonitoringAPIVersion, "PrometheusRule",
		kube.Meta(rulesName(name), args.Namespace, monitorLabels), RuleSpec(args), parent); err != nil {
		return nil, err
	}

	dashLabels := kube.Labels(AppName, name, "dashboard")
	for k, v := range args.Config.DashboardLabels {
		dashLabels[k] = v
	}
	for _, d := range dashboards {
		text, err := d.JSON()
		if err != nil {
			return nil, fmt.Errorf("dashboard %s: %w", d.Name, err)
		}
		if _, err := corev1.NewConfigMap(ctx, name+"-"+d.Name, &corev1.ConfigMapArgs{
			Metadata: kube.Meta(dashboardName(name, d.Name), args.Config.Namespace, dashLabels),
			Data:     pulumi.StringMap{d.Name + ".json": pulumi.String(text)},
		}, parent); err != nil {
			return nil, err
		}
		o.Dashboards = append(o.Dashboards, d.Name)
	}
	return o, ctx.RegisterResourceOutputs(o, pulumi.Map{"dashboards": pulumi.ToStringArray(o.Dashboards)})
}
