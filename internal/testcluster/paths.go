package testcluster

import (
	"context"
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ObjectPath is the REST path of one object, found through the API server's
// discovery (so custom resources work as soon as their CRD is served):
// /api/v1/namespaces/llm/services/x, /apis/networking.istio.io/v1/namespaces/llm/virtualservices/y.
// An empty name gives the collection's path.
func (c *Cluster) ObjectPath(ctx context.Context, apiVersion, kind, namespace, name string) (string, error) {
	prefix := "/apis/" + apiVersion
	if !strings.Contains(apiVersion, "/") {
		prefix = "/api/" + apiVersion // the core group
	}
	var resources metav1.APIResourceList
	found, err := c.Get(ctx, prefix, &resources)
	if err != nil {
		return "", err
	}
	if !found {
		return "", fmt.Errorf("the API server does not serve %s", apiVersion)
	}
	for _, r := range resources.APIResources {
		if r.Kind != kind || strings.Contains(r.Name, "/") { // not a subresource
			continue
		}
		path := prefix
		if r.Namespaced {
			if namespace == "" {
				return "", fmt.Errorf("%s %s is namespaced: want a namespace", apiVersion, kind)
			}
			path += "/namespaces/" + namespace
		}
		path += "/" + r.Name
		if name != "" {
			path += "/" + name
		}
		return path, nil
	}
	return "", fmt.Errorf("the API server serves no kind %s in %s", kind, apiVersion)
}
