package findings

import (
	"fmt"
	"strconv"
	"time"
)

// TimeLayout is how finding timestamps are written: ISO-8601 UTC with
// milliseconds, e.g. "2018-10-25T10:43:04.605Z".
const TimeLayout = "2006-01-02T15:04:05.000Z"

// Timestamp is a finding time. It is written as a TimeLayout string in UTC
// and read from any RFC 3339 form (GuardDuty writes both
// "2021-04-28T02:41:25Z" and "...T10:43:04.605Z").
type Timestamp struct {
	time.Time
}

// MarshalJSON writes t as a quoted TimeLayout string.
func (t Timestamp) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, len(TimeLayout)+2)
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, TimeLayout)
	return append(b, '"'), nil
}

// UnmarshalJSON reads a quoted RFC 3339 time.
func (t *Timestamp) UnmarshalJSON(b []byte) error {
	s, err := strconv.Unquote(string(b))
	if err != nil {
		return fmt.Errorf("findings: timestamp %s: not a JSON string", b)
	}
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf("findings: timestamp: %w", err)
	}
	t.Time = v.UTC()
	return nil
}

// Stamp returns t in UTC cut to milliseconds: the precision of the JSON
// form. Findings keep their times stamped so that a finding read back from
// storage merges exactly like the one that was written.
func Stamp(t time.Time) Timestamp {
	return Timestamp{t.UTC().Truncate(time.Millisecond)}
}
