package crdschema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	"github.com/llm-platform/llm-platform/internal/versions"
)

// IstioCRDFile is where the istio.io/istio module keeps every Istio CRD (the
// base chart's copy).
const IstioCRDFile = "manifests/charts/base/files/crd-all.gen.yaml"

// ModuleFile returns the local path of file inside a Go module, downloading
// the module into the module cache first: `go mod download -json
// module@version`. The module cache is the only cache; nothing is copied into
// the repository, and the module is not added to go.mod.
//
// It needs the `go` command and either the module proxy or a module cache
// that already holds the module; the error says which module failed.
func ModuleFile(moduleAtVersion, file string) (string, error) {
	if !strings.Contains(moduleAtVersion, "@") {
		return "", fmt.Errorf("module %q: want module@version", moduleAtVersion)
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("downloading %s: the go command is not on PATH: %w", moduleAtVersion, err)
	}
	// Run outside this repository so the download can never touch our
	// go.mod or go.sum, and outside any workspace.
	dir, err := os.MkdirTemp("", "crdschema-download-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	cmd := exec.Command(goCmd, "mod", "download", "-json", moduleAtVersion)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	var info struct {
		Dir   string
		Error string
	}
	if jsonErr := json.Unmarshal(stdout.Bytes(), &info); jsonErr != nil && runErr == nil {
		return "", fmt.Errorf("downloading %s: unreadable `go mod download -json` output: %w", moduleAtVersion, jsonErr)
	}
	switch {
	case info.Error != "":
		return "", fmt.Errorf("downloading %s failed: %s (it needs the Go module proxy, or a module cache that holds this version)", moduleAtVersion, info.Error)
	case runErr != nil:
		return "", fmt.Errorf("downloading %s failed: %v: %s", moduleAtVersion, runErr, strings.TrimSpace(stderr.String()))
	case info.Dir == "":
		return "", fmt.Errorf("downloading %s: `go mod download -json` reported no directory", moduleAtVersion)
	}
	path := filepath.Join(info.Dir, filepath.FromSlash(file))
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("module %s has no %s: %w", moduleAtVersion, file, err)
	}
	return path, nil
}

// Istio returns a validator for the CRDs of the Istio release the platform
// deploys (versions.IstioModule). It downloads and compiles them once per
// process.
var Istio = sync.OnceValues(func() (*Validator, error) {
	path, err := ModuleFile(versions.IstioModule, IstioCRDFile)
	if err != nil {
		return nil, fmt.Errorf("istio CRDs: %w", err)
	}
	return LoadFile(path)
})

// PrometheusOperatorCRDFiles are the prometheus-operator CRDs of the objects the platform
// declares (PodMonitor, ServiceMonitor, PrometheusRule), in versions.PrometheusOperatorCRDModule.
var PrometheusOperatorCRDFiles = []string{
	"example/prometheus-operator-crd/monitoring.coreos.com_podmonitors.yaml",
	"example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml",
	"example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml",
}

// PrometheusOperatorCRDPaths downloads versions.PrometheusOperatorCRDModule (once into the
// module cache) and returns the local paths of PrometheusOperatorCRDFiles.
func PrometheusOperatorCRDPaths() ([]string, error) {
	var paths []string
	for _, f := range PrometheusOperatorCRDFiles {
		p, err := ModuleFile(versions.PrometheusOperatorCRDModule, f)
		if err != nil {
			return nil, fmt.Errorf("prometheus-operator CRDs: %w", err)
		}
		paths = append(paths, p)
	}
	return paths, nil
}

// PrometheusOperator returns a validator for the prometheus-operator CRDs the platform's
// monitors and rules use. It downloads and compiles them once per process.
var PrometheusOperator = sync.OnceValues(func() (*Validator, error) {
	paths, err := PrometheusOperatorCRDPaths()
	if err != nil {
		return nil, err
	}
	var all bytes.Buffer
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		all.WriteString("---\n")
		all.Write(b)
		all.WriteString("\n")
	}
	v, err := Load(&all)
	if err != nil {
		return nil, fmt.Errorf("prometheus-operator CRDs (%s): %w", versions.PrometheusOperatorCRDModule, err)
	}
	return v, nil
})

// KEDAScaledObjectCRDFile is where KEDA's module keeps the ScaledObject CRD.
const KEDAScaledObjectCRDFile = "config/crd/bases/keda.sh_scaledobjects.yaml"

// KEDA returns a validator for the ScaledObject CRD of the KEDA release the platform installs
// (versions.KEDAModule). It downloads and compiles it once per process.
var KEDA = sync.OnceValues(func() (*Validator, error) {
	path, err := ModuleFile(versions.KEDAModule, KEDAScaledObjectCRDFile)
	if err != nil {
		return nil, fmt.Errorf("KEDA CRDs: %w", err)
	}
	return LoadFile(path)
})
