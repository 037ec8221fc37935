package sources

import (
	"bytes"
	"errors"
	"strings"

	"github.com/valyala/fastjson"
)

// strN returns the bytes of a string field, nil for null or absent, and an
// error for other types or values longer than max. The bytes are a view
// into the parser's buffer.
func strN(v *fastjson.Value, field string, max int) ([]byte, error) {
	switch v.Type() {
	case fastjson.TypeString:
		b, _ := v.StringBytes()
		if len(b) > max {
			return nil, errLen(field, len(b), max)
		}
		return b, nil
	case fastjson.TypeNull:
		return nil, nil
	}
	return nil, errField(field, "not a string")
}

// idStr is strN for a field that is part of an entity id or routing key:
// see checkID.
func idStr(v *fastjson.Value, field string, max int) ([]byte, error) {
	b, err := strN(v, field, max)
	if err == nil {
		err = checkID(b, max, field)
	}
	return b, err
}

// freeText returns a free-text string field cut to maxFreeText.
func freeText(v *fastjson.Value, field string) ([]byte, error) {
	switch v.Type() {
	case fastjson.TypeString:
		b, _ := v.StringBytes()
		return truncateUTF8(b, maxFreeText), nil
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

// maxErrText bounds the parser's message in a DecodeError: fastjson's
// repeat themselves for each level of nesting.
const maxErrText = 200

// errJSON is the failure of an element that is not JSON.
func errJSON(err error) error {
	// fastjson's messages quote the input ("unparsed tail", "unexpected
	// value found"); a reason never quotes a record, so only what failed
	// is kept.
	msg := err.Error()
	if i := strings.IndexAny(msg, "\";"); i >= 0 {
		msg = strings.TrimRight(msg[:i], " :")
	}
	if len(msg) > maxErrText {
		msg = string(truncateUTF8([]byte(msg), maxErrText)) + "..."
	}
	return &fieldError{field: "json", msg: msg, err: err}
}

// errEmpty is the failure of a record holding nothing but whitespace:
// it yields no event, and must still be counted and dead-lettered.
var errEmpty = errors.New("empty record")

// Sizes of what a fastjson.Parser keeps per value, for parserGrew: a Value
// and, per object member, a kv (a string and a pointer); per array element
// a pointer.
const (
	fastjsonValueSize = 80
	fastjsonKVSize    = 24
	// parserCheckSize is the smallest input parserGrew walks: below it
	// the parser cannot have grown past keepBuffer (at most one value per
	// two bytes of input, 184 KiB at most).
	parserCheckSize = 4 << 10
)

// parserGrew reports whether parsing b into v left the parser holding more
// than keepBuffer: it keeps a copy of its input and a cache of values
// sized for the largest document parsed, for good. Typical events are
// below parserCheckSize and cost nothing here.
//
// v is nil when the parse failed: then what the parser grew cannot be
// told, and any input past parserCheckSize counts.
func parserGrew(b []byte, v *fastjson.Value) bool {
	if len(b) < parserCheckSize {
		return false
	}
	if len(b) > keepBuffer || v == nil {
		return true
	}
	return len(b)+parserFootprint(v) > keepBuffer
}

// parserFootprint estimates the parser's cache for v.
func parserFootprint(v *fastjson.Value) int {
	n := fastjsonValueSize
	switch v.Type() {
	case fastjson.TypeObject:
		o, _ := v.Object()
		n += o.Len() * fastjsonKVSize
		o.Visit(func(_ []byte, v *fastjson.Value) { n += parserFootprint(v) })
	case fastjson.TypeArray:
		a, _ := v.Array()
		n += len(a) * 8
		for _, e := range a {
			n += parserFootprint(e)
		}
	}
	return n
}
