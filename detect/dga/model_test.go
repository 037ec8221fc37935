package dga

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
)

func TestDefault(t *testing.T) {
	m, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	if m.Metrics == nil || m.Threshold <= 0.5 {
		t.Fatalf("model: threshold %v, metrics %+v", m.Threshold, m.Metrics)
	}
	if len(modelJSON) > 64<<10 {
		t.Errorf("model file is %d bytes", len(modelJSON))
	}
	for _, bad := range []string{`{`, `{"dense":[1]}`, strings.Replace(string(modelJSON), `"threshold":`, `"threshold":7,"x":`, 1)} {
		if _, err := Parse([]byte(bad)); err == nil {
			t.Errorf("Parse(%.40q) succeeded", bad)
		}
	}
}

func TestEvaluateDirAbsent(t *testing.T) {
	_, err := EvaluateDir(filepath.Join(t.TempDir(), "none"))
	if !errors.Is(err, ErrNoData) {
		t.Fatalf("err = %v, want ErrNoData", err)
	}
}

// TestTrain trains on synthetic names: random strings against words, and
// checks that training is deterministic and separates them.
func TestTrain(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	words := []string{"cloud", "shop", "news", "market", "game", "data", "home", "city", "blue", "media", "tech", "book", "travel", "bank", "music"}
	var ex []Example
	for i := range 3000 {
		gen := i%2 == 0
		var label string
		if gen {
			b := make([]byte, 12+r.IntN(6))
			for j := range b {
				b[j] = "abcdefghijklmnopqrstuvwxyz0123456789"[r.IntN(36)]
			}
			label = string(b)
		} else {
			label = words[r.IntN(len(words))] + words[r.IntN(len(words))] + words[r.IntN(len(words))]
		}
		ex = append(ex, Example{Domain: label + ".com", Label: label, Generated: gen})
	}
	a := Train(ex, TrainOptions{Epochs: 3})
	b := Train(ex, TrainOptions{Epochs: 3})
	if a.Threshold != b.Threshold || a.Dense[fLength] != b.Dense[fLength] || a.NGrams[7] != b.NGrams[7] {
		t.Error("training is not deterministic")
	}
	got := a.Evaluate(ex)
	if got.F1 < 0.95 {
		t.Errorf("synthetic F1 %v", got)
	}
	var w bytes.Buffer
	WriteReport(&w, a.Report(ex))
	if !strings.Contains(w.String(), "precision") {
		t.Errorf("report:\n%s", w.String())
	}
}
