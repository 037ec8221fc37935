// Package wire holds the binary primitives that the event codec and the
// profile codec share: varints, length-prefixed strings, times as Unix
// seconds and nanoseconds, and a reader whose first error sticks. Each
// codec keeps its own layout, caps and error texts.
package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// Errors of the Reader primitives, passed to Reader.Wrap.
var (
	ErrTruncated = errors.New("truncated")
	ErrUvarint   = errors.New("bad uvarint")
	ErrVarint    = errors.New("bad varint")
)

// AppendString appends s behind its length as a uvarint.
func AppendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// AppendTime appends t as a varint of Unix seconds and a uvarint of
// nanoseconds: the instant, not the location.
func AppendTime(b []byte, t time.Time) []byte {
	b = binary.AppendVarint(b, t.Unix())
	return binary.AppendUvarint(b, uint64(t.Nanosecond()))
}

// Reader reads Buf from Off on. The first error sticks in Err and later
// reads return zero values, so a decoder checks Err once at the end.
type Reader struct {
	Buf []byte
	Off int
	Err error
	// Wrap, if set, turns the error of a read that failed at offset off
	// into the one Err keeps, so that each codec words its errors its way.
	Wrap func(off int, err error) error
}

// Fail sets Err to err (through Wrap) unless a read already failed.
func (r *Reader) Fail(err error) {
	if r.Err != nil {
		return
	}
	if r.Wrap != nil {
		err = r.Wrap(r.Off, err)
	}
	r.Err = err
}

// Failf is Fail with fmt.Errorf(format, args...).
func (r *Reader) Failf(format string, args ...any) {
	if r.Err == nil {
		r.Fail(fmt.Errorf(format, args...))
	}
}

// Left returns the number of bytes not read yet.
func (r *Reader) Left() int { return len(r.Buf) - r.Off }

// Byte reads one byte.
func (r *Reader) Byte() byte {
	if r.Err != nil {
		return 0
	}
	if r.Off >= len(r.Buf) {
		r.Fail(ErrTruncated)
		return 0
	}
	c := r.Buf[r.Off]
	r.Off++
	return c
}

// Uvarint reads an unsigned varint.
func (r *Reader) Uvarint() uint64 {
	if r.Err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.Buf[r.Off:])
	if n <= 0 {
		r.Fail(ErrUvarint)
		return 0
	}
	r.Off += n
	return v
}

// Varint reads a signed varint.
func (r *Reader) Varint() int64 {
	if r.Err != nil {
		return 0
	}
	v, n := binary.Varint(r.Buf[r.Off:])
	if n <= 0 {
		r.Fail(ErrVarint)
		return 0
	}
	r.Off += n
	return v
}

// Uint reads a uvarint that must fit in T. One that does not fails with
// format, given the value, and reads as 0.
func Uint[T ~uint8 | ~uint16 | ~uint32](r *Reader, format string) T {
	v := r.Uvarint()
	if v > uint64(^T(0)) {
		r.Failf(format, v)
		return 0
	}
	return T(v)
}
