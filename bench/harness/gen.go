package harness

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/vigil-sec/vigil/bench/loadgen"
	"github.com/vigil-sec/vigil/event"
)

// CorpusFiles names the files WriteCorpus writes, by source.
var CorpusFiles = map[event.Source]string{
	event.SourceCloudTrail: "cloudtrail.jsonl",
	event.SourceVPCFlow:    "vpcflow.log",
	event.SourceDNS:        "dns.route53.jsonl",
}

// CorpusAttack is an attack written to a corpus, in attacks.json.
type CorpusAttack struct {
	Kind    string           `json:"kind"`
	File    string           `json:"file"`
	Line    int              `json:"line"` // of its completing record, from 1
	Finding loadgen.Expected `json:"finding"`
}

// WriteCorpus writes records background records per source to dir, one
// record per line (for `vigil replay`), with an attack of each of the
// source's kinds injected every records/8 records (at least one of each),
// and attacks.json listing the attacks and the findings they must raise.
// log receives a line per file.
func WriteCorpus(dir string, records int, entities int, seed uint64, regions []string, log io.Writer) error {
	if records <= 0 {
		records = 20000
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var attacks []CorpusAttack
	for _, src := range []event.Source{event.SourceCloudTrail, event.SourceVPCFlow, event.SourceDNS} {
		gc := loadgen.ForEntities(entities)
		gc.Seed, gc.Regions = seed, orgRegions(regions)
		gc.Tag = fmt.Sprintf("%s%x", src.String()[:2], seed)
		g := loadgen.New(gc)
		kinds := loadgen.KindsFor([]event.Source{src})
		path := filepath.Join(dir, CorpusFiles[src])
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		w := bufio.NewWriterSize(f, 1<<20)
		every := max(records/8, 1)
		line, k := 0, 0
		for i := range records {
			if i%every == every/2 {
				a, err := g.Attack(kinds[k%len(kinds)])
				if err != nil {
					f.Close()
					return err
				}
				k++
				for j, rec := range a.Records {
					line++
					if j == a.Completes {
						attacks = append(attacks, CorpusAttack{Kind: a.Kind.String(), File: CorpusFiles[src], Line: line, Finding: a.Finding})
					}
					w.Write(rec)
					w.WriteByte('\n')
				}
			}
			line++
			w.Write(g.Next(src).Value)
			w.WriteByte('\n')
		}
		if err := w.Flush(); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		fmt.Fprintf(log, "wrote %d %s records (%d of them attacks') to %s\n", line, src, line-records, path)
	}
	b, err := json.MarshalIndent(attacks, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "attacks.json"), append(b, '\n'), 0o644)
}
