package profiles

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"
)

var nb0 = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

// volumeRecord is one AddVolume call.
type volumeRecord struct {
	remote  netip.Addr
	at      time.Time
	out, in uint64
}

func netExemplar(remote netip.Addr, port uint16) FlowExemplar {
	return FlowExemplar{Local: netip.MustParseAddr("10.0.1.25"), Remote: remote, LocalPort: 41000, RemotePort: port,
		Protocol: 6, ENI: "eni-0a1b2c3d4e5f67890", VPC: "vpc-0123456789abcdef0", Subnet: "subnet-0123456789abcdef0"}
}

// TestNetBaselineOrderIndependent learns the same records in shuffled
// orders: the baseline (sets, daily volumes with their settled parts and
// exemplars) encodes the same.
func TestNetBaselineOrderIndependent(t *testing.T) {
	var recs []volumeRecord
	hosts := []netip.Addr{netip.MustParseAddr("203.0.113.80"), netip.MustParseAddr("2001:db8::80"), netip.MustParseAddr("198.51.100.7")}
	for d := range 10 {
		for i := range 30 {
			// Some records fall in the day's last hour: not settled.
			at := nb0.AddDate(0, 0, d).Add(time.Duration(i*47) * time.Minute)
			recs = append(recs, volumeRecord{hosts[i%3], at, uint64(1000 * (i + 1)), uint64(50 * i)})
		}
	}
	values := []struct {
		d NetDim
		v string
	}{{NetPort, "tcp/443"}, {NetPort, "udp/123"}, {NetProtocol, "tcp"}, {NetResolver, "8.8.8.8"}, {NetDoH, "1.1.1.1"}, {NetDoT, "9.9.9.9"}}
	apply := func(order []int) []byte {
		n := NewNetwork("1", "us-east-1", "i-1")
		for _, i := range order {
			r := recs[i]
			n.observe(r.at)
			n.Baseline.AddVolume(r.remote, r.at, r.out, r.in, netExemplar(r.remote, uint16(i%7)))
			v := values[i%len(values)]
			n.Baseline.Learn(v.d, v.v, r.at)
		}
		return mustMarshal(t, n)
	}
	order := make([]int, len(recs))
	for i := range order {
		order[i] = i
	}
	want := apply(order)
	for seed := range uint64(10) {
		r := rand.New(rand.NewPCG(seed, 9))
		r.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		if got := apply(order); string(got) != string(want) {
			t.Fatalf("seed %d: baseline differs by order", seed)
		}
	}
}

func TestNetBaselineVolume(t *testing.T) {
	var b NetBaseline
	h := netip.MustParseAddr("203.0.113.80")
	day := Day(nb0)
	// Day 0: 10 MB before 23:00, 5 MB after (not settled).
	b.AddVolume(h, nb0.Add(10*time.Hour), 10<<20, 1000, netExemplar(h, 443))
	b.AddVolume(h, nb0.Add(23*time.Hour+30*time.Minute), 5<<20, 1000, netExemplar(h, 443))
	// Day 1: 40 MB.
	before, after, ok := b.AddVolume(h, nb0.Add(34*time.Hour), 40<<20, 0, netExemplar(h, 443))
	if !ok || before.Out != 0 || after.Out != 40<<20 || after.Records != 1 {
		t.Fatalf("day 1: before %+v after %+v ok %v", before, after, ok)
	}
	// Seen from day 1 the day before counts its settled 10 MB; from day 2
	// both days count whole.
	if v := b.VolumeBefore(h, day+1, 7); v.Peak != 10<<20 || v.Days != 1 || v.PeakDay != day {
		t.Errorf("before day 1: %+v", v)
	}
	if v := b.VolumeBefore(h, day+2, 7); v.Peak != 40<<20 || v.Days != 2 || v.PeakDay != day+1 {
		t.Errorf("before day 2: %+v", v)
	}
	if v := b.VolumeBefore(h, day+9, 7); v.Days != 0 {
		t.Errorf("before day 9 (history of 7 days): %+v", v)
	}
	if d, ok := b.VolumeDay(h, day); !ok || d.Out != 15<<20 || d.Settled != 10<<20 || d.In != 2000 || d.Records != 2 {
		t.Errorf("day 0: %+v", d)
	}
	// A host keeps its latest VolumeDays days.
	for d := range 20 {
		b.AddVolume(h, nb0.AddDate(0, 0, d), 1, 0, netExemplar(h, 443))
	}
	if days := b.Volume[0].Days; len(days) != VolumeDays || days[0].Day != day+20-VolumeDays {
		t.Errorf("days kept: %d from %d", len(days), days[0].Day-day)
	}
}

// TestNetBaselineCaps floods every set and the host list: each keeps its
// cap, the busiest host survives one-off peers, and the encoding stays
// below MaxNetBaselineSize and decodes.
func TestNetBaselineCaps(t *testing.T) {
	n := NewNetwork("1", "us-east-1", "i-00779ebad43b2470d")
	busy := netip.MustParseAddr("2001:db8::1")
	for i := range 4000 {
		// 9 days; hosts 0–39 every day, the others once.
		at := nb0.Add(time.Duration(i) * 3 * time.Minute)
		n.observe(at)
		h := i
		if i%2 == 0 {
			h = i / 2 % 40
		}
		remote := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(h), 14: byte(h >> 8)})
		x := FlowExemplar{Local: netip.MustParseAddr("fd00::25"), Remote: remote, LocalPort: uint16(i), RemotePort: uint16(i * 7),
			ENI: fmt.Sprintf("eni-%017x", i), VPC: fmt.Sprintf("vpc-%017x", i), Subnet: fmt.Sprintf("subnet-%017x", i)}
		n.Baseline.AddVolume(remote, at, uint64(i)<<20, uint64(i)<<30, x)
		n.Baseline.AddVolume(busy, at, 1<<30, 1, x)
		for d := NetPort; d < numNetDims; d++ {
			n.Baseline.Learn(d, remote.String()+fmt.Sprint(d), at)
		}
		n.ObserveMail(remote, at, x, time.Hour)
	}
	for d := NetPort; d < numNetDims; d++ {
		if _, max := n.Baseline.dim(d); len(n.Baseline.Usage(d)) != max {
			t.Errorf("%s: %d values, want %d", d, len(n.Baseline.Usage(d)), max)
		}
	}
	// The hosts kept are the least by address hash of every host seen: a
	// function of the set of hosts, whatever the order.
	seen := []netip.Addr{busy}
	for h := range 4000 {
		if h < 40 || h%2 == 1 { // the hosts the loop above used
			seen = append(seen, netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(h), 14: byte(h >> 8)}))
		}
	}
	slices.SortFunc(seen, func(a, b netip.Addr) int { return cmp.Compare(addrHash(a), addrHash(b)) })
	seen = seen[:MaxVolumeHosts]
	slices.SortFunc(seen, netip.Addr.Compare)
	var kept []netip.Addr
	for _, h := range n.Baseline.Volume {
		kept = append(kept, h.Remote)
	}
	if !slices.Equal(kept, seen) {
		t.Errorf("hosts kept %v, want the %d of least hash %v", kept, MaxVolumeHosts, seen)
	}
	var e encoder
	n.Baseline.encode(&e, n.LastEvent)
	if len(e.b) > MaxNetBaselineSize {
		t.Errorf("flooded baseline: %d bytes, more than MaxNetBaselineSize %d", len(e.b), MaxNetBaselineSize)
	}
	t.Logf("flooded baseline: %d bytes (MaxNetBaselineSize %d)", len(e.b), MaxNetBaselineSize)
	b := mustMarshal(t, n)
	var q Network
	if err := q.UnmarshalBinary(b); err != nil {
		t.Fatalf("a capped baseline does not decode: %v", err)
	}
	g, _ := json.Marshal(q.Baseline)
	w, _ := json.Marshal(n.Baseline)
	if string(g) != string(w) {
		t.Errorf("baseline changed across its encoding")
	}
}

// TestNetBaselineSize is the baseline of a week of an application
// server: a dozen ports, three protocols, a resolver and a few hosts.
func TestNetBaselineSize(t *testing.T) {
	n := NewNetwork("1", "us-east-1", "i-00779ebad43b2470d")
	ports := []string{"tcp/443", "tcp/80", "udp/53", "udp/123", "tcp/5432", "tcp/6379", "tcp/22", "tcp/9092", "tcp/2049", "tcp/8080", "tcp/25", "tcp/853"}
	for d := range 7 {
		for h := range 24 {
			at := nb0.AddDate(0, 0, d).Add(time.Duration(h) * time.Hour)
			n.observe(at)
			for i, p := range ports {
				n.Baseline.Learn(NetPort, p, at)
				remote := netip.AddrFrom4([4]byte{52, 94, 1, byte(i)})
				n.Baseline.AddVolume(remote, at, 20000, 400000, netExemplar(remote, 443))
			}
			for _, p := range []string{"tcp", "udp", "icmp"} {
				n.Baseline.Learn(NetProtocol, p, at)
			}
			n.Baseline.Learn(NetResolver, "8.8.8.8", at)
		}
	}
	var e encoder
	n.Baseline.encode(&e, n.LastEvent)
	t.Logf("a week of an application server: %d bytes", len(e.b))
	if len(e.b) > 4096 {
		t.Errorf("%d bytes for a quiet week", len(e.b))
	}
}

// TestNetBaselineDecodeBad refuses volume days that contradict themselves.
func TestNetBaselineDecodeBad(t *testing.T) {
	n := NewNetwork("1", "us-east-1", "i-1")
	n.observe(nb0)
	h := netip.MustParseAddr("203.0.113.80")
	n.Baseline.AddVolume(h, nb0, 100, 5, netExemplar(h, 443))
	n.Baseline.Volume[0].Days[0].Settled = 200 // more settled than sent
	b := mustMarshal(t, n)
	if err := new(Network).UnmarshalBinary(b); err == nil {
		t.Fatal("decoded a day with more settled bytes than sent")
	}
	for i := range b {
		_ = new(Network).UnmarshalBinary(b[:i]) // truncations fail without panicking
	}
}
