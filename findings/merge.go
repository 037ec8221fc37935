package findings

import (
	"bytes"
	"cmp"
	"encoding/json"
)

// Merge joins occurrence o into f, as GuardDuty updates a finding when new
// activity matches it (spec §4.2):
//
//   - count is the sum of the counts (a negative count counts as 0; an
//     update occurrence has count 0: it moves last-seen and the details
//     without adding an occurrence),
//   - eventFirstSeen and createdAt are the earliest, eventLastSeen and
//     updatedAt the latest (all by event time, cut to milliseconds),
//   - the details (resource, action, role, additional info, evidence,
//     severity, title, description) and Rank come from the occurrence of
//     greatest rank, compared by (eventLastSeen, Rank, canonical JSON of
//     the details) in that order, so the stored finding shows the latest
//     occurrence and ties break the same way whatever arrived first.
//
// Merge is commutative and associative: merging the same set of
// occurrences in any order or grouping gives byte-identical JSON and the
// same Rank. Nothing depends on which occurrence arrived first, so a
// finding is a function of the events behind it, not of their order. An
// occurrence with another id, or nil, is ignored. Merge copies what a
// later merge could change, so f does not alias o's resource or
// additional info.
func (f *Finding) Merge(o *Finding) {
	if o == nil || o.ID != f.ID {
		return
	}
	f.Service.Count = max(f.Service.Count, 0) + max(o.Service.Count, 0)
	f.Service.EventFirstSeen = earliest(f.Service.EventFirstSeen, o.Service.EventFirstSeen)
	f.CreatedAt = earliest(f.CreatedAt, o.CreatedAt)
	if compareRank(o, f) > 0 {
		f.Resource = o.Resource.clone()
		f.Service.Action = o.Service.Action
		f.Service.ResourceRole = o.Service.ResourceRole
		f.Service.AdditionalInfo = o.Service.AdditionalInfo.clone()
		f.Service.Evidence = o.Service.Evidence
		f.Severity = o.Severity
		f.Title = o.Title
		f.Description = o.Description
		f.Rank = o.Rank
	}
	last := latest(f.Service.EventLastSeen, o.Service.EventLastSeen)
	f.Service.EventLastSeen, f.UpdatedAt = last, last
}

// MergeByID merges the occurrences of occ that share an id into the first
// of them, in place, and returns the shortened slice: one finding per id,
// in order of first appearance. An entity actor hands on its occurrences
// this way, so a burst of updates of one window costs one finding.
func MergeByID(occ []Finding) []Finding {
	out := occ[:0]
next:
	for i := range occ {
		for j := range out {
			if out[j].ID == occ[i].ID {
				out[j].Merge(&occ[i])
				continue next
			}
		}
		out = append(out, occ[i])
	}
	clear(occ[len(out):]) // drop what the tail still points to
	return out
}

// MergeInto merges occurrence o into the finding of its id in m, or adds
// a copy of o when m has none; it reports whether it added one.
func MergeInto(m map[string]*Finding, o *Finding) (added bool) {
	if f, ok := m[o.ID]; ok {
		f.Merge(o)
		return false
	}
	cp := *o
	m[o.ID] = &cp
	return true
}

// compareRank compares the ranks of a and b: eventLastSeen, then Rank,
// then the canonical JSON of the details, which is computed only when the
// first two tie.
func compareRank(a, b *Finding) int {
	if c := Stamp(a.Service.EventLastSeen.Time).Compare(Stamp(b.Service.EventLastSeen.Time).Time); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Rank, b.Rank); c != 0 {
		return c
	}
	return bytes.Compare(a.detailsJSON(), b.detailsJSON())
}

// details is what Merge takes from the occurrence of greatest rank.
type details struct {
	Resource       Resource       `json:"resource"`
	Action         Action         `json:"action"`
	ResourceRole   string         `json:"resourceRole"`
	AdditionalInfo AdditionalInfo `json:"additionalInfo"`
	Evidence       *Evidence      `json:"evidence"`
	Severity       float64        `json:"severity"`
	Title          string         `json:"title"`
	Description    string         `json:"description"`
}

// detailsJSON is the canonical JSON of f's details: encoding/json writes
// struct fields in order and map keys sorted, and AdditionalInfo sorts its
// keys. Details that do not marshal compare as empty.
func (f *Finding) detailsJSON() []byte {
	b, err := json.Marshal(details{
		Resource: f.Resource, Action: f.Service.Action, ResourceRole: f.Service.ResourceRole,
		AdditionalInfo: f.Service.AdditionalInfo, Evidence: f.Service.Evidence,
		Severity: f.Severity, Title: f.Title, Description: f.Description,
	})
	if err != nil {
		return nil
	}
	return b
}

// earliest returns the earlier of two times, stamped; a zero time is
// absent, not early.
func earliest(a, b Timestamp) Timestamp {
	switch {
	case a.IsZero():
		return Stamp(b.Time)
	case b.IsZero() || a.Before(b.Time):
		return Stamp(a.Time)
	}
	return Stamp(b.Time)
}

// latest returns the later of two times, stamped.
func latest(a, b Timestamp) Timestamp {
	if b.After(a.Time) {
		return Stamp(b.Time)
	}
	return Stamp(a.Time)
}

// clone copies the parts of r that a later Merge could alias.
func (r Resource) clone() Resource {
	if r.InstanceDetails != nil {
		d := *r.InstanceDetails
		d.NetworkInterfaces = append([]NetworkInterface(nil), d.NetworkInterfaces...)
		r.InstanceDetails = &d
	}
	if r.AccessKeyDetails != nil {
		d := *r.AccessKeyDetails
		r.AccessKeyDetails = &d
	}
	return r
}
