package intel

import "strings"

// parseTXT reads GuardDuty's TXT format: one entry per line, an IPv4 or
// IPv6 address, a network in CIDR notation, a domain or a wildcard domain
// ("*.example.org"). Blank lines and lines beginning with '#' are
// comments, as is anything after " #".
func parseTXT(br *boundedReader, l *List) error {
	return eachListLine(br, func(line string) error {
		if i := strings.Index(line, " #"); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			return nil
		}
		return l.addIndicator(line)
	})
}
