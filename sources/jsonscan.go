package sources

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"
)

// maxDepth bounds JSON nesting, as fastjson does.
const maxDepth = 300

// syntaxError is malformed JSON found while scanning a stream. Past it the
// stream cannot be split into elements any more.
type syntaxError struct {
	msg string
	off int64
}

func (e *syntaxError) Error() string { return fmt.Sprintf("invalid JSON: %s at byte %d", e.msg, e.off) }

func (in *input) errSyntax(format string, args ...any) error {
	return &syntaxError{msg: fmt.Sprintf(format, args...), off: in.offset()}
}

// errEnd is the error for input that ends inside a value; a read error
// (gzip, the size limit) takes its place when there is one.
func (in *input) errEnd() error {
	if err := in.readErr(); err != nil {
		return err
	}
	return &syntaxError{msg: "unexpected end of input", off: in.offset()}
}

// skipWS skips whitespace and returns the next byte; ok is false at the
// end of the input.
func (in *input) skipWS() (c byte, ok bool) {
	for {
		for in.pos < in.n {
			switch c = in.buf[in.pos]; c {
			case ' ', '\t', '\r':
			case '\n':
				in.line++
			default:
				return c, true
			}
			in.pos++
		}
		if !in.fill() {
			return 0, false
		}
	}
}

// skipValue skips the value starting with c at pos. It checks strings,
// nesting and bracket pairing only: elements are validated by the parser,
// and values that are skipped need not be.
func (in *input) skipValue(c byte) error {
	switch c {
	case '"':
		return in.skipString()
	case '{', '[':
		return in.skipContainer()
	case ',', ':', ']', '}':
		return in.errSyntax("unexpected %q", c)
	}
	return in.skipScalar()
}

// skipString skips the string at pos.
func (in *input) skipString() error {
	in.pos++ // the opening quote
	for {
		rest := in.buf[in.pos:in.n]
		q := bytes.IndexByte(rest, '"')
		if q >= 0 {
			rest = rest[:q]
		}
		if b := bytes.IndexByte(rest, '\\'); b >= 0 {
			// Skip the escape and the byte it escapes.
			if in.pos+b+1 < in.n {
				in.pos += b + 2
				continue
			}
			in.pos = in.n
			if !in.fill() {
				return in.errEnd()
			}
			in.pos++
			continue
		}
		if q >= 0 {
			in.pos += q + 1
			return nil
		}
		in.pos = in.n
		if !in.fill() {
			return in.errEnd()
		}
	}
}

// skipContainer skips the object or array at pos.
func (in *input) skipContainer() error {
	var arrays [(maxDepth + 63) / 64]uint64 // one bit per level: an array?
	depth := 0
	for {
		if in.pos == in.n && !in.fill() {
			return in.errEnd()
		}
		switch c := in.buf[in.pos]; c {
		case '"':
			if err := in.skipString(); err != nil {
				return err
			}
			continue
		case '{', '[':
			if depth == maxDepth {
				return in.errSyntax("nesting deeper than %d", maxDepth)
			}
			bit := uint64(1) << (depth % 64)
			if c == '[' {
				arrays[depth/64] |= bit
			} else {
				arrays[depth/64] &^= bit
			}
			depth++
		case '}', ']':
			depth--
			if isArray := arrays[depth/64]&(1<<(depth%64)) != 0; isArray != (c == ']') {
				return in.errSyntax("unexpected %q", c)
			}
			if depth == 0 {
				in.pos++
				return nil
			}
		case '\n':
			in.line++
		}
		in.pos++
	}
}

// skipScalar skips a number or literal: up to the next delimiter. What it
// holds is left to the parser.
func (in *input) skipScalar() error {
	for {
		for in.pos < in.n {
			switch in.buf[in.pos] {
			case ' ', '\t', '\r', '\n', ',', ':', ']', '}', '[', '{', '"':
				return nil
			}
			in.pos++
		}
		if !in.fill() {
			return in.readErr()
		}
	}
}

// elem is one element found in a JSON stream.
type elem struct {
	b    []byte // its bytes; nil when err is set
	line int    // 1-based line it starts on
	top  bool   // a top-level value (a JSON line), not an array element
	err  error  // why it failed before parsing: too large, Records not an array
	raw  []byte // for the excerpt when err is set
}

// jsonStream splits a record into elements: the values of a JSON array,
// of the wrapper's array ({"Records":[...]}: its keys in any order, the
// others skipped), or values one after another (JSON lines, or one
// object). Only the element at hand is kept in the input's window, so a
// record of any size is split in the memory of its largest element.
//
// A syntax error ends the stream, except in JSON lines: a bad line fails
// on its own when the value it starts could not be completed and nothing
// of it was emitted.
type jsonStream struct {
	in *input
	// wrapper is the key whose array holds the elements in a top-level
	// object; "" when top-level objects are elements themselves.
	wrapper string
	emit    func(*elem)
	e       elem
	// values counts the top-level values.
	values int
}

// run splits the whole input and returns the error that ended it early.
func (s *jsonStream) run() error {
	in := s.in
	prevEnd := -1 // the line the previous top-level value ended on
	for {
		c, ok := in.skipWS()
		if !ok {
			return in.readErr()
		}
		s.values++
		startLine := in.line
		startOff := in.offset()
		in.mark = in.pos
		var err error
		recoverable := true // nothing of the value was emitted yet
		switch {
		case c == '[':
			in.mark = -1
			recoverable = false
			err = s.array()
		case c == '{' && s.wrapper != "":
			recoverable, err = s.object(startOff, startLine)
		default:
			if err = in.skipValue(c); err == nil {
				s.element(startOff, startLine, true)
			}
		}
		if err != nil {
			if rerr := in.readErr(); rerr != nil {
				return rerr
			}
			if recoverable && (prevEnd < 0 || startLine > prevEnd) && s.skipBadLine(startOff, startLine, prevEnd >= 0, err) {
				return s.runLines()
			}
			return err
		}
		in.mark = -1
		prevEnd = in.line
	}
}

// runLines splits the rest of the input as JSON lines, once a bad line has
// shown it is: each line on its own, so that a line that is not whole JSON
// fails alone and costs one reading. (Scanning each value to its end, as
// run does, could read up to MaxElement bytes for every bad line.) A line
// longer than MaxElement fails as too large, even if it is a wrapper.
func (s *jsonStream) runLines() error {
	in := s.in
	var sub input
	ls := jsonStream{in: &sub, wrapper: s.wrapper, emit: s.emit}
	for {
		line, lineNo, size, ok := in.nextLine()
		if !ok {
			return in.readErr()
		}
		s.values++
		if line == nil {
			s.fail(errElement("element", size, in.max), in.kept(), lineNo-1, true)
			continue
		}
		sub = input{buf: line, n: len(line), err: io.EOF, mark: -1, max: in.max, line: lineNo - 1}
		if err := ls.run(); err != nil {
			s.fail(errJSON(err), line, lineNo-1, true)
		}
	}
}

// element emits the element from startOff to pos.
func (s *jsonStream) element(startOff int64, line int, top bool) {
	in := s.in
	s.e = elem{line: line + 1, top: top}
	if size := in.offset() - startOff; size > int64(in.max) {
		s.e.err, s.e.raw = errElement("element", size, in.max), in.kept()
	} else {
		s.e.b = in.buf[in.mark:in.pos]
	}
	in.mark = -1
	s.emit(&s.e)
}

// fail emits a failed element.
func (s *jsonStream) fail(err error, raw []byte, line int, top bool) {
	s.e = elem{line: line + 1, top: top, err: err, raw: raw}
	s.emit(&s.e)
}

// array emits the elements of the array at pos.
func (s *jsonStream) array() error {
	in := s.in
	in.pos++ // '['
	c, ok := in.skipWS()
	if !ok {
		return in.errEnd()
	}
	if c == ']' {
		in.pos++
		return nil
	}
	for {
		line, start := in.line, in.offset()
		in.mark = in.pos
		if err := in.skipValue(c); err != nil {
			return err
		}
		s.element(start, line, false)
		if c, ok = in.skipWS(); !ok {
			return in.errEnd()
		}
		switch c {
		case ']':
			in.pos++
			return nil
		case ',':
			in.pos++
			if c, ok = in.skipWS(); !ok {
				return in.errEnd()
			}
		default:
			return in.errSyntax("unexpected %q after an array element", c)
		}
	}
}

// object reads the top-level object at pos, keeping its bytes, until it
// finds the wrapper key: then the array under it is streamed and the rest
// of the object skipped. An object without the key is one element.
// recoverable reports whether nothing of it was emitted.
func (s *jsonStream) object(startOff int64, startLine int) (recoverable bool, err error) {
	in := s.in
	in.pos++ // '{'
	wrapped := false
	c, ok := in.skipWS()
	if !ok {
		return true, in.errEnd()
	}
	if c != '}' {
		for {
			if c != '"' {
				return !wrapped, in.errSyntax("unexpected %q, want a key", c)
			}
			isKey, err := s.key()
			if err != nil {
				return !wrapped, err
			}
			if c, ok = in.skipWS(); !ok {
				return !wrapped, in.errEnd()
			}
			if c != ':' {
				return !wrapped, in.errSyntax("unexpected %q, want ':'", c)
			}
			in.pos++
			if c, ok = in.skipWS(); !ok {
				return !wrapped, in.errEnd()
			}
			switch {
			case isKey && !wrapped: // a later duplicate is skipped, as a parser's Get would
				// A wrapper: its other keys are skipped, not kept.
				wrapped = true
				in.mark = -1
				if c == '[' {
					err = s.array()
				} else {
					s.fail(errField(s.wrapper, "not an array"), in.headBytes(), in.line, false)
					err = in.skipValue(c)
				}
			default:
				err = in.skipValue(c)
			}
			if err != nil {
				return !wrapped, err
			}
			if c, ok = in.skipWS(); !ok {
				return !wrapped, in.errEnd()
			}
			if c == '}' {
				break
			}
			if c != ',' {
				return !wrapped, in.errSyntax("unexpected %q, want ',' or '}'", c)
			}
			in.pos++
			if c, ok = in.skipWS(); !ok {
				return !wrapped, in.errEnd()
			}
		}
	}
	in.pos++ // '}'
	if !wrapped {
		s.element(startOff, startLine, true)
	}
	return !wrapped, nil
}

// key skips the object key at pos and reports whether it is the wrapper
// key.
func (s *jsonStream) key() (bool, error) {
	in := s.in
	keep := in.mark < 0 // the object is no longer kept: keep the key alone
	if keep {
		in.mark = in.pos
	}
	start := in.offset()
	if err := in.skipString(); err != nil {
		return false, err
	}
	is := false
	// An escaped key is at most six bytes a character (\uXXXX).
	if n := in.offset() - start; in.mark >= 0 && n <= int64(6*len(s.wrapper)+2) {
		is = keyEquals(in.buf[in.pos-int(n)+1:in.pos-1], s.wrapper)
	}
	if keep {
		in.mark = -1
	}
	return is, nil
}

// keyEquals reports whether the raw JSON string raw (without quotes)
// decodes to want. Keys are compared decoded, as the parser's Get does, so
// that a record streamed and one parsed whole agree.
func keyEquals(raw []byte, want string) bool {
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw) == want
	}
	for len(raw) > 0 {
		c := raw[0]
		raw = raw[1:]
		if c == '\\' {
			if len(raw) == 0 {
				return false
			}
			c, raw = raw[0], raw[1:]
			switch c {
			case 'u':
				if len(raw) < 4 {
					return false
				}
				r, err := strconv.ParseUint(string(raw[:4]), 16, 16)
				if err != nil || r >= utf8.RuneSelf { // want is ASCII
					return false
				}
				c, raw = byte(r), raw[4:]
			case 'b':
				c = '\b'
			case 'f':
				c = '\f'
			case 'n':
				c = '\n'
			case 'r':
				c = '\r'
			case 't':
				c = '\t'
			}
		}
		if len(want) == 0 || want[0] != c {
			return false
		}
		want = want[1:]
	}
	return len(want) == 0
}

// skipBadLine handles a syntax error in the top-level value that starts a
// line: in JSON lines, the value's first line fails as an element and
// reading goes on with the next line. It reports false when the input is
// not JSON lines (no value came before, and the next non-blank line is not
// a whole object of its own) or the line cannot be found again, and the
// error should end the stream.
func (s *jsonStream) skipBadLine(startOff int64, startLine int, after bool, err error) bool {
	in := s.in
	// The value's bytes are needed to read its lines again; past
	// MaxElement they are not kept (when streamed), so the rest fails.
	if in.mark < 0 || in.base+int64(in.mark) != startOff || in.offset()-startOff > int64(in.max) {
		return false
	}
	// Find the end of the value's first line, reading on if need be.
	// Offsets are from mark, which fill moves.
	end := bytes.IndexByte(in.buf[in.mark:in.n], '\n')
	for end < 0 {
		searched := in.n - in.mark
		in.pos = in.n
		if !in.fill() || in.mark < 0 {
			break
		}
		if i := bytes.IndexByte(in.buf[in.mark+searched:in.n], '\n'); i >= 0 {
			end = searched + i
		}
	}
	if in.mark < 0 || in.offset()-startOff > int64(in.max) {
		return false
	}
	if end < 0 { // the last line of the input
		if !after {
			return false
		}
		s.fail(errJSON(err), in.buf[in.mark:in.n], startLine, true)
		in.pos, in.mark = in.n, -1
		return true
	}
	if !after && (!s.wholeObjectLine(end+1) || in.offset()-startOff > int64(in.max)) {
		return false
	}
	s.fail(errJSON(err), in.buf[in.mark:in.mark+end], startLine, true)
	in.pos, in.line = in.mark+end+1, startLine+1
	in.mark = -1
	return true
}

// wholeObjectLine reports whether the next non-blank line from mark+from
// holds one whole object and nothing else. It moves pos and line, which
// the caller resets.
func (s *jsonStream) wholeObjectLine(from int) bool {
	in := s.in
	in.pos = in.mark + from
	c, ok := in.skipWS()
	if !ok || c != '{' {
		return false
	}
	line := in.line
	if in.skipValue(c) != nil || in.mark < 0 || in.line != line {
		return false
	}
	_, ok = in.skipWS()
	return in.mark >= 0 && (!ok || in.line > line)
}
