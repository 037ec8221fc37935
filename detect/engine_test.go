package detect

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/event"
	"github.com/vigil-sec/vigil/findings"
	"github.com/vigil-sec/vigil/profiles"
)

// mixedEvents is a stream exercising every detector: real CloudTrail,
// honeypot sessions, a port scan, SSH from the instance, DNS tunnels,
// crypto queries and benign traffic, ordered by event time per entity.
func mixedEvents(t testing.TB) []*event.Event {
	t.Helper()
	var evs []*event.Event
	for _, f := range []string{"stratus.defense-evasion.cloudtrail-stop.json", "stratus.defense-evasion.cloudtrail-delete.json",
		"stratus.persistence.iam-backdoor-user.json"} {
		evs = append(evs, stratusEvents(t, f)...)
	}
	for _, l := range readLines(t, "panther_compromised_root_cloudtrail.jsonl") {
		var rec struct {
			Log json.RawMessage `json:"log"`
		}
		if err := json.Unmarshal(l, &rec); err != nil {
			t.Fatal(err)
		}
		evs = append(evs, cloudTrailEvent(t, rec.Log))
	}
	evs = append(evs, sessionEvents(t, readSessions(t, filepath.Join("testdata", "uqo_cowrie_sessions_sample.csv")))...)
	evs = append(evs, dnsQuery(scanStart.Add(-time.Hour), scanner, localIP, "ssm.us-east-1.amazonaws.com"))
	evs = append(evs, nmapScan(scanStart, "10.0.1.26", scanPorts(1000, 1), 5, time.Second)...)
	evs = append(evs, connections(scanStart.Add(20*time.Minute), 45, 2*time.Second, localIP, "54.201.10.10",
		event.DirectionEgress, event.ActionAccept, scanner)...)
	evs = append(evs, queries(dnsStart, 100*time.Millisecond, namesCSV(t, "netrack_iodine_names.csv"))...)
	evs = append(evs, queries(dnsStart.Add(time.Hour), 100*time.Millisecond, namesCSV(t, "netrack_plain_names.csv")[:300])...)
	for i := range 20 {
		evs = append(evs, dnsQuery(dnsStart.Add(time.Duration(i)*time.Minute), scanner, localIP, "pool.minexmr.com"))
	}
	return evs
}

// replay applies evs to fresh profiles; with roundTrip, every profile is
// marshalled and unmarshalled before each event, as if its actor had been
// passivated and restored from storage.
func replay(t testing.TB, evs []*event.Event, roundTrip bool) []byte {
	t.Helper()
	w := newWorld(DefaultConfig())
	for _, ev := range evs {
		if roundTrip {
			if p, ok := w.profiles[ev.Key()]; ok {
				b, err := p.MarshalBinary()
				if err != nil {
					t.Fatal(err)
				}
				q, err := profiles.Unmarshal(p.Kind(), b)
				if err != nil {
					t.Fatalf("restore %s: %v", ev.Key(), err)
				}
				w.profiles[ev.Key()] = q
			}
		}
		w.apply(ev)
	}
	out, err := json.Marshal(struct {
		Occurrences []findings.Finding
		Findings    []findings.Finding
	}{w.occ, aggregate(w.occ)})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestDeterministicReplay(t *testing.T) {
	evs := mixedEvents(t)
	a := replay(t, evs, false)
	b := replay(t, mixedEvents(t), false)
	if !bytes.Equal(a, b) {
		t.Fatal("replaying the same events gave different findings")
	}
	// Every detector contributed.
	var got struct{ Findings []findings.Finding }
	if err := json.Unmarshal(a, &got); err != nil {
		t.Fatal(err)
	}
	types := map[string]int{}
	for _, f := range got.Findings {
		types[f.Type]++
	}
	for _, typ := range []string{TypeCloudTrailLoggingDisabled, TypeRootCredentialUsage, TypePortscan,
		TypeSSHBruteForce, TypeDNSDataExfiltration, TypeBitcoinToolDNS} {
		if types[typ] == 0 {
			t.Errorf("no %s finding in the mixed stream (%v)", typ, types)
		}
	}
	t.Logf("%d events, findings by type %v", len(evs), types)
}

func TestProfileRoundTripMidStream(t *testing.T) {
	evs := mixedEvents(t)
	straight := replay(t, evs, false)
	restored := replay(t, evs, true)
	if !bytes.Equal(straight, restored) {
		t.Fatalf("findings differ when profiles are restored between events:\n%s\n%s", straight, restored)
	}
}

// TestEngineConcurrent: one engine serves many entity actors at once.
func TestEngineConcurrent(t *testing.T) {
	e := New(DefaultConfig())
	evs := mixedEvents(t)
	done := make(chan []byte)
	for range 4 {
		go func() {
			ps := map[string]profiles.Profile{}
			var occ []findings.Finding
			for _, ev := range evs {
				p, ok := ps[ev.Key()]
				if !ok {
					p = profiles.New(ev.Kind, ev.Account, ev.Region, ev.Entity)
					ps[ev.Key()] = p
				}
				got, _ := e.Apply(p, ev)
				occ = append(occ, got...)
			}
			b, _ := json.Marshal(occ)
			done <- b
		}()
	}
	first := <-done
	for range 3 {
		if b := <-done; !bytes.Equal(first, b) {
			t.Fatal("concurrent replays differ")
		}
	}
}

func TestApplyIgnores(t *testing.T) {
	e := New(DefaultConfig())
	flow := connections(scanStart, 1, 0, "198.51.100.7", localIP, event.DirectionIngress, event.ActionAccept, scanner)[0]
	p := profiles.NewPrincipal("111122223333", "us-east-1", "arn:aws:iam::111122223333:root")
	before, _ := p.MarshalBinary()
	if got, applied := e.Apply(p, flow); got != nil || applied {
		t.Errorf("a flow on a principal raised %v, applied %v", got, applied)
	}
	if after, _ := p.MarshalBinary(); !bytes.Equal(before, after) {
		t.Error("a flow changed a principal profile")
	}
	if got, applied := e.Apply(nil, flow); got != nil || applied {
		t.Error("nil profile raised or applied")
	}
	if got, applied := e.Apply(profiles.NewNetwork("1", "r", "i-1"), nil); got != nil || applied {
		t.Error("nil event raised or applied")
	}
	// An event with no payload only counts.
	n := profiles.NewNetwork("1", "r", "i-1")
	if got, applied := e.Apply(n, &event.Event{Kind: event.KindNetwork, Time: scanStart}); got != nil || !applied || n.Events != 1 {
		t.Errorf("empty event: %v, applied %v, events %d", got, applied, n.Events)
	}
}

func TestConfigDefaults(t *testing.T) {
	got := New(Config{PortscanPorts: 1000, SSHFanoutHosts: -1, DNSTunnelNames: 7}).Config()
	if got.PortscanPorts != profiles.MaxWindowPorts || got.SSHFanoutHosts != DefaultSSHFanoutHosts || got.DNSTunnelNames != 7 ||
		got.PortscanWindow != DefaultPortscanWindow || got.SSHWindow != DefaultSSHWindow || got.Intel != nil {
		t.Errorf("normalised config = %+v", got)
	}
	def := DefaultConfig()
	if def.Intel == nil || New(def).Config().PortscanPorts != DefaultPortscanPorts {
		t.Error("DefaultConfig has no intel or different thresholds")
	}
}

// benchmark events, built once.
func benchFlows(b *testing.B) []*event.Event {
	var evs []*event.Event
	for i := range 2000 {
		at := scanStart.Add(time.Duration(i) * 50 * time.Millisecond)
		remote := fmt.Sprintf("151.101.%d.%d", i%7, i%250)
		evs = append(evs,
			flowSpec{at: at, src: localIP, dst: remote, sport: uint16(33000 + i), dport: 443, packets: 14, bytes: 2100,
				flags: tcpSYN | tcpFIN, dir: event.DirectionEgress, instance: scanner}.event(),
			flowSpec{at: at, src: remote, dst: localIP, sport: 443, dport: uint16(33000 + i), packets: 20, bytes: 24000,
				flags: tcpSYN | tcpACK | tcpFIN, dir: event.DirectionIngress, instance: scanner}.event())
	}
	evs = append(evs, nmapScan(scanStart, "10.0.1.26", scanPorts(1000, 1), 5, 10*time.Millisecond)...)
	evs = append(evs, connections(scanStart, 100, time.Second, "198.51.100.7", localIP, event.DirectionIngress, event.ActionAccept, scanner)...)
	return evs
}

func benchApply(b *testing.B, evs []*event.Event) {
	e := New(DefaultConfig())
	byKey := map[string]profiles.Profile{}
	ps := make([]profiles.Profile, len(evs)) // the profile of each event, looked up once
	for i, ev := range evs {
		p, ok := byKey[ev.Key()]
		if !ok {
			p = profiles.New(ev.Kind, ev.Account, ev.Region, ev.Entity)
			byKey[ev.Key()] = p
		}
		ps[i] = p
	}
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		e.Apply(ps[i%len(evs)], evs[i%len(evs)])
		i++
	}
}

// BenchmarkApplyFlow applies benign web traffic, a port scan and an SSH
// brute force: about half the records are attacks past their threshold,
// each raising an update of its finding.
func BenchmarkApplyFlow(b *testing.B) {
	benchApply(b, benchFlows(b))
}

// BenchmarkApplyFlowBenign applies the benign web traffic alone: the cost
// of a record that raises nothing.
func BenchmarkApplyFlowBenign(b *testing.B) {
	benchApply(b, benchFlows(b)[:4000])
}

// BenchmarkApplyCloudTrail applies a realistic mix: one principal calling
// 60 read and write APIs from two addresses, with a trail stopped and a
// root call once in 50 of the first 1000 events. Each event has its own
// eventID; once the benchmark wraps around, the ids the principal still
// remembers (its latest MaxDedupeIDs) are duplicates, about 3% of events.
func BenchmarkApplyCloudTrail(b *testing.B) {
	tmpl := stratusEvents(b, "stratus.persistence.iam-backdoor-user.json")[0]
	var evs []*event.Event
	for i := range 1 << 14 {
		ev := *tmpl
		ct := *tmpl.CloudTrail
		ev.CloudTrail = &ct
		ct.EventID = fmt.Sprintf("bench-%08d", i)
		ev.Time = tmpl.Time.Add(time.Duration(i) * time.Second)
		ct.EventSource = [...]string{"ec2.amazonaws.com", "iam.amazonaws.com", "s3.amazonaws.com"}[i%3]
		ct.EventName = fmt.Sprintf("Describe%02d", i%60)
		ct.SourceIP = [...]string{"86.245.153.234", "86.245.153.235"}[i%2]
		evs = append(evs, &ev)
	}
	for i, ev := range stratusEvents(b, "stratus.defense-evasion.cloudtrail-stop.json") {
		evs[i*50+25] = ev
	}
	root := pantherCases(b, "AWS.Root.Activity")
	for i := range 20 {
		evs[i*50] = cloudTrailEvent(b, root[1].Log)
	}
	benchApply(b, evs)
}

func BenchmarkApplyDNS(b *testing.B) {
	evs := queries(dnsStart, 100*time.Millisecond, namesCSV(b, "netrack_plain_names.csv"))
	evs = append(evs, queries(dnsStart, 100*time.Millisecond, namesCSV(b, "netrack_dns2tcp_names.csv"))...)
	benchApply(b, evs)
}
