package sources

import (
	"bytes"

	"github.com/valyala/fastjson"
)

// maxField bounds every string field a decoder keeps. Fields are
// attacker-influenced (a user agent is whatever the caller sends), and one
// oversized value must not bloat every profile it lands in.
const maxField = 8 << 10

// str returns the bytes of a string field, nil for null or absent, and an
// error for other types or values longer than maxField. The bytes are a
// view into the parser's buffer.
func str(v *fastjson.Value, field string) ([]byte, error) {
	switch v.Type() {
	case fastjson.TypeString:
		b, _ := v.StringBytes()
		if len(b) > maxField {
			return nil, errField(field, "too long (%d bytes)", len(b))
		}
		return b, nil
	case fastjson.TypeNull:
		return nil, nil
	}
	return nil, errField(field, "not a string")
}

// boolish reads a boolean that some producers write as "true"/"false".
func boolish(v *fastjson.Value, field string) (val, present bool, err error) {
	switch v.Type() {
	case fastjson.TypeTrue:
		return true, true, nil
	case fastjson.TypeFalse:
		return false, true, nil
	case fastjson.TypeNull:
		return false, false, nil
	case fastjson.TypeString:
		b, _ := v.StringBytes()
		switch {
		case bytes.EqualFold(b, []byte("true")):
			return true, true, nil
		case bytes.EqualFold(b, []byte("false")):
			return false, true, nil
		}
	}
	return false, false, errField(field, "not a boolean")
}

// objectOrNil returns v's object, nil for anything else: optional nested
// objects are read leniently.
func objectOrNil(v *fastjson.Value) *fastjson.Object {
	if v == nil || v.Type() != fastjson.TypeObject {
		return nil
	}
	o, _ := v.Object()
	return o
}

// nextLine returns the next non-blank line of data, trimmed, and the rest;
// skipped counts the lines consumed (blank ones included).
func nextLine(data []byte) (line, rest []byte, skipped int) {
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			line, data = data, nil
		} else {
			line, data = data[:i], data[i+1:]
		}
		skipped++
		if line = bytes.TrimSpace(line); len(line) > 0 {
			return line, data, skipped
		}
	}
	return nil, nil, skipped
}

// isJSONLines reports whether data, which did not parse as one JSON value,
// holds one value per line: at least two non-blank lines, and the first or
// second parses on its own. A pretty-printed document fails both tests, so
// its parse error is reported as is.
func isJSONLines(p *fastjson.Parser, data []byte) bool {
	first, rest, _ := nextLine(data)
	second, _, _ := nextLine(rest)
	if second == nil {
		return false
	}
	if _, err := p.ParseBytes(first); err == nil {
		return true
	}
	_, err := p.ParseBytes(second)
	return err == nil
}
