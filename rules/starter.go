package rules

import (
	"embed"
	"io/fs"
	"path"
	"sync"
)

// The starter rules: what the public attack data (Stratus Red Team
// detonations, Panther's rule tests) shows attackers do that no built-in
// finding type catches. They are loaded by default; a rule file's
// "disable" list turns single ones off, and Load's starter argument all of
// them.
//
//go:embed starter/*.yaml
var starterFS embed.FS

const starterDir = "starter"

// starterFiles parses the embedded starter files. They are tested to
// load, so an error here is a broken build.
func starterFiles() []*File {
	entries, err := fs.ReadDir(starterFS, starterDir)
	if err != nil {
		panic("rules: starter rules: " + err.Error())
	}
	var out []*File
	for _, e := range entries {
		name := path.Join(starterDir, e.Name())
		b, err := starterFS.ReadFile(name)
		if err != nil {
			panic("rules: starter rules: " + err.Error())
		}
		f, err := Parse(name, b)
		if err != nil {
			panic(err.Error())
		}
		out = append(out, f)
	}
	return out
}

// Starter returns the starter rules alone. The set is parsed once and
// shared: a Set is immutable.
func Starter() *Set { return starterSet() }

var starterSet = sync.OnceValue(func() *Set {
	s, err := New(starterFiles()...)
	if err != nil {
		panic(err.Error())
	}
	return s
})
