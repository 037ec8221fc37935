package detect

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the README's detection table from the catalogue")

// The README's detection table is the catalogue's: `make docs` rewrites it
// (go test ./detect -run TestCatalogueInREADME -update).
func TestCatalogueInREADME(t *testing.T) {
	const (
		begin = "<!-- finding types: generated from detect/catalogue.go by make docs -->\n"
		end   = "<!-- end of finding types -->\n"
	)
	path := filepath.Join("..", "README.md")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	i, j := strings.Index(readme, begin), strings.Index(readme, end)
	if i < 0 || j < i {
		t.Fatalf("README.md has no %q … %q section", strings.TrimSpace(begin), strings.TrimSpace(end))
	}
	got, want := readme[i+len(begin):j], MarkdownTable()
	if got == want {
		return
	}
	if *update {
		if err := os.WriteFile(path, []byte(readme[:i+len(begin)]+want+readme[j:]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("README.md's detection table differs from the catalogue; run make docs.\nREADME:\n%s\ncatalogue:\n%s", got, want)
}

// Every finding type the package names is in the registry once, with a
// source, a severity, an aggregation key and a trigger, and every family
// has exactly one detector.
func TestCatalogueComplete(t *testing.T) {
	var declared []string
	files, _ := filepath.Glob("*.go")
	decl := regexp.MustCompile(`(?m)^\s+Type\w+\s+= "([^"]+)"`)
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range decl.FindAllStringSubmatch(string(b), -1) {
			declared = append(declared, m[1])
		}
	}
	var listed []string
	for _, ti := range Catalogue() {
		if slices.Contains(listed, ti.Type) {
			t.Errorf("%s is listed twice", ti.Type)
		}
		listed = append(listed, ti.Type)
		if sourceNames[ti.Source] == "" || ti.Severity <= 0 || ti.SeverityLabel == "" || ti.Aggregation == "" || ti.Trigger == "" {
			t.Errorf("%s: incomplete entry %+v", ti.Type, ti)
		}
	}
	slices.Sort(declared)
	slices.Sort(listed)
	if len(declared) == 0 || !slices.Equal(declared, listed) {
		t.Errorf("types declared %v, in the registry %v", declared, listed)
	}
	for i, f := range registry {
		n := 0
		for _, set := range []bool{f.principal != nil, f.flow != nil, f.dns != nil, f.correlate != nil} {
			if set {
				n++
			}
		}
		if n != 1 || len(f.types) == 0 {
			t.Errorf("registry entry %d (%v): %d detectors, %d types", i, f.types, n, len(f.types))
		}
	}
}
