package detect

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/vigil-sec/vigil/event"
	"github.com/vigil-sec/vigil/findings"
	"github.com/vigil-sec/vigil/geoip"
	"github.com/vigil-sec/vigil/profiles"
)

// UnauthorizedAccess:IAMUser/ConsoleLoginSuccess.B (Medium): an IAM user
// (or the root user) signed in to the console successfully from two
// places at about the same time that no one could travel between: the
// password (and MFA) are in two people's hands.
//
// The principal's profile keeps its recent successful sign-ins
// (profiles.ConsoleLogins). A new one is paired with every kept one
// within consoleLoginWindow of it, before or after, and a pair is
// impossible travel when, with both addresses located by the GeoIP city
// database:
//
//   - they are more than consoleLoginMinKm apart: beyond the error of IP
//     geolocation at city level (tens to a few hundred kilometres), of
//     mobile carriers and of nearby VPN exits;
//   - covering that distance in the time between them takes more than
//     consoleLoginMinKmh: faster than an airliner (about 900 km/h), so
//     no one flew it;
//   - both locations are of a city, or their countries differ: a record
//     located only to its country carries the country's centre, so two
//     addresses of one large country would seem far apart.
//
// The window bounds what "at about the same time" means (the spec's
// words) and what is compared: later pairs are the travel of a person,
// judged by the anomaly baselines (new country, new ASN) instead.
//
// Each impossible pair is one occurrence, raised by whichever of its two
// sign-ins arrives second, with the details of the pair alone (the later
// sign-in's call, both sign-ins in additionalInfo), its eventLastSeen the
// later sign-in and its Rank the distance: so the merged finding counts
// the impossible pairs and shows the latest one whatever the order of
// events. That is exact while the pairs' sign-ins are kept (16 within a
// day of the latest).
//
// Without a city database (Config.Geo has no location) distances are
// unknown and the type is silent; the node's log and /api/v1/status say
// so. Different countries alone are not taken as proof: a VPN or a
// roaming phone changes the country without anyone travelling, and the
// baselines report a new country already.
//
// Aggregation key: (account, region, type, principal).

const (
	consoleLoginWindow = 2 * time.Hour
	consoleLoginMinKm  = 500
	consoleLoginMinKmh = 1000
	// consoleLoginMinGap is the shortest time between two sign-ins the
	// speed is computed over: CloudTrail times are to the second, and
	// simultaneous sign-ins would give an infinite speed.
	consoleLoginMinGap = time.Minute
)

func (e *Engine) consoleLoginSuccess(p *profiles.Principal, ev *event.Event, out []findings.Finding) []findings.Finding {
	addr, ok := profiles.IsConsoleLoginSuccess(ev.CloudTrail)
	if !ok || !e.cfg.Geo.HasLocation() {
		return out
	}
	t := ev.Time.UTC()
	here, ok := e.cfg.Geo.Lookup(addr)
	if !ok || !here.HasLocation {
		return out
	}
	// This sign-in as the profile keeps it (its user agent cut, the
	// greatest of a repeated sign-in's), or as logged when it was not
	// kept.
	this := profiles.ConsoleLogin{Time: t, Addr: addr, UserAgent: ev.CloudTrail.UserAgent}
	if i := slices.IndexFunc(p.ConsoleLogins, func(l profiles.ConsoleLogin) bool { return l.Time.Equal(t) && l.Addr == addr }); i >= 0 {
		this = p.ConsoleLogins[i]
	}
	for _, l := range p.ConsoleLogins {
		if l.Time.Equal(t) && l.Addr == addr {
			continue // this sign-in
		}
		if l.Time.Before(t.Add(-consoleLoginWindow)) || l.Time.After(t.Add(consoleLoginWindow)) {
			continue
		}
		there, ok := e.cfg.Geo.Lookup(l.Addr)
		if !ok || !there.HasLocation {
			continue
		}
		a := loginPlace{ConsoleLogin: l, info: there}
		b := loginPlace{ConsoleLogin: this, info: here}
		if loginAfter(a, b) {
			a, b = b, a
		}
		if f, ok := impossibleTravel(p, ev, a, b); ok {
			out = append(out, f)
		}
	}
	return out
}

// loginPlace is a sign-in and where its address is.
type loginPlace struct {
	profiles.ConsoleLogin
	info geoip.Info
}

func loginAfter(a, b loginPlace) bool {
	if c := a.Time.Compare(b.Time); c != 0 {
		return c > 0
	}
	return a.Addr.Compare(b.Addr) > 0
}

// impossibleTravel returns the occurrence of the pair of sign-ins a (the
// earlier) and b, if they are impossible travel. ev is the event that
// completed the pair; only its identity is used, which is the same for
// both sign-ins of an IAM user, so that the occurrence is the pair's
// whichever came second.
func impossibleTravel(p *profiles.Principal, ev *event.Event, a, b loginPlace) (findings.Finding, bool) {
	km := geoip.DistanceKm(a.info.Lat, a.info.Lon, b.info.Lat, b.info.Lon)
	if km <= consoleLoginMinKm || (a.info.City == "" || b.info.City == "") && a.info.Country == b.info.Country {
		return findings.Finding{}, false
	}
	gap := b.Time.Sub(a.Time)
	kmh := km / max(gap, consoleLoginMinGap).Hours()
	if kmh <= consoleLoginMinKmh {
		return findings.Finding{}, false
	}
	// The later sign-in's call, with the identity fields a console
	// sign-in of a user always has (no access key).
	id := ev.CloudTrail.Identity
	ct := event.CloudTrail{
		EventName: "ConsoleLogin", EventSource: "signin.amazonaws.com", EventType: "AwsConsoleSignIn",
		SourceIP: b.Addr.String(), UserAgent: b.UserAgent, ConsoleLogin: "Success",
		Identity: event.Identity{Type: id.Type, PrincipalID: id.PrincipalID, ARN: id.ARN, AccountID: id.AccountID, UserName: id.UserName},
	}
	later := *ev
	later.Time, later.CloudTrail = b.Time, &ct
	f := callFinding(TypeConsoleLoginSuccessB, findings.SeverityMedium, p, &later, nil)
	f.Service.EventFirstSeen = findings.Stamp(a.Time)
	f.CreatedAt = f.Service.EventFirstSeen
	f.Rank = uint64(math.Round(km))
	who := principalLabel(&ct.Identity)
	f.Title = fmt.Sprintf("Console sign-ins of %s from places %.0f km apart within %s.", who, km, roundGap(gap))
	f.Description = fmt.Sprintf("%s signed in to the AWS console from %s (%s) at %s and from %s (%s) at %s: "+
		"%.0f km apart, %s between them, which takes %.0f km/h (over %d km and faster than %d km/h within %s is impossible travel). "+
		"The password is likely known to someone else.",
		who, a.Addr, placeName(a.info), a.Time.Format(time.RFC3339), b.Addr, placeName(b.info), b.Time.Format(time.RFC3339),
		km, roundGap(gap), kmh, consoleLoginMinKm, consoleLoginMinKmh, consoleLoginWindow)
	if f.Service.AdditionalInfo == nil {
		f.Service.AdditionalInfo = findings.AdditionalInfo{}
	}
	f.Service.AdditionalInfo["impossibleTravel"] = map[string]any{
		"logins":          []map[string]any{loginInfo(a), loginInfo(b)},
		"distanceKm":      math.Round(km),
		"speedKmh":        math.Round(kmh),
		"intervalSeconds": gap.Seconds(),
		"window":          consoleLoginWindow.String(),
		"thresholds":      map[string]any{"distanceKm": consoleLoginMinKm, "speedKmh": consoleLoginMinKmh},
	}
	return f, true
}

func roundGap(d time.Duration) time.Duration { return d.Round(time.Second) }

// placeName is "City, Country" as far as known.
func placeName(i geoip.Info) string {
	country := i.CountryName
	if country == "" {
		country = i.Country
	}
	switch {
	case i.City != "" && country != "":
		return i.City + ", " + country
	case i.City != "":
		return i.City
	case country != "":
		return country
	}
	return "unknown place"
}

// loginInfo is one sign-in in additionalInfo.
func loginInfo(l loginPlace) map[string]any {
	m := map[string]any{
		"time":      l.Time.UTC().Format(time.RFC3339),
		"ipAddress": l.Addr.String(),
		"lat":       l.info.Lat,
		"lon":       l.info.Lon,
	}
	for k, v := range map[string]string{"countryCode": l.info.Country, "countryName": l.info.CountryName, "city": l.info.City, "userAgent": l.UserAgent} {
		if v != "" {
			m[k] = v
		}
	}
	return m
}
