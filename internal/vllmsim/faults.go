package vllmsim

// A replica's faults and drain: what it does to connections and requests before the API
// answers them.

import (
	"net"
	"net/http"
	"time"
)

// FaultMode is how a replica misbehaves, for the gateway's failure tests.
type FaultMode int

const (
	FaultNone FaultMode = iota
	// FaultRefuse closes the listener and every open connection: new connections are refused
	// (a pod that is gone).
	FaultRefuse
	// FaultResetOnAccept accepts each connection and resets it at once (RST, nothing read).
	FaultResetOnAccept
	// FaultResetAfterRequest reads the whole request, then resets the connection without an
	// answer (the request reached vLLM: a proxy must not retry it).
	FaultResetAfterRequest
)

// Fault is a replica's misbehaviour; Delay (added before a request is handled) combines with
// any mode.
type Fault struct {
	Mode  FaultMode
	Delay time.Duration
}

// SetFault changes how the replica behaves from now on. Switching to a reset or refuse mode
// also drops the connections already open (a proxy's idle keep-alive connections included).
func (r *Replica) SetFault(f Fault) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fault = f
	if f.Mode == FaultRefuse || f.Mode == FaultResetOnAccept {
		for c := range r.conns {
			resetConn(c)
		}
	}
	switch {
	case f.Mode == FaultRefuse && r.ln != nil:
		_ = r.ln.Close()
		r.ln = nil
	case f.Mode != FaultRefuse && r.ln == nil:
		ln, err := net.Listen("tcp", r.addr)
		if err != nil {
			return err
		}
		r.serve(ln)
	}
	return nil
}

func (r *Replica) currentFault() Fault {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.fault
}

// faultListener resets connections at accept time in FaultResetOnAccept mode.
type faultListener struct {
	net.Listener
	r *Replica
}

func (l *faultListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.r.currentFault().Mode == FaultResetOnAccept {
			resetConn(c)
			continue
		}
		return c, nil
	}
}

// resetConn closes c with an RST instead of a FIN.
func resetConn(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}

// admit applies the replica's state before a request is handled: a draining replica answers
// 503, a fault resets the connection or delays the request. False when the request goes no
// further.
func (r *Replica) admit(w http.ResponseWriter, req *http.Request) bool {
	if r.draining.Load() {
		apiError(w, http.StatusServiceUnavailable, "ServiceUnavailableError", "the server is shutting down")
		return false
	}
	f := r.currentFault()
	if f.Mode == FaultResetAfterRequest {
		if c, _, err := http.NewResponseController(w).Hijack(); err == nil {
			resetConn(c)
		}
		return false
	}
	if f.Delay > 0 {
		select {
		case <-time.After(f.Delay):
		case <-req.Context().Done():
			return false
		}
	}
	return true
}
