package profiles

import (
	"bytes"
	"testing"

	"github.com/vigil-sec/vigil/event"
)

// fuzzUnmarshal checks that decoding arbitrary bytes never panics and that
// whatever decodes re-encodes to bytes that decode to the same profile.
func fuzzUnmarshal(f *testing.F, kind event.EntityKind, seeds ...Profile) {
	for _, p := range seeds {
		b, err := p.MarshalBinary()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{encodingVersion, byte(kind), 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Unmarshal(kind, b)
		if err != nil {
			return
		}
		b2, err := p.MarshalBinary()
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		q, err := Unmarshal(kind, b2)
		if err != nil {
			t.Fatalf("re-encoding does not decode: %v", err)
		}
		b3, _ := q.MarshalBinary()
		if !bytes.Equal(b2, b3) {
			t.Fatal("encoding is not stable")
		}
	})
}

func FuzzUnmarshalPrincipal(f *testing.F) {
	fuzzUnmarshal(f, event.KindPrincipal, richPrincipal(), NewPrincipal("1", "us-east-1", "arn:aws:iam::1:root"))
}

func FuzzUnmarshalNetwork(f *testing.F) {
	fuzzUnmarshal(f, event.KindNetwork, richNetwork(), NewNetwork("1", "us-east-1", "i-1"))
}
