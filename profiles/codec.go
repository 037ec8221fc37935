package profiles

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"time"

	"github.com/vigil-sec/vigil/event"
	"github.com/vigil-sec/vigil/wire"
)

// The binary encoding of a profile is
//
//	version byte (encodingVersion), kind byte (event.EntityKind), fields
//
// where every integer is a varint (signed) or uvarint (unsigned), every
// string and list is length-prefixed with a uvarint, a time is a varint of
// Unix seconds followed by a uvarint of nanoseconds, and an address is a
// length byte (0, 4 or 16) followed by its bytes. Most times are written
// relative to another (timeRel: the profile's latest event time, the
// previous entry of a sorted list), which takes a byte or two instead of
// six, and strings that repeat the previous entry's are written as a
// reference (strRef). Fields come in the order of the struct; a new field
// means a new version. The decoder checks every length against both the
// bytes left and the cap of the field it fills, so garbage input fails
// with an error after allocating at most as much as the input and the
// caps allow.
//
// Version 2 made profiles order-independent (event-time identity, dedupe
// ids, co-occurrence, parked flows, panes). Version 3 added the detection
// state: principal baselines, sign-ins, instance credentials,
// attack-sequence signals and custom-rule windows; network inventory,
// baselines, attack windows and DNS models. Older encodings are refused,
// and the profile is rebuilt from the events.
const encodingVersion = 3

// errTruncated is wrapped by every decoding error caused by running out of
// input.
var errTruncated = wire.ErrTruncated

type encoder struct {
	b []byte
}

func (e *encoder) byte(v byte)       { e.b = append(e.b, v) }
func (e *encoder) uvarint(v uint64)  { e.b = binary.AppendUvarint(e.b, v) }
func (e *encoder) varint(v int64)    { e.b = binary.AppendVarint(e.b, v) }
func (e *encoder) count(n int)       { e.uvarint(uint64(n)) }
func (e *encoder) str(s string)      { e.b = wire.AppendString(e.b, s) }
func (e *encoder) time(t time.Time)  { e.b = wire.AppendTime(e.b, t) }
func (e *encoder) uint16(v uint16)   { e.uvarint(uint64(v)) }
func (e *encoder) addr(a netip.Addr) { s := a.AsSlice(); e.byte(byte(len(s))); e.b = append(e.b, s...) }

// timeRel writes t relative to ref: the difference of their Unix seconds
// as a varint, then t's nanoseconds. It round-trips any t exactly.
func (e *encoder) timeRel(t, ref time.Time) {
	e.varint(ref.Unix() - t.Unix())
	e.uvarint(uint64(t.Nanosecond()))
}

// strRef writes s, or a reference to prev when they are equal: a uvarint
// of 0, or of len(s)+1 followed by the bytes. Lists whose entries mostly
// repeat a string (the interface of every window) write it once.
func (e *encoder) strRef(s, prev string) {
	if s == prev {
		e.uvarint(0)
		return
	}
	e.uvarint(uint64(len(s)) + 1)
	e.b = append(e.b, s...)
}

func (e *encoder) bool(v bool) {
	if v {
		e.byte(1)
	} else {
		e.byte(0)
	}
}

// optTimeRel writes a time that may be zero: a zero byte, or a one byte
// and the time relative to ref (timeRel).
func (e *encoder) optTimeRel(t, ref time.Time) {
	if t.IsZero() {
		e.byte(0)
		return
	}
	e.byte(1)
	e.timeRel(t, ref)
}

func (e *encoder) fixed64(v uint64) { e.b = binary.LittleEndian.AppendUint64(e.b, v) }

// decoder reads what encoder wrote (see wire.Reader).
type decoder struct {
	wire.Reader
}

func newDecoder(b []byte) decoder {
	return decoder{wire.Reader{Buf: b, Wrap: wrapErr}}
}

// wrapErr keeps a bad varint reported as truncated input, wrapping
// errTruncated like every error of running out of input.
func wrapErr(_ int, err error) error {
	if err == wire.ErrUvarint || err == wire.ErrVarint {
		return fmt.Errorf("%w: %w", err, errTruncated)
	}
	return err
}

// count reads a length and checks it against max and, since every element
// takes at least one byte, against the bytes left.
func (d *decoder) count(what string, max int) int {
	v := d.Uvarint()
	if d.Err != nil {
		return 0
	}
	if v > uint64(max) {
		d.Failf("%s: %d entries, more than the cap %d", what, v, max)
		return 0
	}
	if v > uint64(d.Left()) {
		d.Failf("%s: %d entries: %w", what, v, errTruncated)
		return 0
	}
	return int(v)
}

func (d *decoder) bool() bool {
	switch b := d.Byte(); b {
	case 0:
		return false
	case 1:
		return true
	default:
		d.Failf("bad bool %d", b)
		return false
	}
}

func (d *decoder) str(what string, max int) string {
	v := d.Uvarint()
	if d.Err != nil {
		return ""
	}
	if v > uint64(max) {
		d.Failf("%s: %d bytes, more than the cap %d", what, v, max)
		return ""
	}
	if v > uint64(d.Left()) {
		d.Failf("%s: %d bytes: %w", what, v, errTruncated)
		return ""
	}
	s := string(d.Buf[d.Off : d.Off+int(v)])
	d.Off += int(v)
	return s
}

func (d *decoder) time() time.Time {
	sec := d.Varint()
	nsec := d.Uvarint()
	if d.Err != nil {
		return time.Time{}
	}
	if nsec >= 1e9 {
		d.Failf("bad time: %d nanoseconds", nsec)
		return time.Time{}
	}
	return time.Unix(sec, int64(nsec)).UTC()
}

// timeRel reads what encoder.timeRel wrote.
func (d *decoder) timeRel(ref time.Time) time.Time {
	off := d.Varint()
	nsec := d.Uvarint()
	if d.Err != nil {
		return time.Time{}
	}
	if nsec >= 1e9 {
		d.Failf("bad time: %d nanoseconds", nsec)
		return time.Time{}
	}
	return time.Unix(ref.Unix()-off, int64(nsec)).UTC()
}

// strRef reads what encoder.strRef wrote.
func (d *decoder) strRef(what string, max int, prev string) string {
	v := d.Uvarint()
	switch {
	case d.Err != nil:
		return ""
	case v == 0:
		return prev
	case v-1 > uint64(max):
		d.Failf("%s: %d bytes, more than the cap %d", what, v-1, max)
		return ""
	case v-1 > uint64(d.Left()):
		d.Failf("%s: %d bytes: %w", what, v-1, errTruncated)
		return ""
	}
	s := string(d.Buf[d.Off : d.Off+int(v-1)])
	d.Off += int(v - 1)
	return s
}

// optTimeRel reads what encoder.optTimeRel wrote.
func (d *decoder) optTimeRel(ref time.Time) time.Time {
	if d.bool() {
		return d.timeRel(ref)
	}
	return time.Time{}
}

func (d *decoder) fixed64() uint64 {
	if d.Err != nil {
		return 0
	}
	if d.Left() < 8 {
		d.Failf("fixed64: %w", errTruncated)
		return 0
	}
	v := binary.LittleEndian.Uint64(d.Buf[d.Off:])
	d.Off += 8
	return v
}

func (d *decoder) uint16() uint16 { return wire.Uint[uint16](&d.Reader, "bad port %d") }

func (d *decoder) addr() netip.Addr {
	n := int(d.Byte())
	if d.Err != nil {
		return netip.Addr{}
	}
	if n != 0 && n != 4 && n != 16 {
		d.Failf("bad address length %d", n)
		return netip.Addr{}
	}
	if n > d.Left() {
		d.Failf("address: %w", errTruncated)
		return netip.Addr{}
	}
	a, _ := netip.AddrFromSlice(d.Buf[d.Off : d.Off+n])
	d.Off += n
	return a
}

// newEncoder starts the encoding of a profile: version, kind and header.
func newEncoder(kind event.EntityKind, h *Header) encoder {
	e := encoder{b: make([]byte, 0, 256)}
	e.byte(encodingVersion)
	e.byte(byte(kind))
	h.encode(&e)
	return e
}

// header checks the version and kind bytes, then reads h.
func (d *decoder) header(kind event.EntityKind, h *Header) {
	switch v := d.Byte(); {
	case d.Err != nil:
	case v < encodingVersion:
		d.Failf("encoding version %d is obsolete (version %d changed the profile); rebuild the profile from its events", v, encodingVersion)
	case v != encodingVersion:
		d.Failf("unknown encoding version %d", v)
	}
	if k := d.Byte(); d.Err == nil && k != byte(kind) {
		d.Failf("encoded kind %d, want %d", k, byte(kind))
	}
	h.decode(d)
}

// finish fails if input is left over and returns the error of decoding a
// profile of the named type.
func (d *decoder) finish(name string) error {
	if d.Err == nil && d.Left() > 0 {
		d.Failf("%d trailing bytes", d.Left())
	}
	if d.Err != nil {
		return fmt.Errorf("profiles: unmarshal %s: %w", name, d.Err)
	}
	return nil
}
