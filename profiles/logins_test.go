package profiles

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/event"
)

// consoleLogin is a ConsoleLogin event of the test user, successful
// unless result says otherwise.
func consoleLogin(at time.Time, ip, result string) *event.Event {
	ev := ctEvent(at, "signin.amazonaws.com", "ConsoleLogin", ip, "Mozilla/5.0", "")
	ev.CloudTrail.EventType = "AwsConsoleSignIn"
	ev.CloudTrail.ConsoleLogin = result
	ev.CloudTrail.Identity.AccessKeyID = ""
	return ev
}

func TestConsoleLoginsObserve(t *testing.T) {
	p := NewPrincipal("143434273843", "us-east-1", "arn:aws:iam::143434273843:user/christophe")
	p.Observe(consoleLogin(t0, "198.51.100.7", "Success"))
	p.Observe(consoleLogin(t0.Add(time.Minute), "203.0.113.9", "Failure"))
	p.Observe(ctEvent(t0.Add(2*time.Minute), "iam.amazonaws.com", "ListUsers", "203.0.113.9", "aws-cli/2", ""))
	p.Observe(consoleLogin(t0.Add(3*time.Minute), "signin.amazonaws.com", "Success")) // not an address
	role := consoleLogin(t0.Add(4*time.Minute), "192.0.2.1", "Success")
	role.CloudTrail.Identity = event.Identity{Type: "AssumedRole", ARN: "arn:aws:sts::143434273843:assumed-role/AWSReservedSSO_admin/ana"}
	p.Observe(role)
	p.Observe(consoleLogin(t0.Add(5*time.Minute), "::ffff:203.0.113.9", "Success"))
	want := ConsoleLogins{
		{Time: t0, Addr: netip.MustParseAddr("198.51.100.7"), UserAgent: "Mozilla/5.0"},
		{Time: t0.Add(5 * time.Minute), Addr: netip.MustParseAddr("203.0.113.9"), UserAgent: "Mozilla/5.0"},
	}
	if fmt.Sprint(p.ConsoleLogins) != fmt.Sprint(want) {
		t.Fatalf("logins %v, want %v", p.ConsoleLogins, want)
	}
	q, err := Unmarshal(event.KindPrincipal, mustMarshal(t, p))
	if err != nil {
		t.Fatal(err)
	}
	if got := q.(*Principal).ConsoleLogins; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after a round trip %v, want %v", got, want)
	}
}

// TestConsoleLoginsBounded: at most MaxConsoleLogins, the latest kept,
// none beyond the horizon of the latest; the same in any order.
func TestConsoleLoginsBounded(t *testing.T) {
	var evs []*event.Event
	for i := range 3 * MaxConsoleLogins {
		evs = append(evs, consoleLogin(t0.Add(time.Duration(i)*time.Minute), fmt.Sprintf("198.51.100.%d", i%7), "Success"))
	}
	// Same time, two addresses and two user agents; one far older.
	dup := consoleLogin(t0.Add(100*time.Minute), "198.51.100.1", "Success")
	dup.CloudTrail.UserAgent = "Mozilla/5.0 (X11)"
	evs = append(evs, dup, consoleLogin(t0.Add(100*time.Minute), "198.51.100.1", "Success"),
		consoleLogin(t0.Add(100*time.Minute), "198.51.100.2", "Success"),
		consoleLogin(t0.Add(-48*time.Hour), "192.0.2.9", "Success"))
	fresh := func() Profile {
		return NewPrincipal("143434273843", "us-east-1", "arn:aws:iam::143434273843:user/christophe")
	}
	b := checkOrderIndependent(t, fresh, evs, 20)
	q, err := Unmarshal(event.KindPrincipal, b)
	if err != nil {
		t.Fatal(err)
	}
	s := q.(*Principal).ConsoleLogins
	if len(s) != MaxConsoleLogins || !s.Latest().Equal(t0.Add(100*time.Minute)) {
		t.Fatalf("%d logins up to %v", len(s), s.Latest())
	}
	if s[len(s)-2].UserAgent != "Mozilla/5.0 (X11)" {
		t.Errorf("same login, two user agents: kept %q, want the greatest", s[len(s)-2].UserAgent)
	}
	// A login a day later pushes out everything before its horizon.
	p := q.(*Principal)
	p.Observe(consoleLogin(t0.Add(100*time.Minute+ConsoleLoginHorizon+time.Second), "192.0.2.1", "Success"))
	if len(p.ConsoleLogins) != 1 {
		t.Fatalf("after a login a day later: %v", p.ConsoleLogins)
	}
}

func TestConsoleLoginsDecodeErrors(t *testing.T) {
	p := NewPrincipal("143434273843", "us-east-1", "arn:aws:iam::143434273843:user/christophe")
	p.Observe(consoleLogin(t0, "198.51.100.7", "Success"))
	p.Observe(consoleLogin(t0.Add(time.Minute), "203.0.113.9", "Success"))
	good := mustMarshal(t, p)
	for name, mutate := range map[string]func(*Principal){
		"unsorted":   func(q *Principal) { q.ConsoleLogins[0], q.ConsoleLogins[1] = q.ConsoleLogins[1], q.ConsoleLogins[0] },
		"no address": func(q *Principal) { q.ConsoleLogins[0].Addr = netip.Addr{} },
		"over cap": func(q *Principal) {
			for i := range MaxConsoleLogins {
				q.ConsoleLogins = append(q.ConsoleLogins, ConsoleLogin{Time: t0.Add(time.Duration(i+2) * time.Minute), Addr: netip.MustParseAddr("192.0.2.1")})
			}
		},
	} {
		q, _ := Unmarshal(event.KindPrincipal, good)
		mutate(q.(*Principal))
		b := mustMarshal(t, q)
		if _, err := Unmarshal(event.KindPrincipal, b); err == nil || !strings.Contains(err.Error(), "consoleLogins") {
			t.Errorf("%s: decoded with error %v", name, err)
		}
	}
}
