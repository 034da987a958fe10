package testcluster

// The control plane's processes: how each is started and stopped.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func startEtcd(t testing.TB, bin, dir string, addrs addresses) error {
	return run(t, dir, filepath.Join(bin, "etcd"),
		"--name=default",
		"--data-dir="+filepath.Join(dir, "etcd"),
		"--listen-client-urls="+addrs.etcdClient,
		"--advertise-client-urls="+addrs.etcdClient,
		"--listen-peer-urls="+addrs.etcdPeer,
		"--initial-advertise-peer-urls="+addrs.etcdPeer,
		"--initial-cluster=default="+addrs.etcdPeer,
		// A test's data is thrown away: no fsync keeps etcd fast on a
		// loaded machine, where fsync latency otherwise times out requests.
		"--unsafe-no-fsync",
		"--log-level=warn",
	)
}

// startAPIServer starts kube-apiserver and returns once it is ready.
func startAPIServer(t testing.TB, bin, dir string, p *pki, addrs addresses, c *Cluster) error {
	if err := run(t, dir, filepath.Join(bin, "kube-apiserver"),
		"--etcd-servers="+addrs.etcdClient,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port="+strconv.Itoa(addrs.apiPort),
		"--cert-dir="+filepath.Join(dir, "apiserver-certs"),
		"--tls-cert-file="+p.CertFile,
		"--tls-private-key-file="+p.KeyFile,
		"--token-auth-file="+addrs.tokenFile,
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
		return err
	}
	if err := c.waitReady(3 * time.Minute); err != nil {
		return fmt.Errorf("%w\n%s", err, tail(filepath.Join(dir, "kube-apiserver.log"), 40))
	}
	return nil
}

// startControllerManager: the controller manager finalizes deleted namespaces, collects
// garbage (ReplicaSets of a deleted Deployment) and creates every namespace's default
// ServiceAccount: what `destroy` relies on.
func startControllerManager(t testing.TB, bin, dir string, p *pki, c *Cluster) error {
	return run(t, dir, filepath.Join(bin, "kube-controller-manager"),
		"--kubeconfig="+c.Kubeconfig,
		"--leader-elect=false",
		"--secure-port=0",
		"--service-account-private-key-file="+p.SAKeyFile,
		"--root-ca-file="+p.CAFile,
		"--use-service-account-credentials=false",
		"--v=1",
	)
}

// startScheduler runs the default profile: every plugin a cloud cluster's scheduler runs
// (resources, taints, affinity, volume binding, spreading).
func startScheduler(t testing.TB, bin, dir string, c *Cluster) error {
	return run(t, dir, filepath.Join(bin, "kube-scheduler"),
		"--kubeconfig="+c.Kubeconfig,
		"--leader-elect=false",
		"--secure-port=0",
		"--v=1",
	)
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
