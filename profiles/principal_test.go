package profiles

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/event"
)

func TestPrincipalObserve(t *testing.T) {
	p := NewPrincipal("143434273843", "us-east-1", "arn:aws:iam::143434273843:user/christophe")
	p.Observe(ctEvent(t0.Add(time.Minute), "cloudtrail.amazonaws.com", "StopLogging", "86.245.153.234", "aws-cli/2", ""))
	p.Observe(ctEvent(t0, "cloudtrail.amazonaws.com", "StopLogging", "86.245.153.234", "aws-cli/2", "AccessDenied"))
	p.Observe(ctEvent(t0.Add(2*time.Minute), "iam.amazonaws.com", "ListUsers", "86.245.153.235", "aws-cli/2", ""))
	if p.Events != 3 || p.Errors != 1 {
		t.Errorf("events %d errors %d, want 3 and 1", p.Events, p.Errors)
	}
	if !p.FirstEvent.Equal(t0) || !p.LastEvent.Equal(t0.Add(2*time.Minute)) {
		t.Errorf("first/last = %v/%v", p.FirstEvent, p.LastEvent)
	}
	if p.Type != "IAMUser" || p.UserName != "christophe" || p.PrincipalID != "AIDAOC1SYDVN0AF0FMMR" || !p.IdentitySeen.Equal(t0.Add(2*time.Minute)) {
		t.Errorf("identity = %q %q %q at %v", p.Type, p.UserName, p.PrincipalID, p.IdentitySeen)
	}
	s := p.APIs.Find("cloudtrail:StopLogging")
	if s == nil || s.Count != 2 || !s.FirstSeen.Equal(t0) || !s.LastSeen.Equal(t0.Add(time.Minute)) {
		t.Errorf("cloudtrail:StopLogging = %+v", s)
	}
	if len(p.APIs) != 2 || len(p.SourceIPs) != 2 || len(p.UserAgents) != 1 {
		t.Errorf("sets = %d APIs, %d IPs, %d UAs", len(p.APIs), len(p.SourceIPs), len(p.UserAgents))
	}
	// Role sessions are named after the role; an older event does not
	// change the identity, a later one does.
	role := func(at time.Time) *event.Event {
		ev := ctEvent(at, "sts.amazonaws.com", "GetCallerIdentity", "10.0.0.1", "", "")
		ev.CloudTrail.Identity = event.Identity{Type: "AssumedRole", ARN: "arn:aws:sts::1:assumed-role/web/i-1", SessionIssuerUserName: "web"}
		return ev
	}
	p.Observe(role(t0))
	if p.Type != "IAMUser" {
		t.Errorf("an older event changed the identity to %q", p.Type)
	}
	p.Observe(role(t0.Add(3 * time.Minute)))
	if p.Type != "AssumedRole" || p.UserName != "web" || p.PrincipalID != "" {
		t.Errorf("role identity = %q %q %q", p.Type, p.UserName, p.PrincipalID)
	}
}

// TestPrincipalIdentity: the identity fields are one group, taken from the
// latest event, ties broken by the values; events without any are
// ignored.
func TestPrincipalIdentity(t *testing.T) {
	ev := func(at time.Time, typ, name, arn string) *event.Event {
		e := ctEvent(at, "s3.amazonaws.com", "ListBuckets", "198.51.100.1", "", "")
		e.CloudTrail.Identity = event.Identity{Type: typ, UserName: name, ARN: arn}
		return e
	}
	for _, tc := range []struct {
		name string
		evs  []*event.Event
		want string // Type/UserName/ARN
	}{
		{"latest wins", []*event.Event{ev(t0, "IAMUser", "a", "arn:a"), ev(t0.Add(time.Second), "Root", "", "arn:root")}, "Root//arn:root"},
		{"tie: greater values", []*event.Event{ev(t0, "IAMUser", "a", "arn:a"), ev(t0, "IAMUser", "b", "arn:b")}, "IAMUser/b/arn:b"},
		{"one group, not field by field", []*event.Event{ev(t0, "IAMUser", "a", "arn:a"), ev(t0.Add(time.Second), "", "", "arn:x")}, "//arn:x"},
		{"no identity: ignored", []*event.Event{ev(t0, "IAMUser", "a", "arn:a"), ev(t0.Add(time.Second), "", "", "")}, "IAMUser/a/arn:a"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := checkOrderIndependent(t, func() Profile { return NewPrincipal("1", "r", "e") }, tc.evs, 4)
			var p Principal
			if err := p.UnmarshalBinary(got); err != nil {
				t.Fatal(err)
			}
			if s := p.Type + "/" + p.UserName + "/" + p.ARN; s != tc.want {
				t.Errorf("identity %s, want %s", s, tc.want)
			}
		})
	}
}

// TestPrincipalCaps drives a principal far past every cap: the profile
// keeps a sample of values that does not depend on their order, and its
// encoding stays bounded.
func TestPrincipalCaps(t *testing.T) {
	p := NewPrincipal("1", "us-east-1", "arn:aws:iam::1:user/enum")
	ua := strings.Repeat("é", MaxValueLen) // 2 bytes per rune: the cut must not split one
	for i := range 5000 {
		at := t0.Add(time.Duration(i) * time.Second)
		ip := fmt.Sprintf("198.51.%d.%d", i/256, i%256) + strings.Repeat("x", MaxValueLen)
		p.Observe(withID(ctEvent(at, "ec2.amazonaws.com", fmt.Sprintf("Describe%04d%s", i, ua), ip, fmt.Sprintf("%d%s", i, ua), ""), fmt.Sprint(i)))
	}
	if len(p.APIs) != MaxAPIs || len(p.SourceIPs) != MaxSourceIPs || len(p.UserAgents) != MaxUserAgents || len(p.EventIDs) != MaxDedupeIDs {
		t.Fatalf("sets = %d/%d/%d/%d, want the caps %d/%d/%d/%d", len(p.APIs), len(p.SourceIPs), len(p.UserAgents), len(p.EventIDs),
			MaxAPIs, MaxSourceIPs, MaxUserAgents, MaxDedupeIDs)
	}
	// A full set keeps the values with the smallest hashes, whatever
	// the order they came in.
	var hashes []uint64
	for _, a := range p.APIs {
		hashes = append(hashes, hash64(a.Value))
	}
	slices.Sort(hashes)
	for i := range 5000 {
		api := clip("ec2:"+fmt.Sprintf("Describe%04d%s", i, ua), MaxValueLen)
		if kept := p.APIs.Find(api) != nil; kept != (hash64(api) <= hashes[len(hashes)-1]) {
			t.Fatalf("%s: kept %v with hash %x, largest kept %x", api[:16], kept, hash64(api), hashes[len(hashes)-1])
		}
	}
	if !p.APIs.Saturated(MaxAPIs) {
		t.Error("a full set is not saturated")
	}
	for _, u := range p.UserAgents {
		if len(u.Value) > MaxValueLen || !utf8Valid(u.Value) {
			t.Fatalf("user agent of %d bytes (valid UTF-8 %v)", len(u.Value), utf8Valid(u.Value))
		}
	}

	b := mustMarshal(t, p)
	if len(b) > MaxPrincipalSize {
		t.Errorf("encoding of a flooded principal is %d bytes, more than MaxPrincipalSize %d", len(b), MaxPrincipalSize)
	}
	t.Logf("flooded principal: %d bytes (MaxPrincipalSize %d)", len(b), MaxPrincipalSize)
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }

// TestPrincipalOrderIndependent: the same events in any order give the
// same profile, with duplicates among them and sets up to their caps (a
// set that overflows is exact no more: a value it dropped and sees again
// starts over).
func TestPrincipalOrderIndependent(t *testing.T) {
	var evs []*event.Event
	for i := range 300 {
		at := t0.Add(time.Duration(i%97) * time.Minute) // times repeat: ties
		ev := ctEvent(at, "ec2.amazonaws.com", fmt.Sprintf("Describe%d", i%40), fmt.Sprintf("198.51.100.%d", i%MaxSourceIPs),
			fmt.Sprintf("ua/%d", i%MaxUserAgents), []string{"", "AccessDenied"}[i%7/6])
		if i%3 != 0 {
			withID(ev, fmt.Sprintf("id-%d", i))
		}
		ev.CloudTrail.Identity.UserName = fmt.Sprint("user", i%5)
		evs = append(evs, ev)
		if i%11 == 0 && ev.CloudTrail.EventID != "" {
			evs = append(evs, ev) // delivered twice
		}
	}
	b := checkOrderIndependent(t, func() Profile { return NewPrincipal("1", "r", "e") }, evs, 30)
	var p Principal
	if err := p.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if p.Events != 300 || len(p.SourceIPs) != MaxSourceIPs || len(p.UserAgents) != MaxUserAgents {
		t.Errorf("events %d, %d addresses, %d user agents", p.Events, len(p.SourceIPs), len(p.UserAgents))
	}
}

// TestEventIDs checks the duplicate filter: a copy within the horizon is a
// duplicate, beyond the horizon or the cap it is applied again, and the
// set is bounded and forgets by event time.
func TestEventIDs(t *testing.T) {
	ev := func(at time.Time, id string) *event.Event {
		return withID(ctEvent(at, "s3.amazonaws.com", "GetObject", "198.51.100.1", "", ""), id)
	}
	p := NewPrincipal("1", "r", "e")
	if !p.Observe(ev(t0, "a")) || p.Observe(ev(t0, "a")) || !p.IsDuplicate(ev(t0, "a")) {
		t.Fatal("the second copy of an event was applied")
	}
	if !p.Observe(ev(t0.Add(time.Second), "a")) {
		t.Error("the same id at another time was taken for a duplicate")
	}
	if !p.Observe(ev(t0, "b")) || p.Events != 3 {
		t.Fatalf("events %d", p.Events)
	}
	// The horizon moves with the latest event time: a copy of an event it
	// passed is applied again, and the encoding forgets it.
	p.Observe(ev(t0.Add(DedupeHorizon+2*time.Second), "c"))
	if p.IsDuplicate(ev(t0, "a")) {
		t.Error("an id beyond the horizon is still remembered")
	}
	var q Principal
	if err := q.UnmarshalBinary(mustMarshal(t, p)); err != nil || len(q.EventIDs) != 1 {
		t.Errorf("decoded %d ids (%v), want the one within the horizon", len(q.EventIDs), err)
	}
	// A full set keeps the greatest (time, hash), and a new id older than
	// all is not remembered.
	p = NewPrincipal("1", "r", "e")
	for i := range MaxDedupeIDs + 10 {
		p.Observe(ev(t0.Add(time.Duration(i)*time.Second), fmt.Sprint(i)))
	}
	if len(p.EventIDs) != MaxDedupeIDs || !p.EventIDs[0].At.Equal(t0.Add(10*time.Second)) {
		t.Fatalf("%d ids from %v", len(p.EventIDs), p.EventIDs[0].At)
	}
	if !p.Observe(ev(t0, "0")) || p.IsDuplicate(ev(t0, "0")) {
		t.Error("an id older than a full set was remembered")
	}
	if p.IsDuplicate(ev(t0.Add(5*time.Second), "5")) || !p.IsDuplicate(ev(t0.Add(500*time.Second), "500")) {
		t.Error("the set does not hold the latest ids")
	}
	// Events without an id are never duplicates.
	anon := ev(t0, "")
	for i := range 2 {
		if !p.Observe(anon) {
			t.Errorf("copy %d of an event without an eventID was dropped", i)
		}
	}
}

// TestPrincipalBeyondCaps: past the caps of its sets, a principal's
// profile still does not depend on the order of its events (a value kept
// in a full set was never dropped), here with 300 source addresses and
// 100 APIs seen several times each.
func TestPrincipalBeyondCaps(t *testing.T) {
	var evs []*event.Event
	for i := range 900 {
		at := t0.Add(time.Duration(i*7%900) * time.Minute)
		ev := ctEvent(at, "ec2.amazonaws.com", fmt.Sprintf("Describe%d", i%100), fmt.Sprintf("198.51.100.%d", i%300), "aws-cli/2", "")
		evs = append(evs, withID(ev, fmt.Sprint(i)))
	}
	checkOrderIndependent(t, func() Profile { return NewPrincipal("1", "r", "e") }, evs, 5)
}
