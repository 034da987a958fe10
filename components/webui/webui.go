// Package webui declares Open WebUI wired to the gateway: a single-replica
// Deployment on a data claim, its Service, and the Secret holding the
// session-signing key.
package webui

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"

	appsv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apps/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/llm-platform/llm-platform/internal/argcheck"
	"github.com/llm-platform/llm-platform/internal/capacity"
	"github.com/llm-platform/llm-platform/internal/kube"
)

const (
	// Type is the WebUI component's type token.
	Type = "llm-platform:index:WebUI"
	// DefaultName is the object name the platform's stack gives its UI (Args.Name).
	DefaultName = "open-webui"
	// AppName is the app.kubernetes.io/name label of Open WebUI's pods.
	AppName = "open-webui"
	// Port is the Service port; Open WebUI listens on ContainerPort.
	Port = 80
	// ContainerPort is where the container listens.
	ContainerPort = 8080
	dataDir       = "/app/backend/data"
	secretKeyKey  = "webui-secret-key"
	// dataSuffix names the data claim (<name>-data); adminSuffix the Secret holding the first
	// admin's password under adminPasswordKey (<name>-admin).
	dataSuffix       = "-data"
	adminSuffix      = "-admin"
	adminPasswordKey = "password"
)

// Requests are the Open WebUI container's resource requests (the stack's capacity check
// counts them).
var Requests = capacity.MustParse(cpuRequest, memoryRequest)

const cpuRequest, memoryRequest = "500m", "1Gi"

// waitFirstStart covers the startup probe's 10 minutes (database migration,
// embedding models) plus scheduling; Pulumi's default wait is 10 minutes.
var waitFirstStart = pulumi.Timeouts(&pulumi.CustomTimeouts{Create: "20m", Update: "20m"})

// Args are Open WebUI's inputs.
type Args struct {
	// Name is the Kubernetes name of the UI's objects (Deployment, Service, claim <name>-data,
	// Secrets <name> and <name>-admin); empty means the component's name. Plain: object names
	// are fixed at plan time.
	Name string `pulumi:"name,optional"`
	// Config configures the UI (plain: environment and claim size).
	Config Config `pulumi:"config"`
	// Namespace holds the objects (plain: part of the in-cluster Host).
	Namespace string `pulumi:"namespace"`
	// GatewayURL is the gateway's in-cluster OpenAI base URL (ending in /v1).
	GatewayURL pulumi.StringInput `pulumi:"gatewayUrl"`
	// GatewayKeySecret, when the gateway checks API keys, names the Secret and GatewayKeyKey
	// the key holding the key Open WebUI presents.
	GatewayKeySecret pulumi.StringInput `pulumi:"gatewayKeySecret,optional"`
	GatewayKeyKey    string             `pulumi:"gatewayKeyKey,optional"`
	// DefaultModel is preselected in new chats.
	DefaultModel pulumi.StringInput `pulumi:"defaultModel,optional"`
	// SecretKey signs sessions. When nil a random key is generated once and
	// kept in state (changes to it are ignored, so it stays stable).
	SecretKey pulumi.StringInput `pulumi:"secretKey,optional"`
	// AdminPassword is the password of the first account (Config.AdminEmail), which Open
	// WebUI creates at its first start. When nil one is generated once and kept in state.
	AdminPassword pulumi.StringInput `pulumi:"adminPassword,optional"`
}

// WebUI is the deployed UI.
type WebUI struct {
	pulumi.ResourceState
	// Host is the Service's cluster DNS name, for the edge's routes (plain: the edge renders
	// its routes at plan time).
	Host string
	// Selector is the pod selector of this UI's pods.
	Selector map[string]string
	// AdminPassword is the first admin's password as stored in the cluster (secret).
	AdminPassword pulumi.StringOutput `pulumi:"adminPassword"`
	// ServiceName is the UI's Service name.
	ServiceName pulumi.StringOutput `pulumi:"serviceName"`
	// Deployment runs the UI's pod.
	Deployment *appsv1.Deployment
}

// Selector is the pod selector of the UI whose objects are named name.
func Selector(name string) map[string]string { return kube.Selector(AppName, name) }

// New declares Open WebUI.
func New(ctx *pulumi.Context, name string, args Args, opts ...pulumi.ResourceOption) (*WebUI, error) {
	if err := argcheck.Required("WebUI", name, args); err != nil {
		return nil, err
	}
	objName := args.Name
	if objName == "" {
		objName = name
	}
	dataClaim, adminSecret := objName+dataSuffix, objName+adminSuffix
	w := &WebUI{Host: kube.ServiceHost(objName, args.Namespace), Selector: Selector(objName)}
	if err := ctx.RegisterComponentResource(Type, name, w, withFormerType(opts)...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(w)
	labels := kube.Labels(AppName, objName, "webui")
	selector := w.Selector

	// Sessions survive restarts and updates only with a stable key.
	secret, err := keptSecret(ctx, name, kube.Meta(objName, args.Namespace, labels), secretKeyKey, args.SecretKey, parent)
	if err != nil {
		return nil, err
	}
	admin, err := keptSecret(ctx, name+"-admin", kube.Meta(adminSecret, args.Namespace, labels), adminPasswordKey, args.AdminPassword, parent)
	if err != nil {
		return nil, err
	}
	w.AdminPassword = storedValue(admin, adminPasswordKey)

	claim := &corev1.PersistentVolumeClaimSpecArgs{
		AccessModes: pulumi.StringArray{pulumi.String("ReadWriteOnce")},
		Resources:   &corev1.VolumeResourceRequirementsArgs{Requests: pulumi.StringMap{"storage": pulumi.String(args.Config.StorageSize)}},
	}
	if args.Config.StorageClass != "" {
		claim.StorageClassName = pulumi.String(args.Config.StorageClass)
	}
	_, err = corev1.NewPersistentVolumeClaim(ctx, name, &corev1.PersistentVolumeClaimArgs{
		Metadata: kube.Meta(dataClaim, args.Namespace, labels),
		Spec:     claim,
	}, parent)
	if err != nil {
		return nil, err
	}

	health := &corev1.HTTPGetActionArgs{Path: pulumi.String("/health"), Port: pulumi.String("http")}
	w.Deployment, err = appsv1.NewDeployment(ctx, name, &appsv1.DeploymentArgs{
		Metadata: kube.Meta(objName, args.Namespace, labels),
		Spec: &appsv1.DeploymentSpecArgs{
			// One replica on a ReadWriteOnce claim (SQLite lives there);
			// Recreate so the old pod releases the volume first.
			Replicas: pulumi.Int(1),
			Strategy: &appsv1.DeploymentStrategyArgs{Type: pulumi.String("Recreate")},
			Selector: &metav1.LabelSelectorArgs{MatchLabels: pulumi.ToStringMap(selector)},
			Template: &corev1.PodTemplateSpecArgs{
				Metadata: &metav1.ObjectMetaArgs{Labels: pulumi.ToStringMap(labels)},
				Spec: &corev1.PodSpecArgs{
					// Open WebUI never calls the Kubernetes API: no token in the pod.
					AutomountServiceAccountToken: pulumi.Bool(false),
					// Its image runs as root and writes under /app: Pod Security baseline, not
					// restricted (docs/istio.md).
					SecurityContext: &corev1.PodSecurityContextArgs{
						SeccompProfile: &corev1.SeccompProfileArgs{Type: pulumi.String("RuntimeDefault")},
					},
					Containers: corev1.ContainerArray{&corev1.ContainerArgs{
						Name:            pulumi.String("open-webui"),
						Image:           pulumi.String(args.Config.Image),
						SecurityContext: &corev1.SecurityContextArgs{AllowPrivilegeEscalation: pulumi.Bool(false)},
						Env:             env(args, secret, admin),
						Ports: corev1.ContainerPortArray{&corev1.ContainerPortArgs{
							Name: pulumi.String("http"), ContainerPort: pulumi.Int(ContainerPort), Protocol: pulumi.String("TCP"),
						}},
						Resources: &corev1.ResourceRequirementsArgs{
							Requests: pulumi.StringMap{"cpu": pulumi.String(cpuRequest), "memory": pulumi.String(memoryRequest)},
							Limits:   pulumi.StringMap{"memory": pulumi.String("2Gi")},
						},
						VolumeMounts: corev1.VolumeMountArray{&corev1.VolumeMountArgs{
							Name: pulumi.String("data"), MountPath: pulumi.String(dataDir),
						}},
						// The first start migrates the database and loads
						// embedding models: allow it 10 minutes.
						StartupProbe:   &corev1.ProbeArgs{HttpGet: health, PeriodSeconds: pulumi.Int(10), FailureThreshold: pulumi.Int(60)},
						ReadinessProbe: &corev1.ProbeArgs{HttpGet: health, PeriodSeconds: pulumi.Int(10), FailureThreshold: pulumi.Int(3)},
						LivenessProbe:  &corev1.ProbeArgs{HttpGet: health, PeriodSeconds: pulumi.Int(20), TimeoutSeconds: pulumi.Int(5), FailureThreshold: pulumi.Int(3)},
					}},
					Volumes: corev1.VolumeArray{&corev1.VolumeArgs{
						Name: pulumi.String("data"),
						// By name, not the claim's output: with WaitForFirstConsumer
						// classes the claim binds only once this pod exists.
						PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSourceArgs{ClaimName: pulumi.String(dataClaim)},
					}},
				},
			},
		},
	}, parent, waitFirstStart)
	if err != nil {
		return nil, err
	}

	svc, err := kube.HTTPService(ctx, name, kube.Meta(objName, args.Namespace, labels), selector, Port, parent, waitFirstStart)
	if err != nil {
		return nil, err
	}
	w.ServiceName = svc.Metadata.Name().Elem()
	return w, ctx.RegisterResourceOutputs(w, pulumi.Map{
		"host":          pulumi.String(w.Host),
		"selector":      pulumi.ToStringMap(w.Selector),
		"adminPassword": w.AdminPassword,
		"serviceName":   w.ServiceName,
	})
}

// keptSecret declares a Secret holding value under key. With no value a random one is
// generated: it is generated anew on every run, but only the first is ever applied
// (ignoreChanges), so it stays stable; setting a value replaces it.
func keptSecret(ctx *pulumi.Context, name string, meta *metav1.ObjectMetaArgs, key string, value pulumi.StringInput, parent pulumi.ResourceOption) (*corev1.Secret, error) {
	opts := []pulumi.ResourceOption{parent}
	if value == nil {
		generated, err := randomKey()
		if err != nil {
			return nil, err
		}
		value = pulumi.String(generated)
		// The provider turns stringData into data, so both are ignored.
		opts = append(opts, pulumi.IgnoreChanges([]string{"stringData", "data"}))
	}
	return corev1.NewSecret(ctx, name, &corev1.SecretArgs{
		Metadata:   meta,
		Type:       pulumi.String("Opaque"),
		StringData: pulumi.StringMap{key: pulumi.ToSecret(value).(pulumi.StringOutput)},
	}, opts...)
}

// storedValue reads key back from the Secret's state (stringData, or data once the provider
// has turned it into base64), so a generated value reports the one that was applied.
func storedValue(s *corev1.Secret, key string) pulumi.StringOutput {
	return pulumi.ToSecret(pulumi.All(s.StringData, s.Data).ApplyT(func(v []any) (string, error) {
		if plain, ok := v[0].(map[string]string)[key]; ok {
			return plain, nil
		}
		raw, err := base64.StdEncoding.DecodeString(v[1].(map[string]string)[key])
		return string(raw), err
	})).(pulumi.StringOutput)
}

func env(args Args, secret, admin *corev1.Secret) corev1.EnvVarArray {
	plain := func(name, value string) corev1.EnvVarInput {
		return &corev1.EnvVarArgs{Name: pulumi.String(name), Value: pulumi.String(value)}
	}
	fromSecret := func(name string, secretName pulumi.StringInput, key string) corev1.EnvVarInput {
		return &corev1.EnvVarArgs{Name: pulumi.String(name), ValueFrom: &corev1.EnvVarSourceArgs{
			SecretKeyRef: &corev1.SecretKeySelectorArgs{Name: secretName, Key: pulumi.String(key)},
		}}
	}
	vars := corev1.EnvVarArray{
		&corev1.EnvVarArgs{Name: pulumi.String("OPENAI_API_BASE_URL"), Value: args.GatewayURL},
		plain("ENABLE_OPENAI_API", "True"),
		plain("ENABLE_OLLAMA_API", "False"),
		plain("WEBUI_AUTH", "True"),
		plain("ENABLE_SIGNUP", pyBool(args.Config.EnableSignup)),
		plain("DEFAULT_USER_ROLE", args.Config.DefaultUserRole),
		// Without this, Open WebUI stores these settings in its database at
		// first start and ignores later changes to the stack config.
		plain("ENABLE_PERSISTENT_CONFIG", "False"),
		&corev1.EnvVarArgs{Name: pulumi.String("DEFAULT_MODELS"), Value: args.DefaultModel},
		fromSecret("WEBUI_SECRET_KEY", secret.Metadata.Name().Elem(), secretKeyKey),
		// With sign-up off nobody could create the first account (the pinned version
		// refuses sign-up unless ENABLE_INITIAL_ADMIN_SIGNUP); Open WebUI creates this admin at
		// start while it has no users, and ignores these afterwards.
		plain("WEBUI_ADMIN_EMAIL", args.Config.AdminEmail),
		plain("WEBUI_ADMIN_NAME", args.Config.AdminName),
		fromSecret("WEBUI_ADMIN_PASSWORD", admin.Metadata.Name().Elem(), adminPasswordKey),
	}
	if args.GatewayKeySecret != nil {
		vars = append(vars, fromSecret("OPENAI_API_KEY", args.GatewayKeySecret, args.GatewayKeyKey))
	}
	return vars
}

func pyBool(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

func randomKey() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// formerType is the type token before llm-platform:index:*. The alias keeps the URNs of
// stacks deployed with it (and of every child, whose URNs include it): no replacement.
const formerType = "llm-platform:webui:WebUI"

func withFormerType(opts []pulumi.ResourceOption) []pulumi.ResourceOption {
	return append(opts[:len(opts):len(opts)], pulumi.Aliases([]pulumi.Alias{{Type: pulumi.String(formerType)}}))
}
