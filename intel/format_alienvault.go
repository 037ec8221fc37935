package intel

import (
	"fmt"
	"strconv"
	"strings"
)

// parseAlienVault reads AlienVault's IP reputation format (GuardDuty's
// ALIEN_VAULT): one address per line with '#'-separated fields,
//
//	address#reliability#risk#activity#country#city#latitude,longitude#x
//
// as in "192.0.2.1#4#2#Malicious Host#KR##37.5,127.0#3". The address is the
// entry; reliability and risk must be numbers, the rest is not read. Blank
// lines and lines beginning with '#' are comments.
func parseAlienVault(br *boundedReader, l *List) error {
	return eachListLine(br, func(line string) error {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			return nil
		}
		fields := strings.Split(line, "#")
		if len(fields) < 4 {
			return fmt.Errorf("want address#reliability#risk#activity#..., got %d field(s)", len(fields))
		}
		for i, name := range []string{"reliability", "risk"} {
			if _, err := strconv.ParseUint(strings.TrimSpace(fields[i+1]), 10, 8); err != nil {
				return fmt.Errorf("%s %q is not a number", name, clip(fields[i+1]))
			}
		}
		return l.addIP(fields[0])
	})
}
