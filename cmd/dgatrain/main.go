// Command dgatrain trains the DGA model of Trojan:EC2/DGADomainRequest.B
// (package detect/dga) on the labelled domain lists of the evaluation
// data, prints its precision, recall and F1 on the held-back split, and
// writes the model file that vigil embeds. `make train` runs it.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/vigil-sec/vigil/detect/dga"
)

func main() {
	data := flag.String("data", "../shared/data", "evaluation data directory (holds dga/ and benign_domains/)")
	out := flag.String("out", "detect/dga/model.json", "model file to write")
	epochs := flag.Int("epochs", 16, "epochs of gradient descent")
	fpr := flag.Float64("target-fpr", 0.01, "share of benign training domains the threshold may flag")
	flag.Parse()
	if err := run(*data, *out, *epochs, *fpr); err != nil {
		fmt.Fprintln(os.Stderr, "dgatrain:", err)
		if errors.Is(err, dga.ErrNoData) {
			fmt.Fprintln(os.Stderr, "dgatrain: no training data; the committed model is unchanged")
		}
		os.Exit(1)
	}
}

func run(data, out string, epochs int, fpr float64) error {
	ds, err := dga.LoadDataset(data)
	if err != nil {
		return err
	}
	count := func(xs []dga.Example) (pos, neg int) {
		for _, x := range xs {
			if x.Generated {
				pos++
			} else {
				neg++
			}
		}
		return pos, neg
	}
	tp, tn := count(ds.Train)
	fmt.Printf("training on %d registered domains (%d generated, %d benign); %d held back\n", len(ds.Train), tp, tn, len(ds.Test))
	m := dga.Train(ds.Train, dga.TrainOptions{Epochs: epochs, TargetFPR: fpr})
	fmt.Printf("train split: %s\n", m.Evaluate(ds.Train))
	r := m.Report(ds.Test)
	m.Metrics = &r.Test
	m.Data = "dga/baderj_dga_examples_capped5k.csv, dga/chrmor_dga_domains_sample.csv, benign_domains/{umbrella-top-100k,alexa2016-top-100000-domains,opendns-top-domains,opendns-random-domains}.txt; test split: registered domain FNV-1a 32 mod 5 == 0"
	dga.WriteReport(os.Stdout, r)
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode model: %w", err)
	}
	// One field per line keeps diffs of the model file readable.
	s := strings.NewReplacer(`,"`, ",\n\"").Replace(string(b))
	if err := os.WriteFile(out, []byte(s+"\n"), 0o644); err != nil {
		return fmt.Errorf("write model: %w", err)
	}
	fmt.Printf("wrote %s (%d bytes)\n", out, len(s)+1)
	return nil
}
