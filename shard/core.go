package shard

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/vigil-sec/vigil/findings"
	"github.com/vigil-sec/vigil/storage"
)

// Effects are a shard's side effects; the shard actor implements them.
type Effects interface {
	// Publish appends a flush's entries to the changelog and publishes its
	// findings and dead letters, atomically (one Kafka transaction). It
	// returns at once; the outcome is reported by calling Core.Published
	// with the flush's ID on the shard's goroutine.
	Publish(f *Flush)
	// Write stores a flush's entries durably, in one synced batch.
	Write(f *Flush) error
	// Commit commits next as the shard's consumer offset.
	Commit(next int64)
}

// Store reads what the shard stored before.
type Store interface {
	// Finding returns a stored finding (findings.Finding.MarshalStored).
	Finding(id string) (stored []byte, ok bool, err error)
}

// Config configures a Core.
type Config struct {
	// Partition is the shard's partition of the entities topic. It names
	// the shard in logs and errors.
	Partition int32
	// Store reads stored findings. Required.
	Store Store
	// Effects carries out writes, appends and commits. Required.
	Effects Effects
	// RetryTimeout is how long failed flushes are retried before the shard
	// stops. Default 2m.
	RetryTimeout time.Duration
	// MaxCachedFindings bounds the findings kept decoded for aggregation;
	// the store holds them all. Default 10000.
	MaxCachedFindings int
	// Now returns the wall-clock time, which only paces retries. Default
	// time.Now.
	Now func() time.Time
	// Logger receives flush failures and rewinds. Default slog.Default().
	Logger *slog.Logger
	// WriteBehind is how long an entity's changes may wait for a later
	// flush: a flush writes an entity changed less than WriteBehind ago
	// only if it raised a finding or a dead letter (Urgent) or the flush
	// is to write everything (Begin's all). A hot entity is then written
	// once per WriteBehind rather than at every flush, and the offset
	// committed stops before the oldest change not written, so a crash
	// replays it. Default 0: every flush writes every change.
	WriteBehind time.Duration
}

func (c *Config) ensureDefaults() {
	if c.RetryTimeout <= 0 {
		c.RetryTimeout = 2 * time.Minute
	}
	if c.MaxCachedFindings <= 0 {
		c.MaxCachedFindings = 10000
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Retry backoff after a failed flush: doubling from the first to the last.
const (
	firstBackoff = 100 * time.Millisecond
	maxBackoff   = 5 * time.Second
)

// Kind says what an internal record carries.
type Kind uint8

const (
	// KindEvent is an event for the entity named by Record.Key.
	KindEvent Kind = iota
	// KindStats carries ingest statistics to add to the shard's counters.
	KindStats
	// KindControl is a Kafka transaction marker: it only moves the offset.
	KindControl
)

// Record is one internal record, as the shard sees it.
type Record struct {
	Offset int64
	Kind   Kind
	// Key is the entity of a KindEvent record; Keys, when set, are its
	// entities instead (a global-service event for several regions).
	Key  string
	Keys []string
	// Stats is the payload of a KindStats record.
	Stats *storage.Counters
}

// Admission is what Admit decided about a record.
type Admission struct {
	// Mark is the record's mark; the entity applies the record only if it
	// is above the mark of its profile.
	Mark storage.Mark
	// Apply says the record is an event to hand to its entity.
	Apply bool
	// Rewound says the record's offset was below the one expected: the
	// partition went back and a new incarnation began with this record.
	Rewound bool
}

// Snapshot is an entity's answer to a flush: its profile and what it did
// since its last snapshot.
type Snapshot struct {
	Key     string
	Profile []byte
	// Mark is the mark of the last record applied to the profile.
	Mark storage.Mark
	// Occurrences are the finding occurrences its records raised.
	Occurrences []findings.Finding
	// Counts holds the events it applied (per source), skipped as
	// duplicates, failed on, and the occurrences it raised.
	Counts storage.Counters
	// DeadLetters are the records a detector failed on.
	DeadLetters []DeadLetter
}

// DeadLetter is an encoded dead-letter record, keyed by the reference of
// the record it describes.
type DeadLetter struct {
	Key, Value []byte
}

// Published is a finding as published: its id and GuardDuty JSON.
type Published struct {
	ID   string
	JSON []byte
}

// Flush is one flush: what it writes, appends and publishes.
type Flush struct {
	ID uint64
	// Meta is the shard's meta as of the flush.
	Meta storage.Meta
	// Entries are the profiles, findings and meta, sorted by key, that
	// the flush writes to Pebble and appends to the changelog.
	Entries []storage.Entry
	// Findings are the findings that changed, to publish.
	Findings []Published
	// DeadLetters are to publish with the flush.
	DeadLetters []DeadLetter

	cut        storage.Mark           // the mark of the last record admitted before it
	next       int64                  // the offset to commit: cut's next, or the first change left for later
	keys       []string               // the entities it covers
	firsts     map[string]dirtyEntity // their changes, put back if it fails
	findingIDs []string               // the findings it writes
	snaps      []Snapshot
	awaiting   map[string]bool
	counts     storage.Counters // from its snapshots
}

// Stopped says why a shard stopped.
type Stopped struct {
	Reason string
	Since  time.Time
}

// Core is the state machine of one shard. It is not safe for concurrent
// use: the shard actor owns it.
type Core struct {
	cfg Config
	log *slog.Logger

	// meta is the state after the last record admitted: Applied is that
	// record's mark, Counters include everything applied so far, flushed
	// or not.
	meta storage.Meta
	// floor is the Applied mark of the meta the shard opened with: the
	// stored state already counts every record up to it, which a replay
	// after a crash delivers again.
	floor storage.Mark
	// expected is the next offset the partition should deliver; -1 before
	// the first record.
	expected int64
	// committed is the mark of the last record covered by a flush that was
	// acknowledged, written and committed, and committedNext the offset
	// committed: past committed unless changes were left for later.
	committed     storage.Mark
	committedNext int64
	// lastCut is the mark of the last record admitted when a flush last
	// began (or was considered).
	lastCut storage.Mark

	dirty         map[string]dirtyEntity // entities changed and not in a flush
	dirtyFindings map[string]bool        // findings merged and not yet written
	cache         map[string]*findings.Finding
	occurrences   []findings.Finding // received, not yet merged
	deadLetters   []DeadLetter       // received, not yet published

	flush *Flush
	seq   uint64

	failures     int
	failingSince time.Time
	retryAt      time.Time
	stopped      *Stopped
}

// dirtyEntity is an entity's changes not yet in a flush.
type dirtyEntity struct {
	first  storage.Mark // of the first record not yet written
	since  time.Time    // when that record was admitted
	urgent bool         // it raised findings or dead letters: write it next
}

// New returns the core of a shard whose stored state is meta.
func New(cfg Config, meta storage.Meta) *Core {
	cfg.ensureDefaults()
	return &Core{
		cfg:           cfg,
		log:           cfg.Logger.With("shard", cfg.Partition),
		meta:          meta,
		floor:         meta.Applied,
		expected:      -1,
		committed:     meta.Applied,
		committedNext: -1,
		dirty:         make(map[string]dirtyEntity),
		dirtyFindings: make(map[string]bool),
		cache:         make(map[string]*findings.Finding),
	}
}

// Expect sets the next offset the partition should deliver: the committed
// offset the consumer starts from. A first record below it means the
// partition went back while the shard was not running.
func (c *Core) Expect(next int64) {
	if c.expected < 0 {
		c.expected = next
	}
}

// Admit takes the next record of the partition, in order.
func (c *Core) Admit(r Record) Admission {
	var a Admission
	if c.expected >= 0 && r.Offset < c.expected {
		c.meta.Applied.Incarnation++
		a.Rewound = true
		c.log.Error("partition offsets went back: records were deleted or the topic recreated; starting a new incarnation so that the new records are applied",
			"expected", c.expected, "got", r.Offset, "incarnation", c.meta.Applied.Incarnation)
	}
	c.expected = r.Offset + 1
	c.meta.Applied.Offset = r.Offset
	a.Mark = c.meta.Applied
	switch r.Kind {
	case KindEvent:
		if len(r.Keys) == 0 {
			c.touch(r.Key, a.Mark)
		}
		for _, k := range r.Keys {
			c.touch(k, a.Mark)
		}
		a.Apply = true
	case KindStats:
		// At or below the floor the stored counters already hold it.
		if r.Stats != nil && c.floor.Less(a.Mark) {
			c.meta.Counters.Add(r.Stats)
		}
	}
	return a
}

// touch marks the entity changed by the record at mark.
func (c *Core) touch(key string, mark storage.Mark) {
	if _, ok := c.dirty[key]; !ok {
		c.dirty[key] = dirtyEntity{first: mark, since: c.cfg.Now()}
	}
}

// Urgent says the entity raised findings or dead letters since its last
// snapshot: the next flush writes it, whatever Config.WriteBehind says.
func (c *Core) Urgent(key string) {
	if d, ok := c.dirty[key]; ok {
		d.urgent = true
		c.dirty[key] = d
	}
}

// Dirty returns how many entities have changes not yet in a flush.
func (c *Core) Dirty() int { return len(c.dirty) }

// Busy reports whether the entity has changes not yet written, so that it
// must not be passivated.
func (c *Core) Busy(key string) bool {
	if _, ok := c.dirty[key]; ok {
		return true
	}
	if c.flush != nil {
		_, ok := c.flush.firsts[key]
		return ok
	}
	return false
}

// Idle reports whether everything admitted is written and committed.
func (c *Core) Idle() bool {
	return c.flush == nil && len(c.dirty) == 0 && len(c.dirtyFindings) == 0 &&
		len(c.deadLetters) == 0 && c.committed == c.meta.Applied
}

// Stop stops the shard for reason: it flushes and commits nothing more.
// The flush in progress, if any, is dropped.
func (c *Core) Stop(reason string) {
	if c.stopped != nil {
		return
	}
	c.flush = nil
	c.stopped = &Stopped{Reason: reason, Since: c.cfg.Now()}
	c.log.Error("shard stopped", "reason", reason)
}

// Stopped returns why the shard stopped, or nil while it runs.
func (c *Core) Stopped() *Stopped { return c.stopped }

// Flushing reports whether a flush is in progress.
func (c *Core) Flushing() bool { return c.flush != nil }

// Applied returns the mark of the last record admitted.
func (c *Core) Applied() storage.Mark { return c.meta.Applied }

// Counters returns the shard's totals, flushed or not.
func (c *Core) Counters() storage.Counters { return c.meta.Counters }

// Begin starts a flush if there is something to flush, none is in progress
// and no retry is pending. It returns the entities to ask for snapshots;
// Snapshot takes their answers. With no entity to ask, the flush is
// published at once. With all, the flush writes every change (a drain, a
// shard over its entity cap); otherwise changes that may wait
// (Config.WriteBehind) wait.
func (c *Core) Begin(all bool) (keys []string, started bool) {
	now := c.cfg.Now()
	if c.flush != nil || c.stopped != nil || c.Idle() || now.Before(c.retryAt) {
		return nil, false
	}
	// Changes wait only while records keep coming: a shard with nothing
	// new since its last flush writes everything.
	all = all || c.meta.Applied == c.lastCut
	c.lastCut = c.meta.Applied
	// Offsets restart in a new incarnation, so a change from an earlier
	// one cannot bound the offset committed: write it now.
	for _, d := range c.dirty {
		if d.first.Incarnation != c.meta.Applied.Incarnation {
			all = true
			break
		}
	}
	f := &Flush{Meta: c.meta, cut: c.meta.Applied, next: c.meta.Applied.Offset + 1, firsts: make(map[string]dirtyEntity)}
	for k, d := range c.dirty {
		if all || d.urgent || now.Sub(d.since) >= c.cfg.WriteBehind {
			f.keys = append(f.keys, k)
			f.firsts[k] = d
			continue
		}
		f.next = min(f.next, d.first.Offset)
	}
	if len(f.keys) == 0 && len(c.dirtyFindings) == 0 && len(c.deadLetters) == 0 && f.next == c.committedNext {
		return nil, false // nothing to write and the commit cannot move
	}
	c.seq++
	f.ID = c.seq
	// Never record less than the stored state holds: after a crash the
	// partition replays records the stored meta already counted.
	if f.Meta.Applied.Less(c.floor) {
		f.Meta.Applied = c.floor
	}
	slices.Sort(f.keys)
	f.awaiting = make(map[string]bool, len(f.keys))
	for _, k := range f.keys {
		f.awaiting[k] = true
		delete(c.dirty, k)
	}
	c.flush = f
	if len(f.keys) == 0 {
		c.complete()
	}
	return f.keys, true
}

// Snapshot takes an entity's answer to the flush in progress.
func (c *Core) Snapshot(s Snapshot) {
	// What the entity did is the shard's whatever happens to the flush:
	// the entity has handed it over.
	c.meta.Counters.Add(&s.Counts)
	c.occurrences = append(c.occurrences, s.Occurrences...)
	c.deadLetters = append(c.deadLetters, s.DeadLetters...)
	f := c.flush
	if f == nil || !f.awaiting[s.Key] {
		c.log.Error("snapshot outside a flush", "entity", s.Key)
		return
	}
	delete(f.awaiting, s.Key)
	f.counts.Add(&s.Counts)
	s.Occurrences, s.DeadLetters = nil, nil
	f.snaps = append(f.snaps, s)
	if len(f.awaiting) == 0 {
		c.complete()
	}
}

// complete aggregates the flush's findings, builds its entries and hands
// it to Effects.Publish.
func (c *Core) complete() {
	f := c.flush
	if err := c.aggregate(); err != nil {
		c.failed(f, fmt.Errorf("reading stored findings: %w", err))
		return
	}
	f.Meta.Counters.Add(&f.counts)
	slices.SortFunc(f.snaps, func(a, b Snapshot) int { return strings.Compare(a.Key, b.Key) })
	f.Entries = make([]storage.Entry, 0, len(f.snaps)+len(c.dirtyFindings)+1)
	for _, s := range f.snaps {
		f.Entries = append(f.Entries, storage.ProfileEntry(s.Key, s.Profile, s.Mark))
	}
	f.snaps = nil
	for id := range c.dirtyFindings {
		f.findingIDs = append(f.findingIDs, id)
	}
	slices.Sort(f.findingIDs)
	for _, id := range f.findingIDs {
		stored, err := c.cache[id].MarshalStored()
		if err != nil {
			c.failed(f, fmt.Errorf("encoding finding %s: %w", id, err))
			return
		}
		js, err := findings.StoredJSON(stored)
		if err != nil {
			c.failed(f, fmt.Errorf("encoding finding %s: %w", id, err))
			return
		}
		f.Entries = append(f.Entries, storage.FindingEntry(id, stored))
		f.Findings = append(f.Findings, Published{ID: id, JSON: js})
	}
	f.Entries = append(f.Entries, storage.MetaEntry(f.Meta))
	slices.SortFunc(f.Entries, func(a, b storage.Entry) int { return strings.Compare(a.Key, b.Key) })
	f.DeadLetters = slices.Clone(c.deadLetters)
	c.cfg.Effects.Publish(f)
}

// aggregate merges the occurrences received into their findings, reading
// stored findings first. Nothing is merged unless every stored finding
// needed could be read, so a failed read never starts a finding over.
func (c *Core) aggregate() error {
	for i := range c.occurrences {
		id := c.occurrences[i].ID
		if _, ok := c.cache[id]; ok {
			continue
		}
		b, ok, err := c.cfg.Store.Finding(id)
		if err != nil {
			return fmt.Errorf("finding %s: %w", id, err)
		}
		if !ok {
			continue
		}
		stored, err := findings.UnmarshalStored(b)
		if err != nil {
			return fmt.Errorf("finding %s: %w", id, err)
		}
		c.cache[id] = &stored
	}
	for i := range c.occurrences {
		occ := &c.occurrences[i]
		findings.MergeInto(c.cache, occ)
		c.dirtyFindings[occ.ID] = true
	}
	clear(c.occurrences)
	c.occurrences = c.occurrences[:0]
	c.evict()
	return nil
}

// evict keeps the cache under its bound by dropping findings that are
// written: the store holds them.
func (c *Core) evict() {
	if len(c.cache) <= c.cfg.MaxCachedFindings {
		return
	}
	for id := range c.cache {
		if !c.dirtyFindings[id] {
			delete(c.cache, id)
		}
	}
}

// Published takes the outcome of Effects.Publish for flush id: on success
// the flush is written to Pebble and the offset after it committed.
func (c *Core) Published(id uint64, err error) {
	f := c.flush
	if f == nil || f.ID != id {
		c.log.Error("acknowledgement of an unknown flush", "flush", id)
		return
	}
	if err != nil {
		c.failed(f, fmt.Errorf("appending to the changelog: %w", err))
		return
	}
	if err := c.cfg.Effects.Write(f); err != nil {
		c.failed(f, fmt.Errorf("writing to Pebble: %w", err))
		return
	}
	for _, id := range f.findingIDs {
		delete(c.dirtyFindings, id)
	}
	c.deadLetters = c.deadLetters[len(f.DeadLetters):]
	if f.next > f.cut.Offset {
		c.committed = f.cut
	}
	c.committedNext = f.next
	c.flush = nil
	c.failures = 0
	c.retryAt = time.Time{}
	c.cfg.Effects.Commit(f.next)
	c.evict()
}

// failed undoes flush f, keeping its entities and findings dirty, and
// schedules a retry; after Config.RetryTimeout of failures the shard
// stops.
func (c *Core) failed(f *Flush, err error) {
	for k, first := range f.firsts {
		if d, ok := c.dirty[k]; ok {
			// Changed again since: the older change is the one to write.
			first.urgent = first.urgent || d.urgent
		}
		c.dirty[k] = first
	}
	c.flush = nil
	now := c.cfg.Now()
	if c.failures == 0 {
		c.failingSince = now
	}
	c.failures++
	backoff := min(firstBackoff<<min(c.failures-1, 16), maxBackoff)
	c.retryAt = now.Add(backoff)
	c.log.Error("flush failed; retrying", "err", err, "attempt", c.failures, "retry_in", backoff)
	if now.Sub(c.failingSince) >= c.cfg.RetryTimeout {
		c.stopped = &Stopped{
			Reason: fmt.Sprintf("flushes failed for %s (%d attempts): %v", now.Sub(c.failingSince).Round(time.Second), c.failures, err),
			Since:  now,
		}
		c.log.Error("shard stopped: its state cannot be written", "reason", c.stopped.Reason)
	}
}
