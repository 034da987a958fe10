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
// (AAAA, ...) of a known name answer NOERROR with no records. UDP and TCP on the same port;
// over UDP EDNS0 payload sizes are honoured, otherwise answers above 512 bytes are truncated
// (TC bit); over TCP answers are whole.
//
// Faults, for the gateway's failure tests: Fail (SERVFAIL), SetUDPFault (silence, truncation,
// garbage), SetTCP (refuse TCP), Close (the server is gone: UDP queries are refused).
package dnstest

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// DefaultTTL is the TTL, in seconds, of records set with Set.
const DefaultTTL = 1

// UDPFault is how the server misbehaves over UDP.
type UDPFault int

const (
	UDPNormal UDPFault = iota
	// UDPSilent reads queries and never answers (the client times out).
	UDPSilent
	// UDPTruncateEmpty answers with the TC bit set and no records.
	UDPTruncateEmpty
	// UDPTruncateMidRecord answers with the TC bit set and the packet cut in the middle of
	// its first record.
	UDPTruncateMidRecord
	// UDPGarbage answers a datagram that looks like an answer to the query (its id, the response
	// flags, one question and one record) but holds only 0xff bytes after that, then a second
	// datagram of random noise.
	UDPGarbage
)

// Server is a running DNS server.
type Server struct {
	conn *net.UDPConn
	tcp  net.Listener
	done chan struct{}

	mu       sync.Mutex
	records  map[string]record
	queries  map[string]int
	ids      map[string][]uint16
	failing  bool
	udpFault UDPFault
	noTCP    bool
}

type record struct {
	ttl   uint32
	addrs []netip.Addr
}

// Start listens on addr (UDP and TCP on the same port, e.g. "127.0.0.1:0") and serves until
// Close.
func Start(addr string) (*Server, error) {
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, err
	}
	var lastErr error
	for range 20 { // port 0: find a port free for both
		conn, err := net.ListenUDP("udp", ua)
		if err != nil {
			return nil, err
		}
		ln, err := net.Listen("tcp", conn.LocalAddr().String())
		if err != nil {
			_ = conn.Close()
			lastErr = err
			if ua.Port != 0 {
				break
			}
			continue
		}
		s := &Server{conn: conn, tcp: ln, done: make(chan struct{}), records: map[string]record{}, queries: map[string]int{}, ids: map[string][]uint16{}}
		go s.serve()
		go s.serveTCP()
		return s, nil
	}
	return nil, fmt.Errorf("dnstest: no port free for both UDP and TCP: %w", lastErr)
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

// Close stops the server; its port then refuses queries.
func (s *Server) Close() {
	select {
	case <-s.done:
		return
	default:
	}
	close(s.done)
	_ = s.conn.Close()
	_ = s.tcp.Close()
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

// IDs are the transaction ids of the queries for name, in arrival order.
func (s *Server) IDs(name string) []uint16 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]uint16(nil), s.ids[canonical(name)]...)
}

// SetUDPFault changes how UDP queries are answered from now on.
func (s *Server) SetUDPFault(f UDPFault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.udpFault = f
}

// SetTCP turns TCP answers on or off (off: each connection is closed at once).
func (s *Server) SetTCP(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.noTCP = !on
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
		s.mu.Lock()
		fault := s.udpFault
		s.mu.Unlock()
		for _, resp := range s.udpAnswers(buf[:n], fault) {
			_, _ = s.conn.WriteToUDPAddrPort(resp, peer)
		}
	}
}

// udpAnswers are the datagrams that answer query under fault.
func (s *Server) udpAnswers(query []byte, fault UDPFault) [][]byte {
	resp, ok := s.answer(query, 0)
	if !ok {
		return nil
	}
	switch fault {
	case UDPSilent:
		return nil
	case UDPTruncateEmpty, UDPTruncateMidRecord:
		return [][]byte{truncate(resp, fault == UDPTruncateMidRecord)}
	case UDPGarbage:
		junk := append([]byte{resp[0], resp[1], 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0}, make([]byte, 52)...)
		for i := 12; i < len(junk); i++ {
			junk[i] = 0xff
		}
		noise := make([]byte, 48)
		_, _ = rand.Read(noise)
		return [][]byte{junk, noise}
	}
	return [][]byte{resp}
}

// truncate sets resp's TC bit and either drops its records or cuts it inside the first one.
func truncate(resp []byte, midRecord bool) []byte {
	out := append([]byte(nil), resp...)
	out[2] |= 0x02
	end := 12
	for end < len(out) && out[end] != 0 { // the question's name
		end += 1 + int(out[end])
	}
	end += 5 // its terminator, type and class
	if midRecord && len(out) > end+8 {
		return out[:end+8] // the answer count stays: the record is cut after its TTL
	}
	binary.BigEndian.PutUint16(out[6:], 0)
	return out[:min(end, len(out))]
}

// serveTCP answers queries over TCP (two-byte length prefix, RFC 1035 4.2.2), whole.
func (s *Server) serveTCP() {
	for {
		c, err := s.tcp.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		go s.handleTCP(c)
	}
}

func (s *Server) handleTCP(c net.Conn) {
	defer c.Close()
	s.mu.Lock()
	refuse := s.noTCP
	s.mu.Unlock()
	if refuse {
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
		return
	}
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	var n uint16
	if binary.Read(c, binary.BigEndian, &n) != nil {
		return
	}
	query := make([]byte, n)
	if _, err := io.ReadFull(c, query); err != nil {
		return
	}
	resp, ok := s.answer(query, 65535)
	if !ok {
		return
	}
	_ = binary.Write(c, binary.BigEndian, uint16(len(resp)))
	_, _ = c.Write(resp)
}

// answer builds the response to one query, at most limit bytes (0: the query's EDNS0 payload
// size, else 512); ok is false when the packet is not worth answering.
func (s *Server) answer(query []byte, limit int) (resp []byte, ok bool) {
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
	if limit == 0 {
		limit = 512
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
	}

	name := canonical(q.Name.String())
	s.mu.Lock()
	s.queries[name]++
	s.ids[name] = append(s.ids[name], h.ID)
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
