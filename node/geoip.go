package node

import (
	"log/slog"
	"os"
	"strings"

	"github.com/vigil-sec/vigil/geoip"
)

// DefaultGeoIPDir is where `make data` puts the GeoIP databases; a node
// given no --geoip-dir uses it when it exists, relative to its working
// directory.
const DefaultGeoIPDir = "data/geoip"

// openGeoIP opens the GeoIP databases of dir (DefaultGeoIPDir when empty
// and present) and logs, in one line, what works without those that are
// missing. It never fails: detection runs without them, degraded.
func openGeoIP(dir string, log *slog.Logger) *geoip.DB {
	if dir == "" {
		if fi, err := os.Stat(DefaultGeoIPDir); err == nil && fi.IsDir() {
			dir = DefaultGeoIPDir
		}
	}
	if dir == "" {
		log.Warn("no GeoIP databases (run make data, or set --geoip-dir): remoteIpDetails carry the address alone, "+
			"ConsoleLoginSuccess.B is off, and the baselines learn no ASN or country", "degraded", geoDegraded(geoip.Status{}))
		return nil
	}
	db := geoip.Open(dir)
	if st := db.Status(); st.Degraded() {
		log.Warn("GeoIP databases missing or unreadable: detection runs without them", "dir", dir,
			"degraded", geoDegraded(st), "problems", strings.Join(st.Problems, "; "))
	} else {
		log.Info("GeoIP databases loaded", "dir", dir)
	}
	return db
}

// geoDegraded names what works less well without the databases st lacks.
func geoDegraded(st geoip.Status) string {
	var out []string
	if !st.ASN {
		out = append(out, "caller ASN and organisation (remoteIpDetails.organization, ASN baselines, Amazon ASNs for instance credentials)")
	}
	if !st.Country {
		out = append(out, "caller country (remoteIpDetails.country, country baselines)")
	}
	if !st.Location {
		out = append(out, "caller city and location (remoteIpDetails.city and geoLocation, ConsoleLoginSuccess.B)")
	}
	return strings.Join(out, "; ")
}

// geoStatus is the GeoIP part of /api/v1/status.
func (n *Node) geoStatus() *geoip.Status {
	st := n.geo.Status()
	return &st
}
