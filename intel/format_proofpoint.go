package intel

import (
	"errors"
	"strings"
)

// parseProofPoint reads a Proofpoint ET Intelligence reputation list
// (GuardDuty's PROOF_POINT): the header "ip,category,score,first_seen,
// last_seen,ports (|)" and one address per row, or the header
// "domain,category,score,first_seen,last_seen" and one domain per row.
// The first column is the entry; the others are not read. Without a
// header an entry may be either.
func parseProofPoint(br *boundedReader, l *List) error {
	add := l.addIndicator
	first := true
	return eachCSVRecord(br, func(rec []string) error {
		if first {
			first = false
			switch strings.ToLower(rec[0]) {
			case "ip":
				add = l.addIP
				return nil
			case "domain":
				add = l.addDomain
				return nil
			}
		}
		if rec[0] == "" {
			return errors.New("empty first column (want an ip or a domain)")
		}
		return add(rec[0])
	})
}
