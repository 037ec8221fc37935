package corpus

import (
	"bytes"
	"testing"

	"github.com/vigil-sec/vigil/event"
	"github.com/vigil-sec/vigil/sources"
)

// The generated records must be ones vigil decodes, and the same seed must
// give the same records, or benchmark runs would not compare.
func TestRecordsDecodeAndRepeat(t *testing.T) {
	tpl, err := LoadTemplates("../../testdata/tour/cloudtrail")
	if err != nil || len(tpl) == 0 {
		t.Fatalf("templates: %d, %v", len(tpl), err)
	}
	flow, err := sources.NewFlowDecoder("", sources.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	ct, dns := sources.NewCloudTrailDecoder(sources.Limits{}), sources.NewDNSDecoder(sources.Limits{})
	decode := map[event.Source]func([]byte, func(*event.Event)) (sources.Result, error){
		event.SourceCloudTrail: ct.Decode, event.SourceVPCFlow: flow.Decode, event.SourceDNS: dns.Decode,
	}
	for src, dec := range decode {
		a, err := New(Config{Templates: tpl}).Records(src, 300)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := New(Config{Templates: tpl}).Records(src, 300)
		for i := range a {
			if !bytes.Equal(a[i], b[i]) {
				t.Fatalf("%s record %d differs between runs with one seed", src, i)
			}
			events := 0
			_, err := dec(a[i], func(*event.Event) { events++ })
			if err != nil || events != 1 {
				t.Fatalf("%s record %d: %d events, %v\n%s", src, i, events, err, a[i])
			}
		}
	}
}
