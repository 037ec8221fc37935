package profiles

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"
)

// TestAttackWindowsCaps fills every attack window list past its cap with
// full key sets and IPv6 exemplars: the lists stay at their caps, the
// encoding decodes, and the bytes they add are what attacks.go says.
func TestAttackWindowsCaps(t *testing.T) {
	n := NewNetwork("1", "us-east-1", "i-00779ebad43b2470d")
	const w, events = 10 * time.Minute, 3000
	every := WindowLateness / events
	for i := range events {
		at := t0.Add(time.Duration(i) * every)
		n.observe(at)
		remote := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(i), 14: byte(i >> 8)})
		x := FlowExemplar{Local: netip.MustParseAddr("fd00::25"), Remote: remote, LocalPort: uint16(i), RemotePort: uint16(i * 7),
			ENI: fmt.Sprintf("eni-%017x", i), VPC: fmt.Sprintf("vpc-%017x", i), Subnet: fmt.Sprintf("subnet-%017x", i)}
		for k := range MaxWindowKeys {
			port := uint16(i*64+k) * 613
			n.ObserveBruteIn(3389, remote, port, at, x, w, 10)
			n.ObserveBruteOut(5985, remote, port, at, x, w, 20)
			n.ObserveBruteFanout(uint16(i%40), netip.AddrFrom16([16]byte{0x20, 0x01, 15: byte(k), 14: byte(i)}), at, x, w, 30)
			n.ObserveSweep(uint16(i), netip.AddrFrom4([4]byte{45, byte(i), byte(k), byte(i * k)}), at, x, w, 30)
			n.ObserveVolume(remote, uint8(k%5+1), port, 1<<40, 1<<50, at, x, w, 120000, 64)
		}
	}
	for name, c := range map[string][2]int{
		"bruteIn": {len(n.Attacks.BruteIn.Panes), MaxServicePanes}, "bruteOut": {len(n.Attacks.BruteOut.Panes), MaxServicePanes},
		"bruteFanout": {len(n.Attacks.BruteFanout.Panes), MaxFanoutPanes}, "sweep": {len(n.Attacks.Sweep.Panes), MaxSweepPanes},
		"volume": {len(n.Attacks.Volume.Panes), MaxVolumePanes},
	} {
		if c[0] != c[1] {
			t.Errorf("%s has %d panes, want %d", name, c[0], c[1])
		}
	}
	empty := mustMarshal(t, NewNetwork("1", "us-east-1", "i-00779ebad43b2470d"))
	b := mustMarshal(t, n)
	t.Logf("attack windows full: %d bytes", len(b)-len(empty))
	if len(b)-len(empty) > 100<<10 {
		t.Errorf("attack windows take %d bytes", len(b)-len(empty))
	}
	var q Network
	if err := q.UnmarshalBinary(b); err != nil {
		t.Fatalf("a capped profile does not decode: %v", err)
	}
	if b2 := mustMarshal(t, &q); !bytes.Equal(b, b2) {
		t.Fatal("decoding and encoding again changed the profile")
	}
}

// TestVolumeWindowsOrder: the panes, and the windows' crossings, are the
// same in any order of the records; each window crosses once.
func TestVolumeWindowsOrder(t *testing.T) {
	type rec struct {
		at      time.Time
		port    uint16
		packets uint64
	}
	var recs []rec
	for i := range 400 {
		recs = append(recs, rec{t0.Add(time.Duration(i%180) * time.Second), uint16(1000 + i%100), uint64(100 + i%7)})
	}
	remote := netip.MustParseAddr("203.0.113.9")
	run := func(order []rec) ([]byte, map[int64]int) {
		n := NewNetwork("1", "us-east-1", "i-1")
		crossed := map[int64]int{}
		for _, r := range order {
			n.observe(r.at)
		}
		for _, r := range order {
			x := FlowExemplar{Remote: remote, LocalPort: r.port, Protocol: 17}
			for _, h := range n.ObserveVolume(remote, 3, r.port, r.packets, r.packets*90, r.at, x, 2*time.Minute, 20000, 64) {
				if h.Reached && h.Crossed {
					crossed[h.Index]++
				}
			}
		}
		return mustMarshal(t, n), crossed
	}
	wantB, wantC := run(recs)
	if len(wantC) == 0 {
		t.Fatal("no window reached the threshold")
	}
	for _, c := range wantC {
		if c != 1 {
			t.Fatalf("crossings %v", wantC)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		perm := append([]rec(nil), recs...)
		r.Shuffle(len(perm), func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
		b, c := run(perm)
		if !bytes.Equal(b, wantB) || fmt.Sprint(c) != fmt.Sprint(wantC) {
			t.Fatalf("order changed the outcome: crossings %v, want %v", c, wantC)
		}
	}
}
