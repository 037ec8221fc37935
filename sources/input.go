package sources

import (
	"bytes"
	"io"
)

const (
	// minWindow is the window a decoder starts reading a gzip stream
	// through; it grows to hold the largest element, up to MaxElement.
	minWindow = 32 << 10
	// keepBuffer is the largest buffer (window, or input a parser has
	// kept) a decoder keeps between records.
	keepBuffer = 256 << 10
)

// input is the decompressed bytes of one record as a decoder reads them:
// the record itself when it is not compressed, else a window over the gzip
// stream. The window holds the element being read and little more: bytes
// before mark are dropped when it needs room, so a decoder's memory is
// bounded by the largest element, not by the record.
type input struct {
	buf    []byte // buf[:n] holds data, buf[pos:n] is unread
	n, pos int
	// mark is where the kept bytes (the element being scanned) start, -1
	// when none are kept. An element that outgrows max is dropped: mark
	// goes back to -1 and its head is saved in dropped.
	mark int
	max  int
	base int64     // stream offset of buf[0]
	r    io.Reader // nil when buf is the whole record
	err  error     // what ended r: io.EOF, a gzip error, the size limit
	// line counts the newlines consumed.
	line int

	head    [maxExcerpt]byte // the record's first bytes, for excerpts
	headLen int
	dropped [maxExcerpt]byte // the head of the last element dropped
	dropLen int
}

// offset returns the stream offset of the next unread byte.
func (in *input) offset() int64 { return in.base + int64(in.pos) }

// readErr returns the error that cut the stream short, nil at its end.
func (in *input) readErr() error {
	if in.err == io.EOF {
		return nil
	}
	return in.err
}

// fill reads more data after buf[:n], which must all be consumed (pos ==
// n). It reports false when there is none left.
func (in *input) fill() bool {
	for in.r != nil && in.err == nil {
		from := in.pos
		if in.mark >= 0 {
			from = in.mark
		}
		if from > 0 { // drop what is consumed and not kept
			in.n = copy(in.buf, in.buf[from:in.n])
			in.pos -= from
			in.base += int64(from)
			if in.mark >= 0 {
				in.mark -= from
			}
		}
		if in.n == len(in.buf) {
			if in.n >= in.max { // the kept element is too large: drop it
				in.dropLen = copy(in.dropped[:], in.buf[in.mark:in.n])
				in.mark = -1
				in.base += int64(in.n)
				in.n, in.pos = 0, 0
			} else {
				size := min(max(2*len(in.buf), minWindow), max(in.max, minWindow))
				buf := make([]byte, size)
				copy(buf, in.buf[:in.n])
				in.buf = buf
			}
		}
		m, err := in.r.Read(in.buf[in.n:])
		in.n += m
		if err != nil {
			in.err = err
		}
		if in.base == 0 && in.headLen < len(in.head) {
			in.headLen += copy(in.head[in.headLen:], in.buf[in.headLen:in.n])
		}
		if m > 0 {
			return true
		}
	}
	if in.err == nil {
		in.err = io.EOF
	}
	return false
}

// headBytes returns the first bytes of the record, for excerpts of
// record-level failures.
func (in *input) headBytes() []byte {
	if in.r == nil {
		return in.buf[:min(in.n, maxExcerpt)]
	}
	return in.head[:in.headLen]
}

// kept returns the bytes from mark to pos, or the head of a dropped
// element.
func (in *input) kept() []byte {
	if in.mark < 0 {
		return in.dropped[:in.dropLen]
	}
	return in.buf[in.mark:in.pos]
}

// nextLine returns the next non-blank line, trimmed, and its 1-based
// number. A line longer than max is returned as nil with its size (its
// head in dropped). ok is false at the end of the input. The line is
// valid until the next call.
func (in *input) nextLine() (line []byte, lineNo int, size int64, ok bool) {
	for {
		if in.pos == in.n && !in.fill() {
			return nil, 0, 0, false
		}
		in.mark = in.pos
		start := in.offset()
		end := -1
		for {
			if i := bytes.IndexByte(in.buf[in.pos:in.n], '\n'); i >= 0 {
				end = in.pos + i
				break
			}
			in.pos = in.n
			if !in.fill() {
				break
			}
		}
		if end < 0 { // the last line, without a newline
			if in.readErr() != nil {
				// Cut short by the gzip stream or the limit: not a line.
				in.mark = -1
				return nil, 0, 0, false
			}
			end = in.n
			in.pos = in.n
		} else {
			in.pos = end + 1
		}
		in.line++
		size = in.base + int64(end) - start
		if size > int64(in.max) {
			if in.mark >= 0 { // in memory: nothing was dropped
				in.dropLen = copy(in.dropped[:], in.buf[in.mark:end])
			}
			in.mark = -1
			return nil, in.line, size, true
		}
		line = bytes.TrimSpace(in.buf[in.mark:end])
		in.mark = -1
		if len(line) > 0 {
			return line, in.line, size, true
		}
	}
}
