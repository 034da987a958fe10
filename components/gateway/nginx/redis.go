package nginx

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"
)

// Limits is where the counters live and what happens when that is unreachable.
type Limits struct {
	// Redis is "host:port" of the Redis-compatible server (a DNS name is resolved by dns.lua).
	Redis string
	// PasswordFile, when set, holds the password (a mounted Secret), sent with AUTH.
	PasswordFile string
	// FailClosed answers 503 while Redis is unreachable; false (fail-open) enforces each limit
	// locally at limit / (gateway pods seen).
	FailClosed bool
	// ConnectTimeout and ReadTimeout bound every exchange with Redis (0: the defaults).
	ConnectTimeout, ReadTimeout time.Duration
	// KeyPrefix starts every key the gateway keeps in Redis (the limits' counters and the pods'
	// check-ins): gateways that share one Redis count together only when they share the prefix
	// (empty: DefaultKeyPrefix). KeyPrefixProblem says which prefixes are accepted.
	KeyPrefix string
	// TLS, when set, speaks TLS to Redis and verifies its certificate: a managed Redis with
	// in-transit encryption (ElastiCache's auth token requires it) speaks nothing else.
	TLS *RedisTLS
}

// RedisTLS says which certificate the gateway accepts from Redis.
type RedisTLS struct {
	// CACert is the PEM of the CAs to trust (rendered as RedisCAFile); empty: the public CAs
	// of the image (SystemCAFile).
	CACert string
	// ServerName is the name Redis's certificate must carry, sent as SNI; empty: the host of
	// Limits.Redis. nginx checks it against the certificate's DNS names, or its common name
	// where it has none: an IP works for a certificate whose CN is that IP (Memorystore's).
	ServerName string
}

// SystemCAFile is the CA bundle of Debian (the openresty/openresty bookworm images install
// ca-certificates): the CAs a RedisTLS without CACert trusts.
const SystemCAFile = "/etc/ssl/certs/ca-certificates.crt"

// Problem says what is wrong with t: the field (caCert, serverName) and why; "" when nothing.
func (t RedisTLS) Problem() (field, why string) {
	if t.CACert != "" && !hasCertificates(t.CACert) {
		return "caCert", "is not PEM of one or more certificates (-----BEGIN CERTIFICATE-----)"
	}
	if t.ServerName != "" && net.ParseIP(t.ServerName) == nil {
		if msgs := validation.IsDNS1123Subdomain(t.ServerName); len(msgs) > 0 {
			return "serverName", fmt.Sprintf("%q is neither a DNS name nor an IP address (%s)", t.ServerName, strings.Join(msgs, "; "))
		}
	}
	return "", ""
}

// hasCertificates reports whether text is PEM with at least one certificate, and nothing else
// nginx would choke on.
func hasCertificates(text string) bool {
	rest, n := []byte(text), 0
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			return false
		}
		if _, err := x509.ParseCertificate(b.Bytes); err != nil {
			return false
		}
		n++
	}
	return n > 0 && len(bytes.TrimSpace(rest)) == 0
}

// DefaultKeyPrefix starts the Redis keys of a gateway whose Limits name no KeyPrefix.
const DefaultKeyPrefix = "llm:"

// maxKeyPrefix bounds KeyPrefix: every counter key and local key carries it. A project and a
// stack name of Pulumi's longest (100 each) and their separators fit.
const maxKeyPrefix = 256

// KeyPrefixProblem says what is wrong with a Redis key prefix ("" when nothing; empty is the
// default): at most 256 characters of letters, digits and . _ - : / (those of a Pulumi project
// and stack name, and separators), so it goes into the rendered Lua and the keys as it is,
// ending with ":" so that no prefix is another's start plus a key ("x" + "rl:..." is "xrl:").
func KeyPrefixProblem(prefix string) string {
	switch {
	case prefix == "":
		return ""
	case len(prefix) > maxKeyPrefix:
		return fmt.Sprintf("is %d characters; use at most %d", len(prefix), maxKeyPrefix)
	case !strings.HasSuffix(prefix, ":"):
		return fmt.Sprintf("%q must end with \":\" (the keys are <prefix>rl:<tenant>:...)", prefix)
	}
	for _, r := range prefix {
		if !keyPrefixRune(r) {
			return fmt.Sprintf("%q has %q; use letters, digits and . _ - : / only", prefix, r)
		}
	}
	return ""
}

func keyPrefixRune(r rune) bool {
	return r < 0x80 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._-:/", r))
}

// keyPrefix is the prefix the gateway's Redis keys start with.
func (l Limits) keyPrefix() string {
	if l.KeyPrefix == "" {
		return DefaultKeyPrefix
	}
	return l.KeyPrefix
}

// Defaults of Limits' timeouts: a request waits at most about their sum for Redis, or, on a new
// TLS connection, their sum and the connect timeout once more (it bounds the handshake too).
const (
	DefaultRedisConnectTimeout = 100 * time.Millisecond
	DefaultRedisReadTimeout    = 250 * time.Millisecond
	// RedisRetry is how often worker 0 checks a Redis found down (and refreshes the pods seen).
	RedisRetry = time.Second
	// PodSeenFor: a gateway pod that has not checked in for this long no longer counts.
	PodSeenFor = 5 * time.Second
	// BytesPerToken estimates a prompt's tokens from the request body at admission (about four
	// bytes of English text per token); the real count settles the difference at the end.
	BytesPerToken = 4
)
