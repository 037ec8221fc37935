package intel

import (
	"fmt"
	"strings"
)

// parseOTXCSV reads an AlienVault OTX pulse export (GuardDuty's OTX_CSV):
// the header "Indicator type,Indicator,Description" and one indicator per
// row, such as "IPv4,198.51.100.1,scanner", "CIDR,192.0.2.0/24,x" or
// "domain,example.net,x". Without the header the first two columns are
// the type and the indicator. Types other than IPv4, IPv6, CIDR, domain
// (or "Domain name") and hostname — URLs, file hashes, e-mail addresses —
// are counted in List.Skipped.
func parseOTXCSV(br *boundedReader, l *List) error {
	typ, ind := 0, 1
	first := true
	return eachCSVRecord(br, func(rec []string) error {
		if first {
			first = false
			if t, i := column(rec, "Indicator type"), column(rec, "Indicator"); t >= 0 || i >= 0 {
				if t < 0 || i < 0 {
					return fmt.Errorf("the header wants both Indicator type and Indicator columns")
				}
				typ, ind = t, i
				return nil
			}
		}
		if len(rec) <= max(typ, ind) {
			return fmt.Errorf("want Indicator type,Indicator,Description; got %d field(s)", len(rec))
		}
		v := rec[ind]
		switch strings.ToLower(rec[typ]) {
		case "ipv4", "ipv6", "cidr":
			return l.addIP(v)
		case "domain", "domain name", "hostname":
			return l.addDomain(v)
		case "":
			return fmt.Errorf("empty indicator type")
		}
		l.Skipped++
		return nil
	})
}
