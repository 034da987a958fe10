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
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
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
	c, addrs, err := newCluster(dir, p)
	if err != nil {
		return nil, err
	}
	if err := startEtcd(t, bin, dir, addrs); err != nil {
		return nil, err
	}
	if err := startAPIServer(t, bin, dir, p, addrs, c); err != nil {
		return nil, err
	}
	if err := startControllerManager(t, bin, dir, p, c); err != nil {
		return nil, err
	}
	if opts.Scheduler {
		if err := startScheduler(t, bin, dir, c); err != nil {
			return nil, err
		}
	}
	if opts.KWOK {
		if err := startKWOK(t, bin, dir, c); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// addresses are where the control plane's processes listen, and the admin's token file.
type addresses struct {
	etcdClient, etcdPeer string
	apiPort              int
	tokenFile            string
}

// newCluster makes the admin's token, picks the ports and writes the token file and the
// kubeconfig: everything about the cluster that is known before a process runs.
func newCluster(dir string, p *pki) (*Cluster, addresses, error) {
	token, err := randomToken()
	if err != nil {
		return nil, addresses{}, err
	}
	tokenFile := filepath.Join(dir, "tokens.csv")
	// token,user,uid,"group1,group2"
	if err := os.WriteFile(tokenFile, fmt.Appendf(nil, "%s,%s,%s,\"system:masters\"\n", token, AdminUser, AdminUser), 0o600); err != nil {
		return nil, addresses{}, err
	}
	ports, err := freePorts(3)
	if err != nil {
		return nil, addresses{}, err
	}
	addrs := addresses{
		etcdClient: fmt.Sprintf("http://127.0.0.1:%d", ports[0]),
		etcdPeer:   fmt.Sprintf("http://127.0.0.1:%d", ports[1]),
		apiPort:    ports[2],
		tokenFile:  tokenFile,
	}
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
		return nil, addresses{}, err
	}
	return c, addrs, nil
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
