package detect

import (
	"fmt"
	"slices"

	"github.com/vigil-sec/vigil/event"
	"github.com/vigil-sec/vigil/findings"
)

// Where the findings of a global-service event are raised
// (Config.GlobalFindings).
const (
	GlobalFindingsOnce      = "once"
	GlobalFindingsPerRegion = "per-region"
)

// ParseGlobalFindings checks a --global-findings value.
func ParseGlobalFindings(s string) (string, error) {
	switch s {
	case "", GlobalFindingsOnce:
		return GlobalFindingsOnce, nil
	case GlobalFindingsPerRegion:
		return s, nil
	}
	return "", fmt.Errorf("global findings %q: want %s or %s", s, GlobalFindingsOnce, GlobalFindingsPerRegion)
}

// globalHome reports whether the region copy ev of a global-service event
// raises its findings: every copy in per-region mode; otherwise the copy of
// the region the event is logged in, or of the first enabled region when
// that one is not enabled. Each copy decides alone, from the event and the
// configuration, so exactly one copy raises them whichever shard or node
// applies it first.
func (e *Engine) globalHome(ev *event.Event) bool {
	if e.cfg.GlobalFindings == GlobalFindingsPerRegion {
		return true
	}
	home := ev.CloudTrail.AWSRegion
	if len(e.cfg.Regions) > 0 && !slices.Contains(e.cfg.Regions, home) {
		home = e.cfg.Regions[0]
	}
	return home == "" || ev.Region == home
}

// listRegions adds the regions whose profiles learned from a global-service
// event to the findings it raised once: additionalInfo.regions. Without
// configured regions only the logged one is known, and nothing is added.
func (e *Engine) listRegions(out []findings.Finding) {
	if len(e.regions) == 0 {
		return
	}
	for i := range out {
		if out[i].Service.AdditionalInfo == nil {
			out[i].Service.AdditionalInfo = findings.AdditionalInfo{}
		}
		out[i].Service.AdditionalInfo["regions"] = e.regions
	}
}
