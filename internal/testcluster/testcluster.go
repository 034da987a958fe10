// Package testcluster runs a real Kubernetes control plane for tests: etcd,
// kube-apiserver and kube-controller-manager on loopback, in a temporary
// directory, with a throwaway CA and a static-token admin. By default there is
// no kubelet and no scheduler: objects are stored, validated, defaulted and
// reconciled by the controllers (ReplicaSets, namespace deletion, garbage
// collection), but no pod ever runs. StartWith adds kube-scheduler and kwok:
// pods are then scheduled onto simulated Nodes and reported Ready, still
// without any container running.
//
// The binaries come from ./bin, built from the pinned modules in
// tools/kubernetes, tools/etcd and tools/kwok by scripts/build-tools.sh.
package testcluster

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Binaries are the executables a cluster needs, in bin/.
var Binaries = []string{"etcd", "kube-apiserver", "kube-controller-manager"}

const (
	// serviceCIDR is the Service IP range; its first address is the
	// `kubernetes` Service's, which the serving certificate names.
	serviceCIDR = "10.0.0.0/24"
	serviceIP   = "10.0.0.1"
	// AdminUser is the static-token user; it is in system:masters, so RBAC
	// lets it do everything, as a cluster admin's kubeconfig would.
	AdminUser = "llm-platform-admin"
)

// Cluster is a running control plane.
type Cluster struct {
	// URL is the API server's base URL (https://127.0.0.1:port).
	URL string
	// Token is the admin's bearer token.
	Token string
	// Kubeconfig is the path of an admin kubeconfig for this cluster.
	Kubeconfig string
	// Dir holds the cluster's files: certificates, etcd's data, logs.
	Dir string

	client *http.Client
}

// Root returns the repository root: the nearest directory above the working
// directory that holds go.mod and scripts/build-tools.sh. Tests run in their
// package's directory, so this finds the checkout from any package.
func Root() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if fileExists(filepath.Join(dir, "go.mod")) && fileExists(filepath.Join(dir, "scripts", "build-tools.sh")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("testcluster: no repository root (go.mod + scripts/build-tools.sh) above the working directory")
		}
		dir = parent
	}
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// RequireBinaries returns bin/ when every tool in names is built there. When
// one is missing it skips the test on a developer machine and fails it under
// CI (CI set to anything but "" or "false"), where .ci/run builds the tools:
// an end-to-end test must never pass by skipping in CI.
func RequireBinaries(t testing.TB, names ...string) string {
	t.Helper()
	root, err := Root()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(root, "bin")
	var missing []string
	for _, name := range names {
		if !fileExists(filepath.Join(bin, name)) {
			missing = append(missing, "bin/"+name)
		}
	}
	if len(missing) == 0 {
		return bin
	}
	msg := fmt.Sprintf("%s not built: run scripts/build-tools.sh (it builds them from tools/)", strings.Join(missing, ", "))
	if ci := os.Getenv("CI"); ci != "" && ci != "false" {
		t.Fatalf("%s; in CI, .ci/run must build them before the tests", msg)
		return ""
	}
	t.Skip(msg)
	return ""
}

// Start runs etcd, kube-apiserver and kube-controller-manager from bin/ and
// returns when the API server answers /readyz. Everything stops when the
// test ends, however it ends (t.Cleanup kills each process group).
func Start(t testing.TB) *Cluster {
	t.Helper()
	return StartWith(t, Options{})
}

// StartWith is Start with more processes: kube-scheduler and kwok when opts
// say so (a simulated cluster, where pods are scheduled onto simulated Nodes
// and become Ready).
func StartWith(t testing.TB, opts Options) *Cluster {
	t.Helper()
	names := slices.Clone(Binaries)
	if opts.Scheduler {
		names = append(names, "kube-scheduler")
	}
	if opts.KWOK {
		names = append(names, "kwok")
	}
	bin := RequireBinaries(t, names...)
	// Not t.TempDir(): a failed run keeps its logs and etcd data for a look.
	dir, err := os.MkdirTemp("", "testcluster-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("testcluster: kept %s for inspection (logs: *.log)", dir)
			return
		}
		_ = os.RemoveAll(dir)
	})
	c, err := start(t, bin, dir, opts)
	if err != nil {
		t.Fatalf("testcluster: %v", err)
	}
	return c
}

func start(t testing.TB, bin, dir string, opts Options) (*Cluster, error) {
	p, err := newPKI(dir)
	if err != nil {
		return nil, fmt.Errorf("certificates: %w", err)
	}
	token, err := randomToken()
	if err != nil {
		return nil, err
	}
	tokenFile := filepath.Join(dir, "tokens.csv")
	// token,user,uid,"group1,group2"
	if err := os.WriteFile(tokenFile, fmt.Appendf(nil, "%s,%s,%s,\"system:masters\"\n", token, AdminUser, AdminUser), 0o600); err != nil {
		return nil, err
	}
	ports, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	etcdClient := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	etcdPeer := fmt.Sprintf("http://127.0.0.1:%d", ports[1])
	c := &Cluster{
		URL:        fmt.Sprintf("https://127.0.0.1:%d", ports[2]),
		Token:      token,
		Kubeconfig: filepath.Join(dir, "kubeconfig"),
		Dir:        dir,
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(p.caPEM)
	c.client = &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}},
	}
	if err := os.WriteFile(c.Kubeconfig, kubeconfig(c.URL, p.caPEM, token), 0o600); err != nil {
		return nil, err
	}

	if err := run(t, dir, filepath.Join(bin, "etcd"),
		"--name=default",
		"--data-dir="+filepath.Join(dir, "etcd"),
		"--listen-client-urls="+etcdClient,
		"--advertise-client-urls="+etcdClient,
		"--listen-peer-urls="+etcdPeer,
		"--initial-advertise-peer-urls="+etcdPeer,
		"--initial-cluster=default="+etcdPeer,
		// A test's data is thrown away: no fsync keeps etcd fast on a
		// loaded machine, where fsync latency otherwise times out requests.
		"--unsafe-no-fsync",
		"--log-level=warn",
	); err != nil {
		return nil, err
	}

	if err := run(t, dir, filepath.Join(bin, "kube-apiserver"),
		"--etcd-servers="+etcdClient,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port="+strconv.Itoa(ports[2]),
		"--cert-dir="+filepath.Join(dir, "apiserver-certs"),
		"--tls-cert-file="+p.CertFile,
		"--tls-private-key-file="+p.KeyFile,
		"--token-auth-file="+tokenFile,
		"--authorization-mode=Node,RBAC",
		"--service-cluster-ip-range="+serviceCIDR,
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file="+p.SAPubFile,
		"--service-account-signing-key-file="+p.SAKeyFile,
		// The `kubernetes` Service's endpoints would point at the advertise
		// address, and the API server refuses a loopback one for that; no
		// pod runs here to use it anyway.
		"--endpoint-reconciler-type=none",
		"--allow-privileged=true",
		"--v=1",
	); err != nil {
		return nil, err
	}
	if err := c.waitReady(3 * time.Minute); err != nil {
		return nil, fmt.Errorf("%w\n%s", err, tail(filepath.Join(dir, "kube-apiserver.log"), 40))
	}

	// The controller manager finalizes deleted namespaces, collects
	// garbage (ReplicaSets of a deleted Deployment) and creates every
	// namespace's default ServiceAccount: what `destroy` relies on.
	if err := run(t, dir, filepath.Join(bin, "kube-controller-manager"),
		"--kubeconfig="+c.Kubeconfig,
		"--leader-elect=false",
		"--secure-port=0",
		"--service-account-private-key-file="+p.SAKeyFile,
		"--root-ca-file="+p.CAFile,
		"--use-service-account-credentials=false",
		"--v=1",
	); err != nil {
		return nil, err
	}
	if opts.Scheduler {
		// The default profile: every plugin a cloud cluster's scheduler runs
		// (resources, taints, affinity, volume binding, spreading).
		if err := run(t, dir, filepath.Join(bin, "kube-scheduler"),
			"--kubeconfig="+c.Kubeconfig,
			"--leader-elect=false",
			"--secure-port=0",
			"--v=1",
		); err != nil {
			return nil, err
		}
	}
	if opts.KWOK {
		root := filepath.Dir(bin)
		config, err := kwokConfig(root, dir)
		if err != nil {
			return nil, err
		}
		if err := run(t, dir, filepath.Join(bin, "kwok"),
			"--kubeconfig="+c.Kubeconfig,
			"--config="+config,
			"--manage-all-nodes=false",
			"--manage-nodes-with-annotation-selector="+KWOKNodeAnnotation+"="+KWOKNodeValue,
			// Pod IPs come from here; nothing routes them.
			"--cidr=10.244.0.0/16",
			"--node-ip=10.255.0.1",
			"--node-lease-duration-seconds=40",
		); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// run starts one control-plane process in its own process group, logging to
// dir/<name>.log, and registers its shutdown.
func run(t testing.TB, dir, path string, args ...string) error {
	name := filepath.Base(path)
	log, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		return err
	}
	cmd := exec.Command(path, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{
		// Its own group, so the kill reaches anything it forks.
		Setpgid: true,
		// Killed with the test binary even when that dies without running
		// cleanups (a panic in another goroutine, `go test -timeout`).
		Pdeathsig: syscall.SIGKILL,
	}
	if err := cmd.Start(); err != nil {
		log.Close()
		return fmt.Errorf("starting %s: %w", name, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		defer log.Close()
		pgid := cmd.Process.Pid
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			<-exited
		}
	})
	// A process that dies at once (a bad flag, a taken port) is reported
	// with its own words instead of as a readiness timeout.
	select {
	case err := <-exited:
		exited <- err
		return fmt.Errorf("%s exited at start: %v\n%s", name, err, tail(log.Name(), 30))
	case <-time.After(500 * time.Millisecond):
		return nil
	}
}

// waitReady polls /readyz until the API server is ready (every post-start
// hook done: RBAC bootstrap roles, priority classes, system namespaces).
func (c *Cluster) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		status, body, err := c.Do(context.Background(), http.MethodGet, "/readyz", nil)
		if err == nil && status == http.StatusOK {
			return nil
		}
		if err != nil {
			last = err.Error()
		} else {
			last = fmt.Sprintf("%d: %s", status, body)
		}
		time.Sleep(250 * time.Millisecond)
	}
	return fmt.Errorf("kube-apiserver not ready after %s: %s", timeout, last)
}

// Do sends one request as the admin and returns the status and body.
func (c *Cluster) Do(ctx context.Context, method, path string, body []byte) (int, []byte, error) {
	return c.send(ctx, method, path, "application/json", body)
}

// Patch sends a JSON merge patch (RFC 7386) as the admin.
func (c *Cluster) Patch(ctx context.Context, path string, body []byte) (int, []byte, error) {
	return c.send(ctx, http.MethodPatch, path, "application/merge-patch+json", body)
}

func (c *Cluster) send(ctx context.Context, method, path, contentType string, body []byte) (int, []byte, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.URL+path, r)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	return resp.StatusCode, out, err
}

func randomToken() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// freePorts asks the kernel for n free loopback ports. They are released
// before the processes bind them; another process could take one in between,
// which then fails loudly at start (run reports it).
func freePorts(n int) ([]int, error) {
	var ports []int
	var listeners []net.Listener
	defer func() {
		for _, l := range listeners {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		listeners = append(listeners, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func kubeconfig(server string, caPEM []byte, token string) []byte {
	return fmt.Appendf(nil, `apiVersion: v1
kind: Config
clusters:
- name: testcluster
  cluster:
    server: %s
    certificate-authority-data: %s
users:
- name: %s
  user:
    token: %s
contexts:
- name: testcluster
  context:
    cluster: testcluster
    user: %s
current-context: testcluster
`, server, base64.StdEncoding.EncodeToString(caPEM), AdminUser, token, AdminUser)
}

// tail is the end of a log file, for error messages.
func tail(path string, lines int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	all := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return "--- " + filepath.Base(path) + " (last lines) ---\n" + strings.Join(all, "\n")
}
