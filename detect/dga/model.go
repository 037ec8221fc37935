// Package dga scores domain names for being algorithmically generated
// (DGA): a logistic regression over the label of the registered domain —
// hashed character bigrams and trigrams, a character-bigram language
// model of benign names, and shape features (length, entropy, digit and
// consonant ratios, consonant and digit runs). The trained model is the
// small JSON file model.json, embedded; `make train` rebuilds it from
// the labelled lists in ../shared/data (see Train and LoadDataset).
//
// Scoring allocates nothing and takes about a microsecond, so it runs on
// every DNS query.
package dga

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"golang.org/x/net/publicsuffix"
)

// Buckets is the number of hashed n-gram weights.
const Buckets = 4096

// alphabet is the model's characters: index 0 is a name boundary, 1–26
// the letters, 27–36 the digits, 37 '-', 38 anything else.
const alphabet = 39

func charIndex(c byte) int {
	switch {
	case c >= 'a' && c <= 'z':
		return int(c-'a') + 1
	case c >= 'A' && c <= 'Z':
		return int(c-'A') + 1
	case c >= '0' && c <= '9':
		return int(c-'0') + 27
	case c == '-':
		return 37
	}
	return 38
}

// Dense features, in the order of Model.Dense.
const (
	fBias = iota
	fLength
	fEntropy
	fDigits
	fVowels
	fConsonantRun
	fDigitRun
	fHyphens
	fDistinct
	fTransitions
	fLM
	fLMMin
	numDense
)

// denseNames names the dense features, for the model file.
var denseNames = [numDense]string{"bias", "length", "entropy", "digitRatio", "vowelRatio",
	"consonantRun", "digitRun", "hyphens", "distinctRatio", "letterDigitSwitches", "benignBigramLL", "benignBigramLLMin"}

// Model is a trained DGA classifier.
type Model struct {
	Version int `json:"version"`
	// Threshold is the score at and above which a label is called
	// generated; Trainer chose it on the training split (see Train).
	Threshold float64 `json:"threshold"`
	// Features names Dense's entries.
	Features []string  `json:"features"`
	Dense    []float64 `json:"dense"`
	// NGrams are the weights of the hashed bigrams and trigrams.
	NGrams []float64 `json:"ngrams"`
	// LM is the benign bigram language model: LM[a*alphabet+b] is the log
	// probability of character b after a, in the benign training labels.
	LM []float64 `json:"lm"`
	// Metrics are those of the held-back split when the model was trained.
	Metrics *Metrics `json:"metrics,omitempty"`
	// Data says what it was trained on.
	Data string `json:"data,omitempty"`
}

//go:embed model.json
var modelJSON []byte

// Default returns the embedded model.
func Default() (*Model, error) {
	return Parse(modelJSON)
}

// Parse reads a model file.
func Parse(b []byte) (*Model, error) {
	var m Model
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("dga: model: %w", err)
	}
	if len(m.Dense) != numDense || len(m.NGrams) != Buckets || len(m.LM) != alphabet*alphabet {
		return nil, fmt.Errorf("dga: model: %d dense, %d n-gram and %d language-model weights, want %d, %d and %d",
			len(m.Dense), len(m.NGrams), len(m.LM), numDense, Buckets, alphabet*alphabet)
	}
	if !(m.Threshold > 0 && m.Threshold < 1) {
		return nil, fmt.Errorf("dga: model: threshold %v not in (0, 1)", m.Threshold)
	}
	return &m, nil
}

// Label returns the label the model scores for a query name: the
// registered domain's own label (the one left of its public suffix, by
// the Public Suffix List), and the registered domain. ok is false when the
// name has no registered domain.
func Label(name string) (label, domain string, ok bool) {
	name = strings.TrimSuffix(name, ".")
	domain, err := publicsuffix.EffectiveTLDPlusOne(name)
	if err != nil {
		return "", "", false
	}
	label, _, _ = strings.Cut(domain, ".")
	return label, domain, label != ""
}

// MaxLabel bounds the label scored: DNS labels are at most 63 bytes.
const MaxLabel = 63

// features fills x with the dense features of label and calls ngram for
// each hashed n-gram bucket (with the weight of one occurrence).
func (m *Model) features(label string, x *[numDense]float64, ngram func(bucket int, v float64)) {
	if len(label) > MaxLabel {
		label = label[:MaxLabel]
	}
	n := len(label)
	var counts [alphabet]uint8
	digits, vowels, hyphens, distinct, switches := 0, 0, 0, 0, 0
	consRun, maxCons, digitRun, maxDigit := 0, 0, 0, 0
	lm, lmMin := 0.0, 0.0
	prev := 0
	prevDigit := false
	for i := 0; i < n; i++ {
		c := label[i] | 0x20
		ci := charIndex(label[i])
		if counts[ci] == 0 {
			distinct++
		}
		counts[ci]++
		digit := ci >= 27 && ci <= 36
		switch {
		case digit:
			digits++
			digitRun++
			consRun = 0
		case c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u' || c == 'y':
			vowels++
			consRun, digitRun = 0, 0
		case ci >= 1 && ci <= 26:
			consRun++
			digitRun = 0
		default:
			if ci == 37 {
				hyphens++
			}
			consRun, digitRun = 0, 0
		}
		maxCons, maxDigit = max(maxCons, consRun), max(maxDigit, digitRun)
		if i > 0 && digit != prevDigit {
			switches++
		}
		prevDigit = digit
		if m != nil {
			l := m.LM[prev*alphabet+ci]
			lm += l
			lmMin = min(lmMin, l)
		}
		prev = ci
	}
	if m != nil {
		l := m.LM[prev*alphabet]
		lm += l
		lmMin = min(lmMin, l)
	}
	fn := float64(max(n, 1))
	var h float64
	for _, c := range counts {
		if c > 0 {
			p := float64(c) / fn
			h -= p * math.Log2(p)
		}
	}
	x[fBias] = 1
	x[fLength] = fn / 20
	x[fEntropy] = h / 4
	x[fDigits] = float64(digits) / fn
	x[fVowels] = float64(vowels) / fn
	x[fConsonantRun] = float64(maxCons) / 10
	x[fDigitRun] = float64(maxDigit) / 10
	x[fHyphens] = float64(hyphens)
	x[fDistinct] = float64(distinct) / fn
	x[fTransitions] = float64(switches) / fn
	x[fLM] = lm / (fn + 1) / 5
	x[fLMMin] = lmMin / 10
	if ngram == nil {
		return
	}
	// Bigrams and trigrams over the label with boundaries, each weighing
	// 1/sqrt(count) so that long labels do not dominate.
	grams := 2*n + 1
	v := 1 / math.Sqrt(float64(grams))
	c0, c1 := 0, 0 // the two previous characters, boundary first
	for i := 0; i <= n; i++ {
		c := 0
		if i < n {
			c = charIndex(label[i])
		}
		ngram(hash2(c1, c), v)
		if i > 0 {
			ngram(hash3(c0, c1, c), v)
		}
		c0, c1 = c1, c
	}
}

func hash2(a, b int) int {
	h := uint32(2166136261)
	h = (h ^ uint32(a)) * 16777619
	h = (h ^ uint32(b)) * 16777619
	return int(h % Buckets)
}

func hash3(a, b, c int) int {
	h := uint32(2166136261) ^ 0x5bd1e995
	h = (h ^ uint32(a)) * 16777619
	h = (h ^ uint32(b)) * 16777619
	h = (h ^ uint32(c)) * 16777619
	return int(h % Buckets)
}

// Score returns the probability, by the model, that label (a registered
// domain's label, see Label) was generated by an algorithm.
func (m *Model) Score(label string) float64 {
	var x [numDense]float64
	z := 0.0
	m.features(label, &x, func(b int, v float64) { z += m.NGrams[b] * v })
	for i, v := range x {
		z += m.Dense[i] * v
	}
	return 1 / (1 + math.Exp(-z))
}

// Generated reports whether label scores at or above the threshold, and
// the score.
func (m *Model) Generated(label string) (bool, float64) {
	s := m.Score(label)
	return s >= m.Threshold, s
}
