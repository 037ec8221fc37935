package profiles

import (
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/vigil-sec/vigil/event"
)

// ConsoleLogin is one successful AWS console sign-in of a principal.
type ConsoleLogin struct {
	Time time.Time  `json:"time"`
	Addr netip.Addr `json:"address"`
	// UserAgent is the browser's, cut to MaxValueLen.
	UserAgent string `json:"userAgent,omitempty"`
}

// ConsoleLogins are a principal's recent successful console sign-ins
// from IP addresses, sorted by (time, address), for
// UnauthorizedAccess:IAMUser/ConsoleLoginSuccess.B: two of them close in
// time and far apart on the map. Locations are not kept: the detector
// looks the addresses up, so the profile does not depend on the GeoIP
// databases.
//
// The set keeps the greatest MaxConsoleLogins sign-ins by (time, address)
// that lie within ConsoleLoginHorizon of the latest one; one per (time,
// address), the greatest user agent winning. Both rules depend only on
// the set of sign-ins applied, so the state does not depend on their
// order; a sign-in that arrives after it has fallen out is not kept (but
// is still compared with those kept).
type ConsoleLogins []ConsoleLogin

const (
	// MaxConsoleLogins bounds the sign-ins kept: a person signs in a few
	// times a day; 16 within the horizon is already a busy shared
	// account. At most about 9 KB, usually under 40 bytes a sign-in.
	MaxConsoleLogins = 16
	// ConsoleLoginHorizon is how far before the latest sign-in the others
	// are kept: well beyond the detector's window, so that sign-ins
	// delivered hours late are still paired.
	ConsoleLoginHorizon = 24 * time.Hour
)

func loginCmp(a, b ConsoleLogin) int {
	if c := a.Time.Compare(b.Time); c != 0 {
		return c
	}
	return a.Addr.Compare(b.Addr)
}

// IsConsoleLoginSuccess reports whether ct is a successful console
// sign-in of an IAM user or the root user from an IP address: the
// sign-ins ConsoleLogins keeps, and the address it was made from. Role
// sessions are left out: one role (an SSO permission set) is shared by
// many people, who may well be on different continents.
func IsConsoleLoginSuccess(ct *event.CloudTrail) (netip.Addr, bool) {
	if ct == nil || ct.EventName != "ConsoleLogin" || ct.EventSource != "signin.amazonaws.com" ||
		ct.ConsoleLogin != "Success" || ct.ErrorCode != "" ||
		(ct.Identity.Type != "IAMUser" && ct.Identity.Type != "Root") {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(ct.SourceIP)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap().WithZone(""), true
}

// Latest returns the time of the latest sign-in kept, or zero.
func (s ConsoleLogins) Latest() time.Time {
	if len(s) == 0 {
		return time.Time{}
	}
	return s[len(s)-1].Time
}

// observe adds the sign-in of ct at t, if it is one (see
// IsConsoleLoginSuccess).
func (s *ConsoleLogins) observe(ct *event.CloudTrail, t time.Time) {
	addr, ok := IsConsoleLoginSuccess(ct)
	if !ok {
		return
	}
	l := ConsoleLogin{Time: t, Addr: addr, UserAgent: clip(ct.UserAgent, MaxValueLen)}
	i, found := slices.BinarySearchFunc(*s, l, loginCmp)
	if found {
		if e := &(*s)[i]; l.UserAgent > e.UserAgent {
			e.UserAgent = strings.Clone(l.UserAgent)
		}
		return
	}
	if latest := s.Latest(); t.Before(latest.Add(-ConsoleLoginHorizon)) {
		return
	}
	if len(*s) >= MaxConsoleLogins {
		if i == 0 {
			return // older than every kept one
		}
		*s = slices.Delete(*s, 0, 1)
		i--
	}
	l.UserAgent = strings.Clone(l.UserAgent)
	*s = slices.Insert(*s, i, l)
	// Drop what the new sign-in put beyond the horizon.
	cut := t.Add(-ConsoleLoginHorizon)
	n := 0
	for n < len(*s) && (*s)[n].Time.Before(cut) {
		n++
	}
	*s = slices.Delete(*s, 0, n)
}

// encode writes the sign-ins, their times relative to ref (the profile's
// latest event time).
func (s ConsoleLogins) encode(e *encoder, ref time.Time) {
	encodeList(e, s, func(l *ConsoleLogin) {
		e.timeRel(l.Time, ref)
		e.addr(l.Addr)
		e.str(l.UserAgent)
	})
}

func decodeConsoleLogins(d *decoder, ref time.Time) ConsoleLogins {
	return decodeList(d, "consoleLogins", MaxConsoleLogins, func(l *ConsoleLogin) {
		l.Time = d.timeRel(ref)
		if l.Addr = d.addr(); d.Err == nil && !l.Addr.IsValid() {
			d.Failf("consoleLogins: no address")
		}
		l.UserAgent = d.str("consoleLogins", MaxValueLen)
	}, func(prev, next *ConsoleLogin) bool { return loginCmp(*prev, *next) < 0 }, "%s: not sorted by (time, address)")
}

// maxConsoleLoginsSize bounds the encoded sign-ins: time, address and user
// agent each.
const maxConsoleLoginsSize = 8 + MaxConsoleLogins*(MaxValueLen+40)
