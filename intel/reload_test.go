package intel

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const acmeManifest = `{"lists": [{"name": "acme", "format": "TXT", "kind": "threat", "file": "acme.txt"}]}`

// rewrite replaces a list file, with a later modification time so that
// the change shows even on coarse file system clocks.
func rewrite(t *testing.T, dir, name, data string, step int) {
	t.Helper()
	write(t, dir, name, data)
	at := time.Now().Add(time.Duration(step) * time.Minute)
	if err := os.Chtimes(filepath.Join(dir, name), at, at); err != nil {
		t.Fatal(err)
	}
}

func customMatch(s *Set, addr string) string {
	for _, m := range s.IP(netip.MustParseAddr(addr)) {
		if m.Kind == Custom {
			return m.List + " " + m.Entry
		}
	}
	return ""
}

func TestReloader(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "custom/lists.json", acmeManifest)
	write(t, dir, "custom/acme.txt", "203.0.113.5\n")
	initial, err := LoadOverBuiltin(dir)
	if err != nil {
		t.Fatal(err)
	}
	var current atomic.Pointer[Set]
	current.Store(initial)
	var applied atomic.Int32
	r := NewReloader(dir, initial, func(s *Set) { current.Store(s); applied.Add(1) }, nil)

	if ok, err := r.Check(); ok || err != nil {
		t.Fatalf("Check of an unchanged directory = %v, %v", ok, err)
	}
	rewrite(t, dir, "custom/acme.txt", "198.51.100.0/24\n", 1)
	if ok, err := r.Check(); !ok || err != nil {
		t.Fatalf("Check after a change = %v, %v", ok, err)
	}
	if got := customMatch(current.Load(), "198.51.100.7"); got != "acme 198.51.100.0/24" {
		t.Errorf("new list: match %q", got)
	}
	if got := customMatch(current.Load(), "203.0.113.5"); got != "" {
		t.Errorf("the old entry still matches: %q", got)
	}

	// A malformed replacement is refused; the set in force stays.
	rewrite(t, dir, "custom/acme.txt", "198.51.100.0/24\nnot an entry\n", 2)
	ok, err := r.Check()
	if ok || err == nil || !strings.Contains(err.Error(), "custom/acme.txt: line 2") {
		t.Fatalf("Check of a malformed list = %v, %v", ok, err)
	}
	if got := customMatch(current.Load(), "198.51.100.7"); got != "acme 198.51.100.0/24" || applied.Load() != 1 {
		t.Errorf("after a refused reload: match %q, %d sets applied", got, applied.Load())
	}
	st := r.Status()
	if st.Failures != 1 || st.Reloads != 1 || !strings.Contains(st.LastError, "line 2") || st.LastErrorAt.IsZero() || len(st.Lists) == 0 {
		t.Errorf("status after a refused reload: %+v", st)
	}
	// Not retried until the directory changes again, but an explicit
	// reload tries again.
	if ok, err := r.Check(); ok || err != nil {
		t.Errorf("Check retried an unchanged malformed directory: %v, %v", ok, err)
	}
	if _, err := r.Reload(); err == nil || r.Status().Failures != 2 {
		t.Errorf("Reload of a malformed list = %v, status %+v", err, r.Status())
	}

	rewrite(t, dir, "custom/acme.txt", "192.0.2.0/24\n", 3)
	st, err = r.Reload()
	if err != nil || st.Reloads != 2 || st.LastError != "" {
		t.Fatalf("Reload = %+v, %v", st, err)
	}
	var acme *ListInfo
	for i := range st.Lists {
		if st.Lists[i].Name == "acme" {
			acme = &st.Lists[i]
		}
	}
	if acme == nil || acme.Entries != 1 || acme.Kind != "threat" || acme.Format != FormatTXT {
		t.Errorf("status lists %+v", st.Lists)
	}
	if got := customMatch(current.Load(), "192.0.2.1"); got != "acme 192.0.2.0/24" {
		t.Errorf("after Reload: match %q", got)
	}
}

func TestReloaderRun(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "custom/lists.json", acmeManifest)
	write(t, dir, "custom/acme.txt", "203.0.113.5\n")
	initial, err := LoadOverBuiltin(dir)
	if err != nil {
		t.Fatal(err)
	}
	sets := make(chan *Set, 4)
	r := NewReloader(dir, initial, func(s *Set) { sets <- s }, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx, 10*time.Millisecond); close(done) }()
	rewrite(t, dir, "custom/acme.txt", "203.0.113.6\n", 1)
	select {
	case s := <-sets:
		if got := customMatch(s, "203.0.113.6"); got != "acme 203.0.113.6" {
			t.Errorf("polled reload: match %q", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no reload after the list changed")
	}
	cancel()
	<-done
}

// A Reloader without a directory serves the built-in lists.
func TestReloaderBuiltin(t *testing.T) {
	var got *Set
	r := NewReloader("", Default(), func(s *Set) { got = s }, nil)
	st, err := r.Reload()
	if err != nil || got != Default() || len(st.Lists) == 0 || !st.Lists[0].Builtin {
		t.Errorf("Reload = %+v, %v", st, err)
	}
	r.Run(context.Background(), time.Second) // returns at once: nothing to watch
}
