package testcluster

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/llm-platform/llm-platform/internal/crdschema"
	"github.com/llm-platform/llm-platform/internal/versions"
)

// ArgoCDApplicationCRDFile is where the argo-cd module keeps the Application CRD.
const ArgoCDApplicationCRDFile = "manifests/crds/application-crd.yaml"

// PlatformCRDFiles are the CRDs of the add-ons the program's custom resources
// belong to, from the pinned modules (internal/versions): every Istio CRD,
// Argo CD's Application, and the prometheus-operator's PodMonitor,
// ServiceMonitor and PrometheusRule (observability), and KEDA's ScaledObject (autoscaling). They are downloaded into the module cache on first
// use (`go mod download`), so a fresh machine needs the module proxy once.
func PlatformCRDFiles() ([]string, error) {
	istio, err := crdschema.ModuleFile(versions.IstioModule, crdschema.IstioCRDFile)
	if err != nil {
		return nil, fmt.Errorf("istio CRDs: %w", err)
	}
	argo, err := crdschema.ModuleFile(versions.ArgoCDModule, ArgoCDApplicationCRDFile)
	if err != nil {
		return nil, fmt.Errorf("argo CD CRDs: %w", err)
	}
	monitoring, err := crdschema.PrometheusOperatorCRDPaths()
	if err != nil {
		return nil, err
	}
	keda, err := crdschema.ModuleFile(versions.KEDAModule, crdschema.KEDAScaledObjectCRDFile)
	if err != nil {
		return nil, fmt.Errorf("KEDA CRDs: %w", err)
	}
	return append([]string{istio, argo, keda}, monitoring...), nil
}

// InstallCRDs creates every CustomResourceDefinition in the YAML files and
// waits until the API server serves them all (condition Established), as
// the Helm charts that ship them would before any custom resource is
// applied. It returns the CRDs' names.
func (c *Cluster) InstallCRDs(ctx context.Context, files ...string) ([]string, error) {
	var names, lists []string
	for _, file := range files {
		crds, err := readCRDs(file)
		if err != nil {
			return nil, err
		}
		for _, crd := range crds {
			body, err := json.Marshal(crd)
			if err != nil {
				return nil, err
			}
			status, resp, err := c.Do(ctx, http.MethodPost, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", body)
			if err != nil {
				return nil, err
			}
			if status != http.StatusCreated {
				return nil, fmt.Errorf("creating CRD %s from %s: %d %s", crd.Name, file, status, resp)
			}
			names = append(names, crd.Name)
			for _, v := range crd.Spec.Versions {
				if v.Served {
					lists = append(lists, "/apis/"+crd.Spec.Group+"/"+v.Name+"/"+crd.Spec.Names.Plural+"?limit=1")
				}
			}
		}
	}
	deadline := time.Now().Add(time.Minute)
	for _, name := range names {
		for {
			established, err := c.crdEstablished(ctx, name)
			if err != nil {
				return nil, err
			}
			if established {
				break
			}
			if time.Now().After(deadline) {
				return nil, fmt.Errorf("CRD %s not established after a minute", name)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	// Established is not yet served: each kind's storage starts after it,
	// answering 429 "storage is (re)initializing" until its cache is
	// ready. A Helm install would race the same way; wait for every list.
	for _, path := range lists {
		for {
			status, body, err := c.Do(ctx, http.MethodGet, path, nil)
			if err != nil {
				return nil, err
			}
			if status == http.StatusOK {
				break
			}
			if status != http.StatusTooManyRequests || time.Now().After(deadline) {
				return nil, fmt.Errorf("GET %s: %d %s", path, status, body)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return names, nil
}

func (c *Cluster) crdEstablished(ctx context.Context, name string) (bool, error) {
	var crd apiextensionsv1.CustomResourceDefinition
	found, err := c.Get(ctx, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/"+name, &crd)
	if err != nil || !found {
		return false, err
	}
	for _, cond := range crd.Status.Conditions {
		if cond.Type == apiextensionsv1.Established && cond.Status == apiextensionsv1.ConditionTrue {
			return true, nil
		}
	}
	return false, nil
}

// readCRDs decodes the CustomResourceDefinitions of a multi-document YAML
// file, skipping other documents (a chart's file may hold anything).
func readCRDs(file string) ([]apiextensionsv1.CustomResourceDefinition, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var crds []apiextensionsv1.CustomResourceDefinition
	r := utilyaml.NewYAMLReader(bufio.NewReader(f))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		if strings.TrimSpace(string(doc)) == "" {
			continue
		}
		var crd apiextensionsv1.CustomResourceDefinition
		if err := utilyaml.Unmarshal(doc, &crd); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		if crd.Kind != "CustomResourceDefinition" {
			continue
		}
		crds = append(crds, crd)
	}
	if len(crds) == 0 {
		return nil, fmt.Errorf("%s holds no CustomResourceDefinition", file)
	}
	return crds, nil
}

// Get reads one object into out (a k8s.io/api type, or map[string]any for a
// custom resource). found is false on 404; any other non-200 is an error
// carrying the API server's message.
func (c *Cluster) Get(ctx context.Context, path string, out any) (found bool, err error) {
	status, body, err := c.Do(ctx, http.MethodGet, path, nil)
	switch {
	case err != nil:
		return false, err
	case status == http.StatusNotFound:
		return false, nil
	case status != http.StatusOK:
		return false, fmt.Errorf("GET %s: %d %s", path, status, body)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return false, fmt.Errorf("GET %s: %w", path, err)
	}
	return true, nil
}
