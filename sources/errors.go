package sources

import (
	"fmt"
	"unicode/utf8"
)

// DecodeError says why a raw record could not be decoded; ingest puts Reason
// in the dead-letter record.
type DecodeError struct {
	// Reason names the source and the field at fault, e.g.
	// `cloudtrail: eventName: not a string`.
	Reason string
	// Excerpt is at most 64 bytes of the start of the record (decompressed,
	// and of the failing line for multi-line records), valid UTF-8 with
	// invalid bytes replaced by U+FFFD.
	Excerpt string
	// Err is the underlying error, if any.
	Err error
}

func (e *DecodeError) Error() string { return e.Reason }

func (e *DecodeError) Unwrap() error { return e.Err }

// Result counts what one raw record held besides its events.
type Result struct {
	// Dropped counts CloudTrail data, network-activity and Insights events:
	// well-formed, but not analysed.
	Dropped int
	// Failed counts the elements of a multi-event record that failed to
	// decode; for a single-event record it is 1 when the record failed.
	Failed int
}

// maxExcerpt bounds DecodeError.Excerpt.
const maxExcerpt = 64

// excerpt returns at most maxExcerpt bytes of the start of b as valid UTF-8.
func excerpt(b []byte) string {
	out := make([]byte, 0, maxExcerpt)
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n <= 1 {
			n = 1 // an invalid byte: replace it, however many follow
		}
		if len(out)+utf8.RuneLen(r) > maxExcerpt {
			break
		}
		out = utf8.AppendRune(out, r)
		b = b[n:]
	}
	return string(out)
}

// newError builds a DecodeError for the record or line rec.
func newError(rec []byte, err error, format string, args ...any) *DecodeError {
	return &DecodeError{Reason: fmt.Sprintf(format, args...), Excerpt: excerpt(rec), Err: err}
}

// fieldError is a field-level failure inside one element; the decoders turn
// it into a DecodeError with the source's prefix.
type fieldError struct {
	field string
	msg   string
}

func (e *fieldError) Error() string { return e.field + ": " + e.msg }

func errField(field, format string, args ...any) *fieldError {
	return &fieldError{field: field, msg: fmt.Sprintf(format, args...)}
}

// failures collects the element errors of one record.
type failures struct {
	unit   string // what an element is called in messages: "element", "line"
	first  error
	index  int    // 1-based element number of first
	line   []byte // the element that failed first, for the excerpt
	failed int
}

// add records the failure of element index (1-based, or a line number);
// elem is its raw bytes if known.
func (f *failures) add(index int, err error, elem []byte) {
	if f.first == nil {
		f.first, f.index, f.line = err, index, elem
	}
	f.failed++
}

// err returns the record's DecodeError, nil if nothing failed. total is
// the number of elements the record held.
func (f *failures) err(source string, rec []byte, total int) error {
	if f.first == nil {
		return nil
	}
	ex := rec
	if f.line != nil {
		ex = f.line
	}
	if total <= 1 {
		return newError(ex, f.first, "%s: %v", source, f.first)
	}
	unit := f.unit
	if unit == "" {
		unit = "element"
	}
	return newError(ex, f.first, "%s: %d of %d %ss failed; %s %d: %v", source, f.failed, total, unit, unit, f.index, f.first)
}
