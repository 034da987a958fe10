// The model's workload: the StatefulSet, one cache claim per replica (the package comment says
// why).

package model

import (
	appsv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apps/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/llm-platform/llm-platform/internal/kube"
)

// declareStatefulSet declares the model's pods (podSpec), started in parallel and replaced one
// at a time.
func declareStatefulSet(ctx *pulumi.Context, name, objName string, args Args, labels map[string]string,
	parent pulumi.ResourceOption) (*appsv1.StatefulSet, error) {
	s := args.Spec
	// `pulumi up` reports a model ready only when it serves, and the first
	// start downloads the weights: allow the startup probe's whole budget.
	ready := s.StartupBudget().String()
	opts := []pulumi.ResourceOption{parent, pulumi.Timeouts(&pulumi.CustomTimeouts{Create: ready, Update: ready})}
	if s.Autoscaling.Enabled {
		// KEDA owns the replica count: an `up` after it scaled must not set it back.
		opts = append(opts, pulumi.IgnoreChanges([]string{"spec.replicas"}))
	}
	return appsv1.NewStatefulSet(ctx, name, &appsv1.StatefulSetArgs{
		Metadata: kube.Meta(objName, args.Namespace, labels),
		Spec: &appsv1.StatefulSetSpecArgs{
			Replicas: pulumi.Int(s.InitialReplicas()),
			// A plain name, not the Service's output: a StatefulSet that
			// depends on a Service whose await needs its pods deadlocks.
			ServiceName:         pulumi.String(objName),
			PodManagementPolicy: pulumi.String("Parallel"),
			Selector:            &metav1.LabelSelectorArgs{MatchLabels: pulumi.ToStringMap(Selector(objName))},
			UpdateStrategy:      &appsv1.StatefulSetUpdateStrategyArgs{Type: pulumi.String("RollingUpdate")},
			// Deleting the model deletes its caches; scaling down keeps them
			// for the next scale-up.
			PersistentVolumeClaimRetentionPolicy: &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicyArgs{
				WhenDeleted: pulumi.String("Delete"),
				WhenScaled:  pulumi.String("Retain"),
			},
			VolumeClaimTemplates: corev1.PersistentVolumeClaimTypeArray{cacheClaim(s, labels)},
			Template: &corev1.PodTemplateSpecArgs{
				Metadata: &metav1.ObjectMetaArgs{
					Labels:      pulumi.ToStringMap(labels),
					Annotations: podAnnotations(args),
				},
				Spec: podSpec(args),
			},
		},
	}, opts...)
}

func cacheClaim(s Spec, labels map[string]string) corev1.PersistentVolumeClaimTypeInput {
	claim := &corev1.PersistentVolumeClaimSpecArgs{
		AccessModes: pulumi.StringArray{pulumi.String("ReadWriteOnce")},
		Resources: &corev1.VolumeResourceRequirementsArgs{
			Requests: pulumi.StringMap{"storage": pulumi.String(s.PVCSize)},
		},
	}
	if s.StorageClass != "" {
		claim.StorageClassName = pulumi.String(s.StorageClass)
	}
	return &corev1.PersistentVolumeClaimTypeArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String("cache"), Labels: pulumi.ToStringMap(labels)},
		Spec:     claim,
	}
}
