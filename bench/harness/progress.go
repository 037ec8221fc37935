package harness

import (
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progress is the progress bar on stderr: phase-seconds done out of all
// the run's, with the current scenario, phase, throughput and lag. It is
// quiet (does nothing) when stderr is not a terminal.
type progress struct {
	mu     sync.Mutex
	bar    *progressbar.ProgressBar
	phaseD time.Duration
	phases int // phases started
	t0     time.Time
	label  string
}

func newProgress(cfg *Config) *progress {
	p := &progress{phaseD: cfg.Duration}
	f, ok := cfg.Stderr.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return p
	}
	perScenario := 1
	if cfg.Max {
		perScenario = 2
		if cfg.Nodes == 0 && len(cfg.Brokers) == 0 {
			perScenario = 3 // and the backlog phase
		}
	}
	total := int64(perScenario*len(cfg.Sources)) * int64(cfg.Duration/time.Second)
	p.bar = progressbar.NewOptions64(max(total, 1),
		progressbar.OptionSetWriter(f),
		progressbar.OptionSetDescription("vigil bench: starting"),
		progressbar.OptionSetWidth(24),
		progressbar.OptionSetPredictTime(false),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionShowDescriptionAtLineEnd(),
	)
	return p
}

func (p *progress) describe(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar == nil {
		return
	}
	p.bar.Describe(s)
}

// phase notes that a measured phase starts.
func (p *progress) phase(scenario, name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar == nil {
		return
	}
	p.phases++
	p.t0 = time.Now()
	p.label = scenario + ": " + name + " phase"
	_ = p.bar.Set64(int64(p.phases-1) * int64(p.phaseD/time.Second))
	p.bar.Describe(p.label)
}

// tick shows a second's sample.
func (p *progress) tick(s Sample) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar == nil || p.t0.IsZero() {
		return
	}
	done := min(time.Since(p.t0), p.phaseD)
	_ = p.bar.Set64(int64(p.phases-1)*int64(p.phaseD/time.Second) + int64(done/time.Second))
	if done < p.phaseD {
		p.bar.Describe(fmt.Sprintf("%s: %s records/s, lag %s + %s", p.label, si(s.RecordsPerS), si(float64(s.IngestLag)), si(float64(s.ShardsLag))))
	}
}

func (p *progress) clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar == nil {
		return
	}
	_ = p.bar.Clear()
}

func (p *progress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar == nil {
		return
	}
	_ = p.bar.Finish()
	_ = p.bar.Clear()
	p.bar = nil
}

// si formats a number with a k or M suffix.
func si(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.1fM", v/1e6)
	case v >= 1e4:
		return fmt.Sprintf("%.0fk", v/1e3)
	case v >= 1e3:
		return fmt.Sprintf("%.1fk", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}
