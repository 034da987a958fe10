// Package kube holds the small Kubernetes conventions every component
// shares: recommended labels and object metadata.
package kube

import (
	"encoding/json"
	"fmt"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apiextensions"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// PartOf is the app.kubernetes.io/part-of value of everything we declare.
const PartOf = "llm-platform"

// Labels are the recommended app.kubernetes.io labels.
func Labels(name, instance, component string) map[string]string {
	return map[string]string{
		"app.kubernetes.io/name":       name,
		"app.kubernetes.io/instance":   instance,
		"app.kubernetes.io/component":  component,
		"app.kubernetes.io/part-of":    PartOf,
		"app.kubernetes.io/managed-by": "pulumi",
	}
}

// Selector is the stable subset of Labels used in selectors, which are
// immutable on workloads: only name and instance.
func Selector(name, instance string) map[string]string {
	return map[string]string{
		"app.kubernetes.io/name":     name,
		"app.kubernetes.io/instance": instance,
	}
}

// Meta is object metadata with a fixed name (no Pulumi auto-naming: other
// objects address it by name), a namespace and labels.
func Meta(name, namespace string, labels map[string]string) *metav1.ObjectMetaArgs {
	return &metav1.ObjectMetaArgs{
		Name:      pulumi.String(name),
		Namespace: pulumi.String(namespace),
		Labels:    pulumi.ToStringMap(labels),
	}
}

// ServiceHost is the cluster DNS name of a Service.
func ServiceHost(name, namespace string) string {
	return name + "." + namespace + ".svc.cluster.local"
}

// Values converts a typed Go struct (JSON tags) into the untyped map that
// Helm values and custom resource specs take. It is the one place where
// typed structs become pulumi.Map, so no nested map literals are written by
// hand. v must marshal to a JSON object.
func Values(v any) pulumi.Map {
	m, err := ValuesMap(v)
	if err != nil {
		panic(fmt.Sprintf("kube.Values: %v", err)) // a programming error
	}
	return pulumi.ToMap(m)
}

// ValuesMap is Values as a plain map, for values built inside an apply (they hold outputs).
func ValuesMap(v any) (map[string]any, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("%T does not marshal: %w", v, err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("%T is not a JSON object: %w", v, err)
	}
	return m, nil
}

// NewCustomResource declares a custom resource (Istio, Argo CD) whose spec is
// a typed Go struct, converted by Values.
func NewCustomResource(ctx *pulumi.Context, name, apiVersion, kind string, meta *metav1.ObjectMetaArgs, spec any, opts ...pulumi.ResourceOption) (*apiextensions.CustomResource, error) {
	return apiextensions.NewCustomResource(ctx, name, &apiextensions.CustomResourceArgs{
		ApiVersion:  pulumi.String(apiVersion),
		Kind:        pulumi.String(kind),
		Metadata:    meta,
		OtherFields: kubernetes.UntypedArgs{"spec": Values(spec)},
	}, opts...)
}

// HTTPService declares a ClusterIP Service with one "http" port that
// targets the pods' "http" container port.
func HTTPService(ctx *pulumi.Context, name string, meta *metav1.ObjectMetaArgs, selector map[string]string, port int, opts ...pulumi.ResourceOption) (*corev1.Service, error) {
	return corev1.NewService(ctx, name, &corev1.ServiceArgs{
		Metadata: meta,
		Spec: &corev1.ServiceSpecArgs{
			Type:     pulumi.String("ClusterIP"),
			Selector: pulumi.ToStringMap(selector),
			Ports: corev1.ServicePortArray{&corev1.ServicePortArgs{
				Name: pulumi.String("http"), Port: pulumi.Int(port),
				TargetPort: pulumi.String("http"), AppProtocol: pulumi.String("http"),
			}},
		},
	}, opts...)
}
