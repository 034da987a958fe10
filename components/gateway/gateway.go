// Package gateway declares the OpenAI-compatible router in front of every
// model: OpenResty running the nginx.conf and Lua rendered by package
// nginx, a Service, a disruption budget, and the API keys' Secret.
package gateway

import (
	"fmt"
	"strings"
	"time"

	appsv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apps/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	policyv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/policy/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/llm-platform/llm-platform/components/gateway/nginx"
	"github.com/llm-platform/llm-platform/internal/kube"
	"github.com/llm-platform/llm-platform/stacks/spec"
)

const (
	// Name is the gateway's Service (and Deployment) name.
	Name = "llm-gateway"
	// Port is the Service port; the container listens on ContainerPort.
	Port = 80
	// ContainerPort is where the container listens.
	ContainerPort = 8080
	configDir     = "/etc/llm-gateway"
	apiKeysEnv    = "GATEWAY_API_KEYS"
	apiKeysKey    = "keys"
	// ChecksumAnnotation carries the digest of the rendered config, so any
	// change of the model list or limits rolls the pods (the ConfigMap is
	// mounted as a directory, but nginx reads it only at start).
	ChecksumAnnotation = "llm-platform/config-checksum"
	// workers matches the CPU request: nginx's "auto" counts the node's
	// CPUs, not the pod's, and a GPU node has dozens.
	workers = 2
)

// Args are the gateway's inputs.
type Args struct {
	Config    spec.GatewayConfig
	Namespace string
	// Routes are the served models; Routes[0] is the default model.
	Routes []nginx.Route
	// Upstreams are the models' Services. nginx resolves upstream names
	// once at start, so the pods start only after the Services exist.
	Upstreams []pulumi.Resource
	// APIKeys is a secret, comma-separated list of accepted keys; nil turns
	// authentication off.
	APIKeys pulumi.StringInput
}

// Gateway is the deployed router.
type Gateway struct {
	pulumi.ResourceState

	// URL is the in-cluster OpenAI base URL ("http://llm-gateway.<ns>.svc.cluster.local/v1").
	URL string
	// Host is the Service's cluster DNS name, for the edge's routes.
	Host string
	// KeysSecret holds the API keys; nil without keys.
	KeysSecret *corev1.Secret
}

// ClientKeyKey is the key in KeysSecret holding the one API key that
// in-cluster clients present.
const ClientKeyKey = "client"

// New renders the router's config and declares its workload.
func New(ctx *pulumi.Context, name string, args Args, opts ...pulumi.ResourceOption) (*Gateway, error) {
	maxBody, err := resource.ParseQuantity(args.Config.MaxBodySize)
	if err != nil {
		return nil, fmt.Errorf("gateway.maxBodySize: %w", err)
	}
	params := nginx.Params{
		Routes:       args.Routes,
		Listen:       fmt.Sprint(ContainerPort),
		MaxBodySize:  maxBody.Value(),
		ProxyTimeout: time.Duration(args.Config.TimeoutSeconds) * time.Second,
		Runtime:      nginx.ProductionRuntime(configDir),
	}
	params.Runtime.WorkerProcesses = workers
	if args.APIKeys != nil {
		params.APIKeysEnv = apiKeysEnv
	}
	files, err := nginx.Render(params)
	if err != nil {
		return nil, err
	}

	g := &Gateway{Host: kube.ServiceHost(Name, args.Namespace)}
	g.URL = fmt.Sprintf("http://%s/v1", g.Host)
	if err := ctx.RegisterComponentResource("llm-platform:gateway:Gateway", name, g, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(g)
	labels := kube.Labels("llm-gateway", Name, "gateway")
	selector := kube.Selector("llm-gateway", Name)

	cm, err := corev1.NewConfigMap(ctx, name, &corev1.ConfigMapArgs{
		Metadata: kube.Meta(Name, args.Namespace, labels),
		Data:     pulumi.ToStringMap(files),
	}, parent)
	if err != nil {
		return nil, err
	}

	env := corev1.EnvVarArray{}
	if args.APIKeys != nil {
		g.KeysSecret, err = corev1.NewSecret(ctx, name+"-keys", &corev1.SecretArgs{
			Metadata: kube.Meta(Name+"-keys", args.Namespace, labels),
			Type:     pulumi.String("Opaque"),
			StringData: pulumi.StringMap{
				apiKeysKey: pulumi.ToSecret(args.APIKeys).(pulumi.StringOutput),
				// In-cluster clients (Open WebUI) present the first key.
				ClientKeyKey: args.APIKeys.ToStringOutput().ApplyT(func(keys string) string {
					first, _, _ := strings.Cut(keys, ",")
					return first
				}).(pulumi.StringOutput),
			},
		}, parent)
		if err != nil {
			return nil, err
		}
		env = append(env, &corev1.EnvVarArgs{
			Name: pulumi.String(apiKeysEnv),
			ValueFrom: &corev1.EnvVarSourceArgs{SecretKeyRef: &corev1.SecretKeySelectorArgs{
				Name: g.KeysSecret.Metadata.Name().Elem(), Key: pulumi.String(apiKeysKey),
			}},
		})
	}

	health := &corev1.HTTPGetActionArgs{Path: pulumi.String(nginx.HealthPath), Port: pulumi.String("http")}
	_, err = appsv1.NewDeployment(ctx, name, &appsv1.DeploymentArgs{
		Metadata: kube.Meta(Name, args.Namespace, labels),
		Spec: &appsv1.DeploymentSpecArgs{
			Replicas: pulumi.Int(args.Config.Replicas),
			Selector: &metav1.LabelSelectorArgs{MatchLabels: pulumi.ToStringMap(selector)},
			Strategy: &appsv1.DeploymentStrategyArgs{
				Type: pulumi.String("RollingUpdate"),
				RollingUpdate: &appsv1.RollingUpdateDeploymentArgs{
					MaxUnavailable: pulumi.Int(0), MaxSurge: pulumi.Int(1),
				},
			},
			Template: &corev1.PodTemplateSpecArgs{
				Metadata: &metav1.ObjectMetaArgs{
					Labels:      pulumi.ToStringMap(labels),
					Annotations: pulumi.StringMap{ChecksumAnnotation: pulumi.String(nginx.Checksum(files))},
				},
				Spec: &corev1.PodSpecArgs{
					// Streams may run for many minutes; let them finish.
					TerminationGracePeriodSeconds: pulumi.Int(args.Config.TimeoutSeconds),
					SecurityContext: &corev1.PodSecurityContextArgs{
						RunAsNonRoot: pulumi.Bool(true),
						RunAsUser:    pulumi.Int(65534),
						RunAsGroup:   pulumi.Int(65534),
						SeccompProfile: &corev1.SeccompProfileArgs{
							Type: pulumi.String("RuntimeDefault"),
						},
					},
					Containers: corev1.ContainerArray{&corev1.ContainerArgs{
						Name:    pulumi.String("openresty"),
						Image:   pulumi.String(args.Config.Image),
						Command: pulumi.ToStringArray(nginx.ProductionCommand(configDir)),
						Env:     env,
						Ports: corev1.ContainerPortArray{&corev1.ContainerPortArgs{
							Name: pulumi.String("http"), ContainerPort: pulumi.Int(ContainerPort), Protocol: pulumi.String("TCP"),
						}},
						Resources: &corev1.ResourceRequirementsArgs{
							Requests: pulumi.StringMap{"cpu": pulumi.String(fmt.Sprint(workers)), "memory": pulumi.String("256Mi")},
							// Bodies are kept in memory: leave room for a few
							// maximum-size requests at once.
							Limits: pulumi.StringMap{"memory": pulumi.String(memoryLimit(maxBody))},
						},
						SecurityContext: &corev1.SecurityContextArgs{
							AllowPrivilegeEscalation: pulumi.Bool(false),
							ReadOnlyRootFilesystem:   pulumi.Bool(true),
							Capabilities:             &corev1.CapabilitiesArgs{Drop: pulumi.StringArray{pulumi.String("ALL")}},
						},
						ReadinessProbe: &corev1.ProbeArgs{HttpGet: health, PeriodSeconds: pulumi.Int(5), FailureThreshold: pulumi.Int(2)},
						LivenessProbe:  &corev1.ProbeArgs{HttpGet: health, PeriodSeconds: pulumi.Int(10), FailureThreshold: pulumi.Int(3)},
						VolumeMounts: corev1.VolumeMountArray{
							&corev1.VolumeMountArgs{Name: pulumi.String("config"), MountPath: pulumi.String(configDir), ReadOnly: pulumi.Bool(true)},
							&corev1.VolumeMountArgs{Name: pulumi.String("tmp"), MountPath: pulumi.String("/tmp")},
						},
					}},
					Volumes: corev1.VolumeArray{
						// Mounted as a directory (no subPath) so updates reach the pod.
						&corev1.VolumeArgs{Name: pulumi.String("config"), ConfigMap: &corev1.ConfigMapVolumeSourceArgs{Name: cm.Metadata.Name()}},
						&corev1.VolumeArgs{Name: pulumi.String("tmp"), EmptyDir: &corev1.EmptyDirVolumeSourceArgs{}},
					},
				},
			},
		},
	}, parent, pulumi.DependsOn(args.Upstreams))
	if err != nil {
		return nil, err
	}

	_, err = kube.HTTPService(ctx, name, kube.Meta(Name, args.Namespace, labels), selector, Port, parent)
	if err != nil {
		return nil, err
	}

	if args.Config.Replicas > 1 {
		_, err = policyv1.NewPodDisruptionBudget(ctx, name, &policyv1.PodDisruptionBudgetArgs{
			Metadata: kube.Meta(Name, args.Namespace, labels),
			Spec: &policyv1.PodDisruptionBudgetSpecArgs{
				MinAvailable: pulumi.Int(1),
				Selector:     &metav1.LabelSelectorArgs{MatchLabels: pulumi.ToStringMap(selector)},
			},
		}, parent)
		if err != nil {
			return nil, err
		}
	}
	return g, ctx.RegisterResourceOutputs(g, pulumi.Map{"url": pulumi.String(g.URL)})
}

// memoryLimit allows 256 MiB plus four maximum-size bodies in flight.
func memoryLimit(maxBody resource.Quantity) string {
	limit := resource.MustParse("256Mi")
	for range 4 {
		limit.Add(maxBody)
	}
	return limit.String()
}
