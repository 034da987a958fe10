// The gateway's autoscaler: CPU, and, when some model scales to zero, the requests held for it.

package gateway

import (
	"fmt"
	"strconv"

	autoscalingv2 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/autoscaling/v2"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/llm-platform/llm-platform/components/autoscaling"
	"github.com/llm-platform/llm-platform/components/gateway/nginx"
	"github.com/llm-platform/llm-platform/internal/kube"
)

// KEDA is what the gateway needs to scale on held requests: KEDA reads them from Prometheus.
// A held request uses no CPU, so a burst for a model scaled to zero never moves a CPU
// autoscaler, while it takes stream slots; an HPA on a Prometheus metric would need a custom
// metrics adapter the platform does not install, and KEDA is already there whenever a model
// scales to zero (it is what scales it).
type KEDA struct {
	// PrometheusURL is the Prometheus that scrapes the gateway's metrics Service.
	PrometheusURL string `pulumi:"prometheusURL"`
	// DependsOn are what the ScaledObject waits for (KEDA's release: its CRD and webhook).
	// Untagged: from another language, order the gateway after KEDA with dependsOn.
	DependsOn []pulumi.Resource
}

// TriggerHeld names the ScaledObject trigger on held requests.
const TriggerHeld = "held-requests"

// HeldTargetPerPod is the held requests per gateway pod above which KEDA adds pods: half of
// what one model may hold in a pod, so a burst for a cold model that fills the pods' bound
// doubles them (up to maxReplicas), and the requests refused meanwhile find room on retry.
func HeldTargetPerPod(maxStreams int, share float64) int {
	perModel, _ := nginx.HoldLimits(maxStreams, share)
	return max(perModel/2, 1)
}

// HeldQuery is the requests the gateway pods in namespace hold, all models together. Only the
// gateway exports the metric, and the job label depends on who scrapes it (the ServiceMonitor
// names it after the metrics Service; platform.keda.prometheusURL may be another Prometheus),
// so the namespace is the whole selector, as in the models' demand trigger.
func HeldQuery(namespace string) string {
	return fmt.Sprintf(`sum(%s{namespace=%q})`, nginx.MetricHeld, namespace)
}

// AutoscalerWarning says why held requests cannot add gateway pods ("" when they can, or when
// no route holds); New logs it as a warning.
func AutoscalerWarning(args Args) string {
	if !holds(args.Routes) {
		return ""
	}
	switch {
	case args.Config.MaxReplicas <= args.Config.Replicas:
		return fmt.Sprintf("the gateway does not autoscale (%d replicas, maxReplicas %d): a burst for a model scaled "+
			"to zero cannot add gateway pods; past the hold bound (config.holdShare) such requests get 503 at once. "+
			"Set gateway.maxReplicas above gateway.replicas", args.Config.Replicas, args.Config.MaxReplicas)
	case args.KEDA == nil:
		return "held requests use no CPU, and without KEDA (Args.KEDA) the gateway scales on CPU only: " +
			"a burst for a model scaled to zero cannot add gateway pods"
	}
	return ""
}

func holds(routes []nginx.Route) bool {
	return nginx.Params{Routes: routes}.Holds()
}

// declareAutoscaler declares what sets the Deployment's replicas between Replicas and
// MaxReplicas: a KEDA ScaledObject on CPU and held requests when some route holds and KEDA
// is given, else a CPU HorizontalPodAutoscaler.
func declareAutoscaler(ctx *pulumi.Context, name, objName string, args Args, labels map[string]string, parent pulumi.ResourceOption) error {
	if holds(args.Routes) && args.KEDA != nil {
		meta := kube.Meta(objName, args.Namespace, labels)
		// Stacks deployed before had an HPA of this name: KEDA's webhook refuses a second
		// autoscaler for the Deployment unless the ScaledObject takes that one over.
		meta.Annotations = pulumi.StringMap{"scaledobject.keda.sh/transfer-hpa-ownership": pulumi.String("true")}
		_, err := kube.NewCustomResource(ctx, name, autoscaling.APIVersion, autoscaling.Kind, meta,
			scaledObject(objName, args), parent, pulumi.DependsOn(args.KEDA.DependsOn))
		return err
	}
	_, err := autoscalingv2.NewHorizontalPodAutoscaler(ctx, name, &autoscalingv2.HorizontalPodAutoscalerArgs{
		Metadata: kube.Meta(objName, args.Namespace, labels),
		Spec: &autoscalingv2.HorizontalPodAutoscalerSpecArgs{
			ScaleTargetRef: &autoscalingv2.CrossVersionObjectReferenceArgs{
				ApiVersion: pulumi.String("apps/v1"), Kind: pulumi.String("Deployment"), Name: pulumi.String(objName),
			},
			MinReplicas: pulumi.Int(args.Config.Replicas),
			MaxReplicas: pulumi.Int(args.Config.MaxReplicas),
			Metrics: autoscalingv2.MetricSpecArray{&autoscalingv2.MetricSpecArgs{
				Type: pulumi.String("Resource"),
				Resource: &autoscalingv2.ResourceMetricSourceArgs{
					Name: pulumi.String("cpu"),
					Target: &autoscalingv2.MetricTargetArgs{
						Type: pulumi.String("Utilization"), AverageUtilization: pulumi.Int(CPUTargetUtilization),
					},
				},
			}},
			Behavior: &autoscalingv2.HorizontalPodAutoscalerBehaviorArgs{
				ScaleDown: &autoscalingv2.HPAScalingRulesArgs{
					StabilizationWindowSeconds: pulumi.Int(scaleDownStabilizationSeconds),
					Policies: autoscalingv2.HPAScalingPolicyArray{&autoscalingv2.HPAScalingPolicyArgs{
						Type: pulumi.String("Pods"), Value: pulumi.Int(scaleDownPodsPerMinute), PeriodSeconds: pulumi.Int(60),
					}},
				},
			},
		},
	}, parent)
	return err
}

// scaledObject is the gateway's KEDA ScaledObject: the CPU target of the HPA it replaces, and
// the held requests per pod (HeldTargetPerPod); the same slow scale-down (pods drain).
func scaledObject(objName string, args Args) autoscaling.ScaledObjectSpec {
	cfg := args.Config
	return autoscaling.ScaledObjectSpec{
		ScaleTargetRef:  autoscaling.ScaleTarget{APIVersion: "apps/v1", Kind: "Deployment", Name: objName},
		PollingInterval: autoscaling.PollingSeconds,
		CooldownPeriod:  scaleDownStabilizationSeconds, // only used to scale to zero, which min >= 1 rules out
		MinReplicaCount: cfg.Replicas,
		MaxReplicaCount: cfg.MaxReplicas,
		Advanced: autoscaling.Advanced{HorizontalPodAutoscalerConfig: autoscaling.HPAConfig{
			Name: objName,
			Behavior: autoscaling.Behavior{ScaleDown: autoscaling.ScalingRules{
				StabilizationWindowSeconds: scaleDownStabilizationSeconds,
				Policies:                   []autoscaling.ScalingPolicy{{Type: "Pods", Value: scaleDownPodsPerMinute, PeriodSeconds: 60}},
			}},
		}},
		Triggers: []autoscaling.Trigger{
			{Type: "cpu", Name: "cpu", MetricType: "Utilization", Metadata: map[string]string{
				"value": strconv.Itoa(CPUTargetUtilization),
			}},
			{Type: "prometheus", Name: TriggerHeld, MetricType: "AverageValue", Metadata: map[string]string{
				"serverAddress": args.KEDA.PrometheusURL,
				"query":         HeldQuery(args.Namespace),
				"threshold":     strconv.Itoa(HeldTargetPerPod(cfg.MaxStreamsPerPod, cfg.HoldShare)),
			}},
		},
	}
}
