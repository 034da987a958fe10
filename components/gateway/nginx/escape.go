// Escaping and quoting for nginx directives and Lua string literals.

package nginx

import (
	"fmt"
	"strings"
	"time"
)

func nginxDuration(d time.Duration) string {
	if d%time.Second == 0 {
		return fmt.Sprintf("%ds", d/time.Second)
	}
	return fmt.Sprintf("%dms", d.Milliseconds())
}

// nginxQuote single-quotes s for nginx.conf. Text of `return` is a complex value, where '$'
// would start a variable: it must not occur (our prerendered bodies never contain one).
func nginxQuote(s string) (string, error) {
	if strings.ContainsRune(s, '$') {
		return "", fmt.Errorf("gateway: %q cannot be embedded in nginx.conf ('$')", s)
	}
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`)
	return "'" + r.Replace(s) + "'", nil
}

// luaString renders s as a Lua double-quoted string literal: '"' and '\' are escaped and every
// byte outside printable ASCII becomes a three-digit decimal escape, so any byte sequence
// (including "]]", quotes, backslashes, newlines) round-trips exactly.
func luaString(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c >= 0x7f:
			fmt.Fprintf(&b, "\\%03d", c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}
