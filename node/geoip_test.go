package node

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigil-sec/vigil/geoip"
	"github.com/vigil-sec/vigil/geoip/geoiptest"
)

// TestOpenGeoIP: whatever the directory holds, the node starts, logs one
// line saying what is degraded, and reports the databases in its status.
func TestOpenGeoIP(t *testing.T) {
	full := geoiptest.Dir(t, geoiptest.Entry{Prefix: "198.51.100.0/24", Info: geoip.Info{ASN: 64500, Country: "DE"}})
	partial := geoiptest.Dir(t)
	if err := os.Remove(filepath.Join(partial, geoip.CityV4File)); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(partial, geoip.CityV6File)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, dir string
		want      geoip.Status
		log       []string
	}{
		{"none", "", geoip.Status{}, []string{"level=WARN", "no GeoIP databases", "ConsoleLoginSuccess.B"}},
		{"missing dir", filepath.Join(t.TempDir(), "absent"), geoip.Status{}, []string{"level=WARN", "missing", "ConsoleLoginSuccess.B"}},
		{"no city", partial, geoip.Status{ASN: true, Country: true}, []string{"level=WARN", geoip.CityV4File, "ConsoleLoginSuccess.B"}},
		{"all", full, geoip.Status{ASN: true, Country: true, Location: true}, []string{"level=INFO", "GeoIP databases loaded"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			n := &Node{geo: openGeoIP(tc.dir, slog.New(slog.NewTextHandler(&buf, nil)))}
			defer n.geo.Close()
			if lines := strings.Count(buf.String(), "\n"); lines != 1 {
				t.Errorf("%d log lines:\n%s", lines, buf.String())
			}
			for _, w := range tc.log {
				if !strings.Contains(buf.String(), w) {
					t.Errorf("log %q does not say %q", buf.String(), w)
				}
			}
			st := n.geoStatus()
			if st.ASN != tc.want.ASN || st.Country != tc.want.Country || st.Location != tc.want.Location {
				t.Errorf("status %+v, want %+v", st, tc.want)
			}
		})
	}
}
