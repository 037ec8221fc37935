package storage

import (
	"io"
	"log/slog"
	"reflect"
	"testing"
)

func open(t *testing.T, dir string) *DB {
	t.Helper()
	db, err := Open(dir, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func TestBatchAndReopen(t *testing.T) {
	dir := t.TempDir()
	db := open(t, dir)
	b := db.Shard(0).NewBatch()
	b.SetProfile("1/us-east-1/principal/arn:aws:iam::1:user/a", []byte("profile-a"), 41)
	b.SetFinding("abc", []byte(`{"id":"abc"}`))
	meta := Meta{Applied: 41, Watermarks: map[string]Position{"cloudtrail/0": {Offset: 7, Index: 2}}}
	b.SetMeta(meta)
	if got := len(b.Entries()); got != 3 {
		t.Fatalf("%d entries, want 3", got)
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db = open(t, dir)
	defer db.Close()
	s0, s1 := db.Shard(0), db.Shard(1)
	data, off, ok, err := s0.Profile("1/us-east-1/principal/arn:aws:iam::1:user/a")
	if err != nil || !ok || string(data) != "profile-a" || off != 41 {
		t.Fatalf("profile after reopen: %q %d %v %v", data, off, ok, err)
	}
	if _, _, ok, _ := s1.Profile("1/us-east-1/principal/arn:aws:iam::1:user/a"); ok {
		t.Error("shard 1 sees shard 0's profile")
	}
	got, ok, err := s0.Meta()
	if err != nil || !ok || !reflect.DeepEqual(got, meta) {
		t.Errorf("meta %+v %v %v, want %+v", got, ok, err, meta)
	}
	if _, ok, _ := s1.Meta(); ok {
		t.Error("shard 1 has meta")
	}
	var ids []string
	s0.Findings(func(id string, _ []byte) bool { ids = append(ids, id); return true })
	if !reflect.DeepEqual(ids, []string{"abc"}) {
		t.Errorf("findings %v", ids)
	}
}

func TestRestoreReplacesKeyspace(t *testing.T) {
	db := open(t, t.TempDir())
	defer db.Close()
	s := db.Shard(3)
	b := s.NewBatch()
	b.SetFinding("stale", []byte("x"))
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	next := db.Shard(4).NewBatch() // the neighbour must survive
	next.SetFinding("keep", []byte("y"))
	if err := next.Commit(); err != nil {
		t.Fatal(err)
	}
	entries := []Entry{{Key: FindingKey("fresh"), Value: []byte("z")}, {Key: MetaKey(), Value: mustMeta(Meta{Applied: 9})}}
	if err := s.Restore(entries); err != nil {
		t.Fatal(err)
	}
	var ids []string
	s.Findings(func(id string, _ []byte) bool { ids = append(ids, id); return true })
	if !reflect.DeepEqual(ids, []string{"fresh"}) {
		t.Errorf("after restore: %v", ids)
	}
	if m, ok, _ := s.Meta(); !ok || m.Applied != 9 {
		t.Errorf("meta after restore %+v", m)
	}
	if _, ok, _ := db.Shard(4).Finding("keep"); !ok {
		t.Error("restore of shard 3 dropped shard 4's data")
	}
}

func mustMeta(m Meta) []byte {
	b, _ := m.MarshalBinary()
	return b
}

func TestPositionOrder(t *testing.T) {
	a, b, c := Position{1, 5}, Position{2, 0}, Position{2, 1}
	if !a.Less(b) || !b.Less(c) || c.Less(a) || a.Less(a) {
		t.Error("Position.Less is not the (offset, index) order")
	}
}

func FuzzMeta(f *testing.F) {
	f.Add(mustMeta(Meta{Applied: 3, Watermarks: map[string]Position{"dns/1": {4, 5}}}))
	f.Add([]byte{1, 0, 200})
	f.Fuzz(func(t *testing.T, b []byte) {
		var m Meta
		if m.UnmarshalBinary(b) != nil {
			return
		}
		again, _ := m.MarshalBinary()
		var m2 Meta
		if err := m2.UnmarshalBinary(again); err != nil || !reflect.DeepEqual(m, m2) {
			t.Fatalf("round trip of a decoded meta: %v", err)
		}
	})
}
