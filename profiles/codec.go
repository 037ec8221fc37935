package profiles

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// The binary encoding of a profile is
//
//	version byte (encodingVersion), kind byte (event.EntityKind), fields
//
// where every integer is a varint (signed) or uvarint (unsigned), every
// string and list is length-prefixed with a uvarint, a time is a varint of
// Unix seconds followed by a uvarint of nanoseconds, and an address is a
// length byte (0, 4 or 16) followed by its bytes. Fields come in the order
// of the struct; a new field means a new version. The decoder checks every
// length against both the bytes left and the cap of the field it fills, so
// garbage input fails with an error after allocating at most as much as
// the input and the caps allow.
const encodingVersion = 1

// errTruncated is wrapped by every decoding error caused by running out of
// input.
var errTruncated = errors.New("truncated")

type encoder struct {
	b []byte
}

func (e *encoder) byte(v byte)       { e.b = append(e.b, v) }
func (e *encoder) uvarint(v uint64)  { e.b = binary.AppendUvarint(e.b, v) }
func (e *encoder) varint(v int64)    { e.b = binary.AppendVarint(e.b, v) }
func (e *encoder) count(n int)       { e.uvarint(uint64(n)) }
func (e *encoder) str(s string)      { e.count(len(s)); e.b = append(e.b, s...) }
func (e *encoder) time(t time.Time)  { e.varint(t.Unix()); e.uvarint(uint64(t.Nanosecond())) }
func (e *encoder) uint16(v uint16)   { e.uvarint(uint64(v)) }
func (e *encoder) uint32(v uint32)   { e.uvarint(uint64(v)) }
func (e *encoder) addr(a netip.Addr) { s := a.AsSlice(); e.byte(byte(len(s))); e.b = append(e.b, s...) }

// optTime writes a time that is often zero: a zero byte, or a one byte and
// the time.
func (e *encoder) optTime(t time.Time) {
	if t.IsZero() {
		e.byte(0)
		return
	}
	e.byte(1)
	e.time(t)
}

// decoder reads what encoder wrote. The first error sticks: later reads
// return zero values, so callers check err once at the end.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf(format, args...)
	}
}

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) == 0 {
		d.fail("%w", errTruncated)
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("bad uvarint: %w", errTruncated)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("bad varint: %w", errTruncated)
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads a length and checks it against max and, since every element
// takes at least one byte, against the bytes left.
func (d *decoder) count(what string, max int) int {
	v := d.uvarint()
	if d.err != nil {
		return 0
	}
	if v > uint64(max) {
		d.fail("%s: %d entries, more than the cap %d", what, v, max)
		return 0
	}
	if v > uint64(len(d.b)) {
		d.fail("%s: %d entries: %w", what, v, errTruncated)
		return 0
	}
	return int(v)
}

func (d *decoder) bool() bool {
	switch b := d.byte(); b {
	case 0:
		return false
	case 1:
		return true
	default:
		d.fail("bad bool %d", b)
		return false
	}
}

func (d *decoder) str(what string, max int) string {
	v := d.uvarint()
	if d.err != nil {
		return ""
	}
	if v > uint64(max) {
		d.fail("%s: %d bytes, more than the cap %d", what, v, max)
		return ""
	}
	if v > uint64(len(d.b)) {
		d.fail("%s: %d bytes: %w", what, v, errTruncated)
		return ""
	}
	s := string(d.b[:v])
	d.b = d.b[v:]
	return s
}

func (d *decoder) time() time.Time {
	sec := d.varint()
	nsec := d.uvarint()
	if d.err != nil {
		return time.Time{}
	}
	if nsec >= 1e9 {
		d.fail("bad time: %d nanoseconds", nsec)
		return time.Time{}
	}
	return time.Unix(sec, int64(nsec)).UTC()
}

func (d *decoder) optTime() time.Time {
	if d.bool() {
		return d.time()
	}
	return time.Time{}
}

func (d *decoder) uint16() uint16 {
	v := d.uvarint()
	if v > 0xffff {
		d.fail("bad port %d", v)
		return 0
	}
	return uint16(v)
}

func (d *decoder) uint32() uint32 {
	v := d.uvarint()
	if v > 0xffffffff {
		d.fail("bad uint32 %d", v)
		return 0
	}
	return uint32(v)
}

func (d *decoder) addr() netip.Addr {
	n := int(d.byte())
	if d.err != nil {
		return netip.Addr{}
	}
	if n != 0 && n != 4 && n != 16 {
		d.fail("bad address length %d", n)
		return netip.Addr{}
	}
	if n > len(d.b) {
		d.fail("address: %w", errTruncated)
		return netip.Addr{}
	}
	a, _ := netip.AddrFromSlice(d.b[:n])
	d.b = d.b[n:]
	return a
}

// header checks the version and kind bytes.
func (d *decoder) header(kind byte) {
	if v := d.byte(); d.err == nil && v != encodingVersion {
		d.fail("unknown encoding version %d", v)
	}
	if k := d.byte(); d.err == nil && k != kind {
		d.fail("encoded kind %d, want %d", k, kind)
	}
}

// finish fails if input is left over.
func (d *decoder) finish() error {
	if d.err == nil && len(d.b) > 0 {
		d.fail("%d trailing bytes", len(d.b))
	}
	return d.err
}
