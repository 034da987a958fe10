package main

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/doc"
	"go/parser"
	"go/token"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/llm-platform/llm-platform/internal/argcheck"
)

// The package's schema is generated from the Go types: every exported component's Args (the
// inputs) and its component struct's `pulumi:"..."` output fields, their Go types (the schema
// types), tags (names and optionality) and doc comments (descriptions). `go run ./cmd/provider
// -schema` prints it; schema.json is the committed copy the binary embeds, and a test keeps the
// two equal, so a field added to, removed from or retyped in an Args fails the test until
// schema.json is regenerated (`go generate ./cmd/provider`).

//go:generate sh -c "go run . -schema > schema.json"

const modulePath = "github.com/llm-platform/llm-platform"

type (
	packageSpec struct {
		Name        string                  `json:"name"`
		DisplayName string                  `json:"displayName"`
		Version     string                  `json:"version"`
		Description string                  `json:"description"`
		Keywords    []string                `json:"keywords"`
		Repository  string                  `json:"repository,omitempty"`
		Language    map[string]any          `json:"language"`
		Resources   map[string]resourceSpec `json:"resources"`
		Types       map[string]objectSpec   `json:"types"`
	}
	resourceSpec struct {
		IsComponent     bool                    `json:"isComponent"`
		Description     string                  `json:"description"`
		InputProperties map[string]propertySpec `json:"inputProperties"`
		RequiredInputs  []string                `json:"requiredInputs"`
		Properties      map[string]propertySpec `json:"properties"`
		Required        []string                `json:"required"`
	}
	objectSpec struct {
		Type        string                  `json:"type"`
		Description string                  `json:"description"`
		Properties  map[string]propertySpec `json:"properties"`
		Required    []string                `json:"required"`
	}
	typeSpec struct {
		Type                 string    `json:"type,omitempty"`
		Ref                  string    `json:"$ref,omitempty"`
		Items                *typeSpec `json:"items,omitempty"`
		AdditionalProperties *typeSpec `json:"additionalProperties,omitempty"`
		Plain                bool      `json:"plain,omitempty"`
	}
	propertySpec struct {
		typeSpec
		Description string `json:"description"`
		Secret      bool   `json:"secret,omitempty"`
	}
)

// schemaGen walks Go types into a packageSpec. root is the repository (for doc comments).
type schemaGen struct {
	root  string
	types map[string]objectSpec
	docs  map[string]*doc.Package // by import path
	errs  []string
}

// typeName is the schema name of a Go struct type: its package's name and its own, unless the
// type name already starts with it (model.Spec -> ModelSpec, edge.TLSConfig -> EdgeTLSConfig).
func typeName(t reflect.Type) string {
	if n, ok := typeNames[t]; ok {
		return n
	}
	pkg := filepath.Base(t.PkgPath())
	prefix := strings.ToUpper(pkg[:1]) + pkg[1:]
	switch pkg {
	case "webui":
		prefix = "WebUI"
	case "addons":
		// The add-ons' config types keep the names they were published under (the package
		// was called platform): a renamed type would break the generated SDKs' users.
		prefix = "Platform"
	}
	if strings.HasPrefix(t.Name(), prefix) {
		return t.Name()
	}
	return prefix + t.Name()
}

func (g *schemaGen) resource(c component) resourceSpec {
	r := resourceSpec{
		IsComponent:     true,
		Description:     g.typeDoc(c.component),
		InputProperties: map[string]propertySpec{},
		RequiredInputs:  []string{},
		Properties:      map[string]propertySpec{},
		Required:        []string{},
	}
	var defaults reflect.Value
	if c.defaults != nil {
		defaults = reflect.ValueOf(c.defaults)
	}
	for _, f := range fields(c.args) {
		name, optional, _ := argcheck.Tag(f)
		if _, skip := notExposed[c.args.Name()+"."+f.Name]; skip {
			continue
		}
		r.InputProperties[name] = g.property(c.args, f, mode{defaulted: c.defaults != nil, value: fieldOf(defaults, f)})
		if !optional {
			r.RequiredInputs = append(r.RequiredInputs, name)
		}
	}
	for _, f := range fields(c.component) {
		name, _, _ := argcheck.Tag(f)
		p := g.property(c.component, f, mode{})
		p.Plain = false
		r.Properties[name] = p
		r.Required = append(r.Required, name)
	}
	slices.Sort(r.RequiredInputs)
	slices.Sort(r.Required)
	return r
}

// fields are the struct's exported fields with a pulumi tag.
func fields(t reflect.Type) []reflect.StructField {
	var out []reflect.StructField
	for i := range t.NumField() {
		if _, _, ok := argcheck.Tag(t.Field(i)); ok {
			out = append(out, t.Field(i))
		}
	}
	return out
}

// mode says how to walk a type: for the Platform component every property is optional (the
// stack config's defaults fill them) and value is the default, written into the description.
type mode struct {
	defaulted bool
	value     reflect.Value // the default of the type being walked; invalid when none
}

// fieldOf is v's field f, or invalid.
func fieldOf(v reflect.Value, f reflect.StructField) reflect.Value {
	if !v.IsValid() {
		return v
	}
	return v.FieldByIndex(f.Index)
}

func (g *schemaGen) property(owner reflect.Type, f reflect.StructField, m mode) propertySpec {
	key := owner.PkgPath() + "." + owner.Name() + "." + f.Name
	p := propertySpec{typeSpec: g.typeOf(f.Type, key, m), Description: g.fieldDoc(owner, f)}
	if m.defaulted && m.value.IsValid() && !m.value.IsZero() && f.Type.Kind() != reflect.Struct {
		if text, err := json.Marshal(m.value.Interface()); err == nil {
			p.Description = strings.TrimSuffix(p.Description, ".") + ". Default: " + string(text) + "."
		}
	}
	if _, ok := secretFields[strings.TrimPrefix(key, modulePath+"/")]; ok {
		p.Secret = true
	}
	return p
}

var inputType = reflect.TypeFor[pulumi.Input]()

// typeOf maps a Go type to a schema type. Plain Go values (not pulumi.Input) are plain in
// the schema: the component needs them at plan time.
func (g *schemaGen) typeOf(t reflect.Type, where string, m mode) typeSpec {
	if _, ok := inputElements[t]; ok || (t.Kind() == reflect.Interface && t.Implements(inputType)) {
		return g.inputTypeOf(t, where)
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	s := typeSpec{Plain: true}
	switch t.Kind() {
	case reflect.String:
		s.Type = "string"
	case reflect.Int, reflect.Int32, reflect.Int64:
		s.Type = "integer"
	case reflect.Float64, reflect.Float32:
		s.Type = "number"
	case reflect.Bool:
		s.Type = "boolean"
	case reflect.Slice:
		item := g.typeOf(t.Elem(), where, mode{defaulted: m.defaulted, value: elementDefaults[t.Elem()]})
		item.Plain = false
		s.Type, s.Items = "array", &item
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			g.errs = append(g.errs, fmt.Sprintf("%s: map keys must be strings", where))
		}
		item := g.typeOf(t.Elem(), where, mode{defaulted: m.defaulted})
		item.Plain = false
		s.Type, s.AdditionalProperties = "object", &item
	case reflect.Struct:
		s.Ref = "#/types/llm-platform:index:" + g.object(t, m)
	default:
		g.errs = append(g.errs, fmt.Sprintf("%s: Go type %s has no schema type; map it in cmd/provider/schema.go or leave the field out (notExposed)", where, t))
	}
	return s
}

// inputTypeOf maps the SDK's input interfaces by the element type of their outputs.
func (g *schemaGen) inputTypeOf(t reflect.Type, where string) typeSpec {
	elem, ok := inputElements[t]
	if !ok {
		g.errs = append(g.errs, fmt.Sprintf("%s: input type %s has no schema type; add it to inputElements", where, t))
		return typeSpec{}
	}
	s := g.typeOf(elem, where, mode{})
	s.Plain = false
	return s
}

var inputElements = map[reflect.Type]reflect.Type{
	reflect.TypeFor[pulumi.StringInput]():       reflect.TypeFor[string](),
	reflect.TypeFor[pulumi.IntInput]():          reflect.TypeFor[int](),
	reflect.TypeFor[pulumi.BoolInput]():         reflect.TypeFor[bool](),
	reflect.TypeFor[pulumi.Float64Input]():      reflect.TypeFor[float64](),
	reflect.TypeFor[pulumi.StringMapInput]():    reflect.TypeFor[map[string]string](),
	reflect.TypeFor[pulumi.StringArrayInput]():  reflect.TypeFor[[]string](),
	reflect.TypeFor[pulumi.StringOutput]():      reflect.TypeFor[string](),
	reflect.TypeFor[pulumi.StringMapOutput]():   reflect.TypeFor[map[string]string](),
	reflect.TypeFor[pulumi.StringArrayOutput](): reflect.TypeFor[[]string](),
}

func (g *schemaGen) object(t reflect.Type, m mode) string {
	name := typeName(t)
	if m.defaulted {
		// The Platform's own variant: every property optional, defaults described.
		name = "Platform" + strings.TrimPrefix(name, "Platform")
	}
	if _, done := g.types[name]; done {
		return name
	}
	o := objectSpec{Type: "object", Description: g.typeDoc(t), Properties: map[string]propertySpec{}, Required: []string{}}
	g.types[name] = o // recursion guard
	for _, f := range fields(t) {
		tag, optional, _ := argcheck.Tag(f)
		p := g.property(t, f, mode{defaulted: m.defaulted, value: fieldOf(m.value, f)})
		p.Plain = false // a property of a plain object is plain already
		o.Properties[tag] = p
		if !optional && !m.defaulted {
			o.Required = append(o.Required, tag)
		}
	}
	slices.Sort(o.Required)
	g.types[name] = o
	return name
}

// docPackage parses the Go package at import path pkg (its doc comments).
func (g *schemaGen) docPackage(pkg string) *doc.Package {
	if d, ok := g.docs[pkg]; ok {
		return d
	}
	dir := filepath.Join(g.root, strings.TrimPrefix(pkg, modulePath))
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, dir, func(fi os.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, parser.ParseComments)
	if err != nil {
		g.errs = append(g.errs, fmt.Sprintf("reading the doc comments of %s: %v", pkg, err))
	}
	var files []*ast.File
	for _, p := range pkgs {
		for _, name := range slices.Sorted(maps.Keys(p.Files)) {
			files = append(files, p.Files[name])
		}
	}
	d, err := doc.NewFromFiles(fset, files, pkg, doc.AllDecls|doc.PreserveAST)
	if err != nil {
		g.errs = append(g.errs, fmt.Sprintf("reading the doc comments of %s: %v", pkg, err))
	}
	g.docs[pkg] = d
	return d
}

func (g *schemaGen) findType(t reflect.Type) *ast.TypeSpec {
	d := g.docPackage(t.PkgPath())
	if d == nil {
		return nil
	}
	for _, dt := range d.Types {
		for _, spec := range dt.Decl.Specs {
			if ts, ok := spec.(*ast.TypeSpec); ok && ts.Name.Name == t.Name() {
				return ts
			}
		}
	}
	return nil
}

// typeDoc is the doc comment of a type (its description), or the table's.
func (g *schemaGen) typeDoc(t reflect.Type) string {
	key := strings.TrimPrefix(t.PkgPath(), modulePath+"/") + "." + t.Name()
	if s, ok := descriptions[key]; ok {
		return s
	}
	d := g.docPackage(t.PkgPath())
	if d != nil {
		for _, dt := range d.Types {
			if dt.Name == t.Name() && dt.Doc != "" {
				return clean(dt.Doc)
			}
		}
	}
	g.errs = append(g.errs, fmt.Sprintf("%s has no doc comment: write one (or add it to descriptions in cmd/provider/tables.go)", key))
	return ""
}

// fieldDoc is the doc (or line) comment of a struct field, or the table's entry for it.
func (g *schemaGen) fieldDoc(owner reflect.Type, f reflect.StructField) string {
	key := strings.TrimPrefix(owner.PkgPath(), modulePath+"/") + "." + owner.Name() + "." + f.Name
	if s, ok := descriptions[key]; ok {
		return s
	}
	if ts := g.findType(owner); ts != nil {
		if st, ok := ts.Type.(*ast.StructType); ok {
			for _, fl := range st.Fields.List {
				for _, n := range fl.Names {
					if n.Name != f.Name {
						continue
					}
					// A comment above a group of names documents the first one only.
					if len(fl.Names) == 1 || n == fl.Names[0] {
						if fl.Doc != nil {
							return clean(fl.Doc.Text())
						}
						if fl.Comment != nil {
							return clean(fl.Comment.Text())
						}
					}
				}
			}
		}
	}
	g.errs = append(g.errs, fmt.Sprintf("%s has no doc comment: write one (or add it to descriptions in cmd/provider/tables.go)", key))
	return ""
}

func clean(s string) string { return strings.Join(strings.Fields(s), " ") }

// generateSchema builds the package schema from the Go types; it fails on any field it
// cannot type or describe.
func generateSchema(root string) ([]byte, error) {
	g := &schemaGen{root: root, types: map[string]objectSpec{}, docs: map[string]*doc.Package{}}
	spec := packageSpec{
		Name:        "llm-platform",
		DisplayName: "LLM platform",
		Version:     Version,
		Description: "Multi-model LLM serving on Kubernetes as Pulumi components: vLLM models, an OpenAI-compatible routing gateway, Open WebUI and an Istio edge, or all of it as one Platform.",
		Keywords:    []string{"kubernetes", "llm", "vllm", "category/cloud", "kind/component"},
		Language: map[string]any{
			"nodejs": map[string]any{"packageName": "@llm-platform/llm-platform", "respectSchemaVersion": true},
			"python": map[string]any{"packageName": "llm_platform", "respectSchemaVersion": true},
			"go":     map[string]any{"importBasePath": modulePath + "/sdk/go/llmplatform", "respectSchemaVersion": true},
		},
		Resources: map[string]resourceSpec{},
	}
	for _, c := range components {
		spec.Resources[c.token] = g.resource(c)
	}
	spec.Types = make(map[string]objectSpec, len(g.types))
	for name, o := range g.types {
		spec.Types[Name+":index:"+name] = o
	}
	if len(g.errs) > 0 {
		slices.Sort(g.errs)
		return nil, fmt.Errorf("the schema cannot be generated:\n  %s", strings.Join(slices.Compact(g.errs), "\n  "))
	}
	out, err := json.MarshalIndent(spec, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}
