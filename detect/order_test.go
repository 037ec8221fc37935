package detect

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/event"
	"github.com/vigil-sec/vigil/findings"
	"github.com/vigil-sec/vigil/profiles"
)

// tourScan is the tour's v2 flow log of one interface: HTTPS to public
// hosts (which teaches the interface its address) interleaved with a TCP
// connect scan of 40 ports of a private host, neither record carrying a
// flow-direction. In an order where scan records come before any HTTPS
// record they wait parked.
func tourScan() []*event.Event {
	const eni = "eni-0a1b2c3d4e5f60001"
	var evs []*event.Event
	for i := range 12 {
		at := scanStart.Add(time.Duration(i-6) * 30 * time.Second)
		remote := netip.AddrFrom4([4]byte{52, 94, byte(200 + i), byte(10 + i)}).String()
		evs = append(evs,
			flowSpec{at: at, src: localIP, dst: remote, sport: uint16(54000 + i), dport: 443, packets: 18, bytes: 4200, eni: eni, version: 2}.event(),
			flowSpec{at: at, src: remote, dst: localIP, sport: 443, dport: uint16(54000 + i), packets: 16, bytes: 21000, eni: eni, version: 2}.event())
	}
	for _, ev := range nmapScan(scanStart, "10.0.2.40", scanPorts(40, 8), 2, 200*time.Millisecond) {
		ev.Flow.InterfaceID, ev.Entity = eni, eni
		evs = append(evs, ev)
	}
	return evs
}

// orderEvents is a realistic mix for every detector (mixedEvents), the
// tour's scan, a v2 scan oriented by the inventory facts of a real
// RunInstances record (inventoryScan), and a real iodine tunnel capture.
//
// Windows are exact only for events that arrive before their entity's
// latest event time passes theirs by profiles.WindowLateness, and a random
// order of a log spanning days breaks that: the honeypot's log spans 12
// days, so only its last 5 hours are kept (two brute-forcing sources and
// the one-off scanners around them).
func orderEvents(t testing.TB) []*event.Event {
	evs := append(append(mixedEvents(t), tourScan()...), attackEvents()...)
	evs = append(evs, inventoryScan(t)...)
	for _, l := range readLines(t, "iodine.route53.jsonl") {
		evs = append(evs, dnsEventJSON(t, l))
	}
	latest := map[string]time.Time{}
	for _, ev := range evs {
		if ev.Kind == event.KindNetwork && ev.Time.After(latest[ev.Key()]) {
			latest[ev.Key()] = ev.Time
		}
	}
	return slices.DeleteFunc(evs, func(ev *event.Event) bool {
		return ev.Kind == event.KindNetwork && ev.Time.Before(latest[ev.Key()].Add(-5*time.Hour))
	})
}

// run is the outcome of applying a list of events to fresh profiles.
type run struct {
	profiles map[string][]byte // key → encoding
	findings []findings.Finding
	dups     int // events Apply reported not applied
}

// applyRun applies evs to fresh profiles; with restore, each profile is
// marshalled and unmarshalled at random points (passivation).
func applyRun(t testing.TB, evs []*event.Event, restore *rand.Rand) run {
	t.Helper()
	eng := New(orderConfig())
	ps := map[string]profiles.Profile{}
	var occ []findings.Finding
	dups := 0
	for _, ev := range evs {
		p, ok := ps[ev.Key()]
		if !ok {
			p = profiles.New(ev.Kind, ev.Account, ev.Region, ev.Entity)
			ps[ev.Key()] = p
		} else if restore != nil && restore.IntN(8) == 0 {
			b, err := p.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			if p, err = profiles.Unmarshal(p.Kind(), b); err != nil {
				t.Fatalf("restore %s: %v", ev.Key(), err)
			}
			ps[ev.Key()] = p
		}
		got, applied := eng.Apply(p, ev)
		if !applied {
			dups++
		}
		occ = append(occ, got...)
	}
	r := run{profiles: map[string][]byte{}, findings: aggregate(occ), dups: dups}
	for k, p := range ps {
		b, err := p.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		r.profiles[k] = b
	}
	return r
}

// diff describes how r differs from want, or is empty.
func (r run) diff(want run) string {
	var b strings.Builder
	for k, wb := range want.profiles {
		if !bytes.Equal(r.profiles[k], wb) {
			fmt.Fprintf(&b, "\nprofile %s differs (%d vs %d bytes)", k, len(r.profiles[k]), len(wb))
		}
	}
	if len(r.profiles) != len(want.profiles) {
		fmt.Fprintf(&b, "\n%d profiles, want %d", len(r.profiles), len(want.profiles))
	}
	if len(r.findings) != len(want.findings) {
		fmt.Fprintf(&b, "\n%d findings, want %d:%s\nwant:%s", len(r.findings), len(want.findings), summary(r.findings), summary(want.findings))
		return b.String()
	}
	for i := range r.findings {
		g, _ := json.Marshal(r.findings[i])
		w, _ := json.Marshal(want.findings[i])
		if !bytes.Equal(g, w) || r.findings[i].Rank != want.findings[i].Rank {
			fmt.Fprintf(&b, "\nfinding %s differs: rank %d, want %d\n%s\nwant\n%s", r.findings[i].Type, r.findings[i].Rank, want.findings[i].Rank, g, w)
		}
	}
	return b.String()
}

// TestOrderIndependence is the cluster's "same input, same output" at the
// level of one engine: the events of realistic attacks and benign traffic,
// applied in file order and in 50 seeded random orders (some with profiles
// restored from their encoding mid-stream), give byte-identical profile
// encodings and identical merged findings (JSON and Rank), and every
// detector fires.
func TestOrderIndependence(t *testing.T) {
	evs := orderEvents(t)
	want := applyRun(t, evs, nil)
	types := map[string]int{}
	for _, f := range want.findings {
		types[f.Type] += f.Service.Count
	}
	for _, typ := range []string{TypeCloudTrailLoggingDisabled, TypeRootCredentialUsage, TypePortscan,
		TypeSSHBruteForce, TypeDNSDataExfiltration, TypeBitcoinToolDNS,
		TypeRDPBruteForce, TypePortSweep, TypeDoSUDP, TypeDoSUDPOnTCPPorts, TypePortProbeUnprotected, TypePortProbeEMRUnprotected} {
		if types[typ] == 0 {
			t.Errorf("no %s finding (%v)", typ, types)
		}
	}
	// The tour scan was detected on its interface.
	tour := false
	for _, f := range want.findings {
		if f.Type == TypePortscan && strings.Contains(f.Title, "eni-0a1b2c3d4e5f60001") {
			tour = true
		}
	}
	if !tour {
		t.Errorf("the tour's scan raised nothing:%s", summary(want.findings))
	}
	// The v2 scan oriented by a RunInstances record was detected too.
	launchedScan := false
	for _, f := range want.findings {
		launchedScan = launchedScan || f.Type == TypePortscan && f.Resource.InstanceDetails != nil && f.Resource.InstanceDetails.InstanceID == launched
	}
	if !launchedScan {
		t.Errorf("the scan oriented by the inventory raised nothing:%s", summary(want.findings))
	}
	t.Logf("%d events, %d profiles, findings counted by type %v", len(evs), len(want.profiles), types)

	r := rand.New(rand.NewPCG(2024, 7))
	for i := range 50 {
		perm := slices.Clone(evs)
		r.Shuffle(len(perm), func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
		var restore *rand.Rand
		if i%5 == 4 {
			restore = rand.New(rand.NewPCG(uint64(i), 1))
		}
		if d := applyRun(t, perm, restore).diff(want); d != "" {
			t.Fatalf("permutation %d (restore %v):%s", i, restore != nil, d)
		}
	}
}

// TestCloudTrailDuplicates: CloudTrail delivers some events twice and a
// replayed export applies all of them again. Each copy is recognised by
// its eventID: the profiles and findings are those of one copy.
func TestCloudTrailDuplicates(t *testing.T) {
	evs := orderEvents(t)
	want := applyRun(t, evs, nil)
	var withIDs, twice []*event.Event
	for _, ev := range evs {
		twice = append(twice, ev)
		if ev.CloudTrail != nil && ev.CloudTrail.EventID != "" {
			withIDs = append(withIDs, ev)
		}
	}
	if len(withIDs) < 10 {
		t.Fatalf("only %d CloudTrail events with an eventID", len(withIDs))
	}
	// The whole file again, after it and shuffled into it.
	twice = append(twice, withIDs...)
	got := applyRun(t, twice, nil)
	if d := got.diff(want); d != "" || got.dups != len(withIDs) {
		t.Fatalf("replayed CloudTrail (%d duplicates reported, want %d):%s", got.dups, len(withIDs), d)
	}
	r := rand.New(rand.NewPCG(3, 3))
	r.Shuffle(len(twice), func(i, j int) { twice[i], twice[j] = twice[j], twice[i] })
	if got := applyRun(t, twice, nil); got.diff(want) != "" || got.dups != len(withIDs) {
		t.Fatalf("shuffled duplicates (%d reported):%s", got.dups, got.diff(want))
	}
	// A duplicate leaves the profile untouched, byte for byte.
	eng := New(DefaultConfig())
	ev := withIDs[0]
	p := profiles.New(ev.Kind, ev.Account, ev.Region, ev.Entity)
	if _, applied := eng.Apply(p, ev); !applied {
		t.Fatal("first copy not applied")
	}
	before, _ := p.MarshalBinary()
	if occ, applied := eng.Apply(p, ev); applied || occ != nil {
		t.Fatalf("second copy applied %v, raised %d", applied, len(occ))
	}
	if after, _ := p.MarshalBinary(); !bytes.Equal(before, after) {
		t.Fatal("a duplicate changed the profile")
	}
	// Without an eventID an event is never a duplicate.
	anon := *ev
	ct := *ev.CloudTrail
	ct.EventID = ""
	anon.CloudTrail = &ct
	if _, applied := eng.Apply(p, &anon); !applied {
		t.Fatal("an event without an eventID was taken for a duplicate")
	}
}
