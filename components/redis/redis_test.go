package redis_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/llm-platform/llm-platform/components/redis"
	"github.com/llm-platform/llm-platform/internal/pulumimock"
)

var clients = []map[string]string{{"app.kubernetes.io/name": "open-webui"}, {"app.kubernetes.io/name": "llm-gateway"}}

func deploy(t *testing.T, args redis.Args) (*pulumimock.Mocks, *redis.Redis) {
	t.Helper()
	var r *redis.Redis
	m, err := pulumimock.Run(t, func(ctx *pulumi.Context) error {
		var err error
		r, err = redis.New(ctx, "cache", args)
		return err
	})
	require.NoError(t, err)
	return m, r
}

// TestDeclaredServer: the pinned image runs the config file from a Secret as an unprivileged
// user; the password exists only in Secrets and in the (secret) URL; only the clients are
// admitted.
func TestDeclaredServer(t *testing.T) {
	m, r := deploy(t, redis.Args{Namespace: "llm", Clients: clients})
	sts := pulumimock.Decode[appsv1.StatefulSet](t, m, "kubernetes:apps/v1:StatefulSet", "cache")
	pod := sts.Spec.Template.Spec
	c := pod.Containers[0]
	assert.Equal(t, "valkey/valkey:8.1.8-trixie", c.Image)
	assert.Equal(t, []string{"valkey-server", "/etc/valkey/valkey.conf"}, c.Command)
	assert.Empty(t, c.Env, "nothing secret in the environment")
	assert.True(t, *pod.SecurityContext.RunAsNonRoot)
	assert.True(t, *c.SecurityContext.ReadOnlyRootFilesystem)
	assert.Equal(t, "1Gi", sts.Spec.VolumeClaimTemplates[0].Spec.Resources.Requests.Storage().String())

	secret := pulumimock.Decode[corev1.Secret](t, m, "kubernetes:core/v1:Secret", "cache")
	password := secret.StringData[redis.PasswordKey]
	assert.Len(t, password, 64)
	assert.NotEmpty(t, m.Find(t, "kubernetes:core/v1:Secret", "cache").IgnoreChanges, "generated once, then kept")
	conf := pulumimock.Decode[corev1.Secret](t, m, "kubernetes:core/v1:Secret", "cache-config").StringData["valkey.conf"]
	assert.Contains(t, conf, "requirepass "+password)
	pulumimock.AssertOnlyInSecrets(t, m, password)

	url, secretURL := pulumimock.Await(t, r.URL)
	assert.True(t, secretURL)
	assert.Equal(t, "redis://:"+password+"@cache.llm.svc.cluster.local:6379/0", url)

	policy := pulumimock.Decode[networkingv1.NetworkPolicy](t, m, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "cache")
	assert.Equal(t, redis.Selector("cache"), policy.Spec.PodSelector.MatchLabels)
	require.Len(t, policy.Spec.Ingress, 1)
	var from []map[string]string
	for _, p := range policy.Spec.Ingress[0].From {
		assert.Nil(t, p.NamespaceSelector, "the clients' own namespace only")
		from = append(from, p.PodSelector.MatchLabels)
	}
	assert.Equal(t, clients, from)
	assert.Equal(t, 6379, policy.Spec.Ingress[0].Ports[0].Port.IntValue())
}

// TestConfigChangeRollsTheServer: the checksum on the pod template follows the settings (the
// server reads its file only at start) but not the password.
func TestConfigChangeRollsTheServer(t *testing.T) {
	sum := func(args redis.Args) string {
		m, _ := deploy(t, args)
		return pulumimock.Decode[appsv1.StatefulSet](t, m, "kubernetes:apps/v1:StatefulSet", "cache").Spec.Template.Annotations[redis.ChecksumAnnotation]
	}
	base := redis.Args{Namespace: "llm", Clients: clients}
	assert.Equal(t, sum(base), sum(base), "two runs generate two passwords but the same checksum")
	other := base
	other.Image = "valkey/valkey:8.1.9-trixie"
	assert.NotEqual(t, sum(base), sum(other))
}

// TestNoClientsIsRefused: a server nobody may reach is a mistake.
func TestNoClientsIsRefused(t *testing.T) {
	_, err := pulumimock.Run(t, func(ctx *pulumi.Context) error {
		_, err := redis.New(ctx, "cache", redis.Args{Namespace: "llm"})
		return err
	})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "at least one client selector")
}

// TestRenderedConfigOnRealRedis: Debian's redis-server runs the rendered file (its port and
// directory pointed at the test's): a client without the password is refused, the password is
// accepted, and a write lands in the append-only file.
func TestRenderedConfigOnRealRedis(t *testing.T) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("redis-server not found; CI installs it (scripts/install-test-deps.sh)")
		}
		t.Skip("redis-server not found: install it with scripts/install-test-deps.sh")
	}
	dir := t.TempDir()
	port := freePort(t)
	conf, err := redis.Render(redis.ServerConfig{Port: port, Password: "s3cret-hex", Dir: dir, MaxMemory: redis.DefaultMaxMemory})
	require.NoError(t, err)
	// Loopback only in the test: the cluster's file listens on every interface.
	conf = strings.Replace(conf, "bind * -::*", "bind 127.0.0.1", 1)
	path := filepath.Join(dir, "valkey.conf")
	require.NoError(t, os.WriteFile(path, []byte(conf), 0o600))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv := exec.CommandContext(ctx, bin, path)
	srv.Stdout, srv.Stderr = os.Stderr, os.Stderr
	require.NoError(t, srv.Start())
	t.Cleanup(func() { cancel(); _ = srv.Wait() })

	conn := dial(t, port)
	assert.Contains(t, send(t, conn, "PING"), "NOAUTH", "no password, no service")
	assert.Contains(t, send(t, conn, "AUTH", "wrong"), "WRONGPASS")
	assert.Equal(t, "+OK", send(t, conn, "AUTH", "s3cret-hex"))
	assert.Equal(t, "+OK", send(t, conn, "SET", "k", "v"))
	assert.Equal(t, "$1 v", send(t, conn, "GET", "k"))
	assert.Equal(t, "*2 $16 maxmemory-policy $10 noeviction", send(t, conn, "CONFIG", "GET", "maxmemory-policy"), "full means refuse writes, not evict")
	require.Eventually(t, func() bool {
		aof, _ := filepath.Glob(filepath.Join(dir, "appendonlydir", "*.aof"))
		for _, f := range aof {
			if b, _ := os.ReadFile(f); strings.Contains(string(b), "SET") {
				return true
			}
		}
		return false
	}, 5*time.Second, 100*time.Millisecond, "the write reached the append-only file")
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

type conn struct {
	net.Conn
	r *bufio.Reader
}

func dial(t *testing.T, port int) *conn {
	t.Helper()
	var c net.Conn
	require.Eventually(t, func() bool {
		var err error
		c, err = net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		return err == nil
	}, 10*time.Second, 50*time.Millisecond, "redis-server listens")
	t.Cleanup(func() { c.Close() })
	return &conn{Conn: c, r: bufio.NewReader(c)}
}

// send writes a RESP command and returns the reply's lines joined by spaces (simple replies and
// errors are one line, a bulk string two, an array of bulk strings two per element).
func send(t *testing.T, c *conn, args ...string) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	require.NoError(t, c.SetDeadline(time.Now().Add(5*time.Second)))
	_, err := c.Write([]byte(b.String()))
	require.NoError(t, err)
	first := readLine(t, c)
	lines := []string{first}
	more := 0
	switch {
	case strings.HasPrefix(first, "$") && first != "$-1":
		more = 1
	case strings.HasPrefix(first, "*"):
		n, _ := strconv.Atoi(first[1:])
		more = 2 * n
	}
	for range more {
		lines = append(lines, readLine(t, c))
	}
	return strings.Join(lines, " ")
}

func readLine(t *testing.T, c *conn) string {
	t.Helper()
	line, err := c.r.ReadString('\n')
	require.NoError(t, err)
	return strings.TrimRight(line, "\r\n")
}
