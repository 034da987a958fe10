package testcluster

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/llm-platform/llm-platform/internal/crdschema"
)

// Options say what runs beside the control plane (etcd, kube-apiserver,
// kube-controller-manager), which always runs.
type Options struct {
	// Scheduler runs kube-scheduler: pods are bound to nodes, or stay
	// Pending with the scheduler's reason in their PodScheduled condition.
	Scheduler bool
	// KWOK runs the kwok controller (sigs.k8s.io/kwok), which plays the
	// kubelet for the Nodes annotated KWOKNodeAnnotation=KWOKNodeValue: it
	// keeps them Ready (status and lease heartbeats) and takes their pods
	// through their lifecycle (Running and Ready at once, deleted when asked)
	// without running any container.
	KWOK bool
}

// SimulatedBinaries are the executables a cluster with a scheduler and kwok
// needs, in bin/.
var SimulatedBinaries = append(append([]string{}, Binaries...), "kube-scheduler", "kwok")

// The annotation kwok manages nodes by: only simulated Nodes carry it, so a
// Node someone else registers is left alone.
const (
	KWOKNodeAnnotation = "kwok.x-k8s.io/node"
	KWOKNodeValue      = "fake"
)

// KWOKModule is the Go module the kwok binary is built from (tools/kwok),
// module@version, read from tools/kwok/go.mod: its Stages are read from the
// same version.
func KWOKModule(root string) (string, error) {
	path := filepath.Join(root, "tools", "kwok", "go.mod")
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(strings.TrimPrefix(strings.TrimSpace(s.Text()), "require "))
		if len(fields) >= 2 && fields[0] == "sigs.k8s.io/kwok" {
			return fields[0] + "@" + fields[1], nil
		}
	}
	if err := s.Err(); err != nil {
		return "", err
	}
	return "", fmt.Errorf("%s does not require sigs.k8s.io/kwok", path)
}

// KWOKStageFiles are the Stages the kwok controller runs, from the kwok
// module's own kustomize/stage directory (the defaults `kwokctl` gives a
// cluster): nodes become Ready and renew their leases; pods become Ready,
// complete when they are Jobs' and go away when deleted.
var KWOKStageFiles = []string{
	"kustomize/stage/node/fast/node-initialize.yaml",
	"kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
	"kustomize/stage/pod/fast/pod-ready.yaml",
	"kustomize/stage/pod/fast/pod-complete.yaml",
	"kustomize/stage/pod/fast/pod-delete.yaml",
}

// kwokConfig writes kwok's configuration (its Stages, one YAML document
// each) into dir and returns the file's path.
func kwokConfig(root, dir string) (string, error) {
	module, err := KWOKModule(root)
	if err != nil {
		return "", err
	}
	var docs []string
	for _, file := range KWOKStageFiles {
		path, err := crdschema.ModuleFile(module, file)
		if err != nil {
			return "", fmt.Errorf("kwok stages: %w", err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return "", err
		}
		docs = append(docs, strings.TrimSpace(string(b)))
	}
	out := filepath.Join(dir, "kwok.yaml")
	return out, os.WriteFile(out, []byte(strings.Join(docs, "\n---\n")+"\n"), 0o644)
}

// startKWOK runs kwok for the Nodes annotated KWOKNodeAnnotation=KWOKNodeValue.
func startKWOK(t testing.TB, bin, dir string, c *Cluster) error {
	root := filepath.Dir(bin)
	config, err := kwokConfig(root, dir)
	if err != nil {
		return err
	}
	return run(t, dir, filepath.Join(bin, "kwok"),
		"--kubeconfig="+c.Kubeconfig,
		"--config="+config,
		"--manage-all-nodes=false",
		"--manage-nodes-with-annotation-selector="+KWOKNodeAnnotation+"="+KWOKNodeValue,
		// Pod IPs come from here; nothing routes them.
		"--cidr=10.244.0.0/16",
		"--node-ip=10.255.0.1",
		"--node-lease-duration-seconds=40",
	)
}
