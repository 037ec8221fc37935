package storage

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkShardWrite measures one flush's synced Pebble batch: n changed
// profiles of about 1 KiB and the shard's meta, as a shard writes every
// --flush-interval. Bytes/s counts the values written.
func BenchmarkShardWrite(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprintf("profiles=%d", n), func(b *testing.B) {
			db := open(b, b.TempDir())
			defer db.Close()
			s := db.Shard(0)
			rng := rand.New(rand.NewPCG(1, 2))
			profile := make([]byte, 1024)
			for i := range profile {
				profile[i] = byte(rng.IntN(16)) // compressible, as profiles are
			}
			entries := make([]Entry, 0, n+1)
			var size int64
			var mark Mark
			b.ReportAllocs()
			for b.Loop() {
				entries = entries[:0]
				size = 0
				mark.Offset++
				for i := range n {
					e := ProfileEntry(fmt.Sprintf("123456789012/us-east-1/principal/arn:aws:iam::123456789012:user/u%d", i), profile, mark)
					entries = append(entries, e)
					size += int64(len(e.Value))
				}
				entries = append(entries, MetaEntry(Meta{Applied: mark}))
				if err := s.Write(entries); err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(size)
		})
	}
}

// BenchmarkShardProfile measures reading one stored profile, as a shard
// does when it starts an entity that was passivated.
func BenchmarkShardProfile(b *testing.B) {
	db := open(b, b.TempDir())
	defer db.Close()
	s := db.Shard(0)
	const n = 10_000
	profile := make([]byte, 1024)
	entries := make([]Entry, 0, n)
	for i := range n {
		entries = append(entries, ProfileEntry(fmt.Sprintf("123456789012/us-east-1/network/i-%08d", i), profile, Mark{Offset: int64(i)}))
	}
	if err := s.Write(entries); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, _, ok, err := s.Profile(fmt.Sprintf("123456789012/us-east-1/network/i-%08d", i%n)); err != nil || !ok {
			b.Fatal(ok, err)
		}
		i += 7919 // a prime: spread the reads
	}
}
