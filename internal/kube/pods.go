package kube

import (
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	networkingv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/networking/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// ClaimSpec is a PersistentVolumeClaim's spec: one access mode, a size, a StorageClass ("" is
// the cluster's default).
func ClaimSpec(mode, size, class string) *corev1.PersistentVolumeClaimSpecArgs {
	c := &corev1.PersistentVolumeClaimSpecArgs{
		AccessModes: pulumi.StringArray{pulumi.String(mode)},
		Resources:   &corev1.VolumeResourceRequirementsArgs{Requests: pulumi.StringMap{"storage": pulumi.String(size)}},
	}
	if class != "" {
		c.StorageClassName = pulumi.String(class)
	}
	return c
}

// NonRootPod runs a pod's containers as uid (group uid too) with volumes writable by that group
// and the runtime's default seccomp profile: with NoEscalation on each container, what Pod
// Security "restricted" asks for.
func NonRootPod(uid int) *corev1.PodSecurityContextArgs {
	return &corev1.PodSecurityContextArgs{
		RunAsNonRoot: pulumi.Bool(true), RunAsUser: pulumi.Int(uid), RunAsGroup: pulumi.Int(uid), FsGroup: pulumi.Int(uid),
		SeccompProfile: &corev1.SeccompProfileArgs{Type: pulumi.String("RuntimeDefault")},
	}
}

// NoEscalation drops every capability and forbids privilege escalation.
func NoEscalation() *corev1.SecurityContextArgs {
	return &corev1.SecurityContextArgs{
		AllowPrivilegeEscalation: pulumi.Bool(false),
		Capabilities:             &corev1.CapabilitiesArgs{Drop: pulumi.StringArray{pulumi.String("ALL")}},
	}
}

// AdmitOnly declares a NetworkPolicy (meta) that lets the pods clients select (in the policy's
// namespace), and nobody else, reach TCP port on the pods server selects.
func AdmitOnly(ctx *pulumi.Context, name string, meta *metav1.ObjectMetaArgs, server map[string]string, port int, clients []map[string]string, opts ...pulumi.ResourceOption) (*networkingv1.NetworkPolicy, error) {
	var from networkingv1.NetworkPolicyPeerArray
	for _, c := range clients {
		from = append(from, &networkingv1.NetworkPolicyPeerArgs{PodSelector: &metav1.LabelSelectorArgs{MatchLabels: pulumi.ToStringMap(c)}})
	}
	return networkingv1.NewNetworkPolicy(ctx, name, &networkingv1.NetworkPolicyArgs{
		Metadata: meta,
		Spec: &networkingv1.NetworkPolicySpecArgs{
			PodSelector: &metav1.LabelSelectorArgs{MatchLabels: pulumi.ToStringMap(server)},
			PolicyTypes: pulumi.StringArray{pulumi.String("Ingress")},
			Ingress: networkingv1.NetworkPolicyIngressRuleArray{&networkingv1.NetworkPolicyIngressRuleArgs{
				From:  from,
				Ports: networkingv1.NetworkPolicyPortArray{&networkingv1.NetworkPolicyPortArgs{Port: pulumi.Int(port), Protocol: pulumi.String("TCP")}},
			}},
		},
	}, opts...)
}
