package dnstest

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// resolver asks only srv, over UDP, the way the gateway's client does.
func resolver(srv *Server) *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", srv.Addr())
	}}
}

func lookup(t *testing.T, srv *Server, name string) ([]string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return resolver(srv).LookupHost(ctx, name)
}

func TestServerAnswersWhatWasSet(t *testing.T) {
	srv := New(t)
	const name = "qwen.llm.svc.cluster.local"
	srv.Set(name+".", []netip.Addr{netip.MustParseAddr("127.0.1.1"), netip.MustParseAddr("127.0.1.2")})
	got, err := lookup(t, srv, name+".")
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"127.0.1.1", "127.0.1.2"}, got)
	assert.Positive(t, srv.Queries("QWEN.llm.svc.cluster.local"), "names match case-insensitively")

	srv.Set(name, []netip.Addr{netip.MustParseAddr("127.0.1.3")})
	got, err = lookup(t, srv, name+".")
	require.NoError(t, err)
	assert.Equal(t, []string{"127.0.1.3"}, got)

	srv.Set(name, nil)
	_, err = lookup(t, srv, name+".")
	var dnsErr *net.DNSError
	require.True(t, errors.As(err, &dnsErr), "no records: %v", err)
	assert.True(t, dnsErr.IsNotFound)

	srv.Remove(name)
	_, err = lookup(t, srv, name+".")
	require.True(t, errors.As(err, &dnsErr), "NXDOMAIN: %v", err)
	assert.True(t, dnsErr.IsNotFound)
}

func TestServerFails(t *testing.T) {
	srv := New(t)
	srv.Set("a.example", []netip.Addr{netip.MustParseAddr("127.0.1.1")})
	srv.Fail(true)
	_, err := lookup(t, srv, "a.example.")
	var dnsErr *net.DNSError
	require.True(t, errors.As(err, &dnsErr), "%v", err)
	assert.False(t, dnsErr.IsNotFound)
	srv.Fail(false)
	got, err := lookup(t, srv, "a.example.")
	require.NoError(t, err)
	assert.Equal(t, []string{"127.0.1.1"}, got)
}

func TestServerManyAddresses(t *testing.T) {
	srv := New(t)
	var addrs []netip.Addr
	for i := 1; i <= 100; i++ {
		addrs = append(addrs, netip.AddrFrom4([4]byte{127, 0, 1, byte(i)}))
	}
	srv.Set("big.example", addrs)
	// Go's resolver sends EDNS0 with a 1232-byte payload, so it gets a truncated answer of
	// as many records as fit (and retries over TCP, which this server does not serve); the
	// raw answer is checked instead.
	q := []byte{0xab, 0xcd, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0,
		3, 'b', 'i', 'g', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0, 0, 1, 0, 1}
	resp, ok := srv.answer(q)
	require.True(t, ok)
	assert.LessOrEqual(t, len(resp), 512)
	assert.NotZero(t, resp[2]&0x02, "TC bit set")
}
