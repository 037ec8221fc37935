package sources

import (
	"errors"
	"fmt"
)

// Defaults of Limits.
const (
	DefaultMaxDecompressed = 64 << 20
	DefaultMaxElement      = 1 << 20
)

// Limits bounds the memory one record may cost a decoder. Records come from
// a topic anyone with produce rights can write to, so a decoder must not
// trust their sizes. The zero value means the defaults.
type Limits struct {
	// MaxDecompressed bounds the bytes one gzip-compressed record may
	// expand to. Past it the rest of the record fails; events decoded
	// before stay emitted. Zero or less means the default, 64 MiB. The
	// command line sets it with --max-decompressed-mb.
	MaxDecompressed int64
	// MaxElement bounds one event (a CloudTrail event object, a query-log
	// line, a flow line) in bytes. A larger element fails on its own and
	// decoding goes on with the next. A decoder's memory for a record is
	// about the largest element, whatever the record's size. Zero or less
	// means the default, 1 MiB.
	MaxElement int
}

// withDefaults returns l with unset fields at their defaults.
func (l Limits) withDefaults() Limits {
	if l.MaxDecompressed <= 0 {
		l.MaxDecompressed = DefaultMaxDecompressed
	}
	if l.MaxElement <= 0 {
		l.MaxElement = DefaultMaxElement
	}
	return l
}

// ErrDecompressedLimit is wrapped by the DecodeError of a record whose
// decompressed size exceeds Limits.MaxDecompressed.
var ErrDecompressedLimit = errors.New("decompressed size exceeds the limit")

// ErrElementLimit is wrapped by the DecodeError of an element larger than
// Limits.MaxElement (when it is the record's first failure).
var ErrElementLimit = errors.New("element exceeds the limit")

func errDecompressed(limit int64) error {
	return fmt.Errorf("gzip: %w of %s (--max-decompressed-mb)", ErrDecompressedLimit, sizeString(limit))
}

// errElement is the failure of an element of size bytes, past limit.
func errElement(what string, size int64, limit int) error {
	return &fieldError{field: what, msg: fmt.Sprintf("%d bytes, more than the limit of %s (MaxElement)", size, sizeString(int64(limit))),
		err: ErrElementLimit}
}

// sizeString formats a limit in MiB when it is a whole number of them.
func sizeString(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}
