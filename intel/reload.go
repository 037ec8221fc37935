package intel

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Reloader keeps a running node's threat lists current with a list
// directory: Reload loads it again on request, Run whenever a file in it
// changes (size, modification time or mode, polled). A directory that
// fails to load — a malformed list, a bad manifest — leaves the lists in
// force unchanged; the error is logged and kept in the status.
type Reloader struct {
	dir   string
	apply func(*Set)
	log   *slog.Logger

	mu     sync.Mutex // serialises loads; guards the fields below
	stamp  uint64     // the directory's fingerprint at the last load attempt
	status ReloadStatus
}

// ReloadStatus describes the lists in force and the last load attempt.
type ReloadStatus struct {
	// Dir is the list directory; empty when only the built-in lists are
	// used.
	Dir string `json:"dir,omitempty"`
	// Lists are the lists in force.
	Lists []ListInfo `json:"lists"`
	// LoadedAt is when they were loaded.
	LoadedAt time.Time `json:"loadedAt"`
	// Reloads counts successful reloads, Failures refused ones.
	Reloads  int64 `json:"reloads"`
	Failures int64 `json:"failures"`
	// LastError is the last refused load's error, when it is later than
	// the lists in force; LastErrorAt is when it happened.
	LastError   string    `json:"lastError,omitempty"`
	LastErrorAt time.Time `json:"lastErrorAt,omitzero"`
}

// maxWatched bounds the files a fingerprint covers; a list directory has a
// handful.
const maxWatched = 10_000

// NewReloader returns a Reloader of directory dir whose lists in force are
// initial (loaded by the caller, from dir by LoadOverBuiltin, or the
// built-in set when dir is empty); apply receives every set loaded later.
func NewReloader(dir string, initial *Set, apply func(*Set), log *slog.Logger) *Reloader {
	if log == nil {
		log = slog.Default()
	}
	r := &Reloader{dir: dir, apply: apply, log: log}
	r.stamp, _ = r.fingerprint()
	r.status = ReloadStatus{Dir: dir, Lists: initial.Info(), LoadedAt: time.Now()}
	return r
}

// Status returns the lists in force and the last attempt's outcome.
func (r *Reloader) Status() ReloadStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.status
	st.Lists = append([]ListInfo(nil), st.Lists...)
	return st
}

// Reload loads the directory again and puts the new set in force, or
// returns the error and keeps the old one.
func (r *Reloader) Reload() (ReloadStatus, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	stamp, err := r.fingerprint()
	r.stamp = stamp
	if err != nil {
		r.failed(err)
		return r.status, err
	}
	err = r.load()
	return r.status, err
}

// Check reloads when the directory changed since the last attempt. A
// refused load is not retried until the directory changes again.
func (r *Reloader) Check() (reloaded bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	stamp, err := r.fingerprint()
	if err != nil {
		if stamp == r.stamp {
			return false, nil // the same failure as last time
		}
		r.stamp = stamp
		r.failed(err)
		return false, err
	}
	if stamp == r.stamp {
		return false, nil
	}
	r.stamp = stamp
	if err := r.load(); err != nil {
		return false, err
	}
	return true, nil
}

// Run polls the directory every interval until ctx ends.
func (r *Reloader) Run(ctx context.Context, interval time.Duration) {
	if r.dir == "" || interval <= 0 {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_, _ = r.Check() // logged by load
		}
	}
}

// load loads the directory; r.mu is held.
func (r *Reloader) load() error {
	var (
		set *Set
		err error
	)
	if r.dir == "" {
		set = Default()
	} else {
		set, err = LoadOverBuiltin(r.dir)
	}
	if err != nil {
		r.failed(err)
		return err
	}
	r.apply(set)
	now := time.Now()
	r.status.Lists = set.Info()
	r.status.LoadedAt = now
	r.status.Reloads++
	r.status.LastError, r.status.LastErrorAt = "", time.Time{}
	entries := 0
	for _, l := range r.status.Lists {
		entries += l.Entries
	}
	r.log.Info("threat lists reloaded", "dir", r.dir, "lists", len(r.status.Lists), "entries", entries)
	return nil
}

func (r *Reloader) failed(err error) {
	r.status.Failures++
	r.status.LastError, r.status.LastErrorAt = err.Error(), time.Now()
	r.log.Error("threat lists not reloaded; the lists in force stay", "dir", r.dir, "err", err)
}

// errTooManyFiles stops a fingerprint walk.
var errTooManyFiles = errors.New("too many files")

// fingerprint hashes the path, size, modification time and mode of every
// file under the directory (following symbolic links, so that a swapped
// link target counts as a change). A failed walk returns the error and a
// fingerprint of it, so that the same failure is reported once.
func (r *Reloader) fingerprint() (uint64, error) {
	h := fnv.New64a()
	if r.dir == "" {
		return 0, nil
	}
	n := 0
	err := filepath.WalkDir(r.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if n++; n > maxWatched {
			return errTooManyFiles
		}
		st, err := os.Stat(p)
		if err != nil {
			return err
		}
		var b [8 * 3]byte
		binary.LittleEndian.PutUint64(b[0:], uint64(st.Size()))
		binary.LittleEndian.PutUint64(b[8:], uint64(st.ModTime().UnixNano()))
		binary.LittleEndian.PutUint64(b[16:], uint64(st.Mode()))
		h.Write([]byte(p))
		h.Write(b[:])
		return nil
	})
	if err != nil {
		h.Write([]byte(err.Error()))
		return h.Sum64(), fmt.Errorf("intel: watching %s: %w", r.dir, err)
	}
	return h.Sum64(), nil
}
