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
	// Excerpt is at most 64 bytes of the start of the first failing element
	// (decompressed), or of the record when the failure is the record's,
	// valid UTF-8 with invalid bytes replaced by U+FFFD.
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
	// An empty record counts as one, and so does the rest of a record cut
	// short by malformed JSON, a gzip error or the decompressed limit.
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
	err   error // wrapped, for errors.Is
}

func (e *fieldError) Error() string { return e.field + ": " + e.msg }

func (e *fieldError) Unwrap() error { return e.err }

func errField(field, format string, args ...any) *fieldError {
	return &fieldError{field: field, msg: fmt.Sprintf(format, args...)}
}

// failures collects the element errors of one record.
type failures struct {
	unit    string // what an element is called in messages: "element", "line"
	first   error
	index   int    // 1-based element number of first
	excerpt string // of the element that failed first
	failed  int
	// rest is the error that cut the record short (malformed JSON, gzip,
	// the decompressed limit), counted as one failed element at restIndex.
	rest      error
	restIndex int
}

// add records the failure of element index (1-based, or a line number);
// elem is its raw bytes if known, else the record's. Only the excerpt is
// kept: elem may be a window the decoder reuses.
func (f *failures) add(index int, err error, elem []byte) {
	if f.first == nil {
		f.first, f.index, f.excerpt = err, index, excerpt(elem)
	}
	f.failed++
}

// addRest records the error that ended the record at element index.
func (f *failures) addRest(index int, err error, elem []byte) {
	f.rest, f.restIndex = err, index
	f.add(index, err, elem)
}

// err returns the record's DecodeError, nil if nothing failed. total is
// the number of elements the record held. A record cut short leads with
// why, when that was its first failure, and mentions it otherwise.
func (f *failures) err(source string, total int) error {
	if f.first == nil {
		return nil
	}
	unit := f.unit
	if unit == "" {
		unit = "element"
	}
	var reason string
	switch {
	case total <= 1:
		reason = fmt.Sprintf("%s: %v", source, f.first)
	case f.first == f.rest:
		reason = fmt.Sprintf("%s: %v, at %s %d; %d of %d %ss failed", source, f.first, unit, f.index, f.failed, total, unit)
	default:
		reason = fmt.Sprintf("%s: %d of %d %ss failed; %s %d: %v", source, f.failed, total, unit, unit, f.index, f.first)
		if f.rest != nil {
			reason += fmt.Sprintf("; then at %s %d: %v", unit, f.restIndex, f.rest)
		}
	}
	return &DecodeError{Reason: reason, Excerpt: f.excerpt, Err: f.first}
}
