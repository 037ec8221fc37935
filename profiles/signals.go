package profiles

import (
	"math/bits"
	"slices"
	"strings"
	"time"
)

// Signals is what a principal keeps for attack-sequence detection: per
// credential (an access key id, or "" for calls without one) and per
// half-window of event time, the attack tactics its calls showed. A
// signal is a finding the engine raised for a call, or a weak signal of
// the call itself (a high-risk API); the detector decides which tactic
// each one stands for. Windows are hopping windows as in window.go: a
// window of length W is the union of two panes of length W/2.
//
// Every part of a pane is a function of the set of its events: the tactic
// masks are unions, the times min and max, the count a sum, and the
// signals a bottom-K set by (tactic, name) whose entries keep the earliest
// occurrence by (time, finding id, API). Panes are forgotten by event time
// (WindowLateness after both their windows ended, as in window.go); a full
// list drops its least pane by (last event time, credential, index), or
// refuses the new one when that is the least. So the state is exact
// unless an event arrives WindowLateness or more after the principal's
// latest event time, or more than MaxSignalPanes panes are live.
type Signals struct {
	// Hop is half the detector's window; panes observed with another
	// window start over.
	Hop time.Duration `json:"hop"`
	// Panes are sorted by (credential, index).
	Panes []SignalPane `json:"panes"`
}

// Caps of the attack-sequence state.
const (
	// MaxSignalPanes bounds a principal's live panes: credentials times
	// half-windows. Sixteen covers a key and a few role sessions over the
	// two days a 24-hour window keeps live; each pane takes 20 to 2,000
	// bytes encoded.
	MaxSignalPanes = 16
	// MaxPaneSignals bounds the distinct signals of a pane (the tactic
	// masks count them all).
	MaxPaneSignals = 16
	// MaxTactics is how many tactics the masks hold.
	MaxTactics = 16
)

// SignalPane is the signals of one credential in one half-window.
type SignalPane struct {
	Credential string `json:"credential"`
	// Index places the pane: it spans [Index·hop, (Index+1)·hop).
	Index int64     `json:"index"`
	First time.Time `json:"first"`
	Last  time.Time `json:"last"`
	// Count counts the events with at least one signal.
	Count uint64 `json:"count"`
	// Tactics has bit t set when a signal of tactic t was seen, Findings
	// when one of them was a finding.
	Tactics  uint16 `json:"tactics"`
	Findings uint16 `json:"findings"`
	// Signals are the MaxPaneSignals least distinct signals by (tactic,
	// name), sorted.
	Signals []Signal `json:"signals"`
}

// Signal is one kind of signal in a pane: a finding type, or a weak signal
// of a call.
type Signal struct {
	Tactic uint8 `json:"tactic"`
	// Name is the finding type, or the weak signal's name.
	Name  string    `json:"name"`
	First time.Time `json:"first"`
	Last  time.Time `json:"last"`
	Count uint64    `json:"count"`
	// FindingID (a finding's) and API are those of the first occurrence,
	// by (time, finding id, API).
	FindingID string `json:"findingId,omitempty"`
	API       string `json:"api,omitempty"`
}

// IsFinding reports whether the signal is a finding.
func (s *Signal) IsFinding() bool { return s.FindingID != "" }

func signalKeyCmp(s Signal, k Signal) int {
	if s.Tactic != k.Tactic {
		return int(s.Tactic) - int(k.Tactic)
	}
	return strings.Compare(s.Name, k.Name)
}

// merge adds occurrence o of the same signal.
func (s *Signal) merge(o *Signal) {
	if c := o.First.Compare(s.First); c < 0 || c == 0 && (o.FindingID < s.FindingID || o.FindingID == s.FindingID && o.API < s.API) {
		s.First, s.FindingID, s.API = o.First, o.FindingID, o.API
	}
	if o.Last.After(s.Last) {
		s.Last = o.Last
	}
	s.Count += o.Count
}

// Observe adds the signals of one event of credential cred at event time
// at (each with Tactic < MaxTactics; First, Last and Count are set here)
// to a detector with the given window, when the principal's latest event
// time is latest. It returns for the two windows containing at whether
// they now hold signals of at least threshold tactics, one of them a
// finding, and whether this event made them (WindowHit).
func (s *Signals) Observe(cred string, at time.Time, sigs []Signal, window time.Duration, latest time.Time, threshold int) (hits [2]WindowHit) {
	if len(sigs) == 0 {
		return hits
	}
	hop := resetHop(&s.Hop, &s.Panes, window)
	i, idx, floor := paneFor(s.Panes, hop, credential(cred), at, latest, func(idx, floor int64) int { return s.insert(cred, idx, at, floor) })
	if i < 0 {
		return hits
	}
	p := &s.Panes[i]
	prev, next := neighbourPanes(s.Panes, i, credential(cred), idx)
	lo, hi := sequenceReached(prev, p, threshold), sequenceReached(p, next, threshold)
	for _, sg := range sigs {
		bit := uint16(1) << (sg.Tactic % MaxTactics)
		p.Tactics |= bit
		sg.First, sg.Last, sg.Count = at, at, 1
		if sg.IsFinding() {
			p.Findings |= bit
		}
		sg.Name, sg.FindingID, sg.API = strings.Clone(sg.Name), strings.Clone(sg.FindingID), strings.Clone(sg.API)
		if j, ok := slices.BinarySearchFunc(p.Signals, sg, signalKeyCmp); ok {
			p.Signals[j].merge(&sg)
		} else if len(p.Signals) < MaxPaneSignals {
			p.Signals = slices.Insert(p.Signals, j, sg)
		} else if j < len(p.Signals) {
			// Bottom-K by (tactic, name): the greatest goes.
			copy(p.Signals[j+1:], p.Signals[j:len(p.Signals)-1])
			p.Signals[j] = sg
		}
	}
	p.Count++
	if at.Before(p.First) {
		p.First = at
	}
	if at.After(p.Last) {
		p.Last = at
	}
	return paneHits(idx, floor, lo, hi, sequenceReached(prev, p, threshold), sequenceReached(p, next, threshold))
}

// sequenceReached reports whether the window of panes a and b (either may
// be nil) holds signals of threshold tactics, one of them a finding, and
// starts with a signal: its first pane a has one. A sequence in one pane
// lies in two windows, and a sequence over two panes in one; the window
// that starts with the sequence's first pane counts it, so a sequence
// counts once unless signals came in the half-window before it. Both
// conditions only grow with the window's events, so the window reaches
// them once, with the same event in any order.
func sequenceReached(a, b *SignalPane, threshold int) bool {
	if a == nil || a.Count == 0 {
		return false
	}
	var t, f uint16
	for _, p := range []*SignalPane{a, b} {
		if p != nil {
			t |= p.Tactics
			f |= p.Findings
		}
	}
	return f != 0 && bits.OnesCount16(t) >= threshold
}

func (p *SignalPane) paneKey() (credential, int64) { return credential(p.Credential), p.Index }
func (p *SignalPane) paneLast() time.Time          { return p.Last }

// insert adds the empty pane (cred, idx) for an event at at and returns
// its index, or -1 when the list is full and the new pane is the least
// (see placePane).
func (s *Signals) insert(cred string, idx int64, at time.Time, floor int64) int {
	fresh := SignalPane{Credential: strings.Clone(cred), Index: idx, First: at, Last: at}
	var i int
	if s.Panes, i = placePane[SignalPane, credential](s.Panes, credential(cred), idx, at, floor, MaxSignalPanes, nil); i < 0 {
		return -1
	}
	s.Panes = slices.Insert(s.Panes, i, fresh)
	return i
}

// SignalWindow is the state of one window of a credential: the union of
// its two panes.
type SignalWindow struct {
	Credential string
	// Index identifies the window (see WindowHit); Start is its start, and
	// it ends at Start + 2·hop.
	Index             int64
	Start             time.Time
	First, Last       time.Time
	Count             uint64
	Tactics, Findings uint16
	// Signals are the union of the panes' signals, sorted by (tactic,
	// name), the same signal of both panes merged.
	Signals []Signal
	// Crossed is set by Reached only: how many windows of the event
	// reached the threshold with it.
	Crossed int
}

// Window returns the state of window index of credential cred.
func (s *Signals) Window(cred string, index int64) SignalWindow {
	w := SignalWindow{Credential: cred, Index: index, Start: paneStart(index, s.Hop)}
	a, b := windowPanes(s.Panes, credential(cred), index)
	for _, p := range [2]*SignalPane{a, b} {
		if p == nil {
			continue
		}
		if w.First.IsZero() || p.First.Before(w.First) {
			w.First = p.First
		}
		if p.Last.After(w.Last) {
			w.Last = p.Last
		}
		w.Count += p.Count
		w.Tactics |= p.Tactics
		w.Findings |= p.Findings
		for _, sg := range p.Signals {
			if j, ok := slices.BinarySearchFunc(w.Signals, sg, signalKeyCmp); ok {
				w.Signals[j].merge(&sg)
			} else {
				w.Signals = slices.Insert(w.Signals, j, sg)
			}
		}
	}
	return w
}

// Reached folds the windows of cred that an event reached (its hits) into
// the state of one finding occurrence, as Windows.Reached does: the
// greater window by (last event time, event count), First the earliest of
// the two, Crossed how many reached the threshold with the event.
func (s *Signals) Reached(cred string, hits [2]WindowHit) (win SignalWindow, ok bool) {
	return foldReached(hits, func(index int64) SignalWindow { return s.Window(cred, index) },
		func(x SignalWindow) (time.Time, time.Time, uint64, int) { return x.First, x.Last, x.Count, x.Crossed },
		func(x SignalWindow, first time.Time, crossed int) SignalWindow {
			x.First, x.Crossed = first, crossed
			return x
		})
}

// encode writes the panes not yet forgotten when the principal's latest
// event time is latest.
func (s *Signals) encode(e *encoder, latest time.Time) {
	encodePanes[SignalPane, credential](e, s.Hop, latest, s.Panes, func(p, prev *SignalPane) {
		e.strRef(p.Credential, prev.Credential)
		e.paneHead(p.Index, prev.Index, p.First, p.Last, latest, p.Count)
		e.uint16(p.Tactics)
		e.uint16(p.Findings)
		e.count(len(p.Signals))
		for j := range p.Signals {
			sg := &p.Signals[j]
			e.byte(sg.Tactic)
			e.str(sg.Name)
			e.timeRel(sg.Last, p.Last)
			e.timeRel(sg.First, sg.Last)
			e.uvarint(sg.Count)
			e.str(sg.FindingID)
			e.str(sg.API)
		}
	})
}

// decodeSignals reads what encode wrote; panes must be sorted by
// (credential, index) and their signals by (tactic, name).
func decodeSignals(d *decoder, latest time.Time) Signals {
	const what = "signals"
	hop, panes := decodePanes[SignalPane, credential](d, what, 1<<62, MaxSignalPanes, func(p, prev *SignalPane) {
		p.Credential = d.strRef(what+" credential", MaxIDLen, prev.Credential)
		p.Index, p.First, p.Last, p.Count = d.paneHead(prev.Index, latest)
		p.Tactics = d.uint16()
		p.Findings = d.uint16()
		p.Signals = decodeList(d, what+" entries", MaxPaneSignals, func(sg *Signal) {
			sg.Tactic = d.Byte()
			if d.Err == nil && sg.Tactic >= MaxTactics {
				d.Failf("%s: bad tactic %d", what, sg.Tactic)
			}
			sg.Name = d.str(what+" name", MaxValueLen)
			sg.Last = d.timeRel(p.Last)
			sg.First = d.timeRel(sg.Last)
			sg.Count = d.Uvarint()
			sg.FindingID = d.str(what+" finding id", MaxValueLen)
			sg.API = d.str(what+" api", MaxValueLen)
		}, func(prev, next *Signal) bool { return signalKeyCmp(*prev, *next) < 0 }, "%s: entries not sorted")
	})
	if d.Err != nil && panes != nil {
		// An error in a pane leaves nothing.
		return Signals{}
	}
	return Signals{Hop: hop, Panes: panes}
}

// maxSignalsSize bounds the encoded signals: a pane names its credential
// and holds its signals with their times, counts and finding ids (an
// upper estimate, well above what TestSignalsOrder's full panes take).
const maxSignalsSize = 8 + MaxSignalPanes*(MaxIDLen+32+MaxPaneSignals*(MaxValueLen+64))
