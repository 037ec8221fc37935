package node

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigil-sec/vigil/detect"
)

func TestCredentialInputs(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ranges := write("ip-ranges.json", `{"createDate":"2026-11-30-21-13-09","prefixes":[{"ip_prefix":"54.74.0.0/15","region":"eu-west-1","service":"EC2"}]}`)
	keys := write("leaked.txt", "AKIAIOSFODNN7EXAMPLE # a gist\n")
	log := slog.New(slog.NewTextHandler(io.Discard, nil))

	var dc detect.Config
	cfg := Config{AWSIPRanges: ranges, LeakedKeys: keys, AffiliatedAccounts: []string{"444455556666"}}
	if err := credentialInputs(&dc, cfg, log); err != nil {
		t.Fatal(err)
	}
	if !dc.AWSRanges.Complete() || dc.AWSRanges.Len() != 1 || dc.LeakedKeys.Len() != 1 || len(dc.AffiliatedAccounts) != 1 {
		t.Fatalf("ranges %s, %d keys, affiliated %v", dc.AWSRanges, dc.LeakedKeys.Len(), dc.AffiliatedAccounts)
	}

	// No file: the bundled subset, which is not complete.
	dc = detect.Config{}
	if err := credentialInputs(&dc, Config{}, log); err != nil || dc.AWSRanges.Complete() || dc.AWSRanges.Len() == 0 || dc.LeakedKeys != nil {
		t.Fatalf("defaults: %v, %s", err, dc.AWSRanges)
	}

	// A file that does not load stops the node, naming it.
	for _, c := range []Config{
		{AWSIPRanges: write("bad.json", `{"prefixes":[{"ip_prefix":"nope"}]}`)},
		{LeakedKeys: write("bad.txt", "not-a-key\n")},
		{AWSIPRanges: filepath.Join(dir, "missing.json")},
	} {
		err := credentialInputs(&detect.Config{}, c, log)
		if err == nil || !strings.Contains(err.Error(), dir) {
			t.Errorf("%+v: %v", c, err)
		}
	}
}
