package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func request(path string) []byte {
	return []byte("GET " + path + " HTTP/1.1\r\nHost: bench\r\n\r\n")
}

// TestClientReadsEveryFraming: a sized body, a chunked body and a closing connection are each
// read whole, so the next request on the connection starts at a response boundary.
func TestClientReadsEveryFraming(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/sized":
			w.Header().Set("Content-Length", "5")
			_, _ = w.Write([]byte("hello"))
		case "/chunked":
			for range 3 {
				_, _ = w.Write([]byte(strings.Repeat("x", 100)))
				w.(http.Flusher).Flush()
			}
		case "/close":
			w.Header().Set("Connection", "close")
			w.WriteHeader(http.StatusTeapot)
			_, _ = w.Write([]byte("bye"))
		}
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")

	c, err := dial(addr)
	require.NoError(t, err)
	defer c.close()
	for _, path := range []string{"/sized", "/chunked", "/sized", "/chunked"} {
		status, keep, err := c.roundTrip(request(path))
		require.NoError(t, err, path)
		assert.Equal(t, http.StatusOK, status, path)
		assert.True(t, keep, "%s keeps the connection", path)
	}
	status, keep, err := c.roundTrip(request("/close"))
	require.NoError(t, err)
	assert.Equal(t, http.StatusTeapot, status)
	assert.False(t, keep, "Connection: close ends the connection")
}
