package detect

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/event"
	"github.com/vigil-sec/vigil/findings"
	"github.com/vigil-sec/vigil/geoip"
	"github.com/vigil-sec/vigil/geoip/geoiptest"
)

// loginPlaces is the GeoIP fixture of the sign-in tests: documentation
// prefixes placed in cities (coordinates of the city centres), one
// network located only to its country (the country's centre, as GeoLite2
// writes it), and 12.12.12.12 where the panther-analysis record's own
// enrichment puts it (Auckland).
var loginPlaces = []geoiptest.Entry{
	{Prefix: "198.51.100.0/25", Info: geoip.Info{ASN: 64500, Org: "Example Carrier GmbH", Country: "DE",
		City: "Frankfurt am Main", Lat: 50.1109, Lon: 8.6821, HasLocation: true}},
	{Prefix: "198.51.100.128/25", Info: geoip.Info{ASN: 64500, Org: "Example Carrier GmbH", Country: "DE",
		City: "Offenbach am Main", Lat: 50.0956, Lon: 8.7761, HasLocation: true}},
	{Prefix: "203.0.113.0/24", Info: geoip.Info{ASN: 64501, Org: "Example Telecom Pty Ltd", Country: "AU",
		City: "Sydney", Lat: -33.8688, Lon: 151.2093, HasLocation: true}},
	{Prefix: "192.0.2.0/25", Info: geoip.Info{ASN: 64502, Org: "Example Cable", Country: "US",
		City: "New York", Lat: 40.7128, Lon: -74.006, HasLocation: true}},
	{Prefix: "192.0.2.128/25", Info: geoip.Info{ASN: 64503, Org: "Example Mobile", Country: "US",
		Lat: 37.751, Lon: -97.822, HasLocation: true}},
	{Prefix: "2001:db8:1::/48", Info: geoip.Info{ASN: 64504, Org: "Example IPv6 Net", Country: "JP",
		City: "Tokyo", Lat: 35.6895, Lon: 139.6917, HasLocation: true}},
	{Prefix: "12.12.12.0/24", Info: geoip.Info{ASN: 7018, Org: "AT&T Services, Inc.", Country: "NZ",
		City: "Auckland", Lat: -36.84853, Lon: 174.76349, HasLocation: true}},
}

// consoleLoginEvent is the panther-analysis impossible-travel record (a
// real ConsoleLogin of IAM user "tester") at another time and address;
// result is responseElements.ConsoleLogin.
func consoleLoginEvent(t testing.TB, at time.Time, ip, result string) *event.Event {
	t.Helper()
	var rec map[string]any
	for _, c := range pantherConsoleCases(t) {
		if c.TestName == "CloudTrail ConsoleLogin with history" {
			if err := json.Unmarshal(c.Log, &rec); err != nil {
				t.Fatal(err)
			}
		}
	}
	rec["eventTime"] = at.UTC().Format(time.RFC3339)
	rec["sourceIPAddress"] = ip
	rec["eventID"] = fmt.Sprintf("%s-%s", at.Format(time.RFC3339), ip)
	rec["responseElements"] = map[string]any{"ConsoleLogin": result}
	if result == "Failure" {
		rec["errorMessage"] = "Failed authentication"
	}
	raw, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	return cloudTrailEvent(t, raw)
}

func pantherConsoleCases(t testing.TB) []pantherCase {
	t.Helper()
	var out []pantherCase
	for _, l := range readLines(t, "panther_console_login.jsonl") {
		var c pantherCase
		if err := json.Unmarshal(l, &c); err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	return out
}

func TestConsoleLoginSuccessB(t *testing.T) {
	t0 := time.Date(2023, 5, 26, 20, 14, 51, 0, time.UTC)
	geo := geoiptest.Open(t, loginPlaces...)
	dir := geoiptest.Dir(t, loginPlaces...)
	for _, f := range []string{geoip.CityV4File, geoip.CityV6File} {
		if err := os.Remove(filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	countryOnly := geoip.Open(dir)
	defer countryOnly.Close()

	type login struct {
		after  time.Duration
		ip     string
		result string
	}
	tests := []struct {
		name   string
		geo    *geoip.DB
		logins []login
		want   int // impossible pairs
	}{
		{"Frankfurt then Sydney 5 minutes later", geo, []login{{0, "198.51.100.7", "Success"}, {5 * time.Minute, "203.0.113.9", "Success"}}, 1},
		{"Frankfurt then Tokyo over IPv6", geo, []login{{0, "198.51.100.7", "Success"}, {30 * time.Minute, "2001:db8:1::42", "Success"}}, 1},
		{"New York then Frankfurt within the hour", geo, []login{{0, "192.0.2.1", "Success"}, {time.Hour, "198.51.100.7", "Success"}}, 1},
		{"Frankfurt, Sydney, Frankfurt", geo, []login{{0, "198.51.100.7", "Success"}, {5 * time.Minute, "203.0.113.9", "Success"}, {10 * time.Minute, "198.51.100.8", "Success"}}, 2},
		{"same city", geo, []login{{0, "198.51.100.7", "Success"}, {5 * time.Minute, "198.51.100.99", "Success"}}, 0},
		{"neighbouring cities", geo, []login{{0, "198.51.100.7", "Success"}, {time.Minute, "198.51.100.200", "Success"}}, 0},
		{"12 hours apart", geo, []login{{0, "198.51.100.7", "Success"}, {12 * time.Hour, "203.0.113.9", "Success"}}, 0},
		{"failed sign-in from Sydney", geo, []login{{0, "198.51.100.7", "Success"}, {5 * time.Minute, "203.0.113.9", "Failure"}}, 0},
		{"one country, located only to it", geo, []login{{0, "192.0.2.1", "Success"}, {5 * time.Minute, "192.0.2.200", "Success"}}, 0},
		{"unknown address", geo, []login{{0, "198.51.100.7", "Success"}, {5 * time.Minute, "100.64.0.1", "Success"}}, 0},
		{"no databases", nil, []login{{0, "198.51.100.7", "Success"}, {5 * time.Minute, "203.0.113.9", "Success"}}, 0},
		{"no city database", countryOnly, []login{{0, "198.51.100.7", "Success"}, {5 * time.Minute, "203.0.113.9", "Success"}}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var evs []*event.Event
			for _, l := range tc.logins {
				evs = append(evs, consoleLoginEvent(t, t0.Add(l.after), l.ip, l.result))
			}
			cfg := DefaultConfig()
			cfg.Geo = tc.geo
			var want []byte
			// Every order gives the same finding.
			for i, order := range permutations(len(evs)) {
				w := newWorld(cfg)
				for _, j := range order {
					w.apply(evs[j])
				}
				got := aggregate(ofType(w.occ, TypeConsoleLoginSuccessB))
				if tc.want == 0 {
					if len(got) != 0 {
						t.Fatalf("order %v: %d findings:%s", order, len(got), summary(got))
					}
					continue
				}
				if len(got) != 1 || got[0].Service.Count != tc.want {
					t.Fatalf("order %v: %d findings (%s), want one of count %d", order, len(got), summary(got), tc.want)
				}
				checkFinding(t, got[0])
				b, _ := json.Marshal(got[0])
				if i == 0 {
					want = b
					checkImpossibleTravel(t, got[0])
				} else if string(b) != string(want) {
					t.Fatalf("order %v gives another finding:\n%s\nwant\n%s", order, b, want)
				}
			}
		})
	}
}

// checkImpossibleTravel checks the evidence of a finding whose latest pair
// ends in a sign-in located by the fixture.
func checkImpossibleTravel(t *testing.T, f findings.Finding) {
	t.Helper()
	if f.Severity != findings.SeverityMedium || f.Resource.AccessKeyDetails.UserName != "tester" ||
		f.Resource.AccessKeyDetails.UserType != "IAMUser" {
		t.Errorf("severity %g, resource %+v", f.Severity, f.Resource.AccessKeyDetails)
	}
	call := f.Service.Action.AwsAPICallAction
	if call == nil || call.API != "ConsoleLogin" || call.ServiceName != "signin.amazonaws.com" || call.CallerType != "Remote IP" {
		t.Fatalf("action %+v", f.Service.Action)
	}
	it, ok := f.Service.AdditionalInfo["impossibleTravel"].(map[string]any)
	if !ok {
		t.Fatalf("additionalInfo %v", f.Service.AdditionalInfo)
	}
	logins := it["logins"].([]map[string]any)
	first, last := logins[0], logins[1]
	if first["time"].(string) >= last["time"].(string) || first["city"] == nil || last["city"] == nil || first["countryCode"] == last["countryCode"] {
		t.Errorf("logins %v", logins)
	}
	// The action is the later sign-in's, enriched.
	rip := call.RemoteIPDetails
	addr := rip.IPAddressV4 + rip.IPAddressV6
	if addr != last["ipAddress"] || rip.City == nil || rip.City.CityName != last["city"] || rip.Country == nil ||
		rip.Country.CountryCode != last["countryCode"] || rip.Organization == nil || rip.Organization.Asn == "" || rip.GeoLocation == nil {
		t.Errorf("remoteIpDetails %+v, want the later sign-in %v", rip, last)
	}
	km, kmh := it["distanceKm"].(float64), it["speedKmh"].(float64)
	secs := it["intervalSeconds"].(float64)
	if km <= consoleLoginMinKm || kmh <= consoleLoginMinKmh || math.Abs(kmh-km/(max(secs, 60)/3600)) > 1 ||
		it["window"] != "2h0m0s" || uint64(km) != f.Rank {
		t.Errorf("evidence %v, rank %d", it, f.Rank)
	}
	if !strings.Contains(f.Description, "km/h") || !f.Service.EventFirstSeen.Time.Before(f.Service.EventLastSeen.Time) {
		t.Errorf("description %q, seen %v to %v", f.Description, f.Service.EventFirstSeen, f.Service.EventLastSeen)
	}
}

// TestConsoleLoginFrankfurtSydney pins the figures of the plainest case.
func TestConsoleLoginFrankfurtSydney(t *testing.T) {
	t0 := time.Date(2023, 5, 26, 20, 14, 51, 0, time.UTC)
	cfg := DefaultConfig()
	cfg.Geo = geoiptest.Open(t, loginPlaces...)
	w := newWorld(cfg)
	w.apply(consoleLoginEvent(t, t0, "198.51.100.7", "Success"))
	got := ofType(w.apply(consoleLoginEvent(t, t0.Add(5*time.Minute), "203.0.113.9", "Success")), TypeConsoleLoginSuccessB)
	if len(got) != 1 {
		t.Fatalf("%d findings", len(got))
	}
	it := got[0].Service.AdditionalInfo["impossibleTravel"].(map[string]any)
	if km := it["distanceKm"].(float64); math.Abs(km-16_480) > 80 {
		t.Errorf("distance %v km, want about 16,480", km)
	}
	if it["intervalSeconds"].(float64) != 300 || it["speedKmh"].(float64) < 190_000 {
		t.Errorf("evidence %v", it)
	}
	logins := it["logins"].([]map[string]any)
	if logins[0]["city"] != "Frankfurt am Main" || logins[0]["countryName"] != "Germany" || logins[1]["city"] != "Sydney" ||
		logins[1]["time"] != "2023-05-26T20:19:51Z" || logins[1]["ipAddress"] != "203.0.113.9" {
		t.Errorf("logins %v", logins)
	}
	t.Logf("%s\n%s", got[0].Title, got[0].Description)
}

// TestConsoleLoginPantherCases runs the panther-analysis records: one
// successful sign-in alone raises nothing, nor do a failed one or an SSO
// role session; the impossible-travel record raises the finding after a
// sign-in from Frankfurt five minutes before it, as panther-analysis's
// test does with its stored history.
func TestConsoleLoginPantherCases(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Geo = geoiptest.Open(t, loginPlaces...)
	for _, c := range pantherConsoleCases(t) {
		t.Run(c.TestName, func(t *testing.T) {
			w := newWorld(cfg)
			ev := cloudTrailEvent(t, c.Log)
			if c.TestName == "CloudTrail ConsoleLogin with history" {
				w.apply(consoleLoginEvent(t, ev.Time.Add(-5*time.Minute), "198.51.100.7", "Success"))
			}
			got := ofType(w.apply(ev), TypeConsoleLoginSuccessB)
			want := 0
			if c.TestName == "CloudTrail ConsoleLogin with history" {
				want = 1
			}
			if len(got) != want {
				t.Fatalf("%d findings, want %d:%s", len(got), want, summary(got))
			}
			if want == 1 {
				checkImpossibleTravel(t, got[0])
			}
		})
	}
}

// TestRemoteIPEnrichment: every CloudTrail finding's caller is described
// from the GeoIP databases, and only the address is given without them.
func TestRemoteIPEnrichment(t *testing.T) {
	raw := []byte(`{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","principalId":"AIDAEXAMPLE","arn":"arn:aws:iam::111122223333:user/alice","accountId":"111122223333","accessKeyId":"AKIAEXAMPLE","userName":"alice"},"eventTime":"2024-03-01T10:00:00Z","eventSource":"iam.amazonaws.com","eventName":"DeleteAccountPasswordPolicy","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.9","userAgent":"aws-cli/2.15.0","requestParameters":null,"responseElements":null,"eventID":"e1","eventType":"AwsApiCall","recipientAccountId":"111122223333"}`)
	for _, tc := range []struct {
		name string
		geo  *geoip.DB
		want findings.RemoteIPDetails
	}{
		{"with databases", geoiptest.Open(t, loginPlaces...), findings.RemoteIPDetails{
			IPAddressV4:  "203.0.113.9",
			Organization: &findings.Organization{Asn: "64501", AsnOrg: "Example Telecom Pty Ltd", Isp: "Example Telecom Pty Ltd", Org: "Example Telecom Pty Ltd"},
			Country:      &findings.Country{CountryCode: "AU", CountryName: "Australia"},
			City:         &findings.City{CityName: "Sydney"},
			GeoLocation:  &findings.GeoLocation{Lat: -33.8688, Lon: 151.2093},
		}},
		{"without", nil, findings.RemoteIPDetails{IPAddressV4: "203.0.113.9"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Geo = tc.geo
			got := ofType(newWorld(cfg).apply(cloudTrailEvent(t, raw)), TypePasswordPolicyChange)
			if len(got) != 1 {
				t.Fatalf("%d findings", len(got))
			}
			g, _ := json.Marshal(got[0].Service.Action.AwsAPICallAction.RemoteIPDetails)
			w, _ := json.Marshal(tc.want)
			if string(g) != string(w) {
				t.Errorf("remoteIpDetails\n%s\nwant\n%s", g, w)
			}
		})
	}
}

// permutations returns every order of 0..n-1 (n is small).
func permutations(n int) [][]int {
	if n == 0 {
		return [][]int{{}}
	}
	var out [][]int
	for _, p := range permutations(n - 1) {
		for i := 0; i <= len(p); i++ {
			q := slices.Insert(slices.Clone(p), i, n-1)
			out = append(out, q)
		}
	}
	return out
}
