package sources

// interner hands out one shared string per distinct byte sequence, so the
// fields that repeat across records (accounts, regions, ENIs, event names)
// cost a map lookup instead of an allocation. It is bounded: when full it
// starts afresh, so an attacker cycling values costs allocations, not
// memory.
type interner struct {
	m map[string]string
}

const (
	internMaxEntries = 8192
	// internMaxLen keeps long, mostly unique values (long query names,
	// odd user agents) out of the table.
	internMaxLen = 256
)

// get returns b as a string the caller owns.
func (in *interner) get(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if len(b) > internMaxLen {
		return string(b)
	}
	if s, ok := in.m[string(b)]; ok { // no allocation for the lookup
		return s
	}
	if in.m == nil || len(in.m) >= internMaxEntries {
		in.m = make(map[string]string, 256)
	}
	s := string(b)
	in.m[s] = s
	return s
}
