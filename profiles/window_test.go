package profiles

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"
)

var remote = netip.MustParseAddr("198.51.100.7")

func TestPaneIndex(t *testing.T) {
	for _, tc := range []struct {
		t    time.Time
		hop  time.Duration
		want int64
	}{
		{time.Unix(0, 0), time.Minute, 0},
		{time.Unix(59, 999), time.Minute, 0},
		{time.Unix(60, 0), time.Minute, 1},
		{time.Unix(-1, 0), time.Minute, -1},
		{time.Unix(-60, 0), time.Minute, -1},
		{time.Unix(-61, 0), time.Minute, -2},
		{time.Unix(1, 500e6), 750 * time.Millisecond, 2},
		{time.Unix(0, -1), 750 * time.Millisecond, -1},
	} {
		if got := paneIndex(tc.t, tc.hop); got != tc.want {
			t.Errorf("paneIndex(%v, %v) = %d, want %d", tc.t.UTC(), tc.hop, got, tc.want)
		}
		if i := paneIndex(tc.t, tc.hop); paneStart(i, tc.hop).After(tc.t) || !paneStart(i+1, tc.hop).After(tc.t) {
			t.Errorf("paneStart(%d, %v) = %v does not hold %v", i, tc.hop, paneStart(i, tc.hop), tc.t)
		}
	}
}

// TestWindowHits follows two-minute windows (panes of a minute) with a
// threshold of 3 keys through a sequence of events, one arriving late.
func TestWindowHits(t *testing.T) {
	const w, threshold = 2 * time.Minute, 3
	type hit struct {
		index            int64
		reached, crossed bool
	}
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) } // t0 is minute-aligned
	base := paneIndex(t0, time.Minute)
	var pw PortWindows
	latest := t0
	for i, step := range []struct {
		s    int
		key  uint16
		want [2]hit // windows base+k-1 and base+k for the event's pane base+k
	}{
		{0, 1, [2]hit{{-1, false, true}, {0, false, true}}},
		{30, 2, [2]hit{{-1, false, true}, {0, false, true}}},
		{70, 3, [2]hit{{0, true, true}, {1, false, true}}},    // window 0 holds 1, 2, 3
		{80, 3, [2]hit{{0, true, false}, {1, false, true}}},   // an update of window 0
		{10, 4, [2]hit{{-1, true, true}, {0, true, false}}},   // late: window -1 reaches 1, 2, 4
		{100, 1, [2]hit{{0, true, false}, {1, false, true}}},  // window 1 holds 1, 3
		{119, 9, [2]hit{{0, true, false}, {1, true, true}}},   // window 1 reaches 1, 3, 9
		{125, 7, [2]hit{{1, true, false}, {2, false, true}}},  // pane 2
		{59, 99, [2]hit{{-1, true, false}, {0, true, false}}}, // late, a new key beyond the threshold
	} {
		if at(step.s).After(latest) {
			latest = at(step.s)
		}
		hits := pw.observe(remote, step.key, at(step.s), FlowExemplar{LocalPort: uint16(step.s)}, w, latest, threshold, MaxPortPanes)
		for k, h := range hits {
			want := step.want[k]
			if h.Index != base+want.index || h.Reached != want.reached || h.Reached && h.Crossed != want.crossed {
				t.Fatalf("event %d (%ds, key %d): window %d hit %+v, want %+v", i, step.s, step.key, k, h, want)
			}
		}
	}
	win := pw.Window(remote, base)
	if !win.First.Equal(at(0)) || !win.Last.Equal(at(119)) || win.Count != 8 || win.Distinct != 6 ||
		win.Exemplar.LocalPort != 119 || !win.Start.Equal(t0) {
		t.Errorf("window 0 = %+v", win)
	}
	if got := pw.AppendKeys(nil, remote, base); !slices.Equal(got, []uint16{1, 2, 3, 4, 9, 99}) {
		t.Errorf("keys of window 0 = %v", got)
	}
}

// TestWindowOrderIndependent: in any order, each window crosses its
// threshold exactly once and the panes end the same.
func TestWindowOrderIndependent(t *testing.T) {
	type ev struct {
		at  time.Time
		key uint16
		ex  FlowExemplar
	}
	r := rand.New(rand.NewPCG(5, 5))
	var evs []ev
	for range 400 {
		evs = append(evs, ev{t0.Add(time.Duration(r.IntN(1800)) * time.Second), uint16(r.IntN(120)),
			FlowExemplar{LocalPort: uint16(r.IntN(3)), Remote: remote}})
	}
	latest := t0
	for _, e := range evs {
		if e.at.After(latest) {
			latest = e.at
		}
	}
	run := func(evs []ev) (map[int64]int, []byte) {
		var pw PortWindows
		crossed := map[int64]int{}
		seen := t0
		for _, e := range evs {
			if e.at.After(seen) {
				seen = e.at
			}
			for _, h := range pw.observe(remote, e.key, e.at, e.ex, 5*time.Minute, seen, 25, MaxPortPanes) {
				if h.Reached && h.Crossed {
					crossed[h.Index]++
				}
			}
		}
		e := encoder{}
		pw.encode(&e, latest, func(a netip.Addr) { e.addr(a) }, func(x, prev *FlowExemplar) { x.encode(&e, prev) })
		return crossed, e.b
	}
	wantCrossed, want := run(evs)
	if len(wantCrossed) < 10 {
		t.Fatalf("only %d windows crossed", len(wantCrossed))
	}
	for i := range 30 {
		r.Shuffle(len(evs), func(i, j int) { evs[i], evs[j] = evs[j], evs[i] })
		crossed, got := run(evs)
		if !slices.Equal(got, want) {
			t.Fatalf("permutation %d: panes differ", i)
		}
		for idx, n := range crossed {
			if n != 1 || wantCrossed[idx] != 1 {
				t.Fatalf("permutation %d: window %d crossed %d times (%d in order)", i, idx, n, wantCrossed[idx])
			}
		}
		if len(crossed) != len(wantCrossed) {
			t.Fatalf("permutation %d: %d windows crossed, want %d", i, len(crossed), len(wantCrossed))
		}
	}
}

// TestWindowLateness: an event whose windows ended WindowLateness before
// the latest event time is not windowed, and panes that old are not
// encoded.
func TestWindowLateness(t *testing.T) {
	const w = 10 * time.Minute
	var pw PortWindows
	latest := t0.Add(WindowLateness + time.Hour)
	pw.observe(remote, 1, latest, FlowExemplar{}, w, latest, 1, MaxPortPanes)
	if hits := pw.observe(remote, 2, t0, FlowExemplar{}, w, latest, 1, MaxPortPanes); hits[0].Reached || hits[1].Reached || len(pw.Panes) != 1 {
		t.Fatalf("an event older than the lateness horizon was windowed: %+v, %d panes", hits, len(pw.Panes))
	}
	// Just within the horizon: windowed, both windows.
	in := latest.Add(-WindowLateness + time.Second)
	if hits := pw.observe(remote, 3, in, FlowExemplar{}, w, latest, 1, MaxPortPanes); !hits[0].Reached || !hits[1].Reached {
		t.Fatalf("an event within the horizon: %+v", hits)
	}
	// The horizon moves on: the encoding forgets the old panes, and a new
	// pane replaces them in memory.
	later := latest.Add(WindowLateness)
	e := encoder{}
	pw.encode(&e, later, func(a netip.Addr) { e.addr(a) }, func(x, prev *FlowExemplar) { x.encode(&e, prev) })
	var back PortWindows
	d := newDecoder(e.b)
	back.decode(&d, "probes", later, MaxPortPanes, func() netip.Addr { return d.addr() }, func(x, prev *FlowExemplar) { x.decode(&d, prev) })
	if d.Err != nil || len(back.Panes) != 1 || back.Panes[0].Keys[0] != 1 {
		t.Fatalf("decoded %+v, %v", back.Panes, d.Err)
	}
	pw.observe(remote, 4, later, FlowExemplar{}, w, later, 1, MaxPortPanes)
	if len(pw.Panes) != 2 {
		t.Fatalf("%d panes after the horizon moved", len(pw.Panes))
	}
	// Another window length starts over.
	pw.observe(remote, 5, later, FlowExemplar{}, w/2, later, 1, MaxPortPanes)
	if len(pw.Panes) != 1 || pw.Hop != w/4 {
		t.Fatalf("a new window kept %d panes (hop %v)", len(pw.Panes), pw.Hop)
	}
}

// TestWindowCaps: a pane keeps its MaxWindowKeys smallest keys, and a full
// list drops its least recent pane, or refuses a new one older than all.
func TestWindowCaps(t *testing.T) {
	const w = 10 * time.Minute
	var pw PortWindows
	for i := range 200 {
		pw.observe(remote, uint16(1000-i), t0, FlowExemplar{}, w, t0, 64, MaxPortPanes)
	}
	if keys := pw.Panes[0].Keys; len(keys) != MaxWindowKeys || keys[0] != 801 || keys[len(keys)-1] != 864 || pw.Panes[0].Count != 200 {
		t.Fatalf("pane keys %v, count %d", keys, pw.Panes[0].Count)
	}
	var full PortWindows
	latest := t0.Add(MaxPortPanes * time.Minute)
	for i := range MaxPortPanes {
		full.observe(netip.AddrFrom4([4]byte{198, 51, 100, byte(i)}), 1, t0.Add(time.Duration(i+1)*time.Minute), FlowExemplar{}, w, latest, 1, MaxPortPanes)
	}
	if hits := full.observe(netip.MustParseAddr("203.0.113.1"), 1, t0, FlowExemplar{}, w, latest, 1, MaxPortPanes); hits[1].Reached {
		t.Fatal("a full list took a pane older than all of it")
	}
	full.observe(netip.MustParseAddr("203.0.113.2"), 1, latest, FlowExemplar{}, w, latest, 1, MaxPortPanes)
	if len(full.Panes) != MaxPortPanes || full.Find(netip.AddrFrom4([4]byte{198, 51, 100, 0}), paneIndex(t0.Add(time.Minute), w/2)) != nil {
		t.Fatalf("%d panes; the least recent one kept", len(full.Panes))
	}
	var dw DomainWindows
	n := NewNetwork("1", "r", "i-1")
	n.observe(t0)
	if hits := n.ObserveDNSTunnel(string(make([]byte, MaxDomainLen+1)), 1, t0, DNSExemplar{}, w, 1); hits[1].Reached || len(n.DNSTunnel.Panes) != 0 || len(dw.Panes) != 0 {
		t.Fatal("an over-long domain was windowed")
	}
}

func TestDistinctUpTo(t *testing.T) {
	for _, tc := range []struct {
		a, b  []uint16
		limit int
		want  int
	}{
		{nil, nil, 3, 0},
		{[]uint16{1, 2}, []uint16{2, 3}, 3, 3},
		{[]uint16{1, 2}, []uint16{1, 2}, 3, 2},
		{[]uint16{1, 2, 3}, nil, 3, 3},
		{[]uint16{1, 5, 9}, []uint16{2, 5, 8}, 10, 5},
		{[]uint16{1, 5, 9}, []uint16{2, 5, 8}, 4, 4},
	} {
		if got := distinctUpTo(tc.a, tc.b, tc.limit); got != tc.want {
			t.Errorf("distinctUpTo(%v, %v, %d) = %d, want %d", tc.a, tc.b, tc.limit, got, tc.want)
		}
		if got := reachUpTo(tc.a, tc.b, tc.limit); (got >= tc.limit) != (tc.want >= tc.limit) {
			t.Errorf("reachUpTo(%v, %v, %d) = %d, want %d", tc.a, tc.b, tc.limit, got, tc.want)
		}
	}
}
