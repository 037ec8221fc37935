package storage

import (
	"io"
	"log/slog"
	"reflect"
	"testing"
)

func open(t testing.TB, dir string) *DB {
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
	mark := Mark{Incarnation: 2, Offset: 41}
	meta := Meta{Applied: mark, Counters: Counters{Records: [Sources]int64{0, 7}, Duplicates: 2}}
	err := db.Shard(0).Write([]Entry{
		ProfileEntry("1/us-east-1/principal/arn:aws:iam::1:user/a", []byte("profile-a"), mark),
		FindingEntry("abc", []byte(`{"id":"abc"}`)),
		MetaEntry(meta),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db = open(t, dir)
	defer db.Close()
	s0, s1 := db.Shard(0), db.Shard(1)
	data, got, ok, err := s0.Profile("1/us-east-1/principal/arn:aws:iam::1:user/a")
	if err != nil || !ok || string(data) != "profile-a" || got != mark {
		t.Fatalf("profile after reopen: %q %+v %v %v", data, got, ok, err)
	}
	if _, _, ok, _ := s1.Profile("1/us-east-1/principal/arn:aws:iam::1:user/a"); ok {
		t.Error("shard 1 sees shard 0's profile")
	}
	gotMeta, ok, err := s0.Meta()
	if err != nil || !ok || !reflect.DeepEqual(gotMeta, meta) {
		t.Errorf("meta %+v %v %v, want %+v", gotMeta, ok, err, meta)
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
	if err := s.Write([]Entry{FindingEntry("stale", []byte("x"))}); err != nil {
		t.Fatal(err)
	}
	// The neighbour must survive.
	if err := db.Shard(4).Write([]Entry{FindingEntry("keep", []byte("y"))}); err != nil {
		t.Fatal(err)
	}
	entries := []Entry{FindingEntry("fresh", []byte("z")), MetaEntry(Meta{Applied: Mark{Offset: 9}})}
	if err := s.Restore(entries); err != nil {
		t.Fatal(err)
	}
	var ids []string
	s.Findings(func(id string, _ []byte) bool { ids = append(ids, id); return true })
	if !reflect.DeepEqual(ids, []string{"fresh"}) {
		t.Errorf("after restore: %v", ids)
	}
	if m, ok, _ := s.Meta(); !ok || m.Applied != (Mark{Offset: 9}) {
		t.Errorf("meta after restore %+v", m)
	}
	if _, ok, _ := db.Shard(4).Finding("keep"); !ok {
		t.Error("restore of shard 3 dropped shard 4's data")
	}
}

func TestMarkOrder(t *testing.T) {
	// A new incarnation orders after the old one even at a lower offset.
	marks := []Mark{NoMark, {Offset: 0}, {Offset: 7}, {Incarnation: 1, Offset: -1}, {Incarnation: 1, Offset: 0}, {Incarnation: 2, Offset: 0}}
	for i := range marks {
		for j := range marks {
			if got, want := marks[i].Less(marks[j]), i < j; got != want {
				t.Errorf("%+v.Less(%+v) = %v, want %v", marks[i], marks[j], got, want)
			}
		}
	}
}

func TestProfileRecord(t *testing.T) {
	for _, m := range []Mark{NoMark, {Offset: 1 << 40}, {Incarnation: 1<<32 - 1, Offset: 3}} {
		data, got, err := DecodeProfile(EncodeProfile([]byte("p"), m))
		if err != nil || got != m || string(data) != "p" {
			t.Errorf("%+v: got %+v %q %v", m, got, data, err)
		}
	}
	if _, _, err := DecodeProfile([]byte{0xff}); err == nil {
		t.Error("a truncated profile record decoded")
	}
}

func FuzzMeta(f *testing.F) {
	f.Add(MetaEntry(Meta{Applied: Mark{Incarnation: 1, Offset: 3}, Counters: Counters{Findings: 9}}).Value)
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

func TestFindingsTable(t *testing.T) {
	dir := t.TempDir()
	db := open(t, dir)
	tab := db.FindingsTable()
	if err := tab.Apply([]TableFinding{{"b", 1, []byte(`{"id":"b"}`)}, {"a", 0, []byte(`{"id":"a","v":1}`)}}, map[int32]int64{0: 7, 3: 2}); err != nil {
		t.Fatal(err)
	}
	if err := tab.Apply([]TableFinding{{"a", 0, []byte(`{"id":"a","v":2}`)}}, map[int32]int64{0: 9}); err != nil {
		t.Fatal(err)
	}
	// The shard of "b" changed hands: the new owner's finding stands
	// against a later write of the old one.
	if err := tab.Apply([]TableFinding{{"b", 2, []byte(`{"id":"b","v":3}`)}, {"b", 1, []byte(`{"id":"b","v":"stale"}`)}}, nil); err != nil {
		t.Fatal(err)
	}
	// A shard's keyspace does not see the table, nor the table a shard's.
	if err := db.Shard(0).Write([]Entry{FindingEntry("z", []byte("stored"))}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = open(t, dir)
	defer db.Close()
	tab = db.FindingsTable()
	var got []string
	if err := tab.Each(func(id string, js []byte) bool { got = append(got, id+"="+string(js)); return true }); err != nil {
		t.Fatal(err)
	}
	if want := []string{`a={"id":"a","v":2}`, `b={"id":"b","v":3}`}; !reflect.DeepEqual(got, want) {
		t.Errorf("table %v, want %v", got, want)
	}
	offs, err := tab.Offsets()
	if err != nil || !reflect.DeepEqual(offs, map[int32]int64{0: 9, 3: 2}) {
		t.Errorf("offsets %v %v", offs, err)
	}
	if err := tab.Drop(); err != nil {
		t.Fatal(err)
	}
	if offs, _ := tab.Offsets(); len(offs) != 0 {
		t.Errorf("offsets after drop: %v", offs)
	}
	if _, ok, _ := db.Shard(0).Finding("z"); !ok {
		t.Error("dropping the table dropped a shard's finding")
	}
}
