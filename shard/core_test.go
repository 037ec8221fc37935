package shard

import (
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/findings"
	"github.com/vigil-sec/vigil/storage"
)

// effects records what a Core asks for; writeErr makes the next write
// fail (a failed publish is the acknowledgement the test gives).
type effects struct {
	published []*Flush
	written   []*Flush
	commits   []int64
	writeErr  error
	store     *storage.Shard
}

func (e *effects) Publish(f *Flush) { e.published = append(e.published, f) }

func (e *effects) Write(f *Flush) error {
	if err := e.writeErr; err != nil {
		e.writeErr = nil
		return err
	}
	e.written = append(e.written, f)
	return e.store.Write(f.Entries)
}

func (e *effects) Commit(next int64) { e.commits = append(e.commits, next) }

// store wraps the real Pebble keyspace; readErr makes reads fail.
type store struct {
	*storage.Shard
	readErr error
}

func (s *store) Finding(id string) ([]byte, bool, error) {
	if s.readErr != nil {
		return nil, false, s.readErr
	}
	return s.Shard.Finding(id)
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

// harness is a Core over a real Pebble shard, with recorded effects and a
// manual clock.
type harness struct {
	t     *testing.T
	core  *Core
	eff   *effects
	store *store
	clock *clock
}

func newHarness(t *testing.T, meta storage.Meta) *harness {
	t.Helper()
	db, err := storage.Open(t.TempDir(), storage.Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	st := &store{Shard: db.Shard(0)}
	eff := &effects{store: st.Shard}
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	core := New(Config{Store: st, Effects: eff, RetryTimeout: time.Minute, Now: clk.now, Logger: quiet()}, meta)
	return &harness{t: t, core: core, eff: eff, store: st, clock: clk}
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func opened(offset int64) storage.Meta { return storage.Meta{Applied: storage.Mark{Offset: offset}} }

// flush runs one flush: it answers the snapshot requests with snaps (by
// key; a key without one gets an empty snapshot) and acknowledges the
// publish with ackErr. It returns the flush published, if any.
func (h *harness) flush(snaps map[string]Snapshot, ackErr error) *Flush {
	h.t.Helper()
	n := len(h.eff.published)
	keys, ok := h.core.Begin(false)
	if !ok {
		return nil
	}
	for _, k := range keys {
		s := snaps[k]
		s.Key = k
		h.core.Snapshot(s)
	}
	if len(h.eff.published) == n {
		return nil // failed before publishing
	}
	f := h.eff.published[len(h.eff.published)-1]
	h.core.Published(f.ID, ackErr)
	return f
}

func event(offset int64, key string) Record { return Record{Offset: offset, Kind: KindEvent, Key: key} }

func occurrence(id string, count int, at time.Time) findings.Finding {
	f := findings.New("Recon:EC2/Portscan", findings.SeverityMedium, "111122223333", "us-east-1", at, id)
	f.Service.Count = count
	return f
}

func TestAdmit(t *testing.T) {
	type step struct {
		rec     Record
		expect  int64 // Expect called before the record when >= 0
		mark    storage.Mark
		apply   bool
		rewound bool
	}
	tests := []struct {
		name  string
		meta  storage.Meta
		steps []step
	}{
		{"events and markers in order", opened(-1), []step{
			{rec: event(0, "a"), expect: -1, mark: storage.Mark{Offset: 0}, apply: true},
			{rec: event(1, "b"), expect: -1, mark: storage.Mark{Offset: 1}, apply: true},
			{rec: Record{Offset: 2, Kind: KindControl}, expect: -1, mark: storage.Mark{Offset: 2}},
			{rec: event(5, "a"), expect: -1, mark: storage.Mark{Offset: 5}, apply: true},
		}},
		{"offsets going back start a new incarnation", opened(-1), []step{
			{rec: event(7, "a"), expect: -1, mark: storage.Mark{Offset: 7}, apply: true},
			{rec: event(0, "a"), expect: -1, mark: storage.Mark{Incarnation: 1, Offset: 0}, apply: true, rewound: true},
			{rec: event(1, "a"), expect: -1, mark: storage.Mark{Incarnation: 1, Offset: 1}, apply: true},
		}},
		{"a first record below the committed offset is a rewind", storage.Meta{Applied: storage.Mark{Incarnation: 3, Offset: 99}}, []step{
			{rec: event(2, "a"), expect: 100, mark: storage.Mark{Incarnation: 4, Offset: 2}, apply: true, rewound: true},
		}},
		{"a replay from the committed offset is not", storage.Meta{Applied: storage.Mark{Offset: 99}}, []step{
			{rec: event(50, "a"), expect: 50, mark: storage.Mark{Offset: 50}, apply: true},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, tt.meta)
			for i, s := range tt.steps {
				if s.expect >= 0 {
					h.core.Expect(s.expect)
				}
				a := h.core.Admit(s.rec)
				if a.Mark != s.mark || a.Apply != s.apply || a.Rewound != s.rewound {
					t.Errorf("step %d: got %+v, want mark %+v apply %v rewound %v", i, a, s.mark, s.apply, s.rewound)
				}
			}
		})
	}
}

func TestStatsCountedOnce(t *testing.T) {
	// The stored state counted everything up to offset 10; a replay after
	// a crash delivers offsets 8 and 12.
	meta := opened(10)
	meta.Counters.Records[1] = 5
	h := newHarness(t, meta)
	h.core.Expect(8)
	h.core.Admit(Record{Offset: 8, Kind: KindStats, Stats: &storage.Counters{Records: [storage.Sources]int64{0, 3}}})
	h.core.Admit(Record{Offset: 12, Kind: KindStats, Stats: &storage.Counters{Records: [storage.Sources]int64{0, 4}}})
	if got := h.core.Counters().Records[1]; got != 9 {
		t.Errorf("records %d, want 5 stored + 4 new (the replayed 3 were counted before)", got)
	}
	f := h.flush(nil, nil)
	if f == nil || f.Meta.Counters.Records[1] != 9 || f.Meta.Applied.Offset != 12 {
		t.Fatalf("flush meta %+v", f)
	}
	if !slices.Equal(h.eff.commits, []int64{13}) {
		t.Errorf("commits %v", h.eff.commits)
	}
}

func TestFlush(t *testing.T) {
	h := newHarness(t, opened(-1))
	at := time.Date(2025, 3, 8, 10, 0, 0, 0, time.UTC)
	h.core.Admit(event(0, "b"))
	h.core.Admit(event(1, "a"))
	if !h.core.Busy("a") || h.core.Idle() {
		t.Fatal("a changed entity is not busy")
	}
	f := h.flush(map[string]Snapshot{
		"a": {Profile: []byte("A"), Mark: storage.Mark{Offset: 1}, Occurrences: []findings.Finding{occurrence("x", 1, at)},
			Counts: storage.Counters{Applied: [storage.Sources]int64{0, 1}, Findings: 1}},
		"b": {Profile: []byte("B"), Mark: storage.Mark{Offset: 0}, Counts: storage.Counters{Applied: [storage.Sources]int64{0, 1}}},
	}, nil)
	if f == nil {
		t.Fatal("no flush")
	}
	var keys []string
	for _, e := range f.Entries {
		keys = append(keys, e.Key)
	}
	if !slices.IsSorted(keys) || len(keys) != 4 || !slices.Contains(keys, storage.MetaKey()) ||
		!slices.Contains(keys, storage.ProfileKey("a")) || !slices.Contains(keys, storage.ProfileKey("b")) {
		t.Errorf("entries %v: want two profiles, a finding and the meta, sorted", keys)
	}
	if len(f.Findings) != 1 || f.Meta.Counters.Applied[1] != 2 || f.Meta.Counters.Findings != 1 {
		t.Errorf("flush findings %d, counters %+v", len(f.Findings), f.Meta.Counters)
	}
	if len(h.eff.written) != 1 || !slices.Equal(h.eff.commits, []int64{2}) || !h.core.Idle() {
		t.Errorf("written %d, commits %v, idle %v", len(h.eff.written), h.eff.commits, h.core.Idle())
	}
	// A second occurrence aggregates into the stored finding.
	h.core.Admit(event(2, "a"))
	h.flush(map[string]Snapshot{"a": {Mark: storage.Mark{Offset: 2}, Occurrences: []findings.Finding{occurrence("x", 1, at.Add(time.Minute))}}}, nil)
	if got := storedCount(t, h, f.Findings[0].ID); got != 2 {
		t.Errorf("stored count %d, want 2", got)
	}
}

func storedCount(t *testing.T, h *harness, id string) int {
	t.Helper()
	b, ok, err := h.store.Shard.Finding(id)
	if err != nil || !ok {
		t.Fatalf("finding %s: %v %v", id, ok, err)
	}
	f, err := findings.UnmarshalStored(b)
	if err != nil {
		t.Fatal(err)
	}
	return f.Service.Count
}

// TestFlushFailure: whatever step of a flush fails, the entities stay
// dirty, nothing is committed, the flush is retried after a backoff, the
// occurrences are merged exactly once, and the shard stops after the
// retry timeout.
func TestFlushFailure(t *testing.T) {
	at := time.Date(2025, 3, 8, 10, 0, 0, 0, time.UTC)
	boom := errors.New("disk on fire")
	tests := []struct {
		name string
		fail func(h *harness) (ackErr error)
	}{
		{"changelog append", func(h *harness) error { return boom }},
		{"pebble write", func(h *harness) error { h.eff.writeErr = boom; return nil }},
		{"stored finding read", func(h *harness) error { h.store.readErr = boom; return nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, opened(-1))
			// A finding stored with count 5 before.
			stored := occurrence("x", 5, at)
			b, err := stored.MarshalStored()
			if err != nil {
				t.Fatal(err)
			}
			if err := h.store.Shard.Write([]storage.Entry{storage.FindingEntry(stored.ID, b)}); err != nil {
				t.Fatal(err)
			}
			h.core.Admit(event(0, "a"))
			ackErr := tt.fail(h)
			h.flush(map[string]Snapshot{"a": {Profile: []byte("A"), Mark: storage.Mark{Offset: 0},
				Occurrences: []findings.Finding{occurrence("x", 1, at.Add(time.Minute))}}}, ackErr)
			if len(h.eff.commits) != 0 || !h.core.Busy("a") || h.core.Idle() {
				t.Fatalf("after a failure: commits %v, busy %v", h.eff.commits, h.core.Busy("a"))
			}
			h.store.readErr = nil
			// No retry before the backoff.
			if _, ok := h.core.Begin(false); ok {
				t.Fatal("retried before the backoff")
			}
			h.clock.t = h.clock.t.Add(time.Second)
			if f := h.flush(map[string]Snapshot{"a": {Profile: []byte("A2"), Mark: storage.Mark{Offset: 0}}}, nil); f == nil {
				t.Fatal("no retry")
			}
			if !slices.Equal(h.eff.commits, []int64{1}) || !h.core.Idle() {
				t.Errorf("after the retry: commits %v, idle %v", h.eff.commits, h.core.Idle())
			}
			if got := storedCount(t, h, stored.ID); got != 6 {
				t.Errorf("stored count %d, want 6: the occurrence is merged once into the stored 5", got)
			}
			data, _, _, _ := h.store.Shard.Profile("a")
			if string(data) != "A2" {
				t.Errorf("profile %q, want the retry's snapshot", data)
			}
		})
	}
}

func TestStopsAfterRetryTimeout(t *testing.T) {
	h := newHarness(t, opened(-1))
	h.core.Admit(event(0, "a"))
	boom := errors.New("broker unreachable")
	for i := 0; h.core.Stopped() == nil; i++ {
		if i > 100 {
			t.Fatal("never stopped")
		}
		h.flush(nil, boom)
		h.clock.t = h.clock.t.Add(10 * time.Second)
	}
	st := h.core.Stopped()
	if !strings.Contains(st.Reason, "broker unreachable") {
		t.Errorf("reason %q", st.Reason)
	}
	if _, ok := h.core.Begin(false); ok || len(h.eff.commits) != 0 {
		t.Error("a stopped shard flushes or commits")
	}
}

// TestReplayBelowFloor: after a crash between writing a flush and
// committing its offset, the partition replays records the stored state
// holds. The flush meta never goes below it (so statistics are not counted
// again), while the commit follows the records actually covered.
func TestReplayBelowFloor(t *testing.T) {
	h := newHarness(t, opened(100))
	h.core.Expect(50)
	h.core.Admit(event(50, "a"))
	f := h.flush(nil, nil)
	if f == nil || f.Meta.Applied.Offset != 100 {
		t.Fatalf("flush meta %+v, want applied 100", f)
	}
	if !slices.Equal(h.eff.commits, []int64{51}) {
		t.Errorf("commits %v, want 51", h.eff.commits)
	}
}

// TestWriteBehind: with Config.WriteBehind a flush writes only the
// entities that raised something or changed long enough ago, commits no
// further than the oldest change it leaves, writes everything when asked
// or when no record came since the last flush, and puts a failed flush's
// changes back with their first marks.
func TestWriteBehind(t *testing.T) {
	h := newHarness(t, opened(-1))
	h.core.cfg.WriteBehind = 2 * time.Second
	tick := func(d time.Duration) { h.clock.t = h.clock.t.Add(d) }
	flush := func(all bool, ackErr error) []string {
		t.Helper()
		keys, ok := h.core.Begin(all)
		if !ok {
			return nil
		}
		for _, k := range keys {
			h.core.Snapshot(Snapshot{Key: k})
		}
		f := h.eff.published[len(h.eff.published)-1]
		h.core.Published(f.ID, ackErr)
		return keys
	}
	check := func(step string, keys, wantKeys []string, wantCommits ...int64) {
		t.Helper()
		if !slices.Equal(keys, wantKeys) || !slices.Equal(h.eff.commits, wantCommits) {
			t.Fatalf("%s: wrote %v and committed %v, want %v and %v", step, keys, h.eff.commits, wantKeys, wantCommits)
		}
	}

	h.core.Admit(event(0, "a"))
	h.core.Admit(event(1, "b"))
	h.core.Admit(event(2, "c"))
	h.core.Urgent("b") // b raised a finding
	tick(500 * time.Millisecond)
	h.core.Admit(event(3, "d"))
	check("urgent only", flush(false, nil), []string{"b"}, 0)
	if !h.core.Busy("a") || h.core.Busy("b") || h.core.Idle() {
		t.Fatal("an entity left for later must stay busy (not passivated)")
	}

	tick(2 * time.Second)
	h.core.Admit(event(4, "e"))
	check("due", flush(false, nil), []string{"a", "c", "d"}, 0, 4)

	check("idle shard", flush(false, nil), []string{"e"}, 0, 4, 5)
	if !h.core.Idle() {
		t.Fatal("everything written and committed, yet not idle")
	}

	h.core.Admit(event(5, "f"))
	check("all", flush(true, nil), []string{"f"}, 0, 4, 5, 6)

	h.core.Admit(event(6, "g"))
	tick(3 * time.Second)
	h.core.Admit(event(7, "h"))
	h.core.Admit(event(8, "g"))
	check("failed", flush(false, errors.New("broker away")), []string{"g"}, 0, 4, 5, 6)
	tick(time.Second) // past the retry backoff, h not yet due
	h.core.Admit(event(9, "i"))
	check("retried", flush(false, nil), []string{"g"}, 0, 4, 5, 6, 7)
}
