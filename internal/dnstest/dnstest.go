// Package dnstest is a tiny authoritative DNS server on loopback for tests and benchmarks: it
// answers A queries for the names it was given (the way a cluster DNS answers for a headless
// Service's ready pods), so the gateway's own DNS client can be pointed at it with
// GATEWAY_NAMESERVERS=<Addr()>.
//
//	srv, err := dnstest.Start("127.0.0.1:0")
//	defer srv.Close()
//	srv.Set("qwen.llm.svc.cluster.local", []netip.Addr{netip.MustParseAddr("127.0.1.1")})
//	env := "GATEWAY_NAMESERVERS=" + srv.Addr()
//
// Names are matched case-insensitively, with or without the trailing dot. A name that was
// never Set (or was Removed) answers NXDOMAIN; a name Set to no addresses answers NOERROR
// with no records (what a headless Service with no ready pod gives). Queries for other types
// (AAAA, ...) of a known name answer NOERROR with no records. UDP only; EDNS0 payload sizes
// are honoured, otherwise answers above 512 bytes are truncated (TC bit).
package dnstest

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

// DefaultTTL is the TTL, in seconds, of records set with Set.
const DefaultTTL = 1

// Server is a running DNS server.
type Server struct {
	conn *net.UDPConn
	done chan struct{}

	mu      sync.Mutex
	records map[string]record
	queries map[string]int
	failing bool
}

type record struct {
	ttl   uint32
	addrs []netip.Addr
}

// Start listens on addr (UDP, e.g. "127.0.0.1:0") and serves until Close.
func Start(addr string) (*Server, error) {
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, err
	}
	conn, err := net.ListenUDP("udp", ua)
	if err != nil {
		return nil, err
	}
	s := &Server{conn: conn, done: make(chan struct{}), records: map[string]record{}, queries: map[string]int{}}
	go s.serve()
	return s, nil
}

// New starts a server on 127.0.0.1:0 that is closed when the test ends.
func New(t testing.TB) *Server {
	t.Helper()
	s, err := Start("127.0.0.1:0")
	if err != nil {
		t.Fatalf("dnstest: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// Addr is the server's "ip:port", the value for GATEWAY_NAMESERVERS.
func (s *Server) Addr() string { return s.conn.LocalAddr().String() }

// Close stops the server.
func (s *Server) Close() {
	select {
	case <-s.done:
		return
	default:
	}
	close(s.done)
	_ = s.conn.Close()
}

// Set makes name answer addrs (IPv4 only) with DefaultTTL; nil or empty means no records.
func (s *Server) Set(name string, addrs []netip.Addr) { s.SetTTL(name, DefaultTTL, addrs) }

// SetTTL is Set with an explicit TTL in seconds.
func (s *Server) SetTTL(name string, ttl uint32, addrs []netip.Addr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.records[canonical(name)] = record{ttl: ttl, addrs: append([]netip.Addr(nil), addrs...)}
}

// Remove makes name answer NXDOMAIN.
func (s *Server) Remove(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.records, canonical(name))
}

// Fail makes every answer SERVFAIL while on is true (a broken cluster DNS).
func (s *Server) Fail(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failing = on
}

// Queries is how many queries (of any type) for name the server has received.
func (s *Server) Queries(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queries[canonical(name)]
}

func canonical(name string) string { return strings.ToLower(strings.TrimSuffix(name, ".")) + "." }

func (s *Server) serve() {
	buf := make([]byte, 65535)
	for {
		n, peer, err := s.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		if resp, ok := s.answer(buf[:n]); ok {
			_, _ = s.conn.WriteToUDPAddrPort(resp, peer)
		}
	}
}

// answer builds the response to one query; ok is false when the packet is not worth answering.
func (s *Server) answer(query []byte) (resp []byte, ok bool) {
	var p dnsmessage.Parser
	h, err := p.Start(query)
	if err != nil || h.Response {
		return nil, false
	}
	q, err := p.Question()
	if err != nil {
		return nil, false
	}
	_ = p.SkipAllQuestions()
	_ = p.SkipAllAnswers()
	_ = p.SkipAllAuthorities()
	limit := 512
	for {
		ah, err := p.AdditionalHeader()
		if err != nil {
			break
		}
		if ah.Type == dnsmessage.TypeOPT && int(ah.Class) > limit {
			limit = min(int(ah.Class), 65000)
		}
		if err := p.SkipAdditional(); err != nil {
			break
		}
	}

	name := canonical(q.Name.String())
	s.mu.Lock()
	s.queries[name]++
	rec, known := s.records[name]
	failing := s.failing
	s.mu.Unlock()

	rh := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired}
	var answers []dnsmessage.Resource
	switch {
	case failing:
		rh.RCode = dnsmessage.RCodeServerFailure
	case !known:
		rh.RCode = dnsmessage.RCodeNameError
	case q.Type == dnsmessage.TypeA && q.Class == dnsmessage.ClassINET:
		for _, a := range rec.addrs {
			if !a.Is4() {
				continue
			}
			answers = append(answers, dnsmessage.Resource{
				Header: dnsmessage.ResourceHeader{Name: q.Name, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET, TTL: rec.ttl},
				Body:   &dnsmessage.AResource{A: a.As4()},
			})
		}
	}
	for {
		resp, err = build(rh, q, answers)
		if err != nil {
			panic(fmt.Sprintf("dnstest: building an answer: %v", err))
		}
		if len(resp) <= limit || len(answers) == 0 {
			return resp, true
		}
		rh.Truncated = true
		answers = answers[:len(answers)-1]
	}
}

func build(h dnsmessage.Header, q dnsmessage.Question, answers []dnsmessage.Resource) ([]byte, error) {
	b := dnsmessage.NewBuilder(make([]byte, 0, 512), h)
	b.EnableCompression()
	if err := b.StartQuestions(); err != nil {
		return nil, err
	}
	if err := b.Question(q); err != nil {
		return nil, err
	}
	if err := b.StartAnswers(); err != nil {
		return nil, err
	}
	for _, a := range answers {
		if err := b.AResource(a.Header, *a.Body.(*dnsmessage.AResource)); err != nil {
			return nil, err
		}
	}
	return b.Finish()
}
