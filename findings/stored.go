package findings

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
)

// The stored form of a finding is
//
//	version byte (storedVersion), Rank as a uvarint, GuardDuty JSON
//
// Rank is not part of GuardDuty's JSON but Merge needs it, so a finding
// read back from storage merges exactly as the one written. The JSON is
// last and whole, so StoredJSON serves it without decoding.
const storedVersion = 1

// errStored is wrapped by every error of reading a stored finding.
var errStored = errors.New("findings: stored finding")

// MarshalStored returns the stored form of f.
func (f *Finding) MarshalStored() ([]byte, error) {
	j, err := json.Marshal(f)
	if err != nil {
		return nil, fmt.Errorf("findings: marshal %s: %w", f.ID, err)
	}
	b := make([]byte, 0, 1+binary.MaxVarintLen64+len(j))
	b = append(b, storedVersion)
	b = binary.AppendUvarint(b, f.Rank)
	return append(b, j...), nil
}

// UnmarshalStored decodes the stored form of a finding.
func UnmarshalStored(b []byte) (Finding, error) {
	rank, j, err := splitStored(b)
	if err != nil {
		return Finding{}, err
	}
	var f Finding
	if err := json.Unmarshal(j, &f); err != nil {
		return Finding{}, fmt.Errorf("%w: %w", errStored, err)
	}
	f.Rank = rank
	return f, nil
}

// StoredJSON returns the GuardDuty JSON of a stored finding, a sub-slice
// of b, without decoding it.
func StoredJSON(b []byte) ([]byte, error) {
	_, j, err := splitStored(b)
	return j, err
}

func splitStored(b []byte) (rank uint64, j []byte, err error) {
	if len(b) == 0 {
		return 0, nil, fmt.Errorf("%w: empty", errStored)
	}
	if b[0] != storedVersion {
		return 0, nil, fmt.Errorf("%w: unknown version %d", errStored, b[0])
	}
	rank, n := binary.Uvarint(b[1:])
	if n <= 0 {
		return 0, nil, fmt.Errorf("%w: bad rank", errStored)
	}
	return rank, b[1+n:], nil
}
