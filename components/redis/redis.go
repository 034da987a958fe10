// Package redis declares a small Redis-compatible server (Valkey) inside the cluster: one
// StatefulSet replica with its data on a volume, a password generated once and kept, and a
// NetworkPolicy that admits only the client pods it is given. Open WebUI shares websocket state
// across its replicas through it; the gateway's tenant limits can share counters through it.
package redis

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	appsv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apps/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/llm-platform/llm-platform/internal/capacity"
	"github.com/llm-platform/llm-platform/internal/kube"
	"github.com/llm-platform/llm-platform/internal/versions"
)

const (
	// Type is the Redis component's type token.
	Type = "llm-platform:index:Redis"
	// AppName is the app.kubernetes.io/name label of the server's pod.
	AppName = "redis"
	// Port is the Service's and the server's port.
	Port = 6379
	// PasswordKey holds the password in the Secret named like the component's objects.
	PasswordKey = "password"
	confKey     = "valkey.conf"
	confDir     = "/etc/valkey"
	dataDir     = "/data"
	// The image's valkey user: the server never runs as root.
	valkeyUID = 999
	// ChecksumAnnotation carries a digest of the config file without its password, so a changed
	// setting restarts the server (it reads the file only at start).
	ChecksumAnnotation = "llm-platform/config-checksum"
)

// Defaults of the optional Args.
const (
	DefaultStorageSize = "1Gi"
	DefaultMaxMemory   = "256mb"
)

// Requests are the server's resource requests (the stack's capacity check counts them);
// memoryLimit leaves room above maxmemory for buffers and the append-only file's rewrite.
var Requests = capacity.MustParse(cpuRequest, memoryRequest)

const cpuRequest, memoryRequest, memoryLimit = "100m", "128Mi", "384Mi"

// Args are the server's inputs. Every field is plain: they name objects and shape the plan.
type Args struct {
	// Name is the Kubernetes name of the objects (StatefulSet, Service, NetworkPolicy, the
	// Secret holding the password and <name>-config with the config file); empty means the
	// component's name.
	Name string `pulumi:"name,optional"`
	// Namespace holds the objects; the clients run there too.
	Namespace string `pulumi:"namespace"`
	// Clients select the pods (in Namespace) that may connect; nobody else reaches the port.
	Clients []map[string]string `pulumi:"clients"`
	// Image is the server's image; empty means versions.ValkeyImage.
	Image string `pulumi:"image,optional"`
	// StorageSize is the data volume's size; empty means DefaultStorageSize.
	StorageSize string `pulumi:"storageSize,optional"`
	// StorageClass of the data volume; empty uses the cluster's default.
	StorageClass string `pulumi:"storageClass,optional"`
}

// Redis is the deployed server.
type Redis struct {
	pulumi.ResourceState
	// Host is the Service's cluster DNS name.
	Host string
	// Selector selects the server's pod.
	Selector map[string]string
	// URL is redis://:<password>@<host>:6379/0 (secret): what a client is configured with.
	URL pulumi.StringOutput `pulumi:"url"`
	// Password is the password as the cluster keeps it (secret).
	Password pulumi.StringOutput `pulumi:"password"`
}

// Selector is the pod selector of the server whose objects are named name.
func Selector(name string) map[string]string { return kube.Selector(AppName, name) }

func (a Args) withDefaults(name string) Args {
	if a.Name == "" {
		a.Name = name
	}
	if a.Image == "" {
		a.Image = versions.ValkeyImage
	}
	if a.StorageSize == "" {
		a.StorageSize = DefaultStorageSize
	}
	return a
}

// New declares the server.
func New(ctx *pulumi.Context, name string, args Args, opts ...pulumi.ResourceOption) (*Redis, error) {
	if args.Namespace == "" || len(args.Clients) == 0 {
		return nil, fmt.Errorf("redis %q: namespace and at least one client selector are required (nobody could reach it otherwise)", name)
	}
	args = args.withDefaults(name)
	r := &Redis{Host: kube.ServiceHost(args.Name, args.Namespace), Selector: Selector(args.Name)}
	if err := ctx.RegisterComponentResource(Type, name, r, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(r)
	labels := kube.Labels(AppName, args.Name, "redis")

	// Generated on the first run and kept; everything below is built from the kept one.
	secret, err := kube.KeptSecret(ctx, name, kube.Meta(args.Name, args.Namespace, labels), PasswordKey, nil, parent)
	if err != nil {
		return nil, err
	}
	password := kube.StoredValue(secret, PasswordKey)
	r.Password = password
	settings := ServerConfig{Port: Port, Dir: dataDir, MaxMemory: DefaultMaxMemory}
	config, err := corev1.NewSecret(ctx, name+"-config", &corev1.SecretArgs{
		Metadata: kube.Meta(args.Name+"-config", args.Namespace, labels),
		Type:     pulumi.String("Opaque"),
		StringData: pulumi.StringMap{confKey: pulumi.ToSecret(password.ApplyT(func(pw string) (string, error) {
			s := settings
			s.Password = pw
			return Render(s)
		})).(pulumi.StringOutput)},
	}, parent)
	if err != nil {
		return nil, err
	}
	if err := statefulSet(ctx, name, args, labels, settings, config, parent); err != nil {
		return nil, err
	}
	if _, err := corev1.NewService(ctx, name, &corev1.ServiceArgs{
		Metadata: kube.Meta(args.Name, args.Namespace, labels),
		Spec: &corev1.ServiceSpecArgs{
			Selector: pulumi.ToStringMap(r.Selector),
			// tcp-: Istio carries it as plain TCP (through mutual TLS in the mesh).
			Ports: corev1.ServicePortArray{&corev1.ServicePortArgs{
				Name: pulumi.String("tcp-redis"), Port: pulumi.Int(Port), TargetPort: pulumi.String("redis"), AppProtocol: pulumi.String("tcp"),
			}},
		},
	}, parent); err != nil {
		return nil, err
	}
	// Only the clients reach the port.
	if _, err := kube.AdmitOnly(ctx, name, kube.Meta(args.Name, args.Namespace, labels), r.Selector, Port, args.Clients, parent); err != nil {
		return nil, err
	}
	r.URL = pulumi.ToSecret(pulumi.Sprintf("redis://:%s@%s:%d/0", password, r.Host, Port)).(pulumi.StringOutput)
	return r, ctx.RegisterResourceOutputs(r, pulumi.Map{"url": r.URL, "password": r.Password})
}

// statefulSet runs the server: one replica, its data on a claim of its own, the config file
// from the Secret, as the image's unprivileged user with a read-only root filesystem.
func statefulSet(ctx *pulumi.Context, name string, args Args, labels map[string]string, settings ServerConfig,
	config *corev1.Secret, parent pulumi.ResourceOption) error {
	digest := sha256.Sum256([]byte(fmt.Sprintf("%+v %s", settings, args.Image)))
	port := &corev1.TCPSocketActionArgs{Port: pulumi.String("redis")}
	_, err := appsv1.NewStatefulSet(ctx, name, &appsv1.StatefulSetArgs{
		Metadata: kube.Meta(args.Name, args.Namespace, labels),
		Spec: &appsv1.StatefulSetSpecArgs{
			Replicas:    pulumi.Int(1),
			ServiceName: pulumi.String(args.Name),
			Selector:    &metav1.LabelSelectorArgs{MatchLabels: pulumi.ToStringMap(Selector(args.Name))},
			Template: &corev1.PodTemplateSpecArgs{
				Metadata: &metav1.ObjectMetaArgs{
					Labels:      pulumi.ToStringMap(labels),
					Annotations: pulumi.StringMap{ChecksumAnnotation: pulumi.String(hex.EncodeToString(digest[:]))},
				},
				Spec: &corev1.PodSpecArgs{
					AutomountServiceAccountToken: pulumi.Bool(false),
					SecurityContext:              kube.NonRootPod(valkeyUID),
					Containers: corev1.ContainerArray{&corev1.ContainerArgs{
						Name:  pulumi.String("valkey"),
						Image: pulumi.String(args.Image),
						// The server itself, not the image's entrypoint (which would chown as root).
						Command:         pulumi.StringArray{pulumi.String("valkey-server"), pulumi.String(confDir + "/" + confKey)},
						Ports:           corev1.ContainerPortArray{&corev1.ContainerPortArgs{Name: pulumi.String("redis"), ContainerPort: pulumi.Int(Port), Protocol: pulumi.String("TCP")}},
						SecurityContext: readOnlyRoot(),
						Resources: &corev1.ResourceRequirementsArgs{
							Requests: pulumi.StringMap{"cpu": pulumi.String(cpuRequest), "memory": pulumi.String(memoryRequest)},
							Limits:   pulumi.StringMap{"memory": pulumi.String(memoryLimit)},
						},
						ReadinessProbe: &corev1.ProbeArgs{TcpSocket: port, PeriodSeconds: pulumi.Int(5)},
						LivenessProbe:  &corev1.ProbeArgs{TcpSocket: port, PeriodSeconds: pulumi.Int(20), FailureThreshold: pulumi.Int(3)},
						VolumeMounts: corev1.VolumeMountArray{
							&corev1.VolumeMountArgs{Name: pulumi.String("data"), MountPath: pulumi.String(dataDir)},
							&corev1.VolumeMountArgs{Name: pulumi.String("config"), MountPath: pulumi.String(confDir), ReadOnly: pulumi.Bool(true)},
						},
					}},
					Volumes: corev1.VolumeArray{&corev1.VolumeArgs{
						Name:   pulumi.String("config"),
						Secret: &corev1.SecretVolumeSourceArgs{SecretName: config.Metadata.Name().Elem(), DefaultMode: pulumi.Int(0o400)},
					}},
				},
			},
			VolumeClaimTemplates: corev1.PersistentVolumeClaimTypeArray{&corev1.PersistentVolumeClaimTypeArgs{
				Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String("data"), Labels: pulumi.ToStringMap(labels)},
				Spec:     kube.ClaimSpec("ReadWriteOnce", args.StorageSize, args.StorageClass),
			}},
		},
	}, parent)
	return err
}

// readOnlyRoot is kube.NoEscalation with a read-only root filesystem: the server writes only
// its data volume.
func readOnlyRoot() *corev1.SecurityContextArgs {
	c := kube.NoEscalation()
	c.ReadOnlyRootFilesystem = pulumi.Bool(true)
	return c
}
