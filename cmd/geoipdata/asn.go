package main

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// asnBuilder builds asn.mmdb from ip-location-db's ASN CSVs: headerless
// rows "range start,range end,ASN,organisation", the range inclusive, the
// organisation quoted when it holds a comma.
type asnBuilder struct {
	tree *mmdbwriter.Tree
	// values shares one record per (ASN, organisation): the writer
	// deduplicates records anyway, but hashing each row's copy is most of
	// its time.
	values map[asnKey]mmdbtype.Map
}

type asnKey struct {
	asn uint32
	org string
}

func newASNBuilder() (*asnBuilder, error) {
	tree, err := mmdbwriter.New(mmdbwriter.Options{
		DatabaseType: "GeoLite2-ASN",
		Description:  map[string]string{"en": "ip-location-db asn (RouteViews, NRO and DB-IP, CC BY 4.0), built by vigil's cmd/geoipdata"},
		// Take the ranges as published, even in reserved space, and
		// Teredo's and 6to4's (2001::/32, 2002::/16) as the networks they
		// are rather than aliases of IPv4 space: geoip looks IPv4-mapped
		// addresses up as IPv4 itself.
		IncludeReservedNetworks: true,
		DisableIPv4Aliasing:     true,
	})
	if err != nil {
		return nil, err
	}
	return &asnBuilder{tree: tree, values: map[asnKey]mmdbtype.Map{}}, nil
}

// addCSV inserts the rows of one CSV file.
func (b *asnBuilder) addCSV(r io.Reader, name string) error {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = 4
	cr.ReuseRecord = true
	for line := 1; ; line++ {
		rec, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if err := b.add(rec[0], rec[1], rec[2], rec[3]); err != nil {
			return fmt.Errorf("%s:%d: %w", name, line, err)
		}
	}
}

// add inserts the inclusive range [start, end] of one autonomous system.
func (b *asnBuilder) add(start, end, asn, org string) error {
	from, err := netip.ParseAddr(start)
	if err != nil {
		return err
	}
	to, err := netip.ParseAddr(end)
	if err != nil {
		return err
	}
	if from.Is4() != to.Is4() || to.Less(from) {
		return fmt.Errorf("bad range %s-%s", start, end)
	}
	n, err := strconv.ParseUint(asn, 10, 32)
	if err != nil {
		return fmt.Errorf("ASN %q: %w", asn, err)
	}
	k := asnKey{uint32(n), org}
	v, ok := b.values[k]
	if !ok {
		v = mmdbtype.Map{
			"autonomous_system_number":       mmdbtype.Uint32(k.asn),
			"autonomous_system_organization": mmdbtype.String(k.org),
		}
		b.values[k] = v
	}
	return b.tree.InsertRange(from.AsSlice(), to.AsSlice(), v)
}

func (b *asnBuilder) write(w io.Writer) error {
	if len(b.values) == 0 {
		return errors.New("no ASN ranges")
	}
	_, err := b.tree.WriteTo(w)
	return err
}
