package dga

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Example is one labelled registered domain.
type Example struct {
	Domain    string
	Label     string
	Generated bool
	// Source names the list it came from (and the family, for DGAs).
	Source string
}

// Dataset is the labelled domains, split in two by a hash of the
// registered domain: Test holds those whose FNV-1a hash is 0 mod 5 (20%),
// Train the others. A domain is in one split only, whatever list holds it.
type Dataset struct {
	Train, Test []Example
}

// Files read by LoadDataset, relative to the data directory.
var (
	dgaFiles = []string{
		"dga/baderj_dga_examples_capped5k.csv", // family,variant_file,domain: all generated
		"dga/chrmor_dga_domains_sample.csv",    // class,family,domain: dga or legit
	}
	benignFiles = []string{
		"benign_domains/umbrella-top-100k.txt",
		"benign_domains/alexa2016-top-100000-domains.txt",
		"benign_domains/opendns-top-domains.txt",
		"benign_domains/opendns-random-domains.txt",
	}
)

// ErrNoData is returned by LoadDataset when the data directory lacks the
// lists.
var ErrNoData = errors.New("dga: labelled domain lists not found")

// LoadDataset reads the DGA and benign domain lists under dir (the
// shared evaluation data: dga/ and benign_domains/), reduces every name
// to its registered domain, drops domains listed as both, and splits
// them (see Dataset).
func LoadDataset(dir string) (*Dataset, error) {
	for _, f := range append(slices.Clone(dgaFiles), benignFiles...) {
		if _, err := os.Stat(filepath.Join(dir, f)); errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s is missing (the evaluation data is ../shared/data from the repository root)", ErrNoData, filepath.Join(dir, f))
		} else if err != nil {
			return nil, fmt.Errorf("dga: %w", err)
		}
	}
	seen := map[string]int{} // domain -> index in all
	var all []Example
	conflict := map[string]bool{}
	add := func(name string, generated bool, source string) {
		name = strings.ToLower(strings.TrimSpace(name))
		label, domain, ok := Label(name)
		if !ok {
			return
		}
		if i, ok := seen[domain]; ok {
			if all[i].Generated != generated {
				conflict[domain] = true
			}
			return
		}
		seen[domain] = len(all)
		all = append(all, Example{Domain: domain, Label: label, Generated: generated, Source: source})
	}
	for _, f := range dgaFiles {
		err := readCSV(filepath.Join(dir, f), func(rec []string) {
			if len(rec) < 3 {
				return
			}
			switch {
			case strings.HasPrefix(f, "dga/baderj"):
				add(rec[2], true, "baderj/"+rec[0])
			case rec[0] == "dga":
				add(rec[2], true, "chrmor/"+rec[1])
			case rec[0] == "legit":
				add(rec[2], false, "chrmor/alexa")
			}
		})
		if err != nil {
			return nil, err
		}
	}
	for _, f := range benignFiles {
		src := strings.TrimSuffix(filepath.Base(f), ".txt")
		err := readLines(filepath.Join(dir, f), func(l string) { add(l, false, src) })
		if err != nil {
			return nil, err
		}
	}
	var ds Dataset
	for _, x := range all {
		if conflict[x.Domain] {
			continue
		}
		if TestSplit(x.Domain) {
			ds.Test = append(ds.Test, x)
		} else {
			ds.Train = append(ds.Train, x)
		}
	}
	return &ds, nil
}

// TestSplit reports whether a registered domain belongs to the held-back
// split: its 32-bit FNV-1a hash is 0 mod 5.
func TestSplit(domain string) bool {
	h := uint32(2166136261)
	for i := 0; i < len(domain); i++ {
		h = (h ^ uint32(domain[i])) * 16777619
	}
	return h%5 == 0
}

func readCSV(path string, f func([]string)) error {
	file, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("dga: %w", err)
	}
	defer file.Close()
	r := csv.NewReader(bufio.NewReader(file))
	r.FieldsPerRecord = -1
	for first := true; ; first = false {
		rec, err := r.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("dga: %s: %w", path, err)
		}
		if !first {
			f(rec)
		}
	}
}

func readLines(path string, f func(string)) error {
	file, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("dga: %w", err)
	}
	defer file.Close()
	s := bufio.NewScanner(file)
	for s.Scan() {
		if l := strings.TrimSpace(s.Text()); l != "" && l[0] != '#' {
			f(l)
		}
	}
	if err := s.Err(); err != nil {
		return fmt.Errorf("dga: %s: %w", path, err)
	}
	return nil
}

// Metrics are a model's results on a labelled set at its threshold.
type Metrics struct {
	Threshold float64 `json:"threshold"`
	// Positives and Negatives count the generated and benign examples;
	// TP, FP and FN the generated ones called generated, the benign ones
	// called generated and the generated ones missed.
	Positives int     `json:"positives"`
	Negatives int     `json:"negatives"`
	TP        int     `json:"tp"`
	FP        int     `json:"fp"`
	FN        int     `json:"fn"`
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	F1        float64 `json:"f1"`
	// FPR is the share of benign examples called generated.
	FPR float64 `json:"fpr"`
}

func (x Metrics) String() string {
	return fmt.Sprintf("precision %.4f  recall %.4f  F1 %.4f  (threshold %.3f; %d generated, %d benign; TP %d, FP %d, FN %d; false-positive rate %.4f)",
		x.Precision, x.Recall, x.F1, x.Threshold, x.Positives, x.Negatives, x.TP, x.FP, x.FN, x.FPR)
}

// Evaluate scores examples with m at its threshold.
func (m *Model) Evaluate(examples []Example) Metrics {
	return metricsAt(m.scores(examples), examples, m.Threshold)
}

func (m *Model) scores(examples []Example) []float64 {
	s := make([]float64, len(examples))
	for i, x := range examples {
		s[i] = m.Score(x.Label)
	}
	return s
}

func metricsAt(scores []float64, examples []Example, threshold float64) Metrics {
	x := Metrics{Threshold: threshold}
	for i, e := range examples {
		hit := scores[i] >= threshold
		switch {
		case e.Generated:
			x.Positives++
			if hit {
				x.TP++
			} else {
				x.FN++
			}
		default:
			x.Negatives++
			if hit {
				x.FP++
			}
		}
	}
	if x.TP+x.FP > 0 {
		x.Precision = float64(x.TP) / float64(x.TP+x.FP)
	}
	if x.Positives > 0 {
		x.Recall = float64(x.TP) / float64(x.Positives)
	}
	if x.Precision+x.Recall > 0 {
		x.F1 = 2 * x.Precision * x.Recall / (x.Precision + x.Recall)
	}
	if x.Negatives > 0 {
		x.FPR = float64(x.FP) / float64(x.Negatives)
	}
	return x
}

// Report is the evaluation EvaluateDir prints: the embedded model on the
// held-back split, overall and per DGA source.
type Report struct {
	Test Metrics `json:"test"`
	// Recall per DGA family on the held-back split, by source.
	Families []FamilyRecall `json:"families"`
}

// FamilyRecall is the recall on one DGA family's held-back domains.
type FamilyRecall struct {
	Source   string  `json:"source"`
	Domains  int     `json:"domains"`
	Detected int     `json:"detected"`
	Recall   float64 `json:"recall"`
}

// EvaluateDir loads the labelled lists under dataDir (LoadDataset) and
// evaluates the embedded model on the held-back split. It returns an
// error wrapping ErrNoData when the lists are absent.
func EvaluateDir(dataDir string) (*Report, error) {
	ds, err := LoadDataset(dataDir)
	if err != nil {
		return nil, err
	}
	m, err := Default()
	if err != nil {
		return nil, err
	}
	return m.Report(ds.Test), nil
}

// Report evaluates m on examples, overall and per generated source.
func (m *Model) Report(examples []Example) *Report {
	scores := m.scores(examples)
	r := &Report{Test: metricsAt(scores, examples, m.Threshold)}
	fam := map[string]*FamilyRecall{}
	for i, x := range examples {
		if !x.Generated {
			continue
		}
		f := fam[x.Source]
		if f == nil {
			f = &FamilyRecall{Source: x.Source}
			fam[x.Source] = f
		}
		f.Domains++
		if scores[i] >= m.Threshold {
			f.Detected++
		}
	}
	for _, f := range fam {
		f.Recall = float64(f.Detected) / float64(f.Domains)
		r.Families = append(r.Families, *f)
	}
	slices.SortFunc(r.Families, func(a, b FamilyRecall) int { return strings.Compare(a.Source, b.Source) })
	return r
}

// WriteReport prints r: the metrics line, then the recall per family.
func WriteReport(w io.Writer, r *Report) {
	fmt.Fprintf(w, "DGA model (Trojan:EC2/DGADomainRequest.B), held-back split (registered domains with FNV-1a hash 0 mod 5):\n  %s\n", r.Test)
	fmt.Fprintln(w, "  recall per family:")
	for _, f := range r.Families {
		fmt.Fprintf(w, "    %-36s %5d/%-5d %.3f\n", f.Source, f.Detected, f.Domains, f.Recall)
	}
}

// TrainOptions tune Train.
type TrainOptions struct {
	// Epochs of stochastic gradient descent (default 16).
	Epochs int
	// TargetFPR is the share of benign training domains the threshold
	// may call generated (default 0.01).
	TargetFPR float64
}

// Train fits a model to examples: the benign bigram language model first
// (add-one smoothing), then the logistic regression by stochastic
// gradient descent in a fixed order (sorted by a hash of the domain, so
// training is deterministic), classes weighted to balance, with a small L2
// penalty. The threshold is the lowest score that calls at most TargetFPR
// of the benign training domains generated, and at least 0.5.
func Train(examples []Example, opt TrainOptions) *Model {
	if opt.Epochs <= 0 {
		opt.Epochs = 16
	}
	if opt.TargetFPR <= 0 {
		opt.TargetFPR = 0.01
	}
	m := &Model{Version: 1, Features: denseNames[:], Dense: make([]float64, numDense),
		NGrams: make([]float64, Buckets), LM: make([]float64, alphabet*alphabet)}
	// The language model.
	var counts [alphabet * alphabet]float64
	for _, x := range examples {
		if x.Generated {
			continue
		}
		prev := 0
		for i := 0; i < len(x.Label) && i < MaxLabel; i++ {
			c := charIndex(x.Label[i])
			counts[prev*alphabet+c]++
			prev = c
		}
		counts[prev*alphabet]++
	}
	for a := range alphabet {
		total := 0.0
		for b := range alphabet {
			total += counts[a*alphabet+b] + 1
		}
		for b := range alphabet {
			m.LM[a*alphabet+b] = round(math.Log((counts[a*alphabet+b]+1)/total), 3)
		}
	}
	// The regression.
	order := slices.Clone(examples)
	slices.SortFunc(order, func(a, b Example) int {
		ha, hb := mix(a.Domain), mix(b.Domain)
		switch {
		case ha < hb:
			return -1
		case ha > hb:
			return 1
		}
		return strings.Compare(a.Domain, b.Domain)
	})
	pos := 0
	for _, x := range order {
		if x.Generated {
			pos++
		}
	}
	neg := len(order) - pos
	wPos, wNeg := float64(len(order))/(2*float64(max(pos, 1))), float64(len(order))/(2*float64(max(neg, 1)))
	const l2 = 1e-6
	type gram struct {
		b int
		v float64
	}
	grams := make([]gram, 0, 2*MaxLabel+2)
	for epoch := range opt.Epochs {
		lr := 0.2 / (1 + float64(epoch))
		for _, e := range order {
			var x [numDense]float64
			grams = grams[:0]
			m.features(e.Label, &x, func(b int, v float64) { grams = append(grams, gram{b, v}) })
			z := 0.0
			for i, v := range x {
				z += m.Dense[i] * v
			}
			for _, g := range grams {
				z += m.NGrams[g.b] * g.v
			}
			p := 1 / (1 + math.Exp(-z))
			y, w := 0.0, wNeg
			if e.Generated {
				y, w = 1, wPos
			}
			g := (p - y) * w * lr
			for i, v := range x {
				m.Dense[i] -= g*v + lr*l2*m.Dense[i]
			}
			for _, gr := range grams {
				m.NGrams[gr.b] -= g*gr.v + lr*l2*m.NGrams[gr.b]
			}
		}
	}
	for i := range m.Dense {
		m.Dense[i] = round(m.Dense[i], 4)
	}
	for i := range m.NGrams {
		m.NGrams[i] = round(m.NGrams[i], 3)
	}
	// The threshold, on the rounded weights.
	var benign []float64
	for _, x := range examples {
		if !x.Generated {
			benign = append(benign, m.Score(x.Label))
		}
	}
	slices.Sort(benign)
	m.Threshold = 0.5
	if len(benign) > 0 {
		k := len(benign) - 1 - int(opt.TargetFPR*float64(len(benign)))
		m.Threshold = round(max(0.5, benign[max(k, 0)]+1e-4), 4)
	}
	if m.Threshold >= 1 {
		m.Threshold = 0.9999
	}
	return m
}

func mix(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h = (h ^ uint64(s[i])) * 1099511628211
	}
	h ^= h >> 29
	h *= 0xbf58476d1ce4e5b9
	return h ^ h>>32
}

func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}
