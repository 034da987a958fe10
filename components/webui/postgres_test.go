package webui_test

import (
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"

	"github.com/llm-platform/llm-platform/components/webui"
	"github.com/llm-platform/llm-platform/internal/pgtest"
	"github.com/llm-platform/llm-platform/internal/pulumimock"
)

// declared is what the program declares for the in-cluster database: the init files, the role's
// password and Open WebUI's URL, as the mocks recorded them.
type declared struct {
	files    map[string]string
	password string
	url      string
}

func declareInCluster(t *testing.T) declared {
	t.Helper()
	m, _ := deploy(t, teamArgs(webui.DatabaseInCluster))
	init := pulumimock.Decode[corev1.ConfigMap](t, m, "kubernetes:core/v1:ConfigMap", "webui-postgres-init")
	return declared{
		files:    init.Data,
		password: storedSecret(t, m, "webui-postgres", "password"),
		url:      storedSecret(t, m, "webui-credentials", "database-url"),
	}
}

// local points a declared URL at the test's server (same user, password and database).
func local(t *testing.T, raw string, s *pgtest.Server) string {
	t.Helper()
	u, err := url.Parse(raw)
	require.NoError(t, err)
	u.Host = "127.0.0.1:" + strconv.Itoa(s.Port)
	return u.String()
}

// bootstrap runs the declared init script as the postgres image's entrypoint would: sourced
// once by bash, as the superuser, the role's password in the environment.
func bootstrap(t *testing.T, s *pgtest.Server, d declared) (string, error) {
	t.Helper()
	dir := t.TempDir()
	for name, body := range d.files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644))
	}
	// POSTGRES_USER as the StatefulSet sets it for the image.
	env := append(s.SuperuserEnv(), "POSTGRES_USER=postgres", "OPENWEBUI_PASSWORD="+d.password)
	return pgtest.Command(env, "bash", "-euo", "pipefail", filepath.Join(dir, "10-openwebui.sh"))
}

// TestInClusterDatabaseOnRealPostgres: Debian's PostgreSQL runs the init script the program
// declares; then Open WebUI's URL, exactly as declared but for the host, connects as the
// openwebui role (no superuser) to the openwebui database and can create a table; a wrong
// password fails with the server's own message.
func TestInClusterDatabaseOnRealPostgres(t *testing.T) {
	s := pgtest.Start(t)
	d := declareInCluster(t)
	out, err := bootstrap(t, s, d)
	vector := s.Super(t, "SELECT count(*) FROM pg_available_extensions WHERE name = 'vector'") == "1"
	if vector {
		require.NoError(t, err, out)
		assert.Equal(t, "vector", s.Super(t, `SELECT extname FROM pg_extension WHERE extname = 'vector'`), "pgvector is in Open WebUI's database")
	} else {
		// This machine's PostgreSQL has no pgvector (Debian ships none for PostgreSQL 15): the
		// script must stop there, loudly, as the image's entrypoint then does.
		require.Error(t, err, "the script stops when pgvector is missing")
		assert.Contains(t, out, `extension "vector" is not available`)
		t.Logf("pgvector is not installed here: the role and database steps ran, CREATE EXTENSION failed as it must")
	}
	assert.Equal(t, "f", s.Super(t, "SELECT rolsuper FROM pg_roles WHERE rolname = 'openwebui'"), "Open WebUI is not a superuser")
	assert.Equal(t, "openwebui", s.Super(t, "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'openwebui'"), "it owns its database")

	good := local(t, d.url, s)
	got, err := pgtest.Connect(good, `CREATE TABLE chat (id text PRIMARY KEY, body jsonb); INSERT INTO chat VALUES ('1', '{"a":1}'); SELECT current_user || ' ' || current_database() || ' ' || count(*) FROM chat`)
	require.NoError(t, err, got)
	assert.Equal(t, "openwebui openwebui 1", got)

	u, err := url.Parse(good)
	require.NoError(t, err)
	u.User = url.UserPassword("openwebui", "not-"+d.password)
	got, err = pgtest.Connect(u.String(), "SELECT 1")
	require.Error(t, err)
	assert.Contains(t, got, `password authentication failed for user "openwebui"`)
	assert.NotContains(t, got, d.password)

	// Once is all the image runs it; a second run fails rather than changing anything.
	out, err = bootstrap(t, s, d)
	require.Error(t, err)
	assert.Contains(t, out, `role "openwebui" already exists`)
}

// TestPostgresURLEscapesPasswords: a password with every URL delimiter still connects through
// the URL PostgresURL builds (libpq decodes what url.UserPassword encoded).
func TestPostgresURLEscapesPasswords(t *testing.T) {
	s := pgtest.Start(t)
	const password = `p@ss:w/rd?#%&= 'quote"`
	s.Super(t, fmt.Sprintf(`CREATE ROLE odd LOGIN PASSWORD %s`, quote(password)))
	s.Super(t, `CREATE DATABASE odd OWNER odd`)
	built, secret := pulumimock.Await(t, webui.PostgresURL(pulumi.String("127.0.0.1"), s.Port, "odd", pulumi.String(password), "odd"))
	assert.True(t, secret, "the URL is a Pulumi secret")
	got, err := pgtest.Connect(built.(string), "SELECT current_user")
	require.NoError(t, err, got)
	assert.Equal(t, "odd", got)
}

func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// TestBackupScriptOnRealPostgres: the CronJob's script dumps the database with pg_dump as
// Open WebUI's role, keeps the newest KEEP dumps, and leaves nothing that looks like a backup when
// the server is down.
func TestBackupScriptOnRealPostgres(t *testing.T) {
	if _, err := exec.LookPath("pg_dump"); err != nil {
		t.Skip("pg_dump not found (Debian's postgresql-client)")
	}
	s := pgtest.Start(t)
	s.Super(t, "CREATE ROLE openwebui LOGIN PASSWORD 'pw'")
	s.Super(t, "CREATE DATABASE openwebui OWNER openwebui")
	_, err := pgtest.Connect(fmt.Sprintf("postgresql://openwebui:pw@127.0.0.1:%d/openwebui", s.Port), "CREATE TABLE chat (id int); INSERT INTO chat VALUES (1)")
	require.NoError(t, err)
	dir, script := t.TempDir(), filepath.Join(t.TempDir(), "backup.sh")
	require.NoError(t, os.WriteFile(script, []byte(webui.BackupScript), 0o755))
	env := append(os.Environ(), "PGHOST=127.0.0.1", "PGPORT="+strconv.Itoa(s.Port), "PGUSER=openwebui", "PGPASSWORD=pw",
		"PGDATABASE=openwebui", "BACKUP_DIR="+dir, "KEEP=2")
	for range 3 {
		out, err := pgtest.Command(env, "sh", script)
		require.NoError(t, err, out)
		time.Sleep(1100 * time.Millisecond) // the dumps are named by the second
	}
	dumps, err := filepath.Glob(filepath.Join(dir, "openwebui-*.dump"))
	require.NoError(t, err)
	sort.Strings(dumps)
	require.Len(t, dumps, 2, "only the newest KEEP dumps stay")
	out, err := pgtest.Command(os.Environ(), "pg_restore", "--list", dumps[1])
	require.NoError(t, err, out)
	assert.Contains(t, out, "TABLE public chat openwebui", "the dump holds Open WebUI's table")

	down := append(env[:len(env):len(env)], "PGPORT=1") // nothing listens there
	out, err = pgtest.Command(down, "sh", script)
	require.Error(t, err, "a failed dump fails the Job")
	after, _ := filepath.Glob(filepath.Join(dir, "openwebui-*.dump"))
	assert.Equal(t, dumps, after, "no new file that looks like a backup: %s", out)
}
