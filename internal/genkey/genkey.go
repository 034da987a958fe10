// Package genkey makes the secrets the program generates itself (session keys, passwords): 32
// random bytes from crypto/rand, hex-encoded, so a value is safe in a URL and a config file
// without escaping.
//
// pulumi-random would keep a generated value in state on its own, but its Go SDK is not served
// by the module proxy this project builds from, and its provider plugin would be one more
// download for every cluster the component package deploys to. Callers keep a generated value
// stable instead: they give it to a resource that ignores later changes to it and read the kept
// value back from that resource's outputs.
package genkey

import (
	"crypto/rand"
	"encoding/hex"
)

// Hex returns 32 random bytes as 64 hex characters.
func Hex() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}
