package detect

import "github.com/vigil-sec/vigil/findings"

// because records in additionalInfo.reason why a rule finding was raised:
// the condition that held, and the values of the event it held on, given
// as key, value pairs (empty values are left out). It depends on the event
// alone, as a single-event finding's details must (see the package doc).
func because(f *findings.Finding, condition string, observed ...string) {
	r := map[string]any{"condition": condition}
	if len(observed) > 1 {
		seen := make(map[string]string, len(observed)/2)
		for i := 0; i+1 < len(observed); i += 2 {
			if observed[i+1] != "" {
				seen[observed[i]] = observed[i+1]
			}
		}
		if len(seen) > 0 {
			r["observed"] = seen
		}
	}
	if f.Service.AdditionalInfo == nil {
		f.Service.AdditionalInfo = findings.AdditionalInfo{}
	}
	f.Service.AdditionalInfo["reason"] = r
}
