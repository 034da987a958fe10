package spec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"reflect"
	"slices"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"
)

// Load reads, defaults and validates the whole stack config. Every problem is
// reported at once; nothing is declared before Load succeeds.
func Load(ctx *pulumi.Context) (Config, Secrets, error) {
	raw := map[string]string{}
	for _, key := range configKeys() {
		v, err := config.Try(ctx, key)
		if errors.Is(err, config.ErrMissingVar) {
			continue
		}
		if err != nil {
			return Config{}, Secrets{}, fmt.Errorf("%s: %w", key, err)
		}
		raw[key] = v
	}
	cfg, err := Parse(raw)
	var errs []error
	if err != nil {
		errs = append(errs, err)
	}
	secrets, err := loadSecrets(ctx)
	if err != nil {
		errs = append(errs, err)
	}
	if err := UnknownTopLevelKeys(ctx.Project(), setKeys()); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return Config{}, Secrets{}, configError(errs)
	}
	if err := Validate(&cfg); err != nil {
		return Config{}, Secrets{}, err
	}
	// The URL's text is judged here, before anything is declared, and never printed.
	databaseURL, _ := ctx.GetConfig(ctx.Project() + ":" + keyWebUIDatabaseURL)
	if errs := checkWebUISecrets(cfg, secrets, databaseURL); len(errs) > 0 {
		return Config{}, Secrets{}, configError(errs)
	}
	return cfg, secrets, nil
}

// configKeys lists the non-secret top-level keys, from Config's JSON names.
func configKeys() []string {
	t := reflect.TypeFor[Config]()
	keys := make([]string, 0, t.NumField())
	for i := range t.NumField() {
		keys = append(keys, jsonName(t.Field(i)))
	}
	return keys
}

func jsonName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	return name
}

// Parse decodes raw config values (key -> the string Pulumi hands the
// program: plain text for strings, JSON for objects and lists) on top of
// Defaults. Unknown keys inside objects are errors, so a typo cannot be
// silently ignored. It never panics, whatever the input (see the fuzz test).
func Parse(raw map[string]string) (Config, error) {
	cfg := Defaults()
	var errs []error
	v := reflect.ValueOf(&cfg).Elem()
	for i := range v.NumField() {
		key := jsonName(v.Type().Field(i))
		text, ok := raw[key]
		if !ok {
			continue
		}
		field := v.Field(i)
		switch {
		case field.Kind() == reflect.String:
			field.SetString(text)
		case key == "models":
			models, err := parseModels(text)
			if err != nil {
				errs = append(errs, err)
			}
			cfg.Models = models
		default:
			if err := decodeStrict(key, text, field.Addr().Interface()); err != nil {
				errs = append(errs, err)
			}
		}
	}
	deriveDefaults(&cfg)
	if len(errs) > 0 {
		return cfg, configError(errs)
	}
	return cfg, nil
}

func parseModels(text string) ([]ModelSpec, error) {
	var items []json.RawMessage
	if err := decodeStrict("models", text, &items); err != nil {
		return nil, err
	}
	var errs []error
	models := make([]ModelSpec, 0, len(items))
	for i, item := range items {
		m := defaultModel()
		if err := decodeStrict(fmt.Sprintf("models[%d]", i), string(item), &m); err != nil {
			errs = append(errs, err)
			continue
		}
		models = append(models, m)
	}
	return models, errors.Join(errs...)
}

// decodeStrict decodes JSON into out and turns encoding/json's errors into
// ones that name the config key path.
func decodeStrict(path, text string, out any) error {
	// encoding/json matches keys case-insensitively and names only the last
	// segment of an unknown key; check keys exactly, with full paths, first.
	if errs := exactKeys(path, []byte(text), reflect.TypeOf(out).Elem()); len(errs) > 0 {
		return errors.Join(errs...)
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(text)))
	dec.DisallowUnknownFields()
	err := dec.Decode(out)
	if err == nil && dec.More() {
		err = errors.New("trailing data after the JSON value")
	}
	if err == nil {
		return nil
	}
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		at := path
		if typeErr.Field != "" {
			at = path + "." + typeErr.Field
		}
		return fmt.Errorf("%s: expected %s, got a JSON %s; fix the value's type", at, describeType(typeErr.Type), typeErr.Value)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return fmt.Errorf("%s: malformed JSON: the value ends early; check quoting and brackets", path)
	case errors.As(err, &syntaxErr):
		return fmt.Errorf("%s: malformed JSON at byte %d: %v; check quoting and brackets", path, syntaxErr.Offset, syntaxErr)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return fmt.Errorf("%s.%s: unknown key; check its spelling against Pulumi.yaml", path, field)
	default:
		return fmt.Errorf("%s: %v; expected a JSON value matching Pulumi.yaml's schema", path, err)
	}
}

// exactKeys reports every object key in data that is not exactly the JSON
// name of a field of t, recursing through structs, lists and maps. Values
// that do not have t's shape are left to the decoder to report.
func exactKeys(path string, data []byte, t reflect.Type) []error {
	switch t.Kind() {
	case reflect.Pointer:
		return exactKeys(path, data, t.Elem())
	case reflect.Slice:
		var items []json.RawMessage
		if json.Unmarshal(data, &items) != nil {
			return nil
		}
		var errs []error
		for i, item := range items {
			errs = append(errs, exactKeys(fmt.Sprintf("%s[%d]", path, i), item, t.Elem())...)
		}
		return errs
	case reflect.Map:
		var entries map[string]json.RawMessage
		if json.Unmarshal(data, &entries) != nil {
			return nil
		}
		var errs []error
		for k, v := range entries {
			errs = append(errs, exactKeys(path+"."+k, v, t.Elem())...)
		}
		return errs
	case reflect.Struct:
		var entries map[string]json.RawMessage
		if json.Unmarshal(data, &entries) != nil {
			return nil
		}
		fields := map[string]reflect.Type{}
		for i := range t.NumField() {
			if name := jsonName(t.Field(i)); name != "" && name != "-" {
				fields[name] = t.Field(i).Type
			}
		}
		var errs []error
		for _, k := range slices.Sorted(maps.Keys(entries)) {
			ft, ok := fields[k]
			if !ok {
				errs = append(errs, fmt.Errorf("%s.%s: unknown key; %s", path, k, suggest(k, slices.Collect(maps.Keys(fields)))))
				continue
			}
			errs = append(errs, exactKeys(path+"."+k, entries[k], ft)...)
		}
		return errs
	}
	return nil
}

func describeType(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Int, reflect.Int64, reflect.Int32:
		return "a whole number"
	case reflect.Float64, reflect.Float32:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "a string"
	case reflect.Slice:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return t.String()
}

// ConfigError carries every config problem found, one per line.
type ConfigError struct{ Problems []error }

func (e *ConfigError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = "  - " + p.Error()
	}
	return fmt.Sprintf("invalid stack config (%d problems):\n%s", len(e.Problems), strings.Join(lines, "\n"))
}

func configError(errs []error) error {
	var flat []error
	for _, err := range errs {
		var ce *ConfigError
		if errors.As(err, &ce) {
			flat = append(flat, ce.Problems...)
			continue
		}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			flat = append(flat, j.Unwrap()...)
			continue
		}
		flat = append(flat, err)
	}
	return &ConfigError{Problems: flat}
}

// setKeys are every config key set for the stack ("<namespace>:<key>"), as the CLI hands
// them to the program: the Go language host passes the whole config as JSON in
// PULUMI_CONFIG (pulumi.EnvConfig), which pulumi.Run reads. pulumi.Context has no public
// list, so programs run without that variable (an Automation API inline program) skip the
// check; the test harness sets it as the CLI does.
func setKeys() []string {
	var all map[string]string
	if err := json.Unmarshal([]byte(os.Getenv(pulumi.EnvConfig)), &all); err != nil {
		return nil
	}
	return slices.Sorted(maps.Keys(all))
}

// UnknownTopLevelKeys refuses keys in the project's namespace that the program does not
// read (a misspelt `llm-platform:gatway` would otherwise be silently ignored), the way
// unknown nested keys are refused. Keys of other namespaces (aws:, gcp:, kubernetes:) are
// not the program's to judge.
func UnknownTopLevelKeys(project string, keys []string) error {
	known := append(configKeys(), secretKeys...)
	var errs []error
	for _, full := range keys {
		ns, key, ok := strings.Cut(full, ":")
		if !ok || ns != project || slices.Contains(known, key) {
			continue
		}
		errs = append(errs, fmt.Errorf("%s: unknown key; %s", key, suggest(key, known)))
	}
	return errors.Join(errs...)
}

// suggest names the known key closest to a misspelt one (differing in case, or by at most
// two edits), or says where the keys are documented.
func suggest(key string, known []string) string {
	best, bestDist := "", 3
	for _, name := range slices.Sorted(slices.Values(known)) {
		d := editDistance(strings.ToLower(key), strings.ToLower(name))
		if d < bestDist {
			best, bestDist = name, d
		}
	}
	if best == "" {
		return "check its spelling against Pulumi.yaml"
	}
	return fmt.Sprintf("did you mean %q?", best)
}

// editDistance is the Levenshtein distance between a and b (bytes).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
