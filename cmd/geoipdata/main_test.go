package main

import (
	"crypto/sha1"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigil-sec/vigil/geoip"
)

// asnCSV is in the form of @ip-location-db/asn's asn-ipv4.csv and
// asn-ipv6.csv (first rows of each, and a Teredo range).
const asnCSV = `1.0.0.0,1.0.0.255,13335,"Cloudflare, Inc."
1.0.4.0,1.0.7.255,38803,Gtelecom Pty Ltd
1.0.64.0,1.0.127.255,18144,"Enecom,Inc."
2001::,2001::ffff:ffff:ffff:ffff:ffff:ffff,6939,Hurricane Electric LLC
2001:200::,2001:200:1b9:ffff:ffff:ffff:ffff:ffff,2500,WIDE Project
`

func TestBuildASN(t *testing.T) {
	b, err := newASNBuilder()
	if err != nil {
		t.Fatal(err)
	}
	if err := b.addCSV(strings.NewReader(asnCSV), "asn.csv"); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := writeFile(filepath.Join(dir, geoip.ASNFile), b.write); err != nil {
		t.Fatal(err)
	}
	db := geoip.Open(dir)
	defer db.Close()
	if !db.Status().ASN {
		t.Fatalf("status %+v", db.Status())
	}
	for addr, want := range map[string]geoip.Info{
		"1.0.0.1":       {ASN: 13335, Org: "Cloudflare, Inc."},
		"1.0.5.9":       {ASN: 38803, Org: "Gtelecom Pty Ltd"},
		"1.0.127.255":   {ASN: 18144, Org: "Enecom,Inc."},
		"2001::1":       {ASN: 6939, Org: "Hurricane Electric LLC"},
		"2001:200:1::1": {ASN: 2500, Org: "WIDE Project"},
		"1.0.128.0":     {},
	} {
		if got, _ := db.Lookup(netip.MustParseAddr(addr)); got != want {
			t.Errorf("%s: %+v, want %+v", addr, got, want)
		}
	}
	for _, bad := range []string{"1.0.0.9,1.0.0.1,1,x\n", "1.0.0.0,1.0.0.1,AS1,x\n", "1.0.0.0,::1,1,x\n", "1.0.0.0,1.0.0.1,1\n"} {
		if err := b.addCSV(strings.NewReader(bad), "bad.csv"); err == nil {
			t.Errorf("row %q accepted", bad)
		}
	}
}

func TestVerify(t *testing.T) {
	file := filepath.Join(t.TempDir(), "p.tgz")
	data := []byte("tarball bytes")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	s512, s1 := sha512.Sum512(data), sha1.Sum(data)
	good := packResult{Integrity: "sha512-" + base64.StdEncoding.EncodeToString(s512[:]), Shasum: hex.EncodeToString(s1[:])}
	if err := verify(file, good, good); err != nil {
		t.Fatal(err)
	}
	bad := good
	bad.Integrity = "sha512-" + base64.StdEncoding.EncodeToString(make([]byte, 64))
	if err := verify(file, good, bad); err == nil || !strings.Contains(err.Error(), "integrity") {
		t.Errorf("a registry integrity that differs: %v", err)
	}
	bad = good
	bad.Shasum = strings.Repeat("0", 40)
	if err := verify(file, bad, good); err == nil || !strings.Contains(err.Error(), "shasum") {
		t.Errorf("an npm pack shasum that differs: %v", err)
	}
	if err := verify(file, good, packResult{}); err == nil {
		t.Error("no registry integrity accepted")
	}
}
