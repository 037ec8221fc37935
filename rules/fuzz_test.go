package rules

import (
	"io/fs"
	"path"
	"testing"

	"github.com/vigil-sec/vigil/event"
)

// FuzzLoad: any bytes either load as a valid rule set or are refused with
// an *Error; a loaded set never panics when it matches an event.
func FuzzLoad(f *testing.F) {
	f.Add([]byte(exampleRule))
	f.Add([]byte(`{"rules":[{"id":"R","type":"Impact:S3/X","severity":"Low","description":"d","match":{"eventName":["A"],"sourceIPAddress":{"cidr":"10.0.0.0/8"}},"threshold":"count 2 within 1m"}]}`))
	f.Add([]byte("a: &x [1]\nrules: *x\n"))
	f.Add([]byte("disable: [A]\n"))
	f.Add([]byte("rules:\n  - id: R\n    match: {requestParameters.a.b: {covers: ::/0, atMost: 1e308}}\n"))
	f.Add([]byte("rules:\n  - {id: R, type: Impact:S3/X, severity: 3, description: d, match: {requestParameters.l.items.*.b: x, requestParameters.l.items.*.c.items.*: {notIn: [y]}}}\n"))
	entries, _ := fs.ReadDir(starterFS, starterDir)
	for _, e := range entries {
		b, _ := starterFS.ReadFile(path.Join(starterDir, e.Name()))
		f.Add(b)
	}
	ev := &event.CloudTrail{
		EventName: "A", EventSource: "s3.amazonaws.com", SourceIP: "10.1.2.3", RecipientAccount: "111122223333",
		RequestParameters: map[string]string{"a.b": "0.0.0.0/0", "userName": "bob", "p": "arn:aws:iam::444455556666:root",
			"l.items.0.b": "x", "l.items.1.b": "x", "l.items.1.c.items.0": "z", "l.items.15.c.items.3": "y", "l.items.99": "x", "l.items.": "x"},
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse("fuzz.yaml", data)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		s, err := New(file)
		if err != nil {
			return
		}
		for _, r := range s.Matching(ev, nil) {
			if r.ID == "" || r.Type == "" || r.Severity < 1 || r.Severity > 10 || len(r.Conditions) == 0 {
				t.Fatalf("invalid rule loaded: %+v", r)
			}
			if r.Threshold != nil {
				r.Threshold.Group(ev)
			}
			for i := range r.Conditions {
				_ = r.Conditions[i].String()
				r.Conditions[i].ForeignAccount(ev)
			}
		}
	})
}
