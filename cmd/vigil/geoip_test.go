package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigil-sec/vigil/geoip"
	"github.com/vigil-sec/vigil/geoip/geoiptest"
	"github.com/vigil-sec/vigil/node"
)

// TestGeoIP: a node given a GeoIP directory whose country database is
// unreadable runs, says so in /api/v1/status, enriches the callers of its
// findings from the other databases, and raises ConsoleLoginSuccess.B for
// sign-ins from Frankfurt and Sydney five minutes apart.
func TestGeoIP(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node")
	}
	dir := geoiptest.Dir(t,
		geoiptest.Entry{Prefix: "198.51.100.0/24", Info: geoip.Info{ASN: 64500, Org: "Example Carrier GmbH", Country: "DE",
			City: "Frankfurt am Main", Lat: 50.1109, Lon: 8.6821, HasLocation: true}},
		geoiptest.Entry{Prefix: "203.0.113.0/24", Info: geoip.Info{ASN: 64501, Org: "Example Telecom Pty Ltd", Country: "AU",
			City: "Sydney", Lat: -33.8688, Lon: 151.2093, HasLocation: true}},
	)
	if err := os.WriteFile(filepath.Join(dir, geoip.CountryFile), []byte("truncated"), 0o644); err != nil {
		t.Fatal(err)
	}
	n := startNode(t, t.TempDir(), freeAddr(t), func(c *node.Config) { c.GeoIPDir = dir })
	defer n.Close()

	var st struct {
		GeoIP geoip.Status `json:"geoip"`
	}
	n.get(t, "/api/v1/status", &st)
	if g := st.GeoIP; !g.ASN || !g.Country || !g.Location || g.Dir != dir || len(g.Problems) != 1 ||
		!strings.Contains(g.Problems[0], geoip.CountryFile) {
		t.Fatalf("status geoip %+v, want everything from the other files and the country file named", g)
	}

	var recs []string
	for i, l := range []struct{ at, ip string }{{"20:14:51", "198.51.100.7"}, {"20:19:51", "203.0.113.9"}} {
		recs = append(recs, fmt.Sprintf(`{"eventVersion": "1.08", "eventTime": "2023-05-26T%sZ", "eventSource": "signin.amazonaws.com",
			"eventName": "ConsoleLogin", "awsRegion": "us-east-1", "sourceIPAddress": %q,
			"userAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/113.0.0.0 Safari/537.36",
			"requestParameters": null, "responseElements": {"ConsoleLogin": "Success"},
			"additionalEventData": {"MFAUsed": "No", "MobileVersion": "No"}, "eventType": "AwsConsoleSignIn",
			"eventID": "0c1d2e3f-0000-4000-8000-%012d", "managementEvent": true, "eventCategory": "Management", "readOnly": false,
			"recipientAccountId": "123456789012",
			"userIdentity": {"type": "IAMUser", "principalId": "AIDA3XFRBF23EXAMPLE2", "arn": "arn:aws:iam::123456789012:user/tester",
				"accountId": "123456789012", "userName": "tester"}}`, l.at, l.ip, i))
	}
	p := filepath.Join(t.TempDir(), "logins.json")
	if err := os.WriteFile(p, []byte(`{"Records": [`+strings.Join(recs, ",")+`]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	n.replay(t, p)

	var got []finding
	waitFor(t, "the ConsoleLoginSuccess.B finding", func() bool {
		got = n.findings(t, "?type=UnauthorizedAccess:IAMUser/ConsoleLoginSuccess.B")
		return len(got) > 0
	})
	if len(got) != 1 || got[0].Region != "us-east-1" || got[0].Service.Count != 1 {
		t.Fatalf("findings %+v, want one, once, in the region the sign-ins were logged in", got)
	}
	var v struct {
		Service struct {
			Action struct {
				Call struct {
					Remote struct {
						IP      string                       `json:"ipAddressV4"`
						Org     struct{ Asn, AsnOrg string } `json:"organization"`
						Country struct{ CountryCode string } `json:"country"`
						City    struct{ CityName string }    `json:"city"`
					} `json:"remoteIpDetails"`
				} `json:"awsApiCallAction"`
			} `json:"action"`
			Info struct {
				Travel struct {
					DistanceKm float64 `json:"distanceKm"`
					Logins     []struct {
						City string `json:"city"`
					} `json:"logins"`
				} `json:"impossibleTravel"`
			} `json:"additionalInfo"`
		} `json:"service"`
	}
	if err := json.Unmarshal(got[0].raw, &v); err != nil {
		t.Fatal(err)
	}
	r := v.Service.Action.Call.Remote
	if r.IP != "203.0.113.9" || r.Org.Asn != "64501" || r.Country.CountryCode != "AU" || r.City.CityName != "Sydney" {
		t.Errorf("remoteIpDetails %+v", r)
	}
	if tr := v.Service.Info.Travel; tr.DistanceKm < 16_000 || len(tr.Logins) != 2 || tr.Logins[0].City != "Frankfurt am Main" {
		t.Errorf("impossibleTravel %+v", tr)
	}
}
