package node

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-sec/vigil/intel"
)

// defaultIntelInterval is how often the intel directory is polled when
// Config.IntelReloadInterval is zero.
const defaultIntelInterval = 30 * time.Second

func intelInterval(d time.Duration) time.Duration {
	switch {
	case d == 0:
		return defaultIntelInterval
	case d < 0:
		return 0 // off
	}
	return d
}

// ReloadIntel loads the node's threat lists again (admin.IntelReloader):
// the new set is in force when it returns, or the error says why it was
// refused and the old set stays. It reloads this node only; every node
// also polls its own directory.
func (n *Node) ReloadIntel(context.Context) (intel.ReloadStatus, error) {
	return n.intel.Reload()
}

// intelStatus is the threat-list part of /api/v1/status.
func (n *Node) intelStatus() *intel.ReloadStatus {
	if n.intel == nil {
		return nil
	}
	st := n.intel.Status()
	return &st
}

// intelCollectors exports the reloads and refused reloads of r.
func intelCollectors(r *intel.Reloader) []prometheus.Collector {
	return []prometheus.Collector{
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "vigil_intel_reloads_total",
			Help: "Threat-list reloads put in force (a changed list file or POST /api/v1/intel/reload).",
		}, func() float64 { return float64(r.Status().Reloads) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "vigil_intel_reload_failures_total",
			Help: "Threat-list reloads refused (a malformed list or manifest); the lists in force stayed.",
		}, func() float64 { return float64(r.Status().Failures) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "vigil_intel_entries",
			Help: "Entries of the threat and trusted lists in force.",
		}, func() float64 {
			total := 0
			for _, l := range r.Status().Lists {
				total += l.Entries
			}
			return float64(total)
		}),
	}
}
