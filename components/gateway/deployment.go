// The gateway's workload: the Deployment of OpenResty pods and the budget that keeps them up
// through node drains.

package gateway

import (
	appsv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apps/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/llm-platform/llm-platform/components/gateway/nginx"
	"github.com/llm-platform/llm-platform/internal/kube"
)

// workload is what the gateway's pods run besides Args: the rendered files (their checksum
// rolls the pods), the ConfigMap holding them, and the keys' volumes (declareKeys).
type workload struct {
	params     nginx.Params
	files      pulumi.StringMapOutput
	config     *corev1.ConfigMap
	keyVolumes corev1.VolumeArray
	keyMounts  corev1.VolumeMountArray
}

// autoscaled: an autoscaler sets the replicas between Replicas and MaxReplicas.
func autoscaled(c Config) bool { return c.MaxReplicas > c.Replicas }

// declareDeployment declares the pods, rolled one at a time with one extra (no capacity lost
// in a rollout), after the models' Services exist (nginx resolves upstream names at start).
func declareDeployment(ctx *pulumi.Context, name, objName string, args Args, labels map[string]string,
	parent pulumi.ResourceOption, w workload) (*appsv1.Deployment, error) {
	opts := []pulumi.ResourceOption{parent, pulumi.DependsOn(args.Upstreams)}
	if autoscaled(args.Config) {
		// With an autoscaler, it owns spec.replicas: Pulumi sets it at creation
		// only, or every `up` would reset the autoscaler's choice.
		opts = append(opts, pulumi.IgnoreChanges([]string{"spec.replicas"}))
	}
	return appsv1.NewDeployment(ctx, name, &appsv1.DeploymentArgs{
		Metadata: kube.Meta(objName, args.Namespace, labels),
		Spec: &appsv1.DeploymentSpecArgs{
			Replicas: pulumi.Int(args.Config.Replicas),
			Selector: &metav1.LabelSelectorArgs{MatchLabels: pulumi.ToStringMap(Selector(objName))},
			Strategy: &appsv1.DeploymentStrategyArgs{
				Type: pulumi.String("RollingUpdate"),
				RollingUpdate: &appsv1.RollingUpdateDeploymentArgs{
					MaxUnavailable: pulumi.Int(0), MaxSurge: pulumi.Int(1),
				},
			},
			Template: &corev1.PodTemplateSpecArgs{
				Metadata: &metav1.ObjectMetaArgs{
					Labels:      pulumi.ToStringMap(labels),
					Annotations: pulumi.StringMap{ChecksumAnnotation: w.files.ApplyT(nginx.Checksum).(pulumi.StringOutput)},
				},
				Spec: podSpec(args.Config, w),
			},
		},
	}, opts...)
}

func podSpec(cfg Config, w workload) *corev1.PodSpecArgs {
	return &corev1.PodSpecArgs{
		// nginx never calls the Kubernetes API: no token in the pod.
		AutomountServiceAccountToken: pulumi.Bool(false),
		// Streams may run for many minutes; let them finish.
		TerminationGracePeriodSeconds: pulumi.Int(TerminationGracePeriodSeconds(cfg.TimeoutSeconds)),
		SecurityContext: &corev1.PodSecurityContextArgs{
			RunAsNonRoot: pulumi.Bool(true),
			RunAsUser:    pulumi.Int(65534),
			RunAsGroup:   pulumi.Int(65534),
			SeccompProfile: &corev1.SeccompProfileArgs{
				Type: pulumi.String("RuntimeDefault"),
			},
		},
		Containers: corev1.ContainerArray{container(cfg, w)},
		Volumes: append(corev1.VolumeArray{
			// Mounted as a directory (no subPath) so updates reach the pod.
			&corev1.VolumeArgs{Name: pulumi.String("config"), ConfigMap: &corev1.ConfigMapVolumeSourceArgs{Name: w.config.Metadata.Name()}},
			&corev1.VolumeArgs{Name: pulumi.String("tmp"), EmptyDir: &corev1.EmptyDirVolumeSourceArgs{}},
		}, w.keyVolumes...),
	}
}

// container is OpenResty running the rendered config, with no privilege, a read-only root and
// the drain hook (drain.go).
func container(cfg Config, w workload) *corev1.ContainerArgs {
	health := &corev1.HTTPGetActionArgs{Path: pulumi.String(nginx.HealthPath), Port: pulumi.String("http")}
	return &corev1.ContainerArgs{
		Name:    pulumi.String("openresty"),
		Image:   pulumi.String(cfg.Image),
		Command: pulumi.ToStringArray(nginx.ProductionCommand(configDir)),
		Ports: corev1.ContainerPortArray{
			&corev1.ContainerPortArgs{Name: pulumi.String("http"), ContainerPort: pulumi.Int(ContainerPort), Protocol: pulumi.String("TCP")},
			&corev1.ContainerPortArgs{Name: pulumi.String(MetricsPortName), ContainerPort: pulumi.Int(MetricsPort), Protocol: pulumi.String("TCP")},
		},
		Resources: &corev1.ResourceRequirementsArgs{
			// The autoscaler's utilisation is relative to the CPU
			// request; the workers may burst above it (no CPU limit).
			Requests: pulumi.StringMap{"cpu": pulumi.String(CPURequest), "memory": pulumi.String(MemoryRequest)},
			// What nginx holds at worst: every stream, the request
			// bodies' budget, shared memory (sizing.go).
			Limits: pulumi.StringMap{"memory": pulumi.String(
				resource.NewQuantity(MemoryLimit(w.params, workers), resource.BinarySI).String())},
		},
		SecurityContext: &corev1.SecurityContextArgs{
			AllowPrivilegeEscalation: pulumi.Bool(false),
			ReadOnlyRootFilesystem:   pulumi.Bool(true),
			Capabilities:             &corev1.CapabilitiesArgs{Drop: pulumi.StringArray{pulumi.String("ALL")}},
		},
		Lifecycle: &corev1.LifecycleArgs{PreStop: &corev1.LifecycleHandlerArgs{
			Exec: &corev1.ExecActionArgs{Command: pulumi.ToStringArray(PreStopCommand())},
		}},
		ReadinessProbe: &corev1.ProbeArgs{HttpGet: health, PeriodSeconds: pulumi.Int(5), FailureThreshold: pulumi.Int(2)},
		LivenessProbe:  &corev1.ProbeArgs{HttpGet: health, PeriodSeconds: pulumi.Int(10), FailureThreshold: pulumi.Int(3)},
		VolumeMounts: append(corev1.VolumeMountArray{
			&corev1.VolumeMountArgs{Name: pulumi.String("config"), MountPath: pulumi.String(configDir), ReadOnly: pulumi.Bool(true)},
			&corev1.VolumeMountArgs{Name: pulumi.String("tmp"), MountPath: pulumi.String("/tmp")},
		}, w.keyMounts...),
	}
}

// declareBudget declares the pods' disruption budget. maxUnavailable 1 holds for any replica
// count the autoscaler picks (minAvailable 1 would let a node drain take all but one of the
// pods the load had called for); with a single replica there is nothing to keep.
func declareBudget(ctx *pulumi.Context, name, objName string, args Args, labels map[string]string, parent pulumi.ResourceOption) error {
	if args.Config.Replicas <= 1 {
		return nil
	}
	_, err := kube.OneAtATime(ctx, name, kube.Meta(objName, args.Namespace, labels), Selector(objName), parent)
	return err
}
