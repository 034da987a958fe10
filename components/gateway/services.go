// The gateway's Services: the public one the edge routes to, and one for the metrics alone.

package gateway

import (
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/llm-platform/llm-platform/internal/kube"
)

// MetricsServiceName is the name of the Service that exposes the metrics of the gateway
// whose objects are named name.
func MetricsServiceName(name string) string { return name + "-metrics" }

// declareServices declares the public Service (Port) and the metrics Service (MetricsPort):
// the metrics get a Service of their own, so the public Service (which the edge routes to)
// never carries the metrics port.
func (g *Gateway) declareServices(ctx *pulumi.Context, name, objName string, args Args, labels map[string]string,
	parent pulumi.ResourceOption) error {
	svc, err := kube.HTTPService(ctx, name, kube.Meta(objName, args.Namespace, labels), g.Selector, Port, parent)
	if err != nil {
		return err
	}
	g.ServiceName = svc.Metadata.Name().Elem()

	g.MetricsServiceLabels = kube.Labels(AppName, objName, "gateway-metrics")
	g.MetricsService, err = corev1.NewService(ctx, name+"-metrics", &corev1.ServiceArgs{
		Metadata: kube.Meta(MetricsServiceName(objName), args.Namespace, g.MetricsServiceLabels),
		Spec: &corev1.ServiceSpecArgs{
			Type:     pulumi.String("ClusterIP"),
			Selector: pulumi.ToStringMap(g.Selector),
			Ports: corev1.ServicePortArray{&corev1.ServicePortArgs{
				Name: pulumi.String(MetricsPortName), Port: pulumi.Int(MetricsPort),
				TargetPort: pulumi.String(MetricsPortName), AppProtocol: pulumi.String("http"),
			}},
		},
	}, parent)
	return err
}
