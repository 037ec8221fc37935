package loadgen

import (
	"bytes"
	"strings"
	"testing"

	"github.com/vigil-sec/vigil/detect"
	"github.com/vigil-sec/vigil/event"
	"github.com/vigil-sec/vigil/findings"
	"github.com/vigil-sec/vigil/profiles"
	"github.com/vigil-sec/vigil/sources"
)

var allSources = []event.Source{event.SourceCloudTrail, event.SourceVPCFlow, event.SourceDNS}

// world applies records the way vigil does: decoded by vigil's decoders,
// global-service events broadcast to every region, profiles updated by the
// detector engine.
type world struct {
	t        testing.TB
	regions  []string
	ct       *sources.CloudTrailDecoder
	flow     *sources.FlowDecoder
	dns      *sources.DNSDecoder
	engine   *detect.Engine
	profiles map[string]profiles.Profile
	found    map[string]findings.Finding
	events   int
}

func newWorld(t testing.TB, regions []string) *world {
	flow, err := sources.NewFlowDecoder("", sources.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return &world{t: t, regions: regions, ct: sources.NewCloudTrailDecoder(sources.Limits{}), flow: flow,
		dns: sources.NewDNSDecoder(sources.Limits{}), engine: detect.New(detect.DefaultConfig()),
		profiles: make(map[string]profiles.Profile), found: make(map[string]findings.Finding)}
}

func (w *world) apply(src event.Source, rec []byte) {
	w.t.Helper()
	n := 0
	emit := func(ev *event.Event) {
		n++
		if ev.Region == "" {
			ev.Region = "us-east-1"
		}
		regions := []string{ev.Region}
		if sources.IsGlobal(ev.CloudTrail) {
			ev.CloudTrail.Global = true
			regions = w.regions
		}
		for _, r := range regions {
			ev.Region = r
			p, ok := w.profiles[ev.Key()]
			if !ok {
				p = profiles.New(ev.Kind, ev.Account, ev.Region, ev.Entity)
				w.profiles[ev.Key()] = p
			}
			occ, _ := w.engine.Apply(p, ev)
			for _, f := range occ {
				if old, ok := w.found[f.ID]; ok {
					old.Merge(&f)
					f = old
				}
				w.found[f.ID] = f
			}
			w.events++
		}
	}
	var err error
	switch src {
	case event.SourceCloudTrail:
		_, err = w.ct.Decode(rec, emit)
	case event.SourceVPCFlow:
		_, err = w.flow.Decode(rec, emit)
	case event.SourceDNS:
		_, err = w.dns.Decode(rec, emit)
	}
	if err != nil || n != 1 {
		w.t.Fatalf("%s record: %d events, %v\n%s", src, n, err, rec)
	}
}

// The background decodes, repeats with one seed, is unchanged by attacks
// injected into it, and raises no finding.
func TestBackground(t *testing.T) {
	const n = 20000
	regions := []string{"us-east-1", "us-west-2", "eu-west-1", "ap-southeast-2"}
	cfg := ForEntities(300)
	cfg.Regions = regions[:3]
	a, b := New(cfg), New(cfg)
	w := newWorld(t, regions)
	var size [4]int
	for i := range n {
		src := allSources[i%3]
		ra, rb := a.Next(src), b.Next(src)
		if !bytes.Equal(ra.Value, rb.Value) {
			t.Fatalf("record %d differs between runs with one seed:\n%s\n%s", i, ra.Value, rb.Value)
		}
		if i%1000 == 0 { // attacks in one run only: the background must not move
			if _, err := b.Attack(Kind(i/1000) % numKinds); err != nil {
				t.Fatal(err)
			}
		}
		w.apply(src, ra.Value)
		size[src] += len(ra.Value)
	}
	for id, f := range w.found {
		t.Errorf("background raised %s %s: %s", f.Type, id, f.Title)
	}
	for _, src := range allSources {
		t.Logf("%s: mean record %d bytes", src, size[src]*3/n)
	}
	t.Logf("%d events, %d profiles", w.events, len(w.profiles))
}

// The shape of the background: read share, errors, global share, rejects,
// NXDOMAIN, and popularity.
func TestBackgroundShape(t *testing.T) {
	g := New(ForEntities(1000))
	const n = 30000
	var ro, errs, global, reject, nx int
	byEntity := make(map[string]int)
	for range n {
		ct := g.Next(event.SourceCloudTrail).Value
		ev, err := decodeOne(event.SourceCloudTrail, ct)
		if err != nil {
			t.Fatal(err)
		}
		if ev.CloudTrail.ReadOnly {
			ro++
		}
		if ev.CloudTrail.ErrorCode != "" {
			errs++
		}
		if sources.IsGlobal(ev.CloudTrail) {
			global++
		}
		byEntity[ev.Entity]++
		if bytes.Contains(g.Next(event.SourceVPCFlow).Value, []byte("REJECT")) {
			reject++
		}
		if bytes.Contains(g.Next(event.SourceDNS).Value, []byte("NXDOMAIN")) {
			nx++
		}
	}
	pct := func(k int) float64 { return 100 * float64(k) / n }
	t.Logf("read-only %.1f%%, errors %.1f%%, global %.1f%%, flow rejects %.1f%%, NXDOMAIN %.1f%%, %d principals seen",
		pct(ro), pct(errs), pct(global), pct(reject), pct(nx), len(byEntity))
	check := func(what string, got, lo, hi float64) {
		if got < lo || got > hi {
			t.Errorf("%s %.1f%%, want %.0f–%.0f%%", what, got, lo, hi)
		}
	}
	check("read-only", pct(ro), 75, 85)
	check("errors", pct(errs), 1, 5)
	check("global", pct(global), 6, 11)
	check("rejects", pct(reject), 3, 8)
	check("NXDOMAIN", pct(nx), 2, 5)
	// Popularity: the top 1 % of principals make a large share.
	counts := make([]int, 0, len(byEntity))
	for _, c := range byEntity {
		counts = append(counts, c)
	}
	top := 0
	for range len(counts) / 100 {
		best := 0
		for j, c := range counts {
			if c > counts[best] {
				best = j
			}
		}
		top += counts[best]
		counts[best] = 0
	}
	if share := 100 * float64(top) / n; share < 25 {
		t.Errorf("top 1%% of principals make %.0f%% of events, want a skewed popularity", share)
	}
}

// Every attack raises the finding it expects, with the id it expects, in
// a stream of background records.
func TestAttacksRaiseTheirFindings(t *testing.T) {
	regions := []string{"us-east-1", "us-west-2", "eu-west-1"}
	g := New(Config{Regions: regions, Principals: 200, Instances: 200})
	w := newWorld(t, regions)
	var attacks []*Attack
	for round := range 3 {
		for k := range numKinds {
			for range 200 {
				r := g.NextOf(allSources)
				w.apply(r.Source, r.Value)
			}
			a, err := g.Attack(k)
			if err != nil {
				t.Fatal(err)
			}
			if a.Finding.Type != k.FindingType() || a.Source != k.Source() {
				t.Fatalf("round %d %s: %+v", round, k, a.Finding)
			}
			for i, rec := range a.Records {
				w.apply(a.Source, rec)
				if _, ok := w.found[a.Finding.ID]; ok != (i >= a.Completes) && k != RootUsage && k != StopLogging {
					t.Errorf("%s: after record %d (completes at %d) finding raised %v", k, i, a.Completes, ok)
				}
			}
			attacks = append(attacks, a)
		}
	}
	ids := make(map[string]bool)
	for _, a := range attacks {
		f, ok := w.found[a.Finding.ID]
		if !ok {
			t.Errorf("%s attack %d: no finding %s (%+v)", a.Kind, a.Seq, a.Finding.ID, a.Finding)
			continue
		}
		if ids[a.Finding.ID] {
			t.Errorf("%s attack %d: id %s shared with another attack", a.Kind, a.Seq, a.Finding.ID)
		}
		ids[a.Finding.ID] = true
		js, _ := f.MarshalStored()
		for _, m := range a.Markers {
			if !strings.Contains(string(js), m) {
				t.Errorf("%s finding does not name %q: %s", a.Kind, m, js)
			}
		}
	}
	for id, f := range w.found {
		if !ids[id] {
			t.Errorf("finding %s %s not of an attack: %s", f.Type, id, f.Title)
		}
	}
}

func TestKindsFor(t *testing.T) {
	if got := KindsFor([]event.Source{event.SourceVPCFlow}); len(got) != 2 || got[0] != Portscan || got[1] != SSHBruteForce {
		t.Errorf("KindsFor(vpcflow) = %v", got)
	}
	if got := KindsFor(allSources); len(got) != int(numKinds) {
		t.Errorf("KindsFor(all) = %v", got)
	}
}

func BenchmarkGenerate(b *testing.B) {
	for _, src := range allSources {
		b.Run(src.String(), func(b *testing.B) {
			g := New(ForEntities(2000))
			n := 0
			for b.Loop() {
				n += len(g.Next(src).Value)
			}
			b.SetBytes(int64(n / b.N))
		})
	}
}

// Every name of a tunnel looks encoded to the detector, so every tunnel
// completes at its last name.
func TestEveryTunnelCompletes(t *testing.T) {
	g := New(Config{Principals: 20, Instances: 20})
	w := newWorld(t, []string{"us-east-1"})
	for range 200 {
		a, err := g.Attack(DNSTunnel)
		if err != nil {
			t.Fatal(err)
		}
		for _, rec := range a.Records {
			w.apply(a.Source, rec)
		}
		if _, ok := w.found[a.Finding.ID]; !ok {
			t.Fatalf("tunnel %d raised no finding", a.Seq)
		}
	}
}
