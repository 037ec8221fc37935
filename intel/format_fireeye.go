package intel

import (
	"fmt"
)

// parseFireEye reads a FireEye iSIGHT indicator CSV (GuardDuty's
// FIRE_EYE): a header of 47 columns ("reportId,title,ThreatScape,...,
// cidr,domain,...,ip,port,protocol,...") and one indicator per row. The
// columns named ip, cidr and domain are found by the header, so column
// order and extra columns do not matter; every row must have the header's
// number of fields. A row with none of the three (a file or e-mail
// indicator) is counted in List.Skipped.
func parseFireEye(br *boundedReader, l *List) error {
	var cols []struct {
		at  int
		add func(string) error
	}
	width := -1
	return eachCSVRecord(br, func(rec []string) error {
		if width < 0 {
			width = len(rec)
			for _, c := range []struct {
				name string
				add  func(string) error
			}{{"ip", l.addIP}, {"cidr", l.addIP}, {"domain", l.addDomain}} {
				if i := column(rec, c.name); i >= 0 {
					cols = append(cols, struct {
						at  int
						add func(string) error
					}{i, c.add})
				}
			}
			if len(cols) == 0 {
				return fmt.Errorf("the header has no ip, cidr or domain column (want the iSIGHT CSV header)")
			}
			return nil
		}
		if len(rec) != width {
			return fmt.Errorf("%d fields, the header has %d", len(rec), width)
		}
		found := false
		for _, c := range cols {
			if v := rec[c.at]; v != "" {
				found = true
				if err := c.add(v); err != nil {
					return err
				}
			}
		}
		if !found {
			l.Skipped++
		}
		return nil
	})
}
