package wire

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestRoundTrip(t *testing.T) {
	at := time.Date(2026, 3, 8, 21, 44, 2, 123456789, time.UTC)
	b := AppendString([]byte{7}, "héllo")
	b = AppendTime(b, at)
	r := Reader{Buf: b}
	if c := r.Byte(); c != 7 {
		t.Fatalf("Byte = %d", c)
	}
	if n := r.Uvarint(); n != uint64(len("héllo")) || string(r.Buf[r.Off:r.Off+int(n)]) != "héllo" {
		t.Fatalf("string length %d", n)
	}
	r.Off += len("héllo")
	if sec, ns := r.Varint(), r.Uvarint(); time.Unix(sec, int64(ns)).UTC() != at || r.Err != nil || r.Left() != 0 {
		t.Fatalf("time %d.%d, err %v, %d left", sec, ns, r.Err, r.Left())
	}
}

func TestErrorsStick(t *testing.T) {
	var offs []int
	r := Reader{Buf: []byte{0x80}, Wrap: func(off int, err error) error {
		offs = append(offs, off)
		return fmt.Errorf("at %d: %w", off, err)
	}}
	if v := r.Uvarint(); v != 0 || !errors.Is(r.Err, ErrUvarint) {
		t.Fatalf("Uvarint = %d, %v", v, r.Err)
	}
	first := r.Err
	r.Byte()
	r.Failf("later %d", 1)
	if r.Err != first || len(offs) != 1 || offs[0] != 0 {
		t.Fatalf("error did not stick: %v, wrapped at %v", r.Err, offs)
	}
	r = Reader{}
	if r.Byte(); !errors.Is(r.Err, ErrTruncated) {
		t.Fatalf("Byte on empty input: %v", r.Err)
	}
}

func TestUint(t *testing.T) {
	r := Reader{Buf: []byte{0xff, 0xff, 0x03, 0xff, 0xff, 0x04}}
	if v := Uint[uint16](&r, "bad %d"); v != 0xffff || r.Err != nil {
		t.Fatalf("Uint = %d, %v", v, r.Err)
	}
	if v := Uint[uint16](&r, "bad %d"); v != 0 || r.Err == nil || r.Err.Error() != "bad 81919" {
		t.Fatalf("Uint = %d, %v", v, r.Err)
	}
}
