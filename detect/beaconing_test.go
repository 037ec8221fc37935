package detect

import (
	"encoding/json"
	"io/fs"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/event"
	"github.com/vigil-sec/vigil/findings"
	"github.com/vigil-sec/vigil/profiles"
)

const (
	beaconInstance = "i-0beac0n000000001a"
	beaconENI      = "eni-0beac0n00000001a"
	beaconIP       = "10.0.7.21"
	beaconC2       = "45.77.65.211"
)

var beaconStart = time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)

// beaconTraffic returns the records of connections from the instance to
// remote:port opened at start + the offsets: the instance's request
// (bytes out, about size ± sizeJitter) and the server's reply, as v5
// records with TCP flags (UDP records without).
func beaconTraffic(remote string, port uint16, proto uint8, offsets []time.Duration, size, sizeJitter uint64, seed uint64) []*event.Event {
	rng := rand.New(rand.NewPCG(seed, 7))
	var evs []*event.Event
	for i, off := range offsets {
		at := beaconStart.Add(off)
		sport := uint16(40000 + i*7%20000)
		out := size
		if sizeJitter > 0 {
			out = size - sizeJitter + rng.Uint64N(2*sizeJitter+1)
		}
		req := flowSpec{at: at, src: beaconIP, dst: remote, sport: sport, dport: port, proto: proto,
			packets: 6, bytes: out, instance: beaconInstance, eni: beaconENI, dir: event.DirectionEgress}
		rep := flowSpec{at: at, src: remote, dst: beaconIP, sport: port, dport: sport, proto: proto,
			packets: 5, bytes: 4200, instance: beaconInstance, eni: beaconENI, dir: event.DirectionIngress}
		if proto == protoTCP {
			req.flags, rep.flags = tcpSYN|tcpFIN, tcpSYN|tcpACK|tcpFIN
		}
		evs = append(evs, req.event(), rep.event())
	}
	return evs
}

// jittered is n offsets every period ± jitter (uniform).
func jittered(n int, period, jitter time.Duration, seed uint64) []time.Duration {
	rng := rand.New(rand.NewPCG(seed, 1))
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = time.Duration(i)*period + time.Duration(rng.Int64N(int64(2*jitter)+1)) - jitter
	}
	return out
}

// randomGaps is n offsets with exponential gaps of the given mean: a
// person or an event-driven client, not a timer.
func randomGaps(n int, mean time.Duration, seed uint64) []time.Duration {
	rng := rand.New(rand.NewPCG(seed, 2))
	out := make([]time.Duration, n)
	var at time.Duration
	for i := range out {
		at += time.Second + time.Duration(rng.ExpFloat64()*float64(mean))
		out[i] = at
	}
	return out
}

// uniformGaps is n offsets with gaps uniform in [1 s, 2×mean].
func uniformGaps(n int, mean time.Duration, seed uint64) []time.Duration {
	rng := rand.New(rand.NewPCG(seed, 3))
	out := make([]time.Duration, n)
	var at time.Duration
	for i := range out {
		at += time.Second + time.Duration(rng.Int64N(int64(2*mean)))
		out[i] = at
	}
	return out
}

func TestBeaconing(t *testing.T) {
	threeHours := 180 // connections of a 60 s beacon over 3 hours
	for _, tc := range []struct {
		name string
		evs  []*event.Event
		want int
	}{
		{"60s beacon ±3s over 3h", beaconTraffic(beaconC2, 443, protoTCP, jittered(threeHours, time.Minute, 3*time.Second, 1), 420, 12, 1), 1},
		{"5min beacon ±30s over 6h", beaconTraffic(beaconC2, 8080, protoTCP, jittered(72, 5*time.Minute, 30*time.Second, 2), 1100, 40, 2), 1},
		{"60s beacon to a UDP port", beaconTraffic(beaconC2, 4444, protoUDP, jittered(threeHours, time.Minute, 3*time.Second, 3), 96, 0, 3), 1},
		{"exponential gaps", beaconTraffic(beaconC2, 443, protoTCP, randomGaps(threeHours, time.Minute, 4), 420, 12, 4), 0},
		{"uniform random gaps", beaconTraffic(beaconC2, 443, protoTCP, uniformGaps(threeHours, time.Minute, 5), 420, 12, 5), 0},
		{"NTP every 64s", beaconTraffic("162.159.200.1", 123, protoUDP, jittered(threeHours, 64*time.Second, 0, 6), 76, 0, 6), 0},
		{"DNS every 60s", beaconTraffic("8.8.8.8", 53, protoUDP, jittered(threeHours, time.Minute, time.Second, 7), 60, 0, 7), 0},
		{"private host", beaconTraffic("10.0.9.4", 443, protoTCP, jittered(threeHours, time.Minute, 3*time.Second, 8), 420, 12, 8), 0},
		{"AWS service (CloudFront)", beaconTraffic("13.35.7.20", 443, protoTCP, jittered(threeHours, time.Minute, 3*time.Second, 9), 420, 12, 9), 0},
		{"too few connections", beaconTraffic(beaconC2, 443, protoTCP, jittered(beaconMinConns-1, 2*time.Minute, 3*time.Second, 10), 420, 12, 10), 0},
		{"too short a span", beaconTraffic(beaconC2, 443, protoTCP, jittered(60, 10*time.Second, time.Second, 11), 420, 12, 11), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(DefaultConfig())
			occ := ofType(w.applyAll(tc.evs), TypeBeaconing)
			if got := raised(occ); got != tc.want {
				t.Fatalf("raised %d, want %d", got, tc.want)
			}
			for _, f := range occ {
				checkFinding(t, f)
			}
			if tc.want == 0 {
				return
			}
			agg := aggregate(occ)
			if len(agg) != 1 {
				t.Fatalf("%d findings, want 1", len(agg))
			}
			f := agg[0]
			info := f.Service.AdditionalInfo
			if f.Service.Action.NetworkConnectionAction.RemoteIPDetails.IPAddressV4 != beaconC2 || f.Service.ResourceRole != findings.RoleActor ||
				f.Resource.InstanceDetails.InstanceID != beaconInstance || info["connections"] == nil || info["thresholds"] == nil {
				b, _ := json.MarshalIndent(f, "", "  ")
				t.Fatalf("finding:\n%s", b)
			}
			if s := info["beaconScore"].(float64); s < beaconScore {
				t.Fatalf("beaconScore %v", s)
			}
		})
	}
}

// TestBeaconingOrder checks that the merged finding does not depend on
// the order of the records.
func TestBeaconingOrder(t *testing.T) {
	evs := beaconTraffic(beaconC2, 443, protoTCP, jittered(180, time.Minute, 3*time.Second, 1), 420, 12, 1)
	var want []byte
	for seed := range uint64(4) {
		shuffled := append([]*event.Event(nil), evs...)
		if seed > 0 {
			rng := rand.New(rand.NewPCG(seed, 9))
			rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		}
		w := newWorld(DefaultConfig())
		agg := aggregate(ofType(w.applyAll(shuffled), TypeBeaconing))
		if len(agg) != 1 {
			t.Fatalf("seed %d: %d findings, want 1", seed, len(agg))
		}
		got, _ := json.Marshal(agg)
		if seed == 0 {
			want = got
		} else if string(got) != string(want) {
			t.Fatalf("seed %d: finding differs:\n%s\nwant\n%s", seed, got, want)
		}
	}
}

func TestScoreBeacon(t *testing.T) {
	evs := func(offsets []time.Duration) []int64 {
		out := make([]int64, len(offsets))
		for i, o := range offsets {
			out[i] = beaconStart.Add(o).Unix()
		}
		return out
	}
	for _, tc := range []struct {
		name      string
		times     []int64
		min, max_ float64
	}{
		{"±3s jitter", evs(jittered(64, time.Minute, 3*time.Second, 1)), 0.95, 1},
		{"exponential", evs(randomGaps(64, time.Minute, 2)), 0, 0.75},
	} {
		conns := distinctConns(tc.times)
		s := scoreBeacon(conns)
		if s.timing < tc.min || s.timing > tc.max_ {
			t.Errorf("%s: timing score %.3f (%+v), want in [%v, %v]", tc.name, s.timing, s, tc.min, tc.max_)
		}
	}
}

// distinctConns is the sorted distinct start seconds of times, 400 bytes
// each.
func distinctConns(times []int64) []profiles.BeaconConn {
	slices.Sort(times)
	times = slices.Compact(times)
	out := make([]profiles.BeaconConn, len(times))
	for i, t := range times {
		out[i] = profiles.BeaconConn{Time: t, Bytes: 400}
	}
	return out
}

// TestEvalSlipsBeaconing replays the slips captures (flow logs derived from
// the Stratosphere captures; read where present, never copied: GPL) and
// logs the beaconing findings with their scores. The captures are minutes
// long, too short for the minimum span of 30 minutes: none is expected
// (the scores of their C&C channels are in beaconing.go's comment).
func TestEvalSlipsBeaconing(t *testing.T) {
	root := dataFile(t, "slips_dataset", "dataset")
	var paths []string
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".vpcflow.txt") {
			paths = append(paths, p)
		}
		return nil
	})
	for _, p := range paths {
		var evs []*event.Event
		for _, l := range fileLines(t, p) {
			if strings.TrimSpace(l) != "" {
				evs = append(evs, flowLine(t, l, ""))
			}
		}
		sort.SliceStable(evs, func(i, j int) bool { return evs[i].Time.Before(evs[j].Time) })
		cfg := DefaultConfig()
		cfg.Intel = nil
		w := newWorld(cfg)
		got := aggregate(ofType(w.applyAll(evs), TypeBeaconing))
		rel, _ := filepath.Rel(root, p)
		if len(got) > 0 {
			t.Errorf("%s: %d beaconing findings, want none", rel, len(got))
		}
		t.Logf("%s: %d records, %d beaconing findings", rel, len(evs), len(got))
		for _, f := range got {
			info := f.Service.AdditionalInfo
			t.Logf("  %s score %v timing %v size %v conns %v median %vs span %vs", f.Title, info["beaconScore"], info["timingScore"],
				info["sizeScore"], info["connections"], info["medianIntervalSeconds"], info["spanSeconds"])
		}
	}
}
