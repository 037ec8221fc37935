package findings

// Default severities (spec §1.1): GuardDuty writes these numbers for its
// default Low, Medium, High and Critical findings.
const (
	SeverityLow      = 2.0
	SeverityMedium   = 5.0
	SeverityHigh     = 8.0
	SeverityCritical = 9.0
)

// SeverityLabel returns the label of a severity: Low below 4, Medium below
// 7, High below 9, Critical from 9 (spec §1.1 ranges; values below 1 are
// Low).
func SeverityLabel(s float64) string {
	switch {
	case s >= 9:
		return "Critical"
	case s >= 7:
		return "High"
	case s >= 4:
		return "Medium"
	}
	return "Low"
}
