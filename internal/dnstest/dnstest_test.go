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
	"golang.org/x/net/dns/dnsmessage"
)

// resolver asks only srv, over UDP the way the gateway's client does (or, withTCP, over
// whatever Go's resolver asks for: TCP after a truncated answer).
func resolver(srv *Server, withTCP ...bool) *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		if len(withTCP) == 0 || !withTCP[0] {
			network = "udp"
		}
		var d net.Dialer
		return d.DialContext(ctx, network, srv.Addr())
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
	// Over UDP without EDNS0 the answer is cut to 512 bytes (TC); Go's resolver would retry
	// over TCP, so the raw answer is checked here.
	q := []byte{0xab, 0xcd, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0,
		3, 'b', 'i', 'g', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0, 0, 1, 0, 1}
	resp, ok := srv.answer(q, 0)
	require.True(t, ok)
	assert.LessOrEqual(t, len(resp), 512)
	assert.NotZero(t, resp[2]&0x02, "TC bit set")
}

// Go's resolver retries a truncated UDP answer over TCP, on the same port: the whole answer.
func TestServerAnswersWholeOverTCP(t *testing.T) {
	srv := New(t)
	var addrs []netip.Addr
	for i := 1; i <= 200; i++ {
		addrs = append(addrs, netip.AddrFrom4([4]byte{127, 0, 2, byte(i)}))
	}
	srv.Set("big.example", addrs)
	r := resolver(srv, true)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got, err := r.LookupHost(ctx, "big.example.")
	require.NoError(t, err)
	assert.Len(t, got, 200, "every record, over TCP")

	srv.SetTCP(false)
	_, err = r.LookupHost(ctx, "big.example.")
	assert.Error(t, err, "TCP refused: the truncated UDP answer is all there is")
}

func TestServerUDPFaults(t *testing.T) {
	srv := New(t)
	srv.Set("a.example", []netip.Addr{netip.MustParseAddr("127.0.1.1"), netip.MustParseAddr("127.0.1.2")})
	q := []byte{0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 'a', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0, 0, 1, 0, 1}
	exchange := func() [][]byte {
		c, err := net.Dial("udp", srv.Addr())
		require.NoError(t, err)
		defer c.Close()
		_, err = c.Write(q)
		require.NoError(t, err)
		var got [][]byte
		for {
			_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
			buf := make([]byte, 1500)
			n, err := c.Read(buf)
			if err != nil {
				return got
			}
			got = append(got, buf[:n])
		}
	}
	whole := exchange()
	require.Len(t, whole, 1)

	srv.SetUDPFault(UDPTruncateEmpty)
	got := exchange()
	require.Len(t, got, 1)
	assert.NotZero(t, got[0][2]&0x02, "TC")
	assert.Equal(t, []byte{0, 0}, got[0][6:8], "no records")

	srv.SetUDPFault(UDPTruncateMidRecord)
	got = exchange()
	require.Len(t, got, 1)
	assert.NotZero(t, got[0][2]&0x02, "TC")
	assert.Equal(t, []byte{0, 2}, got[0][6:8], "the records are announced")
	assert.Less(t, len(got[0]), len(whole[0]), "but cut short")
	var p dnsmessage.Parser
	_, err := p.Start(got[0])
	require.NoError(t, err)
	require.NoError(t, p.SkipAllQuestions())
	_, err = p.AllAnswers()
	assert.Error(t, err, "cut inside a record")

	srv.SetUDPFault(UDPGarbage)
	got = exchange()
	require.Len(t, got, 2)
	assert.Equal(t, q[:2], got[0][:2], "garbage that carries the query's id")
	p = dnsmessage.Parser{}
	_, err = p.Start(got[0])
	if err == nil {
		_, err = p.AllQuestions()
	}
	assert.Error(t, err)

	srv.SetUDPFault(UDPSilent)
	assert.Empty(t, exchange())
	assert.Equal(t, 5, srv.Queries("a.example"), "every query was read")
}
