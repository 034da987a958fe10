package addons

import (
	helmv3 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/helm/v3"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/llm-platform/llm-platform/internal/capacity"
	"github.com/llm-platform/llm-platform/internal/versions"
)

// KEDANamespace holds KEDA's operator, metrics API server and admission webhooks.
const KEDANamespace = "keda"

// kedaCPU, kedaMemory are the requests of each of KEDA's three pods (the chart's defaults,
// set explicitly so the capacity check counts what runs).
const kedaCPU, kedaMemory = "100m", "100Mi"

// KEDARequests are one KEDA pod's requests.
var KEDARequests = capacity.MustParse(kedaCPU, kedaMemory)

// The ports the control plane calls on KEDA's pods (the chart's defaults at 2.20.2, set
// explicitly in the values so that what we open and what listens cannot drift apart):
// the metrics API server behind APIService v1beta1.external.metrics.k8s.io
// (service.portHttpsTarget), and the admission webhooks of ValidatingWebhookConfiguration
// keda-admission (webhooks.port).
const (
	KEDAMetricsAPIPort = 6443
	KEDAWebhookPort    = 9443
)

type kedaValues struct {
	Resources struct {
		Operator     resources `json:"operator"`
		MetricServer resources `json:"metricServer"`
		Webhooks     resources `json:"webhooks"`
	} `json:"resources"`
	Service struct {
		PortHTTPSTarget int `json:"portHttpsTarget"`
	} `json:"service"`
	Webhooks struct {
		Port int `json:"port"`
	} `json:"webhooks"`
}

// keda installs KEDA, which runs the models' ScaledObjects.
func keda(ctx *pulumi.Context, parent pulumi.ResourceOption) (*helmv3.Release, error) {
	var v kedaValues
	r := resources{Requests: map[string]string{"cpu": kedaCPU, "memory": kedaMemory}}
	v.Resources.Operator, v.Resources.MetricServer, v.Resources.Webhooks = r, r, r
	v.Service.PortHTTPSTarget = KEDAMetricsAPIPort
	v.Webhooks.Port = KEDAWebhookPort
	return release(ctx, "keda", versions.KEDA, KEDANamespace, v, parent)
}
