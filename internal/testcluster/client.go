package testcluster

// The admin's client of the API server.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

// waitReady polls /readyz until the API server is ready (every post-start
// hook done: RBAC bootstrap roles, priority classes, system namespaces).
func (c *Cluster) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		status, body, err := c.Do(context.Background(), http.MethodGet, "/readyz", nil)
		if err == nil && status == http.StatusOK {
			return nil
		}
		if err != nil {
			last = err.Error()
		} else {
			last = fmt.Sprintf("%d: %s", status, body)
		}
		time.Sleep(250 * time.Millisecond)
	}
	return fmt.Errorf("kube-apiserver not ready after %s: %s", timeout, last)
}

// Do sends one request as the admin and returns the status and body.
func (c *Cluster) Do(ctx context.Context, method, path string, body []byte) (int, []byte, error) {
	return c.send(ctx, method, path, "application/json", body)
}

// Patch sends a JSON merge patch (RFC 7386) as the admin.
func (c *Cluster) Patch(ctx context.Context, path string, body []byte) (int, []byte, error) {
	return c.send(ctx, http.MethodPatch, path, "application/merge-patch+json", body)
}

func (c *Cluster) send(ctx context.Context, method, path, contentType string, body []byte) (int, []byte, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.URL+path, r)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	return resp.StatusCode, out, err
}
