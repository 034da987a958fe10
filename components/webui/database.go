package webui

import (
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/llm-platform/llm-platform/internal/versions"
)

// Where Open WebUI keeps its data (DatabaseConfig.Kind).
const (
	// DatabaseSQLite is one file on the data volume: one replica.
	DatabaseSQLite = "sqlite"
	// DatabaseManaged is the cloud's PostgreSQL, created by the stack: Cloud SQL on GKE, RDS on
	// EKS. The caller hands the component its URL (Args.DatabaseURL).
	DatabaseManaged = "managed"
	// DatabaseExternal is a PostgreSQL server that already exists, its URL a secret
	// (Args.DatabaseURL).
	DatabaseExternal = "external"
	// DatabaseInCluster is a PostgreSQL StatefulSet the component declares (postgres.go), with
	// a nightly dump to a volume (backup.go).
	DatabaseInCluster = "in-cluster"
)

// DatabaseKinds are the values of DatabaseConfig.Kind.
var DatabaseKinds = []string{DatabaseSQLite, DatabaseManaged, DatabaseExternal, DatabaseInCluster}

// DatabaseConfig says where Open WebUI keeps users, chats and settings, and its vector store
// (pgvector, in the same PostgreSQL database).
type DatabaseConfig struct {
	// Kind is sqlite, managed (Cloud SQL on gke, RDS on eks), external (the URL in the secret
	// webuiDatabaseUrl) or in-cluster.
	Kind string `json:"kind" pulumi:"kind,optional"`
	// InCluster sizes the in-cluster PostgreSQL and its backups (kind in-cluster only).
	InCluster InClusterConfig `json:"inCluster" pulumi:"inCluster,optional"`
}

// InClusterConfig is the PostgreSQL server the component runs itself.
type InClusterConfig struct {
	// Image is the PostgreSQL image; it must include pgvector.
	Image string `json:"image" pulumi:"image,optional"`
	// StorageSize is the database volume's size.
	StorageSize string `json:"storageSize" pulumi:"storageSize,optional"`
	// StorageClass of the database and backup volumes; empty uses the cluster's default.
	StorageClass string `json:"storageClass" pulumi:"storageClass,optional"`
	// Backup dumps the database to a volume of its own on a schedule.
	Backup BackupConfig `json:"backup" pulumi:"backup,optional"`
}

// BackupConfig schedules the in-cluster database's dumps (pg_dump, custom format).
type BackupConfig struct {
	// Schedule is when a dump runs (cron, the cluster's time zone: usually UTC).
	Schedule string `json:"schedule" pulumi:"schedule,optional"`
	// Keep is how many dumps are kept; older ones are deleted after each new one.
	Keep int `json:"keep" pulumi:"keep,optional"`
	// StorageSize is the backup volume's size; it must hold Keep dumps.
	StorageSize string `json:"storageSize" pulumi:"storageSize,optional"`
}

// DefaultInCluster is the in-cluster database's default sizing.
func DefaultInCluster() InClusterConfig {
	return InClusterConfig{
		Image:       versions.PostgresImage,
		StorageSize: "20Gi",
		Backup:      BackupConfig{Schedule: "17 3 * * *", Keep: 7, StorageSize: "20Gi"},
	}
}

// PostgreSQL says Open WebUI runs on PostgreSQL (any kind but sqlite).
func (d DatabaseConfig) PostgreSQL() bool { return d.Kind != DatabaseSQLite }

// NeedsURL says the caller provides the database's URL (managed, external).
func (d DatabaseConfig) NeedsURL() bool {
	return d.Kind == DatabaseManaged || d.Kind == DatabaseExternal
}

// Validate checks the database settings under path ("webui.database"). The in-cluster
// settings are judged only with kind in-cluster, and refused when changed for another kind:
// they would do nothing.
func (d DatabaseConfig) Validate(path string) []error {
	if !slices.Contains(DatabaseKinds, d.Kind) {
		return []error{fmt.Errorf("%s.kind: %q is not allowed; use one of %s", path, d.Kind, strings.Join(DatabaseKinds, ", "))}
	}
	if d.Kind != DatabaseInCluster {
		if d.InCluster != DefaultInCluster() {
			return []error{fmt.Errorf("%s.inCluster: is set, but %s.kind is %q: these settings size the in-cluster PostgreSQL only; remove them or set %s.kind: in-cluster",
				path, path, d.Kind, path)}
		}
		return nil
	}
	var errs []error
	add := func(key, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s.inCluster.%s: %s", path, key, fmt.Sprintf(format, a...)))
	}
	ic := d.InCluster
	if strings.TrimSpace(ic.Image) == "" {
		add("image", "is empty; name a PostgreSQL image with pgvector, e.g. %q", versions.PostgresImage)
	}
	if msg := quantityAtLeast(ic.StorageSize, "1Gi"); msg != "" {
		add("storageSize", "%q %s", ic.StorageSize, msg)
	}
	if msg := quantityAtLeast(ic.Backup.StorageSize, "1Gi"); msg != "" {
		add("backup.storageSize", "%q %s", ic.Backup.StorageSize, msg)
	}
	if ic.Backup.Keep < 1 {
		add("backup.keep", "is %d; keep 1 or more dumps", ic.Backup.Keep)
	}
	if !validSchedule(ic.Backup.Schedule) {
		add("backup.schedule", "%q is not a cron schedule; write five fields, e.g. \"17 3 * * *\" (daily at 03:17), or @daily", ic.Backup.Schedule)
	}
	return errs
}

// validSchedule accepts what a CronJob takes: five fields, or a @ macro.
func validSchedule(s string) bool {
	if strings.HasPrefix(s, "@") {
		return slices.Contains([]string{"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}, s)
	}
	return len(strings.Fields(s)) == 5
}

// PostgresPort is PostgreSQL's port, on every kind of server.
const PostgresPort = 5432

// PostgresURL is the connection URL Open WebUI and psql take: user and password
// percent-encoded, the database in the path. It is a Pulumi secret (it holds the password).
func PostgresURL(host pulumi.StringInput, port int, user string, password pulumi.StringInput, database string) pulumi.StringOutput {
	return pulumi.ToSecret(pulumi.All(host, password).ApplyT(func(v []any) string {
		u := url.URL{
			Scheme: "postgresql",
			User:   url.UserPassword(user, v[1].(string)),
			Host:   fmt.Sprintf("%s:%d", v[0].(string), port),
			Path:   "/" + database,
		}
		return u.String()
	})).(pulumi.StringOutput)
}

// CheckDatabaseURL says what is wrong with a PostgreSQL URL ("" when nothing is), without
// repeating it: it holds a password. Open WebUI, psql and libpq all take postgresql:// and
// postgres://; a SQLite or MySQL URL would lose pgvector and the replicas.
func CheckDatabaseURL(raw string) string {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return "is not a URL; write it like postgresql://user:password@host:5432/database (percent-encode special characters in the password)"
	case u.Scheme != "postgresql" && u.Scheme != "postgres":
		return fmt.Sprintf("is a %q URL, not PostgreSQL; Open WebUI's replicas and its pgvector store need postgresql://user:password@host:5432/database", u.Scheme)
	case u.Hostname() == "":
		return "names no host; write it like postgresql://user:password@host:5432/database"
	case u.User == nil || u.User.Username() == "":
		return "names no user; write it like postgresql://user:password@host:5432/database"
	case strings.Trim(u.Path, "/") == "":
		return "names no database; write it like postgresql://user:password@host:5432/database"
	}
	return ""
}
