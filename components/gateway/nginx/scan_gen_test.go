package nginx

import (
	"math/rand"
	"strings"
)

// Bodies for the differential test of the scanner: JSON documents shaped like API requests, with
// the members the router reads written every way JSON allows (escaped keys and values, surrogate
// pairs, duplicates, any type, whitespace anywhere), and their mutations (bytes flipped, inserted,
// deleted, cut, repeated), which make most of them invalid in every way there is to be.

type jsonGen struct{ r *rand.Rand }

func newJSONGen(seed int64) *jsonGen { return &jsonGen{r: rand.New(rand.NewSource(seed))} }

func (g *jsonGen) pick(xs ...string) string { return xs[g.r.Intn(len(xs))] }

// bodies returns n bodies: half well-formed, half mutations of well-formed ones.
func (g *jsonGen) bodies(n int) []string {
	out := make([]string, n)
	for i := range out {
		body := g.top()
		if i%2 != 0 {
			body = g.mutate(body)
		}
		out[i] = body
	}
	return out
}

func (g *jsonGen) top() string {
	switch g.r.Intn(20) {
	case 0:
		return g.ws()
	case 1, 2:
		return g.ws() + g.value(2) + g.ws()
	}
	return g.ws() + g.object(0) + g.ws()
}

// object writes an object; at depth 0 its members are mostly the ones the router reads.
func (g *jsonGen) object(depth int) string {
	var b strings.Builder
	b.WriteString("{" + g.ws())
	for i, n := 0, g.r.Intn(6); i < n; i++ {
		if i > 0 {
			b.WriteString(g.ws() + "," + g.ws())
		}
		key := g.key(depth)
		b.WriteString(key + g.ws() + ":" + g.ws())
		if depth == 0 && (strings.Contains(key, "od") || strings.Contains(key, "006D")) {
			b.WriteString(g.model())
		} else {
			b.WriteString(g.value(depth + 1))
		}
	}
	b.WriteString(g.ws() + "}")
	return b.String()
}

func (g *jsonGen) key(depth int) string {
	if depth == 0 && g.r.Intn(4) != 0 {
		return g.pick(`"model"`, `"model"`, `"mod\u0065l"`, `"\u006D\u006f\u0064\u0065\u006c"`, `"messages"`,
			`"mess\u0061ges"`, `"prompt"`, `"user"`, `"us\u0065r"`, `"model "`, `"Model"`, `"model\u0000"`, `"modelx"`)
	}
	return g.str()
}

func (g *jsonGen) model() string {
	switch g.r.Intn(10) {
	case 0:
		return g.value(1)
	case 1, 2:
		return g.pick(`null`, `""`, `""`, `42`, `true`, `false`, `[]`, `{}`, `-0.5e3`)
	case 3:
		return `"` + strings.Repeat("m", 250+g.r.Intn(520)) + `"` // near and past the longest name
	}
	return g.pick(`"a"`, `"qwen3-0.6b"`, `"\u0071wen3-0.6b"`, `"meta-llama\/Llama"`, `"b\ud83d\ude00"`,
		`"tab\tquote\"back\\slash"`, g.str())
}

func (g *jsonGen) value(depth int) string {
	if depth > 6 {
		return g.scalar()
	}
	switch g.r.Intn(10) {
	case 0, 1:
		return g.object(depth)
	case 2, 3:
		var b strings.Builder
		b.WriteString("[" + g.ws())
		for i, n := 0, g.r.Intn(5); i < n; i++ {
			if i > 0 {
				b.WriteString(g.ws() + "," + g.ws())
			}
			b.WriteString(g.value(depth + 1))
		}
		return b.String() + g.ws() + "]"
	}
	return g.scalar()
}

func (g *jsonGen) scalar() string {
	switch g.r.Intn(6) {
	case 0:
		return g.pick("true", "false", "null")
	case 1, 2:
		return g.number()
	}
	return g.str()
}

// number writes a number, sometimes one of the forms only C's strtod or nobody accepts.
func (g *jsonGen) number() string {
	if g.r.Intn(3) == 0 {
		return g.pick("0", "-0", "1.", "-.5", ".5", "01", "-01", "00", "1e", "1e+", "1E+05", "1.e5", "-1.5e-7",
			"+1", "0x1F", "0X1", "1.5.2", "Infinity", "-Infinity", "NaN", "nan", "-", "1x", "1e5.2", "-0.0",
			"123456789012345678901234567890", "1e999", "2.5E", "0e", "-e1", "4.")
	}
	s := ""
	if g.r.Intn(3) == 0 {
		s = "-"
	}
	s += strings.TrimLeft(digits(g.r, 1+g.r.Intn(6)), "0")
	if s == "" || s == "-" {
		s += "0"
	}
	if g.r.Intn(3) == 0 {
		s += "." + digits(g.r, 1+g.r.Intn(4))
	}
	if g.r.Intn(4) == 0 {
		s += g.pick("e", "E", "e+", "e-") + digits(g.r, 1+g.r.Intn(3))
	}
	return s
}

func digits(r *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + r.Intn(10))
	}
	return string(b)
}

// str writes a string literal of pieces: plain text, every escape (valid or not), raw control
// bytes, UTF-8 valid or not, and rarely a NUL.
func (g *jsonGen) str() string {
	var b strings.Builder
	b.WriteByte('"')
	for i, n := 0, g.r.Intn(8); i < n; i++ {
		switch g.r.Intn(12) {
		case 0:
			b.WriteString(g.pick(`\"`, `\\`, `\/`, `\b`, `\f`, `\n`, `\r`, `\t`, `\u00e9`, `\u0000`, `\uD83D\uDE00`,
				`\ud800\udc00`, `\uffff`, `\u20AC`))
		case 1:
			b.WriteString(g.pick(`\x`, `\u12`, `\uZZZZ`, `\ud800`, `\udc00`, `\ud800\u0041`, `\ud800x`, `\U0041`, `\`,
				`\'`, `\ud800\ud800`))
		case 2:
			b.WriteString(g.pick("\x01", "\t", "\n", "\x1f", "\x7f", "é", "😀", "\xff", "\xc0\xaf", "\xed\xa0\x80"))
		case 3:
			if g.r.Intn(10) == 0 {
				b.WriteByte(0)
			}
		case 4:
			b.WriteString(strings.Repeat(g.pick("ab", `\n`, " "), 1+g.r.Intn(40)))
		default:
			b.WriteString(g.pick("a", "model", "messages", "user", "x y", "0", "{", "}", "[", "]", ":", ","))
		}
	}
	b.WriteByte('"')
	return b.String()
}

// ws writes whitespace: mostly none or JSON's four, sometimes what JSON does not allow.
func (g *jsonGen) ws() string {
	switch g.r.Intn(12) {
	case 0, 1, 2:
		return g.pick(" ", "\t", "\n", "\r", "\r\n  ", " \t")
	case 3:
		if g.r.Intn(8) == 0 {
			return g.pick("\f", "\v", "\xc2\xa0", "\x00")
		}
	}
	return ""
}

// mutate changes one to three places of body.
func (g *jsonGen) mutate(body string) string {
	b := []byte(body)
	for i, n := 0, 1+g.r.Intn(3); i < n; i++ {
		at := 0
		if len(b) > 0 {
			at = g.r.Intn(len(b) + 1)
		}
		pieces := []string{"{", "}", "[", "]", ":", ",", `"`, `\`, "0", "-", ".", "e", " ", "\x00", "\xff", "n",
			"t", `\u`, `"model"`, `"model":"b"`, "1.", "/"}
		switch g.r.Intn(6) {
		case 0: // replace a byte
			if at < len(b) {
				b[at] = pieces[g.r.Intn(len(pieces))][0]
			}
		case 1: // insert
			b = append(b[:at], append([]byte(pieces[g.r.Intn(len(pieces))]), b[at:]...)...)
		case 2: // delete a few bytes
			end := min(len(b), at+1+g.r.Intn(3))
			b = append(b[:at], b[end:]...)
		case 3: // cut
			b = b[:at]
		case 4: // repeat a piece
			end := min(len(b), at+1+g.r.Intn(12))
			b = append(b[:end], append(append([]byte{}, b[at:end]...), b[end:]...)...)
		default: // a random byte anywhere
			b = append(b[:at], append([]byte{byte(g.r.Intn(256))}, b[at:]...)...)
		}
	}
	return string(b)
}

// scanEdgeCases are the bodies the issue names and the corners of cjson's reading, each compared
// on every run.
func scanEdgeCases() []string {
	prompt := strings.Repeat("lorem ipsum dolor ", 3<<20/18)
	nest := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	cases := []string{
		"", " ", " \t\r\n ", "\x00", "\x00\x00", " \x00", "1\x00", "{}\x00", `{"model":"a"}` + "\x00junk", "{\x00}",
		`{"model":"a"}`, `{"model":"a","model":"b"}`, `{"model":"a","model":null}`, `{"model":null,"model":"b"}`,
		`{"model":"a","model":1}`, `{"mod\u0065l":"\u0061"}`, `{"model":"\ud83d\ude00"}`, `{"model":"\ud83d"}`,
		`{"model":"\ude00"}`, `{"model":"\ud83d\u0041"}`, `{"model":"a\u0000b"}`, "{\"model\":\"a\x00b\"}",
		"{\"model\":\"raw\x01\x1f\tcontrol\"}", "{\"model\":\"bad\xff\xfeutf8\"}", `{"model":""}`, `{"model":" "}`,
		`{"model":1}`, `{"model":1.}`, `{"model":-.5}`, `{"model":.5}`, `{"model":01}`, `{"model":-0}`,
		`{"model":true}`, `{"model":false}`, `{"model":null}`, `{"model":[]}`, `{"model":{}}`, `{"model":tru}`,
		`{"model":nul}`, `{"model":NaN}`, `{"model":-Infinity}`, `{"model":0x10}`, `{"model":1e}`, `{"model":1e+}`,
		`[{"model":"a"}]`, `[]`, `"a"`, `42`, `null`, `true`, `{"model":"a",}`, `{"model" "a"}`, `{model:"a"}`,
		`{"model":"a"`, `{"model":"a`, `{"model":`, `{"model"`, `{"`, `{`, `}`, `{"model":"a"}}`, `{"a":[}`,
		`{"a":{]}`, `{"a":[1,]}`, `{"a":[,1]}`, `{,}`, `{"a":1 "b":2}`, `{"model":"\x"}`, `{"model":"\u12"}`,
		"\f{}", "{}\v", "\xc2\xa0{}", `{"model":"a"}` + " \t\r\n", `{"user":"u","model":"a","user":"v"}`,
		`{"user":1,"model":"a"}`, `{"user":"` + strings.Repeat("u", 600) + `","model":"a"}`,
		`{"us\u0065r":"\u0075","model":"a"}`, `{"model":"` + strings.Repeat("m", 512) + `"}`,
		`{"model":"` + strings.Repeat("m", 513) + `"}`, `{"model":"` + strings.Repeat(`\u006d`, 513) + `"}`,
		`{"model":"` + strings.Repeat("é", 256) + `"}`,
		// model anywhere: first, last, after a 3 MiB prompt; nesting at and past cjson's limit.
		`{"model":"b","messages":[{"role":"user","content":"` + prompt + `"}]}`,
		`{"messages":[{"role":"user","content":"` + prompt + `"}],"model":"b"}`,
		`{"prompt":"` + strings.ReplaceAll(prompt, "lorem", `\"lorem\"\n`) + `","model":"b"}`,
		`{"model":"a","x":` + nest(998) + `}`, `{"model":"a","x":` + nest(999) + `}`, nest(1000), nest(1001),
		`{"model":"a","x":` + strings.Repeat(`{"a":`, 999) + "1" + strings.Repeat("}", 999) + `}`,
		`{"model":"a","x":[` + strings.Repeat("{},", 100000) + `{}]}`,
		`{"model":"a","x":[` + strings.Repeat("0,", 100000) + `0]}`,
		`{"model":"a","x":"` + strings.Repeat(`\n`, 100000) + `"}`,
	}
	return cases
}
