package detect

import (
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/vigil-sec/vigil/event"
	"github.com/vigil-sec/vigil/findings"
	"github.com/vigil-sec/vigil/profiles"
)

// Beaconing: an implant calls its controller on a timer, with requests of
// much the same size. The score is RITA's beacon score over the
// connections an instance opened to one public host (the latest
// profiles.MaxBeaconConns start seconds):
//
//   - interval skew: 1 − |Bowley skewness| of the gaps between starts
//     (a timer with symmetric jitter has none), the interquartile range
//     taken as at least a fifth of the median;
//   - interval dispersion: 1 − MAD/median of the gaps;
//   - connection count: connections / (span/median gap + 1), which is 1
//     when the host was reached at every tick of the median interval;
//   - size skew and size dispersion: the same two of the bytes sent per
//     connection.
//
// The timing score is the mean of the first three, the size score the mean
// of the last two, the score the mean of both.
//
// The type is vigil's own: GuardDuty has no beaconing type, and its
// Backdoor:EC2/C&CActivity.B means "a host on a command-and-control
// threat list", which a heuristic on timing alone must not be taken for
// by rules and suppression filters written against it. Severity Medium: a
// regular caller is often benign (an agent, a poller); the finding says
// to look, not that the host is compromised.
//
// Thresholds. The Stratosphere captures of the slips data set are
// minutes long: its HTTPS C&C (test-cc capture 2, a call every 3 s over
// 65 s) scores 0.94 (timing 0.89, size 0.98), a Windows bot's port-5888
// channel (CTU-SME-11) 0.90 (timing 0.99), while the browsing in the
// mixed capture (Google, a web server) scores 0.57–0.61 (timing
// 0.37–0.66); the C&C of capture 1 calls in bursts (timing 0.63). None of
// them spans the 30 minutes required, so none raises a finding there; the
// labelled benign flows of CIC-IDS2017 raise none either (TestEvalCICIDS).
// On synthetic timers: a 60 s timer with ±3 s jitter scores above 0.97;
// jitter of ±50 % keeps the timing score about 0.92; connections at
// uniformly random gaps score about 0.83 on timing and exponential
// (Poisson) gaps about 0.58, so a timing score of 0.9 separates timers
// from human or event-driven traffic. The overall score must also reach
// 0.85, so that a timer whose sizes vary widely (a poller whose answers
// differ) needs a nearly perfect timing score to count.
const (
	beaconMinConns    = 24
	beaconMinSpan     = 30 * time.Minute
	beaconTimingScore = 0.9
	beaconScore       = 0.85
	ntpPort           = 123
)

// beaconing scores the connections an instance opens to public hosts.
// Not counted: DNS (port 53, the VPC resolver is private or link-local
// anyway), NTP (port 123), AWS service ranges other than EC2 (update
// repositories, S3, SSM and the other endpoints agents poll), private and
// shared addresses, and the later records of a long TCP connection (no
// SYN): one connection is one start.
func (e *Engine) beaconing(n *profiles.Network, ev *event.Event, r *profiles.OrientedFlow, out []findings.Finding) []findings.Finding {
	if r.Protocol != protoTCP && r.Protocol != protoUDP || !r.Outbound || !clientSide(r) ||
		r.RemotePort == dnsPort || r.LocalPort == dnsPort || r.RemotePort == ntpPort || r.LocalPort == ntpPort ||
		r.Protocol == protoTCP && r.TCPFlags != 0 && r.TCPFlags&tcpSYN == 0 ||
		!publicAddr(r.Remote) || e.awsService(r.Remote) {
		return out
	}
	h := n.ObserveBeacon(r.Remote, r.Time, r.Bytes, r.Exemplar())
	if h == nil || len(h.Conns) < beaconMinConns {
		return out
	}
	first, last := h.Conns[0].Time, h.Conns[len(h.Conns)-1].Time
	if time.Duration(last-first)*time.Second < beaconMinSpan {
		return out
	}
	s := scoreBeacon(h.Conns)
	if s.timing < beaconTimingScore || s.score < beaconScore {
		return out
	}
	// The finding's first sighting is the host's earliest connection, a
	// min over the records: the kept ones depend on which came when.
	lastT, firstT := time.Unix(last, 0).UTC(), time.Unix(h.First, 0).UTC()
	day := profiles.Day(lastT)
	crossed := 0
	if day > h.Reported {
		crossed, h.Reported = 1, day
	}
	remote := h.Remote.String()
	// Rank is the host's record count, a sum: the occurrence of the last
	// record applied has the greatest, whatever the order.
	f := windowFinding(TypeBeaconing, findings.SeverityMedium, &n.Header, ev, firstT, lastT, h.Records, crossed, remote, refDay(day))
	f.Resource = flowResource(n, ev, &h.Exemplar)
	f.Service.Action = connectionAction(&h.Exemplar, true)
	f.Service.ResourceRole = findings.RoleActor
	round := func(v float64) float64 { return math.Round(v*1000) / 1000 }
	f.Service.AdditionalInfo = findings.AdditionalInfo{
		"beaconScore": round(s.score), "timingScore": round(s.timing), "sizeScore": round(s.size),
		"intervalSkewScore": round(s.tsSkew), "intervalDispersionScore": round(s.tsMADM), "connectionCountScore": round(s.tsCount),
		"sizeSkewScore": round(s.dsSkew), "sizeDispersionScore": round(s.dsMADM),
		"connections": len(h.Conns), "records": h.Records, "medianIntervalSeconds": s.medianGap, "medianBytes": s.medianBytes,
		"spanSeconds": last - first, "day": refDay(day),
		"thresholds": map[string]any{
			"score": beaconScore, "timingScore": beaconTimingScore, "minConnections": beaconMinConns,
			"minSpan": beaconMinSpan.String(), "connectionsKept": profiles.MaxBeaconConns,
		},
	}
	because(&f, "the connections the instance opened to one public host are regular in time and size: beacon score ≥ 0.85 and timing score ≥ 0.9 over at least 24 connections spanning 30 minutes",
		"remote", remote, "beaconScore", strconv.FormatFloat(round(s.score), 'f', -1, 64),
		"medianIntervalSeconds", strconv.FormatFloat(s.medianGap, 'f', -1, 64))
	inst := instanceLabel(n, ev)
	f.Title = "EC2 instance " + inst + " is beaconing to remote host " + remote + "."
	f.Description = "EC2 instance " + inst + " opened " + strconv.Itoa(len(h.Conns)) + " connections to " + remote +
		" about every " + strconv.FormatFloat(s.medianGap, 'f', -1, 64) + " seconds with requests of similar size (beacon score " +
		strconv.FormatFloat(round(s.score), 'f', -1, 64) + "), as command-and-control implants call home."
	return append(out, f)
}

// beaconScores are the parts of a beacon score, each in [0, 1].
type beaconScores struct {
	tsSkew, tsMADM, tsCount float64
	dsSkew, dsMADM          float64
	timing, size, score     float64
	medianGap, medianBytes  float64
}

// scoreBeacon scores conns, sorted by distinct start second, at least two.
func scoreBeacon(conns []profiles.BeaconConn) beaconScores {
	gaps := make([]float64, len(conns)-1)
	for i := range gaps {
		gaps[i] = float64(conns[i+1].Time - conns[i].Time)
	}
	sizes := make([]float64, len(conns))
	for i, c := range conns {
		sizes[i] = float64(c.Bytes)
	}
	var s beaconScores
	var gapMAD, sizeMAD float64
	s.tsSkew, s.medianGap, gapMAD = skewAndMAD(gaps)
	s.dsSkew, s.medianBytes, sizeMAD = skewAndMAD(sizes)
	s.tsMADM = dispersionScore(gapMAD, s.medianGap)
	s.dsMADM = dispersionScore(sizeMAD, s.medianBytes)
	span := float64(conns[len(conns)-1].Time - conns[0].Time)
	s.tsCount = min(1, float64(len(conns))/(span/s.medianGap+1))
	s.timing = (s.tsSkew + s.tsMADM + s.tsCount) / 3
	s.size = (s.dsSkew + s.dsMADM) / 2
	s.score = (s.timing + s.size) / 2
	return s
}

// skewAndMAD returns 1 − |Bowley skewness| of v, its median and its
// median absolute deviation. v is sorted in place.
func skewAndMAD(v []float64) (skewScore, median, mad float64) {
	slices.Sort(v)
	q1, q2, q3 := quantile(v, 0.25), quantile(v, 0.5), quantile(v, 0.75)
	// The spread is at least a fifth of the median: a skew of a second
	// or two on a minute's interval (or of a few bytes on hundreds) is the
	// rounding of a narrow jitter, not a skewed distribution.
	skewScore = 1
	if iqr := max(q3-q1, q2/5); iqr > 0 {
		skewScore = 1 - min(1, math.Abs((q3+q1-2*q2)/iqr))
	}
	dev := make([]float64, len(v))
	for i, x := range v {
		dev[i] = math.Abs(x - q2)
	}
	slices.Sort(dev)
	return skewScore, q2, quantile(dev, 0.5)
}

// dispersionScore is 1 − mad/median, floored at 0 (1 when both are 0).
func dispersionScore(mad, median float64) float64 {
	switch {
	case mad == 0:
		return 1
	case median == 0:
		return 0
	}
	return max(0, 1-mad/median)
}

// quantile interpolates linearly between the order statistics of sorted v.
func quantile(v []float64, p float64) float64 {
	x := p * float64(len(v)-1)
	i := int(x)
	if i+1 >= len(v) {
		return v[len(v)-1]
	}
	return v[i] + (x-float64(i))*(v[i+1]-v[i])
}
