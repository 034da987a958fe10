package webui

import (
	"bytes"
	_ "embed"
	"maps"
	"text/template"

	appsv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apps/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/llm-platform/llm-platform/internal/capacity"
	"github.com/llm-platform/llm-platform/internal/kube"
)

// The in-cluster PostgreSQL (DatabaseInCluster): a one-replica StatefulSet of the pgvector
// image, bootstrapped at its first start by the init files below, its data on a claim of its own.
const (
	// PostgresRole and PostgresDatabase are Open WebUI's login role and database. The image's
	// superuser (postgres) is kept for the server; Open WebUI never gets it.
	PostgresRole     = "openwebui"
	PostgresDatabase = "openwebui"
	// postgresSuffix names the server's objects (<name>-postgres); its Secret holds the role's
	// password under passwordKey, <name>-postgres-admin the superuser's.
	postgresSuffix = "-postgres"
	passwordKey    = "password"
	// The postgres image's user: the server never runs as root.
	postgresUID = 999
	// rolePasswordEnv carries the role's password to the init script.
	rolePasswordEnv = "OPENWEBUI_PASSWORD"
	initDir         = "/docker-entrypoint-initdb.d"
	// pgData is a directory below the mount: a volume's root may hold lost+found, which initdb
	// refuses.
	pgMount = "/var/lib/postgresql/data"
	pgData  = pgMount + "/pgdata"
	// NoSidecarLabel keeps Istio's sidecar out of a pod: the server and its backup Job talk plain
	// PostgreSQL inside the namespace (the backup Job could never finish beside a sidecar, and a
	// server in the mesh would refuse it under STRICT mutual TLS). The NetworkPolicy admits only
	// Open WebUI and the backup Job.
	NoSidecarLabel = "sidecar.istio.io/inject"
)

// PostgresRequests are the in-cluster server's requests (the capacity check counts them).
var PostgresRequests = capacity.MustParse(pgCPURequest, pgMemoryRequest)

const pgCPURequest, pgMemoryRequest, pgMemoryLimit = "250m", "512Mi", "1Gi"

//go:embed postgres-init.sh.tmpl
var initScriptTemplate string

//go:embed openwebui-bootstrap.psql
var bootstrapSQL string

//go:embed openwebui-extension.psql
var extensionSQL string

var initScript = template.Must(template.New("init").Option("missingkey=error").Parse(initScriptTemplate))

// PostgresInitFiles are the files the postgres image runs at its first start, by name (the
// ConfigMap mounted at /docker-entrypoint-initdb.d). Only the .sh runs; the entrypoint skips the
// .psql files, which the script feeds to psql itself.
func PostgresInitFiles() (map[string]string, error) {
	var b bytes.Buffer
	err := initScript.Execute(&b, map[string]string{"Role": PostgresRole, "Database": PostgresDatabase, "PasswordEnv": rolePasswordEnv})
	return map[string]string{
		"10-openwebui.sh":          b.String(),
		"openwebui-bootstrap.psql": bootstrapSQL,
		"openwebui-extension.psql": extensionSQL,
	}, err
}

// PostgresSelector selects the in-cluster server of the UI whose objects are named name.
func PostgresSelector(name string) map[string]string {
	return kube.Selector("postgres", name+postgresSuffix)
}

// postgresServer is the declared server: its URL for Open WebUI (secret) and what the backup
// needs.
type postgresServer struct {
	URL      pulumi.StringOutput
	Host     string
	Password *corev1.Secret
}

// newPostgres declares the server, its Service and the NetworkPolicy admitting clients (Open
// WebUI's pods and the backup Job's) and nobody else.
func newPostgres(ctx *pulumi.Context, name, objName, namespace string, cfg InClusterConfig, clients []map[string]string, parent pulumi.ResourceOption) (*postgresServer, error) {
	server := objName + postgresSuffix
	labels := kube.Labels("postgres", server, "database")
	role, err := kube.KeptSecret(ctx, name+postgresSuffix, kube.Meta(server, namespace, labels), passwordKey, nil, parent)
	if err != nil {
		return nil, err
	}
	admin, err := kube.KeptSecret(ctx, name+postgresSuffix+"-admin", kube.Meta(server+"-admin", namespace, labels), passwordKey, nil, parent)
	if err != nil {
		return nil, err
	}
	files, err := PostgresInitFiles()
	if err != nil {
		return nil, err
	}
	init, err := corev1.NewConfigMap(ctx, name+postgresSuffix+"-init", &corev1.ConfigMapArgs{
		Metadata: kube.Meta(server+"-init", namespace, labels),
		Data:     pulumi.ToStringMap(files),
	}, parent)
	if err != nil {
		return nil, err
	}
	if err := postgresStatefulSet(ctx, name+postgresSuffix, server, namespace, cfg, labels, role, admin, init, parent); err != nil {
		return nil, err
	}
	if _, err := corev1.NewService(ctx, name+postgresSuffix, &corev1.ServiceArgs{
		Metadata: kube.Meta(server, namespace, labels),
		Spec: &corev1.ServiceSpecArgs{
			Selector: pulumi.ToStringMap(PostgresSelector(objName)),
			Ports: corev1.ServicePortArray{&corev1.ServicePortArgs{
				Name: pulumi.String("tcp-postgres"), Port: pulumi.Int(PostgresPort), TargetPort: pulumi.String("postgres"), AppProtocol: pulumi.String("tcp"),
			}},
		},
	}, parent); err != nil {
		return nil, err
	}
	if _, err := kube.AdmitOnly(ctx, name+postgresSuffix, kube.Meta(server, namespace, labels), PostgresSelector(objName), PostgresPort, clients, parent); err != nil {
		return nil, err
	}
	host := kube.ServiceHost(server, namespace)
	return &postgresServer{
		URL:      PostgresURL(pulumi.String(host), PostgresPort, PostgresRole, kube.StoredValue(role, passwordKey), PostgresDatabase),
		Host:     host,
		Password: role,
	}, nil
}

func postgresStatefulSet(ctx *pulumi.Context, name, server, namespace string, cfg InClusterConfig, labels map[string]string,
	role, admin *corev1.Secret, init *corev1.ConfigMap, parent pulumi.ResourceOption) error {
	ready := &corev1.ProbeArgs{
		Exec:          &corev1.ExecActionArgs{Command: pulumi.ToStringArray([]string{"pg_isready", "--host=127.0.0.1", "--username=postgres"})},
		PeriodSeconds: pulumi.Int(10),
	}
	alive := &corev1.ProbeArgs{Exec: ready.Exec, PeriodSeconds: pulumi.Int(30), TimeoutSeconds: pulumi.Int(5), FailureThreshold: pulumi.Int(4)}
	podLabels := maps.Clone(labels)
	podLabels[NoSidecarLabel] = "false"
	_, err := appsv1.NewStatefulSet(ctx, name, &appsv1.StatefulSetArgs{
		Metadata: kube.Meta(server, namespace, labels),
		Spec: &appsv1.StatefulSetSpecArgs{
			Replicas:    pulumi.Int(1),
			ServiceName: pulumi.String(server),
			Selector:    &metav1.LabelSelectorArgs{MatchLabels: pulumi.ToStringMap(kube.Selector("postgres", server))},
			Template: &corev1.PodTemplateSpecArgs{
				Metadata: &metav1.ObjectMetaArgs{Labels: pulumi.ToStringMap(podLabels)},
				Spec: &corev1.PodSpecArgs{
					AutomountServiceAccountToken: pulumi.Bool(false),
					SecurityContext:              kube.NonRootPod(postgresUID),
					// A clean shutdown checkpoints; the image's default smart shutdown waits for clients.
					TerminationGracePeriodSeconds: pulumi.Int(60),
					Containers: corev1.ContainerArray{&corev1.ContainerArgs{
						Name:  pulumi.String("postgres"),
						Image: pulumi.String(cfg.Image),
						Env: corev1.EnvVarArray{
							plainEnv("POSTGRES_USER", "postgres"),
							secretEnv("POSTGRES_PASSWORD", admin.Metadata.Name().Elem(), passwordKey),
							plainEnv("PGDATA", pgData),
							secretEnv(rolePasswordEnv, role.Metadata.Name().Elem(), passwordKey),
						},
						Ports:           corev1.ContainerPortArray{&corev1.ContainerPortArgs{Name: pulumi.String("postgres"), ContainerPort: pulumi.Int(PostgresPort), Protocol: pulumi.String("TCP")}},
						SecurityContext: kube.NoEscalation(),
						Resources: &corev1.ResourceRequirementsArgs{
							Requests: pulumi.StringMap{"cpu": pulumi.String(pgCPURequest), "memory": pulumi.String(pgMemoryRequest)},
							Limits:   pulumi.StringMap{"memory": pulumi.String(pgMemoryLimit)},
						},
						ReadinessProbe: ready,
						LivenessProbe:  alive,
						VolumeMounts: corev1.VolumeMountArray{
							&corev1.VolumeMountArgs{Name: pulumi.String("data"), MountPath: pulumi.String(pgMount)},
							&corev1.VolumeMountArgs{Name: pulumi.String("init"), MountPath: pulumi.String(initDir), ReadOnly: pulumi.Bool(true)},
						},
					}},
					Volumes: corev1.VolumeArray{&corev1.VolumeArgs{
						Name:      pulumi.String("init"),
						ConfigMap: &corev1.ConfigMapVolumeSourceArgs{Name: init.Metadata.Name().Elem()},
					}},
				},
			},
			VolumeClaimTemplates: corev1.PersistentVolumeClaimTypeArray{&corev1.PersistentVolumeClaimTypeArgs{
				Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String("data"), Labels: pulumi.ToStringMap(labels)},
				Spec:     kube.ClaimSpec("ReadWriteOnce", cfg.StorageSize, cfg.StorageClass),
			}},
		},
	}, parent)
	return err
}
