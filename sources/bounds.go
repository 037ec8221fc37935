package sources

import (
	"time"
	"unicode/utf8"

	"github.com/vigil-sec/vigil/event"
)

// Bounds on decoded string fields. Every field is attacker-influenced (a
// caller picks its user agent, a producer on the raw topic writes whatever
// it likes), and each one ends up in the internal record, in profiles and
// in findings: one oversized value must not bloat them or make the
// internal record too large for Kafka. Ids and names over their bound fail
// the element rather than being cut, since a cut id would name another
// entity; free text is cut instead (see maxFreeText).
const (
	// maxID bounds AWS ids: account, ENI, instance, VPC, subnet, resolver
	// endpoint, access key, event ID. The longest are a few dozen
	// characters (vpce-0123456789abcdef0 is 22, an event ID 36).
	maxID = 128
	// maxRegion bounds region names (ap-southeast-7 is 14; ParseRegions
	// accepts 32).
	maxRegion = 32
	// maxARN bounds ARNs and the identity fields made of IAM names (user
	// name, principal id): IAM documents 2048 as the longest ARN.
	maxARN = 2048
	// maxName bounds names from a small vocabulary: eventName,
	// eventSource, eventType, error codes, identity types, service
	// principals, source host names.
	maxName = 256
	// maxFreeText bounds userAgent and errorMessage. They are free text
	// (the caller writes its user agent), so a longer value is cut at a
	// rune boundary rather than failing the event: failing it would let a
	// caller hide its calls from detection with a long user agent.
	maxFreeText = 1 << 10
	// maxTimestamp bounds a timestamp's text (RFC 3339 with nanoseconds
	// and an offset is 35).
	maxTimestamp = 64
	// maxQueryName bounds a DNS query name in octets: a name is at most
	// 255 octets on the wire, so 253 characters and a trailing dot. Escaped
	// octets (\DDD or \X) count as one, so a tunnelling name full of
	// escapes is still read.
	maxQueryName = 255
	// maxDNSToken bounds query_type, query_class, rcode, transport,
	// firewall_rule_action and answer types: names like "TYPE65534".
	maxDNSToken = 64
	// maxEntity bounds Event.Entity: an ARN or IAM name with a short
	// prefix ("principal:", an IAM user ARN built from its parts).
	maxEntity = maxARN + maxName
)

// Event times outside [minEventTime, maxEventTime) are rejected: AWS logs
// nothing older than 2000, and a far-future time would pin a detection
// window (and time.Time's own range ends in 2262).
const (
	minEventUnix = 946684800  // 2000-01-01T00:00:00Z
	maxEventUnix = 4102444800 // 2100-01-01T00:00:00Z
)

// timeBounds is the accepted range as it appears in messages.
const timeBounds = "[2000-01-01, 2100-01-01)"

func errLen(field string, n, max int) error {
	return errField(field, "%d bytes, more than %d", n, max)
}

// checkID checks a field that becomes part of an entity id or routing key:
// at most max bytes of valid UTF-8 without ASCII control characters, which
// would let one id masquerade as another in logs, keys and the admin API.
func checkID(b []byte, max int, field string) error {
	if len(b) > max {
		return errLen(field, len(b), max)
	}
	bad, nonASCII := findControl(b)
	if bad >= 0 {
		return errControl(field, b[bad], bad)
	}
	if nonASCII && !utf8.Valid(b) {
		return errField(field, "invalid UTF-8")
	}
	return nil
}

// checkIDString is checkID for a string.
func checkIDString(s string, max int, field string) error {
	if len(s) > max {
		return errLen(field, len(s), max)
	}
	bad, nonASCII := findControl(s)
	if bad >= 0 {
		return errControl(field, s[bad], bad)
	}
	if nonASCII && !utf8.ValidString(s) {
		return errField(field, "invalid UTF-8")
	}
	return nil
}

// findControl returns the index of the first ASCII control character of
// b (-1 if none) and whether b has non-ASCII bytes before it.
func findControl[T string | []byte](b T) (bad int, nonASCII bool) {
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case c < 0x20 || c == 0x7f:
			return i, nonASCII
		case c >= utf8.RuneSelf:
			nonASCII = true
		}
	}
	return -1, nonASCII
}

func errControl(field string, c byte, at int) error {
	return errField(field, "control character %#02x at byte %d", c, at)
}

// checkRouting checks what ingest builds the routing key from. The
// decoders check each source field already; this guards the composed
// values.
func checkRouting(ev *event.Event) error {
	if err := checkIDString(ev.Account, maxID, "account"); err != nil {
		return err
	}
	if err := checkIDString(ev.Region, maxRegion, "region"); err != nil {
		return err
	}
	if ev.Entity == "" {
		return errField("entity", "empty")
	}
	return checkIDString(ev.Entity, maxEntity, "entity")
}

// checkTime fails a time outside the accepted range.
func checkTime(t time.Time, field string) error {
	return checkUnix(t.Unix(), field)
}

// checkUnix is checkTime for Unix seconds.
func checkUnix(sec int64, field string) error {
	if sec < minEventUnix || sec >= maxEventUnix {
		return errField(field, "%s outside %s", time.Unix(sec, 0).UTC().Format(time.RFC3339), timeBounds)
	}
	return nil
}
