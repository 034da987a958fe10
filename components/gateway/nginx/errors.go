// The error catalogue: the OpenAI-style JSON bodies the gateway answers itself.

package nginx

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
)

type apiError struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

func ptr(s string) *string { return &s }

func errorJSON(e apiError) string {
	return marshal(map[string]apiError{"error": e})
}

func marshal(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(err) // only plain structs of strings and ints are marshalled
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// modelObject is one entry of GET /v1/models.
type modelObject struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
	// Parent is the base model of a LoRA adapter, as vLLM lists it; absent for a base model.
	Parent string `json:"parent,omitempty"`
}

type modelList struct {
	Object string        `json:"object"`
	Data   []modelObject `json:"data"`
}

func newModelObject(name string) modelObject {
	return modelObject{ID: name, Object: "model", Created: 0, OwnedBy: "llm-platform"}
}

// newAdapterObject is a LoRA adapter's entry: vLLM lists adapters with "parent" = the base model.
func newAdapterObject(name, base string) modelObject {
	o := newModelObject(name)
	o.Parent = base
	return o
}

// modelsJSON is the body of GET /v1/models.
func modelsJSON(routes []Route) string {
	l := modelList{Object: "list", Data: []modelObject{}}
	for _, r := range routes {
		l.Data = append(l.Data, newModelObject(r.Name))
		for _, a := range r.Adapters {
			l.Data = append(l.Data, newAdapterObject(a, r.Name))
		}
	}
	return marshal(l)
}

// modelPlaceholder stands for the requested model's name in the prerendered 404 message; the
// Lua router splits the JSON there and inserts the JSON-escaped name.
const modelPlaceholder = "@@MODEL@@"

// errorBodies are the error bodies the gateway produces itself, as OpenAI-style JSON. They are
// fields, not map entries, so a template naming one that does not exist fails to render.
type errorBodies struct {
	BadJSON, NotObject, ModelType, ModelEmpty   string
	ModelUnknown, ModelUnknownGeneric           string
	Unauthorized, Method, NotFound, BadRequest  string
	TooLarge, Internal, BadGateway, Unavailable string
	Overloaded, Timeout                         string
	ModelUnavailable, BodyMemory                string
}

// byField returns every body by its field name (for tests and checks over all of them).
func (e errorBodies) byField() map[string]string {
	v := reflect.ValueOf(e)
	out := make(map[string]string, v.NumField())
	for i := range v.NumField() {
		out[v.Type().Field(i).Name] = v.Field(i).String()
	}
	return out
}

// gatewayErrors are the error bodies for p.
func gatewayErrors(p Params) errorBodies {
	names := make([]string, len(p.Routes))
	for i, r := range p.Routes {
		names[i] = r.Name
	}
	invalid := func(msg string, param, code *string) string {
		return errorJSON(apiError{Message: msg, Type: "invalid_request_error", Param: param, Code: code})
	}
	server := func(msg, code string) string {
		return errorJSON(apiError{Message: msg, Type: "server_error", Code: ptr(code)})
	}
	return errorBodies{
		BadJSON:    invalid("The request body is not valid JSON.", nil, ptr("invalid_json")),
		NotObject:  invalid("The request body must be a JSON object.", nil, ptr("invalid_json")),
		ModelType:  invalid("The 'model' field must be a string.", ptr("model"), ptr("invalid_type")),
		ModelEmpty: invalid("The 'model' field must not be empty.", ptr("model"), ptr("invalid_value")),
		ModelUnknown: invalid(fmt.Sprintf("The model '%s' does not exist. Available models: %s.",
			modelPlaceholder, strings.Join(names, ", ")), ptr("model"), ptr("model_not_found")),
		ModelUnknownGeneric: invalid(fmt.Sprintf("The requested model does not exist. Available models: %s.",
			strings.Join(names, ", ")), ptr("model"), ptr("model_not_found")),
		Unauthorized: invalid("Missing or invalid API key. Send it as 'Authorization: Bearer <key>'.",
			nil, ptr("invalid_api_key")),
		Method: invalid("Method not allowed; use GET.", nil, ptr("method_not_allowed")),
		NotFound: invalid(fmt.Sprintf("Not found. This gateway serves the OpenAI API under /v1/ and its health check at %s.",
			HealthPath), nil, ptr("not_found")),
		BadRequest: invalid("Malformed HTTP request.", nil, ptr("bad_request")),
		TooLarge: invalid(fmt.Sprintf("The request body is larger than the gateway's limit of %d bytes.", p.MaxBodySize),
			nil, ptr("request_too_large")),
		Internal:    server("The gateway failed to handle the request.", "internal_error"),
		BadGateway:  server("The model server is unreachable or closed the connection.", "bad_gateway"),
		Unavailable: server("The model server is unavailable.", "service_unavailable"),
		// Past MaxStreams. The type names the condition rather than the generic server_error,
		// so clients can tell "retry later" (with Retry-After) from a failure.
		Overloaded: errorJSON(apiError{
			Message: fmt.Sprintf("The gateway is at its limit of %d concurrent requests; retry after %d seconds.",
				p.MaxStreams, OverloadRetryAfter),
			Type: "server_overloaded", Code: ptr("server_overloaded"),
		}),
		Timeout: server(fmt.Sprintf("The model server did not respond within %s.", nginxDuration(p.ProxyTimeout)),
			"upstream_timeout"),
		// The request bodies the pod holds are at their budget (Params.BodyBudget).
		BodyMemory: errorJSON(apiError{
			Message: fmt.Sprintf("The gateway holds as many request bodies as its memory allows (%d MiB beyond %d KiB each); retry after %d seconds.",
				p.BodyBudget()>>20, StreamBodyAllowance>>10, OverloadRetryAfter),
			Type: "server_overloaded", Code: ptr("server_overloaded"),
		}),
		// A model with replica endpoints and none ready (scaled to zero, all restarting).
		ModelUnavailable: server(fmt.Sprintf("The model has no ready replica right now; retry after %d seconds.",
			UnavailableRetryAfter), "model_unavailable"),
	}
}

// nginxErrorPages: status nginx itself may produce -> its body. Each gets an
// `error_page <status> = @gw_<status>` named location answering the JSON body; responses from
// the model servers are never intercepted (proxy_intercept_errors stays off).
var nginxErrorPages = []struct {
	Status int
	Body   func(errorBodies) string
}{
	{400, func(e errorBodies) string { return e.BadRequest }},
	{413, func(e errorBodies) string { return e.TooLarge }},
	{500, func(e errorBodies) string { return e.Internal }},
	{502, func(e errorBodies) string { return e.BadGateway }},
	{503, func(e errorBodies) string { return e.Unavailable }},
	{504, func(e errorBodies) string { return e.Timeout }},
}

// limitConnStatus is what limit_conn answers past MaxStreams (limit_conn_status).
const limitConnStatus = 503
