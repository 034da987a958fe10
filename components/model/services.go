// The model's Services: the ClusterIP one (its stable name), and the headless one whose DNS
// answers are the ready pods, which the gateway balances over itself.

package model

import (
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/llm-platform/llm-platform/internal/kube"
)

// declareServices declares the ClusterIP Service and the headless one. Neither is awaited:
// Pulumi would otherwise wait, up to 10 minutes, for the Service's endpoints, the pods'
// readiness, which is the StatefulSet's to report.
func (m *Model) declareServices(ctx *pulumi.Context, name, objName, namespace string, labels map[string]string,
	parent pulumi.ResourceOption) error {
	svcMeta := kube.Meta(objName, namespace, labels)
	svcMeta.Annotations = pulumi.StringMap{"pulumi.com/skipAwait": pulumi.String("true")}
	svc, err := kube.HTTPService(ctx, name, svcMeta, m.Selector, Port, parent)
	if err != nil {
		return err
	}
	m.Service = svc
	m.ServiceName = svc.Metadata.Name().Elem()

	// The headless Service: cluster DNS answers its name with one A record per ready pod
	// (publishNotReadyAddresses false: a pod still loading weights is not listed), which the
	// gateway resolves itself to balance per request. Under Istio its pod-IP traffic keeps
	// mTLS: the sidecars know the Service's endpoints (docs/gateway.md, "Routing across
	// replicas").
	hlMeta := kube.Meta(HeadlessName(objName), namespace, labels)
	hlMeta.Annotations = pulumi.StringMap{"pulumi.com/skipAwait": pulumi.String("true")}
	m.Headless, err = corev1.NewService(ctx, name+HeadlessSuffix, &corev1.ServiceArgs{
		Metadata: hlMeta,
		Spec: &corev1.ServiceSpecArgs{
			Type:                     pulumi.String("ClusterIP"),
			ClusterIP:                pulumi.String("None"),
			PublishNotReadyAddresses: pulumi.Bool(false),
			Selector:                 pulumi.ToStringMap(m.Selector),
			Ports: corev1.ServicePortArray{&corev1.ServicePortArgs{
				Name: pulumi.String("http"), Port: pulumi.Int(Port),
				TargetPort: pulumi.String("http"), AppProtocol: pulumi.String("http"),
			}},
		},
	}, parent)
	return err
}
