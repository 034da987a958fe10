package render

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	storagev1 "k8s.io/api/storage/v1"
)

// Manifest is one rendered object.
type Manifest struct {
	Path       string
	APIVersion string
	Kind       string
	Namespace  string
	Name       string
	Labels     map[string]string
	// JSON is the object as JSON, for decoding.
	JSON []byte
}

// Key identifies an object: kind, namespace and name.
func (m Manifest) Key() string {
	return m.Kind + " " + m.Namespace + "/" + m.Name
}

// Read parses every YAML document under dir.
func Read(dir string) ([]Manifest, error) {
	var out []Manifest
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".yaml") {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		for {
			var doc map[string]any
			if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
				return nil
			} else if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			if doc == nil {
				continue
			}
			raw, err := json.Marshal(doc)
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			var head struct {
				APIVersion string `json:"apiVersion"`
				Kind       string `json:"kind"`
				Metadata   struct {
					Name      string            `json:"name"`
					Namespace string            `json:"namespace"`
					Labels    map[string]string `json:"labels"`
				} `json:"metadata"`
			}
			if err := json.Unmarshal(raw, &head); err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			out = append(out, Manifest{
				Path: path, APIVersion: head.APIVersion, Kind: head.Kind,
				Namespace: head.Metadata.Namespace, Name: head.Metadata.Name, Labels: head.Metadata.Labels,
				JSON: raw,
			})
		}
	})
	slices.SortFunc(out, func(a, b Manifest) int { return strings.Compare(a.Key(), b.Key()) })
	return out, err
}

// builtin maps the built-in kinds the platform renders to their API types.
var builtin = map[string]func() any{
	"v1/Namespace":                       func() any { return &corev1.Namespace{} },
	"v1/Secret":                          func() any { return &corev1.Secret{} },
	"v1/ConfigMap":                       func() any { return &corev1.ConfigMap{} },
	"v1/Service":                         func() any { return &corev1.Service{} },
	"v1/PersistentVolumeClaim":           func() any { return &corev1.PersistentVolumeClaim{} },
	"apps/v1/Deployment":                 func() any { return &appsv1.Deployment{} },
	"apps/v1/StatefulSet":                func() any { return &appsv1.StatefulSet{} },
	"policy/v1/PodDisruptionBudget":      func() any { return &policyv1.PodDisruptionBudget{} },
	"networking.k8s.io/v1/NetworkPolicy": func() any { return &networkingv1.NetworkPolicy{} },
	"storage.k8s.io/v1/StorageClass":     func() any { return &storagev1.StorageClass{} },
}

// IsBuiltin says whether the manifest is a built-in Kubernetes kind.
func (m Manifest) IsBuiltin() bool {
	_, ok := builtin[m.APIVersion+"/"+m.Kind]
	return ok
}

// Decode strictly decodes a built-in object into its k8s.io/api type: a
// field the type does not know is an error, so a misspelt field in what we
// declare cannot reach a cluster.
func (m Manifest) Decode() (any, error) {
	newObj, ok := builtin[m.APIVersion+"/"+m.Kind]
	if !ok {
		return nil, fmt.Errorf("%s: %s/%s is not a built-in kind this platform renders", m.Path, m.APIVersion, m.Kind)
	}
	obj := newObj()
	if err := decodeStrict(m.JSON, obj, m.Path); err != nil {
		return nil, err
	}
	return obj, nil
}

// DecodeInto strictly decodes the whole object into out (e.g. a custom
// resource with a typed spec).
func (m Manifest) DecodeInto(out any) error {
	return decodeStrict(m.JSON, out, m.Path)
}

func decodeStrict(raw []byte, out any, path string) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(out); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
