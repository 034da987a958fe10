package webui

import (
	"fmt"

	appsv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apps/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	policyv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/policy/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/llm-platform/llm-platform/components/redis"
	"github.com/llm-platform/llm-platform/internal/capacity"
	"github.com/llm-platform/llm-platform/internal/kube"
)

// Open WebUI for a team: PostgreSQL, several replicas, Redis between them. Open WebUI's scaling
// guide (docs.openwebui.com, getting-started/advanced-topics/scaling) lists what more than one
// replica needs: the main database and the vector store off SQLite (here both in one PostgreSQL
// database, pgvector), Redis for websockets, one shared WEBUI_SECRET_KEY, shared uploads, and
// database migrations run by one pod at a time.

// credentials is the Secret holding what the pods connect with: the database URL, the Redis URL
// and the OIDC client secret (each only when used). Nil when none is.
type credentials struct {
	secret *corev1.Secret
	keys   map[string]bool
}

func (c *credentials) name() pulumi.StringInput {
	if c == nil {
		return nil
	}
	return c.secret.Metadata.Name().Elem()
}

func (c *credentials) has(key string) bool { return c != nil && c.keys[key] }

// newCredentials declares the in-cluster database and Redis when the UI needs them, and the
// Secret the pods read the URLs (which hold passwords) and the OIDC client secret from.
func newCredentials(ctx *pulumi.Context, name string, args Args, labels map[string]string, parent pulumi.ResourceOption) (*credentials, error) {
	data := pulumi.StringMap{}
	databaseURL := args.DatabaseURL
	if args.Config.Database.Kind == DatabaseInCluster {
		clients := []map[string]string{Selector(args.Name), BackupSelector(args.Name)}
		db, err := newPostgres(ctx, name, args.Name, args.Namespace, args.Config.Database.InCluster, clients, parent)
		if err != nil {
			return nil, err
		}
		if err := newBackup(ctx, name, args.Name, args.Namespace, args.Config.Database.InCluster, db, parent); err != nil {
			return nil, err
		}
		databaseURL = db.URL
	}
	if databaseURL != nil {
		data[databaseURLKey] = pulumi.ToSecret(databaseURL.ToStringOutput().ApplyT(checkedURL)).(pulumi.StringOutput)
	}
	if redisURL, err := sharedRedis(ctx, name, args, parent); err != nil {
		return nil, err
	} else if redisURL != nil {
		data[redisURLKey] = pulumi.ToSecret(redisURL).(pulumi.StringOutput)
	}
	if args.Config.OIDC.Enabled() {
		data[oidcSecretKey] = pulumi.ToSecret(args.OIDCClientSecret).(pulumi.StringOutput)
	}
	if len(data) == 0 {
		return nil, nil
	}
	secret, err := corev1.NewSecret(ctx, name+credentialsSuffix, &corev1.SecretArgs{
		Metadata:   kube.Meta(args.Name+credentialsSuffix, args.Namespace, labels),
		Type:       pulumi.String("Opaque"),
		StringData: data,
	}, parent)
	if err != nil {
		return nil, err
	}
	c := &credentials{secret: secret, keys: map[string]bool{}}
	for k := range data {
		c.keys[k] = true
	}
	return c, nil
}

// checkedURL refuses a database URL that is not PostgreSQL when its value is known (a Go
// program's or the package's input; the stack checks its own config before declaring anything).
func checkedURL(u string) (string, error) {
	if msg := CheckDatabaseURL(u); msg != "" {
		return "", fmt.Errorf("databaseUrl: %s", msg)
	}
	return u, nil
}

// sharedRedis is the Redis several replicas share websocket state through: the caller's, or one
// the component declares, admitting only this UI's pods. Nil for one replica.
func sharedRedis(ctx *pulumi.Context, name string, args Args, parent pulumi.ResourceOption) (pulumi.StringInput, error) {
	if !args.Config.SharedData() {
		return nil, nil
	}
	if args.RedisURL != nil {
		return args.RedisURL, nil
	}
	r, err := redis.New(ctx, name+"-redis", redis.Args{
		Name:      args.Name + "-redis",
		Namespace: args.Namespace,
		Clients:   []map[string]string{Selector(args.Name)},
	}, parent)
	if err != nil {
		return nil, err
	}
	return r.URL, nil
}

// teamEnv is the environment of PostgreSQL and of several replicas (names as in Open WebUI's
// env-configuration reference at v0.11.0).
func teamEnv(args Args, creds *credentials) corev1.EnvVarArray {
	var vars corev1.EnvVarArray
	if creds.has(databaseURLKey) {
		vars = append(vars,
			secretEnv("DATABASE_URL", creds.name(), databaseURLKey),
			// The vector store in the same database (pgvector), not the default Chroma, a
			// SQLite file that crashes under more than one process.
			plainEnv("VECTOR_DB", "pgvector"),
			secretEnv("PGVECTOR_DB_URL", creds.name(), databaseURLKey),
		)
		if args.DatabaseTLS {
			// libpq (psycopg2) and asyncpg both read it: no connection without TLS, whichever
			// driver Open WebUI opens it with (the server refuses plain ones anyway).
			vars = append(vars, plainEnv("PGSSLMODE", "require"))
		}
	}
	if creds.has(redisURLKey) {
		vars = append(vars,
			plainEnv("ENABLE_WEBSOCKET_SUPPORT", "True"),
			plainEnv("WEBSOCKET_MANAGER", "redis"),
			secretEnv("WEBSOCKET_REDIS_URL", creds.name(), redisURLKey),
			secretEnv("REDIS_URL", creds.name(), redisURLKey),
			// The UI's keys apart from anything else in a shared Redis (the gateway's counters).
			plainEnv("REDIS_KEY_PREFIX", args.Name),
		)
	}
	return vars
}

// newTeamWorkload is the PostgreSQL UI: a StatefulSet whose pods start one at a time
// (OrderedReady) and update one at a time, so only one ever runs Open WebUI's database
// migrations (it runs them at start; two at once can corrupt the schema, its docs warn), and a
// disruption budget that keeps all but one serving through a node drain.
func newTeamWorkload(ctx *pulumi.Context, name string, args Args, labels map[string]string, pod *corev1.PodTemplateSpecArgs, parent pulumi.ResourceOption) error {
	selector := &metav1.LabelSelectorArgs{MatchLabels: pulumi.ToStringMap(Selector(args.Name))}
	_, err := appsv1.NewStatefulSet(ctx, name, &appsv1.StatefulSetArgs{
		Metadata: kube.Meta(args.Name, args.Namespace, labels),
		Spec: &appsv1.StatefulSetSpecArgs{
			Replicas:            pulumi.Int(args.Config.ReplicaCount()),
			ServiceName:         pulumi.String(args.Name),
			PodManagementPolicy: pulumi.String("OrderedReady"),
			UpdateStrategy:      &appsv1.StatefulSetUpdateStrategyArgs{Type: pulumi.String("RollingUpdate")},
			Selector:            selector,
			Template:            pod,
		},
	}, parent, waitStarts(args.Config.ReplicaCount()))
	if err != nil || !args.Config.SharedData() {
		return err
	}
	_, err = policyv1.NewPodDisruptionBudget(ctx, name, &policyv1.PodDisruptionBudgetArgs{
		Metadata: kube.Meta(args.Name, args.Namespace, labels),
		Spec:     &policyv1.PodDisruptionBudgetSpecArgs{MaxUnavailable: pulumi.Int(1), Selector: selector},
	}, parent)
	return err
}

// Pods are the pods the UI runs with cfg, for the capacity check: Open WebUI's replicas, its own
// Redis with several, the in-cluster PostgreSQL and room for one backup Job. sidecar is what
// the mesh adds to a pod (zero without it); PostgreSQL and the backup run outside the mesh.
func Pods(cfg Config, ownRedis bool, sidecar capacity.Resources) []capacity.Pods {
	pods := []capacity.Pods{{Name: "Open WebUI", Requests: Requests.Add(sidecar), Count: cfg.ReplicaCount()}}
	if cfg.SharedData() && ownRedis {
		pods = append(pods, capacity.Pods{Name: "Open WebUI's Redis", Requests: redis.Requests.Add(sidecar), Count: 1})
	}
	if cfg.Database.Kind == DatabaseInCluster {
		pods = append(pods,
			capacity.Pods{Name: "Open WebUI's PostgreSQL", Requests: PostgresRequests, Count: 1},
			capacity.Pods{Name: "Open WebUI's database backup", Requests: BackupRequests, Count: 1})
	}
	return pods
}
