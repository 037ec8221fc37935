package profiles

import (
	"bytes"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"
)

type signalCall struct {
	cred string
	at   time.Time
	sig  Signal
}

// signalCalls are more signals than a pane keeps: 3 credentials over 3
// days, 60 signal names over 5 tactics, about 20 per credential and pane.
func signalCalls() []signalCall {
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	var out []signalCall
	for i := range 900 {
		s := Signal{Tactic: uint8(i % 5), Name: "api:" + strconv.Itoa(i%60), API: "Call" + strconv.Itoa(i%7)}
		if i%11 == 0 {
			s.FindingID = "f" + strconv.Itoa(i%13)
		}
		out = append(out, signalCall{cred: "AKIA" + strconv.Itoa(i%3), at: t0.Add(time.Duration(i) * 5 * time.Minute), sig: s})
	}
	return out
}

// apply observes calls in order and returns the principal's encoding and
// how many windows crossed the threshold.
func applySignals(t *testing.T, calls []signalCall, restore *rand.Rand) ([]byte, int) {
	t.Helper()
	p := NewPrincipal("111122223333", "us-east-1", "arn:aws:iam::111122223333:user/alice")
	crossed := 0
	for _, c := range calls {
		p.observe(c.at)
		for _, h := range p.Signals.Observe(c.cred, c.at, []Signal{c.sig}, 24*time.Hour, p.LastEvent, 3) {
			if h.Reached && h.Crossed {
				crossed++
			}
		}
		if restore != nil && restore.IntN(10) == 0 {
			b, _ := p.MarshalBinary()
			var q Principal
			if err := q.UnmarshalBinary(b); err != nil {
				t.Fatal(err)
			}
			p = &q
		}
	}
	b, err := p.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b, crossed
}

// TestSignalsOrder: the caps keep the same panes and signals in any order
// while the events stay within the lateness horizon (the calls are
// shuffled within blocks of six hours), and the encoding round-trips.
func TestSignalsOrder(t *testing.T) {
	calls := signalCalls()
	want, crossed := applySignals(t, calls, nil)
	if crossed == 0 {
		t.Fatal("no window reached the threshold")
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 20 {
		perm := append([]signalCall(nil), calls...)
		for j := 0; j < len(perm); j += 72 {
			blk := perm[j:min(j+72, len(perm))]
			r.Shuffle(len(blk), func(a, b int) { blk[a], blk[b] = blk[b], blk[a] })
		}
		var restore *rand.Rand
		if i%2 == 1 {
			restore = rand.New(rand.NewPCG(uint64(i), 9))
		}
		got, n := applySignals(t, perm, restore)
		if !bytes.Equal(got, want) || n != crossed {
			t.Fatalf("order %d: %d bytes and %d crossings, want %d and %d", i, len(got), n, len(want), crossed)
		}
	}
	var p Principal
	if err := p.UnmarshalBinary(want); err != nil {
		t.Fatal(err)
	}
	if len(p.Signals.Panes) == 0 || len(p.Signals.Panes) > MaxSignalPanes {
		t.Errorf("%d panes", len(p.Signals.Panes))
	}
	full := 0
	for _, pane := range p.Signals.Panes {
		if len(pane.Signals) > MaxPaneSignals {
			t.Errorf("pane of %d signals", len(pane.Signals))
		}
		if len(pane.Signals) == MaxPaneSignals {
			full++
		}
	}
	if full == 0 {
		t.Error("no pane reached its cap")
	}
	if again, _ := p.MarshalBinary(); !bytes.Equal(again, want) {
		t.Error("encoding does not round-trip")
	}
}

// TestSignalsWindow: a window needs the threshold of tactics, one of them
// a finding, and counts once.
func TestSignalsWindow(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 1, 0, 0, 0, time.UTC)
	var s Signals
	obs := func(at time.Time, sig Signal) [2]WindowHit {
		return s.Observe("k", at, []Signal{sig}, 24*time.Hour, at, 3)
	}
	obs(t0, Signal{Tactic: 0, Name: "a"})
	obs(t0.Add(time.Hour), Signal{Tactic: 1, Name: "b"})
	if h := obs(t0.Add(2*time.Hour), Signal{Tactic: 2, Name: "c"}); h[0].Reached || h[1].Reached {
		t.Fatalf("reached without a finding: %+v", h)
	}
	h := obs(t0.Add(3*time.Hour), Signal{Tactic: 2, Name: "T", FindingID: "id"})
	n := 0
	for _, x := range h {
		if x.Reached && x.Crossed {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("crossed %d windows: %+v", n, h)
	}
	w, ok := s.Reached("k", h)
	if !ok || w.Crossed != 1 || len(w.Signals) != 4 || w.Count != 4 || !w.First.Equal(t0) {
		t.Errorf("window %+v", w)
	}
	if h := obs(t0.Add(4*time.Hour), Signal{Tactic: 3, Name: "d"}); !(h[0].Reached || h[1].Reached) || h[0].Crossed && h[0].Reached || h[1].Crossed && h[1].Reached {
		t.Errorf("update: %+v", h)
	}
}

func TestSignalsDecodeHostile(t *testing.T) {
	p := NewPrincipal("1", "us-east-1", "arn:aws:iam::1:user/a")
	p.observe(time.Unix(1e9, 0))
	p.Signals.Observe("k", time.Unix(1e9, 0), []Signal{{Tactic: 1, Name: "x", FindingID: "f"}}, 24*time.Hour, p.LastEvent, 3)
	b, _ := p.MarshalBinary()
	for i := range b {
		for _, v := range []byte{0, 0x7f, 0xff} {
			c := bytes.Clone(b)
			c[i] = v
			var q Principal
			_ = q.UnmarshalBinary(c) // must not panic
		}
	}
}
