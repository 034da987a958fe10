// Package crdschema checks custom resources against their
// CustomResourceDefinitions the way the Kubernetes API server does, without
// a server: OpenAPI schema (types, enums, formats, required fields),
// x-kubernetes-validations CEL rules, list-type invariants and object
// metadata. It uses the API server's own validation code
// (k8s.io/apiextensions-apiserver), so a test that passes here fails for the
// same reasons `pulumi up` would, with the CRD's own messages.
//
// It is stricter than a server's default in one way: a field the schema
// does not know is an error (the server drops it and, by default, only
// warns), because such a field is a typo in our typed structs and would
// silently do nothing on a cluster.
package crdschema

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/listtype"
	schemaobjectmeta "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/objectmeta"
	structuralpruning "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	metavalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/apimachinery/pkg/util/validation/field"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
)

// Validator validates custom resources against a set of CRDs.
type Validator struct {
	kinds map[schema.GroupVersionKind]*kindSchema
}

// kindSchema is one served version of one CRD, compiled once.
type kindSchema struct {
	crd        string // the CRD's name, for messages
	namespaced bool
	structural *structuralschema.Structural
	openAPI    apiservervalidation.SchemaValidator
	cel        *cel.Validator // nil when the schema has no CEL rules
}

// LoadFile reads CRDs from a YAML file (see Load).
func LoadFile(path string) (*Validator, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading CRDs: %w", err)
	}
	defer f.Close()
	v, err := Load(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}

// Load reads CRDs from a multi-document YAML (or JSON) stream. Documents that
// are not apiextensions.k8s.io/v1 CustomResourceDefinitions are skipped, so
// a whole chart's rendered manifests can be passed. It fails when a CRD's
// schema cannot be compiled or when the stream holds no CRD at all.
func Load(r io.Reader) (*Validator, error) {
	v := &Validator{kinds: map[schema.GroupVersionKind]*kindSchema{}}
	reader := utilyaml.NewYAMLReader(bufio.NewReader(r))
	for doc := 1; ; doc++ {
		raw, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", doc, err)
		}
		if len(bytes.TrimSpace(raw)) == 0 {
			continue
		}
		var typ metav1.TypeMeta
		if err := utilyaml.Unmarshal(raw, &typ); err != nil {
			return nil, fmt.Errorf("document %d is not YAML: %w", doc, err)
		}
		if typ.APIVersion != apiextensionsv1.SchemeGroupVersion.String() || typ.Kind != "CustomResourceDefinition" {
			continue
		}
		var crd apiextensionsv1.CustomResourceDefinition
		if err := utilyaml.Unmarshal(raw, &crd); err != nil {
			return nil, fmt.Errorf("document %d: decoding a CustomResourceDefinition: %w", doc, err)
		}
		if err := v.Add(&crd); err != nil {
			return nil, fmt.Errorf("document %d: %w", doc, err)
		}
	}
	if len(v.kinds) == 0 {
		return nil, errors.New("no apiextensions.k8s.io/v1 CustomResourceDefinition with a served, schema-carrying version found")
	}
	return v, nil
}

// Add compiles every served version of crd. A later CRD for the same
// group, version and kind replaces the earlier one.
func (v *Validator) Add(crd *apiextensionsv1.CustomResourceDefinition) error {
	if v.kinds == nil {
		v.kinds = map[schema.GroupVersionKind]*kindSchema{}
	}
	for _, ver := range crd.Spec.Versions {
		if !ver.Served || ver.Schema == nil || ver.Schema.OpenAPIV3Schema == nil {
			continue // the server refuses unserved versions; nothing to check without a schema
		}
		ks, err := compile(crd, ver)
		if err != nil {
			return fmt.Errorf("CRD %s version %s: %w", crd.Name, ver.Name, err)
		}
		v.kinds[schema.GroupVersionKind{Group: crd.Spec.Group, Version: ver.Name, Kind: crd.Spec.Names.Kind}] = ks
	}
	return nil
}

func compile(crd *apiextensionsv1.CustomResourceDefinition, ver apiextensionsv1.CustomResourceDefinitionVersion) (*kindSchema, error) {
	// The validation code works on the internal (unversioned) types, as the
	// API server's own handler does.
	var internal apiextensions.CustomResourceValidation
	if err := apiextensionsv1.Convert_v1_CustomResourceValidation_To_apiextensions_CustomResourceValidation(ver.Schema, &internal, nil); err != nil {
		return nil, fmt.Errorf("converting the schema: %w", err)
	}
	structural, err := structuralschema.NewStructural(internal.OpenAPIV3Schema)
	if err != nil {
		return nil, fmt.Errorf("the schema is not structural: %w", err)
	}
	if err := structuraldefaulting.PruneDefaults(structural); err != nil {
		return nil, fmt.Errorf("pruning the schema's defaults: %w", err)
	}
	openAPI, _, err := apiservervalidation.NewSchemaValidator(internal.OpenAPIV3Schema)
	if err != nil {
		return nil, fmt.Errorf("building the OpenAPI validator: %w", err)
	}
	return &kindSchema{
		crd:        crd.Name,
		namespaced: crd.Spec.Scope == apiextensionsv1.NamespaceScoped,
		structural: structural,
		openAPI:    openAPI,
		// The rules are compiled here, once, with the server's per-call cost
		// limit; a rule that fails to compile reports itself on Validate.
		cel: cel.NewValidator(structural, true, celconfig.PerCallLimit),
	}, nil
}

// Kinds lists the group/version/kinds the validator knows, sorted.
func (v *Validator) Kinds() []schema.GroupVersionKind {
	out := make([]schema.GroupVersionKind, 0, len(v.kinds))
	for gvk := range v.kinds {
		out = append(out, gvk)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// Validate checks one custom resource, given as its JSON-shaped content
// (apiVersion, kind, metadata, spec; what encoding/json or
// unstructured.Unstructured.Object hold), against the CRD serving its
// group, version and kind. obj is not modified. The result is empty when the
// API server would accept the object on create; otherwise each error has
// the field's path and the CRD's own message, e.g.
//
//	spec.http[0].timeout: Invalid value: "0s": must be a valid duration greater than 1ms
//
// Use ErrorList.ToAggregate() for one error value.
func (v *Validator) Validate(obj map[string]any) field.ErrorList {
	apiVersion, _ := obj["apiVersion"].(string)
	kind, _ := obj["kind"].(string)
	if apiVersion == "" || kind == "" {
		return field.ErrorList{field.Required(field.NewPath("apiVersion"), "apiVersion and kind name the custom resource's type; both must be set")}
	}
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return field.ErrorList{field.Invalid(field.NewPath("apiVersion"), apiVersion, err.Error())}
	}
	ks, ok := v.kinds[gv.WithKind(kind)]
	if !ok {
		return field.ErrorList{field.NotFound(field.NewPath("kind"), v.unknownKind(gv.WithKind(kind)))}
	}

	// Work on a copy with the number types the server decodes into (int64
	// for integers, not encoding/json's float64): CEL and the integer
	// checks depend on them.
	u, err := normalize(obj)
	if err != nil {
		return field.ErrorList{field.Invalid(field.NewPath(""), nil, fmt.Sprintf("not JSON-shaped: %v", err))}
	}

	// The order follows the API server's create path: prune unknown fields,
	// apply defaults, then validate metadata, schema, lists and CEL rules.
	var errs field.ErrorList
	for _, p := range structuralpruning.PruneWithOptions(u, ks.structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true}) {
		errs = append(errs, field.Forbidden(field.NewPath(p), fmt.Sprintf("unknown field: CRD %s has no such field (the API server drops it)", ks.crd)))
	}
	structuraldefaulting.Default(u, ks.structural)
	structuraldefaulting.PruneNonNullableNullsWithoutDefaults(u, ks.structural)

	errs = append(errs, validateMeta(u, ks.namespaced)...)
	errs = append(errs, apiservervalidation.ValidateCustomResource(nil, u, ks.openAPI)...)
	errs = append(errs, schemaobjectmeta.Validate(context.Background(), nil, u, ks.structural, false)...)
	errs = append(errs, listtype.ValidateListSetsAndMaps(nil, ks.structural, u)...)
	if ks.cel != nil {
		// Like the server, evaluate rules only on an object of the right
		// shape: CEL on a wrongly typed value reports noise, not causes.
		if blocking(errs) {
			errs = append(errs, field.Invalid(nil, nil, "x-kubernetes-validations rules were not checked because of the errors above; fix them first"))
		} else {
			celErrs, _ := ks.cel.Validate(context.Background(), nil, ks.structural, u, nil, celconfig.RuntimeCELCostBudget)
			errs = append(errs, celErrs...)
		}
	}
	return errs
}

func (v *Validator) unknownKind(gvk schema.GroupVersionKind) string {
	var same []string
	for known := range v.kinds {
		if known.GroupKind() == gvk.GroupKind() {
			same = append(same, known.Version)
		}
	}
	if len(same) > 0 {
		sort.Strings(same)
		return fmt.Sprintf("%s %s: version %s is not served by its CRD; served versions: %v", gvk.GroupVersion(), gvk.Kind, gvk.Version, same)
	}
	return fmt.Sprintf("%s %s: no CRD loaded for this group and kind (%d kinds loaded); load the CRD file that defines it", gvk.GroupVersion(), gvk.Kind, len(v.kinds))
}

// validateMeta checks metadata as the server does for a custom resource on
// create: a DNS-subdomain name, a namespace exactly when the CRD is
// namespaced, valid labels and annotations.
func validateMeta(u map[string]any, namespaced bool) field.ErrorList {
	path := field.NewPath("metadata")
	raw, ok := u["metadata"].(map[string]any)
	if !ok {
		return field.ErrorList{field.Required(path, "metadata.name is required")}
	}
	var meta metav1.ObjectMeta
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(raw, &meta); err != nil {
		return field.ErrorList{field.Invalid(path, nil, fmt.Sprintf("not ObjectMeta: %v", err))}
	}
	return metavalidation.ValidateObjectMeta(&meta, namespaced, metavalidation.NameIsDNSSubdomain, path)
}

// blocking mirrors the server's rule for skipping CEL evaluation: errors
// that mean the object does not have the schema's shape.
func blocking(errs field.ErrorList) bool {
	for _, e := range errs {
		switch e.Type {
		case field.ErrorTypeNotSupported, field.ErrorTypeRequired, field.ErrorTypeTooLong, field.ErrorTypeTooMany, field.ErrorTypeTypeInvalid:
			return true
		}
	}
	return false
}

func normalize(obj map[string]any) (map[string]any, error) {
	raw, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	var out map[string]any
	if err := utiljson.Unmarshal(raw, &out); err != nil {
		return nil, err
	}
	return out, nil
}
