package actors

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/vigil-sec/vigil/kafka"
)

// DeadLetter is a dead-letter record: a reference to the record that
// failed and why, with at most a short excerpt, never the record itself.
// It is keyed by the reference, so a dead letter sent again after a crash
// replaces the first one in the compacted dead-letter topic.
type DeadLetter struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
	Source    string `json:"source"`
	Reason    string `json:"reason"`
	// Excerpt is the start of the record, at most the configured number of
	// bytes (--dead-letter-excerpt); empty when that is 0.
	Excerpt string `json:"excerpt,omitempty"`
	// Size is the record's size in bytes.
	Size int `json:"size"`
	// Time is the record's Kafka timestamp.
	Time time.Time `json:"time"`
}

// maxReason bounds a dead letter's reason.
const maxReason = 512

// key is the dead letter's Kafka key: the reference of the failed record.
func (d *DeadLetter) key() []byte {
	return []byte(d.Topic + "/" + strconv.Itoa(int(d.Partition)) + "/" + strconv.FormatInt(d.Offset, 10))
}

// record encodes the dead letter, keeping at most excerpt bytes of its
// excerpt.
func (d *DeadLetter) record(excerpt int) *kgo.Record {
	d.Reason = strings.ToValidUTF8(clipString(d.Reason, maxReason), "\uFFFD")
	d.Excerpt = strings.ToValidUTF8(clipString(d.Excerpt, max(excerpt, 0)), "\uFFFD")
	v, _ := json.Marshal(d) // strings, numbers and a time: cannot fail
	return &kgo.Record{Topic: kafka.DeadLetterTopic, Key: d.key(), Value: v}
}

// clipString cuts s to at most n bytes without splitting a UTF-8 sequence.
func clipString(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xc0 == 0x80 {
		n--
	}
	return s[:n]
}

// throttledLog rate-limits per-record warnings: hostile input can make
// every record fail, and a log line per record would drown the log (and
// the disk). At most burst lines pass per interval; the rest are counted
// and summed up in one line when the next interval begins.
type throttledLog struct {
	log      *slog.Logger
	burst    int
	interval time.Duration

	mu         sync.Mutex
	start      time.Time
	passed     int
	suppressed int
}

func newThrottledLog(log *slog.Logger) *throttledLog {
	return &throttledLog{log: log, burst: 20, interval: time.Minute}
}

// Warn logs msg unless the interval's burst is spent. args must name the
// record (topic, partition, offset) and never quote its content.
func (t *throttledLog) Warn(msg string, args ...any) {
	t.mu.Lock()
	now := time.Now()
	if now.Sub(t.start) >= t.interval {
		if t.suppressed > 0 {
			t.log.Warn(fmt.Sprintf("%d more per-record warnings suppressed", t.suppressed), "interval", t.interval)
		}
		t.start, t.passed, t.suppressed = now, 0, 0
	}
	pass := t.passed < t.burst
	if pass {
		t.passed++
	} else {
		t.suppressed++
	}
	t.mu.Unlock()
	if pass {
		t.log.Warn(msg, args...)
	}
}
