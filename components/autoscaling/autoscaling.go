// Package autoscaling declares one KEDA ScaledObject per autoscaled model: KEDA sets the
// model StatefulSet's replicas between its minimum (0 allowed) and maximum from two per-replica
// Prometheus triggers, vLLM's own queue and the demand the gateway sees (which exists while the
// model has no replica to scrape), and lets it reach zero only while a third, the model's
// activity (every request it has, anywhere), reads 0 (triggers.go).
package autoscaling

import (
	"fmt"
	"strconv"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/llm-platform/llm-platform/components/model"
	"github.com/llm-platform/llm-platform/internal/kube"
)

// Type is the component's type token.
const Type = "llm-platform:index:Autoscaling"

// KEDA's API (keda.sh/v1alpha1, the ScaledObject CRD of the pinned chart's release).
const (
	APIVersion = "keda.sh/v1alpha1"
	Kind       = "ScaledObject"
)

// PollingSeconds is how often KEDA evaluates the triggers (KEDA's default is 30 s; a burst
// should not wait that long for its first extra replica).
const PollingSeconds = 15

// Target is one autoscaled model.
type Target struct {
	// Name is the model's object name (its StatefulSet), ServedName what clients send.
	Name       string            `pulumi:"name"`
	ServedName string            `pulumi:"servedName"`
	Scaling    model.Autoscaling `pulumi:"scaling"`
}

// Args configure the ScaledObjects.
type Args struct {
	Namespace string   `pulumi:"namespace"`
	Targets   []Target `pulumi:"targets"`
	// PrometheusURL is the Prometheus KEDA queries (the monitoring stack's).
	PrometheusURL string `pulumi:"prometheusURL"`
	// ScrapeInterval is how often that Prometheus scrapes the models and the gateway; the
	// activity trigger looks back ActivityWindow(ScrapeInterval) for finished requests.
	// 0: DefaultScrapeInterval.
	ScrapeInterval time.Duration `pulumi:"scrapeInterval,optional"`
}

// DefaultScrapeInterval is Args.ScrapeInterval when unset (the stack's observability default).
const DefaultScrapeInterval = 15 * time.Second

func (a Args) withDefaults() Args {
	if a.ScrapeInterval == 0 {
		a.ScrapeInterval = DefaultScrapeInterval
	}
	return a
}

// Autoscaling is the models' ScaledObjects.
type Autoscaling struct {
	pulumi.ResourceState
}

// Typed ScaledObject spec: the fields we set, named as KEDA's API types name them
// (github.com/kedacore/keda/v2/apis/keda/v1alpha1); tests check it against KEDA's CRD.
type (
	ScaledObjectSpec struct {
		ScaleTargetRef  ScaleTarget `json:"scaleTargetRef"`
		PollingInterval int         `json:"pollingInterval"`
		// CooldownPeriod: seconds after the last active trigger before scaling to zero.
		CooldownPeriod  int       `json:"cooldownPeriod"`
		MinReplicaCount int       `json:"minReplicaCount"`
		MaxReplicaCount int       `json:"maxReplicaCount"`
		Advanced        Advanced  `json:"advanced"`
		Triggers        []Trigger `json:"triggers"`
	}
	ScaleTarget struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Name       string `json:"name"`
	}
	Advanced struct {
		HorizontalPodAutoscalerConfig HPAConfig `json:"horizontalPodAutoscalerConfig"`
	}
	HPAConfig struct {
		// Name of the HPA KEDA manages (empty: keda-hpa-<ScaledObject>); naming an HPA that
		// exists hands it over with the transfer-hpa-ownership annotation.
		Name     string   `json:"name,omitempty"`
		Behavior Behavior `json:"behavior"`
	}
	Behavior struct {
		ScaleDown ScalingRules `json:"scaleDown"`
	}
	ScalingRules struct {
		StabilizationWindowSeconds int             `json:"stabilizationWindowSeconds"`
		Policies                   []ScalingPolicy `json:"policies,omitempty"`
	}
	ScalingPolicy struct {
		Type          string `json:"type"`
		Value         int    `json:"value"`
		PeriodSeconds int    `json:"periodSeconds"`
	}
	Trigger struct {
		Type       string            `json:"type"`
		Name       string            `json:"name"`
		MetricType string            `json:"metricType"`
		Metadata   map[string]string `json:"metadata"`
	}
)

// Spec is the ScaledObject of one model.
func Spec(args Args, t Target) ScaledObjectSpec {
	args = args.withDefaults()
	a := t.Scaling
	trigger := func(name, query string, threshold int) Trigger {
		return Trigger{Type: "prometheus", Name: name, MetricType: "AverageValue", Metadata: map[string]string{
			"serverAddress": args.PrometheusURL,
			"query":         query,
			// Per replica: the HPA asks for ceil(value / threshold) replicas.
			"threshold": strconv.Itoa(threshold),
			// Any request makes the trigger, and so the model, active (wakes it from zero).
			"activationThreshold": "0",
		}}
	}
	ns, served := args.Namespace, t.ServedName
	return ScaledObjectSpec{
		ScaleTargetRef:  ScaleTarget{APIVersion: "apps/v1", Kind: "StatefulSet", Name: t.Name},
		PollingInterval: PollingSeconds,
		CooldownPeriod:  a.IdleMinutes * 60,
		MinReplicaCount: a.MinReplicas,
		MaxReplicaCount: a.MaxReplicas,
		Advanced: Advanced{HorizontalPodAutoscalerConfig: HPAConfig{Behavior: Behavior{
			ScaleDown: ScalingRules{StabilizationWindowSeconds: a.CooldownSeconds},
		}}},
		Triggers: []Trigger{
			trigger(TriggerQueue, QueueQuery(ns, served), a.TargetQueuePerReplica),
			trigger(TriggerDemand, DemandQuery(ns, served), a.TargetQueuePerReplica),
			trigger(TriggerActivity, ActivityQuery(ns, served, ActivityWindow(args.ScrapeInterval)), ActivityThreshold),
		},
	}
}

// New declares a ScaledObject for each target.
func New(ctx *pulumi.Context, name string, args Args, opts ...pulumi.ResourceOption) (*Autoscaling, error) {
	if args.PrometheusURL == "" {
		return nil, fmt.Errorf("autoscaling %q: prometheusURL is required (the Prometheus that scrapes the models and the gateway)", name)
	}
	a := &Autoscaling{}
	if err := ctx.RegisterComponentResource(Type, name, a, opts...); err != nil {
		return nil, err
	}
	// A ScaledObject needs KEDA's CRD: each waits for what the component was told to wait
	// for (KEDA's release), which a component's children do not inherit by themselves.
	o, err := pulumi.NewResourceOptions(opts...)
	if err != nil {
		return nil, err
	}
	for _, t := range args.Targets {
		labels := kube.Labels(model.AppName, t.Name, "autoscaling")
		if _, err := kube.NewCustomResource(ctx, t.Name, APIVersion, Kind,
			kube.Meta(t.Name, args.Namespace, labels), Spec(args, t),
			pulumi.Parent(a), pulumi.DependsOn(o.DependsOn)); err != nil {
			return nil, err
		}
	}
	return a, ctx.RegisterResourceOutputs(a, pulumi.Map{})
}
