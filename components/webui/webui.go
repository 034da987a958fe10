// Package webui declares Open WebUI wired to the gateway. With SQLite (the default) it is one
// Deployment on a data claim; with PostgreSQL (webui.database) it is a StatefulSet of several
// replicas sharing the database, a Redis for their websockets, a ReadWriteMany data claim for
// uploads and a disruption budget (team.go); single sign-on through OIDC is oidc.go; the
// in-cluster PostgreSQL and its backups are postgres.go and backup.go.
package webui

import (
	"errors"
	"fmt"

	appsv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apps/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/llm-platform/llm-platform/internal/argcheck"
	"github.com/llm-platform/llm-platform/internal/capacity"
	"github.com/llm-platform/llm-platform/internal/formertype"
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
	// admin's password under adminPasswordKey (<name>-admin); credentialsSuffix the Secret with
	// the connection URLs and the OIDC client secret (<name>-credentials).
	dataSuffix        = "-data"
	adminSuffix       = "-admin"
	adminPasswordKey  = "password"
	credentialsSuffix = "-credentials"
	databaseURLKey    = "database-url"
	redisURLKey       = "redis-url"
	oidcSecretKey     = "oidc-client-secret"
)

// Requests are the Open WebUI container's resource requests (the stack's capacity check
// counts them).
var Requests = capacity.MustParse(cpuRequest, memoryRequest)

const cpuRequest, memoryRequest = "500m", "1Gi"

// waitFirstStart covers the startup probe's 10 minutes (database migration,
// embedding models) plus scheduling; Pulumi's default wait is 10 minutes.
var waitFirstStart = waitStarts(1)

// waitStarts is the wait for n pods started one after another (a StatefulSet's OrderedReady
// start and rolling update): each may take the startup probe's 10 minutes, plus 10 for
// scheduling.
func waitStarts(n int) pulumi.ResourceOption {
	d := fmt.Sprintf("%dm", 10*n+10)
	return pulumi.Timeouts(&pulumi.CustomTimeouts{Create: d, Update: d})
}

// Args are Open WebUI's inputs.
type Args struct {
	// Name is the Kubernetes name of the UI's objects (workload, Service, claim <name>-data,
	// Secrets <name>, <name>-admin and <name>-credentials); empty means the component's name.
	// Plain: object names are fixed at plan time.
	Name string `pulumi:"name,optional"`
	// Config configures the UI (plain: environment, sizes, which objects exist).
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
	// DatabaseURL is the PostgreSQL URL (secret) of a database the component does not declare:
	// required with Config.Database.Kind managed or external, refused otherwise.
	DatabaseURL pulumi.StringInput `pulumi:"databaseUrl,optional"`
	// DatabaseTLS says the database server requires TLS (the clouds' managed instances): the
	// pods then refuse a connection without it (PGSSLMODE=require).
	DatabaseTLS bool `pulumi:"databaseTls,optional"`
	// RedisURL is a Redis the replicas share websocket state through (secret,
	// redis://:<password>@<host>:<port>/<db>); unset with several replicas, the component declares
	// its own (components/redis).
	RedisURL pulumi.StringInput `pulumi:"redisUrl,optional"`
	// OIDCClientSecret is the identity provider's client secret (secret): required with
	// Config.OIDC.IssuerURL, refused without it.
	OIDCClientSecret pulumi.StringInput `pulumi:"oidcClientSecret,optional"`
	// PublicURL is where users reach the UI (https://chat.example.com): Open WebUI's WEBUI_URL
	// and the base of the OIDC redirect URI. Required with OIDC. Plain: it is config.
	PublicURL string `pulumi:"publicUrl,optional"`
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
}

// Selector is the pod selector of the UI whose objects are named name.
func Selector(name string) map[string]string { return kube.Selector(AppName, name) }

// withDefaults fills what a Go program or the component package may leave unset (the stack's
// config has every default already).
func (a Args) withDefaults(name string) Args {
	if a.Name == "" {
		a.Name = name
	}
	d := &a.Config.Database
	if d.Kind == "" {
		d.Kind = DatabaseSQLite
	}
	if d.InCluster == (InClusterConfig{}) {
		d.InCluster = DefaultInCluster()
	}
	o, def := &a.Config.OIDC, DefaultOIDC()
	if o.ProviderName == "" {
		o.ProviderName = def.ProviderName
	}
	if o.Scopes == "" {
		o.Scopes = def.Scopes
	}
	return a
}

// check refuses settings that contradict each other before anything is declared.
func (a Args) check(name string) error {
	errs := a.Config.Validate("config")
	invalid := func(path, format string, v ...any) {
		errs = append(errs, argcheck.Invalid("WebUI", name, path, format, v...))
	}
	switch db := a.Config.Database; {
	case db.NeedsURL() && a.DatabaseURL == nil:
		invalid("databaseUrl", "is required with config.database.kind %q: the PostgreSQL URL Open WebUI connects to", db.Kind)
	case !db.NeedsURL() && a.DatabaseURL != nil:
		invalid("databaseUrl", "is set, but config.database.kind is %q, which does not use it; set kind external, or remove it", db.Kind)
	}
	if a.RedisURL != nil && !a.Config.SharedData() {
		invalid("redisUrl", "is set, but one replica needs no Redis; remove it or set config.replicas above 1")
	}
	if err := a.Config.OIDC.CheckClientSecret("config.oidc", "oidcClientSecret", a.OIDCClientSecret != nil); err != nil {
		errs = append(errs, fmt.Errorf("WebUI %q: %w", name, err))
	}
	if a.Config.OIDC.Enabled() && a.PublicURL == "" {
		invalid("publicUrl", "is required with config.oidc.issuerUrl: the provider redirects users back to <publicUrl>%s", CallbackPath)
	}
	return errors.Join(errs...)
}

// New declares Open WebUI.
func New(ctx *pulumi.Context, name string, args Args, opts ...pulumi.ResourceOption) (*WebUI, error) {
	if err := argcheck.Required("WebUI", name, args); err != nil {
		return nil, err
	}
	args = args.withDefaults(name)
	if err := args.check(name); err != nil {
		return nil, err
	}
	objName := args.Name
	w := &WebUI{Host: kube.ServiceHost(objName, args.Namespace), Selector: Selector(objName)}
	if err := ctx.RegisterComponentResource(Type, name, w, formertype.Aliased(opts, formerType)...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(w)
	labels := kube.Labels(AppName, objName, "webui")

	// Sessions survive restarts and updates only with a stable key.
	secret, err := kube.KeptSecret(ctx, name, kube.Meta(objName, args.Namespace, labels), secretKeyKey, args.SecretKey, parent)
	if err != nil {
		return nil, err
	}
	admin, err := kube.KeptSecret(ctx, name+"-admin", kube.Meta(objName+adminSuffix, args.Namespace, labels), adminPasswordKey, args.AdminPassword, parent)
	if err != nil {
		return nil, err
	}
	w.AdminPassword = kube.StoredValue(admin, adminPasswordKey)
	creds, err := newCredentials(ctx, name, args, labels, parent)
	if err != nil {
		return nil, err
	}
	if _, err := corev1.NewPersistentVolumeClaim(ctx, name, &corev1.PersistentVolumeClaimArgs{
		Metadata: kube.Meta(objName+dataSuffix, args.Namespace, labels),
		Spec:     kube.ClaimSpec(dataAccessMode(args.Config), args.Config.StorageSize, args.Config.StorageClass),
	}, parent); err != nil {
		return nil, err
	}
	pod := podTemplate(args, labels, env(args, secret, admin, creds))
	if args.Config.Database.PostgreSQL() {
		err = newTeamWorkload(ctx, name, args, labels, pod, parent)
	} else {
		err = newSingleWorkload(ctx, name, args, labels, pod, parent)
	}
	if err != nil {
		return nil, err
	}
	svc, err := kube.HTTPService(ctx, name, kube.Meta(objName, args.Namespace, labels), w.Selector, Port, parent, waitFirstStart)
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

// dataAccessMode: replicas sharing the data directory (uploads) need ReadWriteMany.
func dataAccessMode(c Config) string {
	if c.SharedData() {
		return "ReadWriteMany"
	}
	return "ReadWriteOnce"
}

// newSingleWorkload is the SQLite UI: one replica on a ReadWriteOnce claim; Recreate, so the
// old pod releases the volume first.
func newSingleWorkload(ctx *pulumi.Context, name string, args Args, labels map[string]string, pod *corev1.PodTemplateSpecArgs, parent pulumi.ResourceOption) error {
	_, err := appsv1.NewDeployment(ctx, name, &appsv1.DeploymentArgs{
		Metadata: kube.Meta(args.Name, args.Namespace, labels),
		Spec: &appsv1.DeploymentSpecArgs{
			Replicas: pulumi.Int(1),
			Strategy: &appsv1.DeploymentStrategyArgs{Type: pulumi.String("Recreate")},
			Selector: &metav1.LabelSelectorArgs{MatchLabels: pulumi.ToStringMap(Selector(args.Name))},
			Template: pod,
		},
	}, parent, waitFirstStart)
	return err
}

// podTemplate is Open WebUI's pod, the same for either workload.
func podTemplate(args Args, labels map[string]string, env corev1.EnvVarArrayInput) *corev1.PodTemplateSpecArgs {
	health := &corev1.HTTPGetActionArgs{Path: pulumi.String("/health"), Port: pulumi.String("http")}
	return &corev1.PodTemplateSpecArgs{
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
				Env:             env,
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
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSourceArgs{ClaimName: pulumi.String(args.Name + dataSuffix)},
			}},
		},
	}
}

func plainEnv(name, value string) corev1.EnvVarInput {
	return &corev1.EnvVarArgs{Name: pulumi.String(name), Value: pulumi.String(value)}
}

func secretEnv(name string, secretName pulumi.StringInput, key string) corev1.EnvVarInput {
	return &corev1.EnvVarArgs{Name: pulumi.String(name), ValueFrom: &corev1.EnvVarSourceArgs{
		SecretKeyRef: &corev1.SecretKeySelectorArgs{Name: secretName, Key: pulumi.String(key)},
	}}
}

func env(args Args, secret, admin *corev1.Secret, creds *credentials) corev1.EnvVarArray {
	vars := corev1.EnvVarArray{
		&corev1.EnvVarArgs{Name: pulumi.String("OPENAI_API_BASE_URL"), Value: args.GatewayURL},
		plainEnv("ENABLE_OPENAI_API", "True"),
		plainEnv("ENABLE_OLLAMA_API", "False"),
		plainEnv("WEBUI_AUTH", "True"),
		plainEnv("ENABLE_SIGNUP", pyBool(args.Config.EnableSignup)),
		plainEnv("DEFAULT_USER_ROLE", args.Config.DefaultUserRole),
		// Without this, Open WebUI stores these settings in its database at
		// first start and ignores later changes to the stack config.
		plainEnv("ENABLE_PERSISTENT_CONFIG", "False"),
		&corev1.EnvVarArgs{Name: pulumi.String("DEFAULT_MODELS"), Value: args.DefaultModel},
		secretEnv("WEBUI_SECRET_KEY", secret.Metadata.Name().Elem(), secretKeyKey),
		// With sign-up off nobody could create the first account (the pinned version
		// refuses sign-up unless ENABLE_INITIAL_ADMIN_SIGNUP); Open WebUI creates this admin at
		// start while it has no users, and ignores these afterwards.
		plainEnv("WEBUI_ADMIN_EMAIL", args.Config.AdminEmail),
		plainEnv("WEBUI_ADMIN_NAME", args.Config.AdminName),
		secretEnv("WEBUI_ADMIN_PASSWORD", admin.Metadata.Name().Elem(), adminPasswordKey),
	}
	if args.GatewayKeySecret != nil {
		vars = append(vars, secretEnv("OPENAI_API_KEY", args.GatewayKeySecret, args.GatewayKeyKey))
	}
	if args.PublicURL != "" && !args.Config.OIDC.Enabled() {
		vars = append(vars, plainEnv("WEBUI_URL", args.PublicURL))
	}
	vars = append(vars, teamEnv(args, creds)...)
	return append(vars, oidcEnv(args.Config.OIDC, args.PublicURL, creds.name())...)
}

func pyBool(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

// formerType is the type token before llm-platform:index:*. The alias keeps the URNs of
// stacks deployed with it (and of every child, whose URNs include it): no replacement.
const formerType = "llm-platform:webui:WebUI"
