// Package apiserver holds the end-to-end test of the whole program against a
// real Kubernetes API server (internal/testcluster): the real Pulumi engine
// and Kubernetes provider apply every object, the API server validates it
// (built-in types and the Istio and Argo CD CRDs' schemas and CEL rules), and
// the test reads the objects back. It has no code of its own; see
// e2e_test.go.
package apiserver
