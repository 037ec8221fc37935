package intel

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
	"unicode"
)

// CustomDir is the subdirectory of a list directory that holds customer
// lists, and Manifest the file in it that names them.
const (
	CustomDir = "custom"
	Manifest  = "lists.json"
)

// GuardDuty's quotas on lists: per account and region, at most six threat
// lists and one trusted list, a name of at most 300 bytes. The manifest
// is small; it is bounded too.
const (
	maxThreatLists  = 6
	maxTrustedLists = 1
	maxListName     = 300
	maxManifest     = 1 << 20
)

// manifest is custom/lists.json:
//
//	{"lists": [
//	  {"name": "acme-blocklist", "format": "TXT", "kind": "threat", "file": "blocklist.txt"},
//	  {"name": "partners", "format": "STIX", "kind": "trusted", "file": "partners.xml"}
//	]}
//
// name is reported as threatListName; format is one of Formats, in any
// case; kind is threat or trusted; file is a path under custom/.
type manifest struct {
	Lists []manifestEntry `json:"lists"`
}

type manifestEntry struct {
	Name   string   `json:"name"`
	Format string   `json:"format"`
	Kind   ListKind `json:"kind"`
	File   string   `json:"file"`
}

// readCustom reads the customer lists custom/lists.json names. No custom
// directory means no customer lists; a custom directory without a
// manifest, a manifest entry that is incomplete or names a missing file,
// and a list file that does not parse are errors.
func (b *builder) readCustom(fsys fs.FS) error {
	if _, err := fs.Stat(fsys, CustomDir); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	mpath := path.Join(CustomDir, Manifest)
	m, err := readManifest(fsys, mpath)
	if err != nil {
		return err
	}
	names := map[string]bool{}
	var threat, trusted int
	for i, e := range m.Lists {
		bad := func(format string, args ...any) error {
			return fmt.Errorf("intel: %s: list %d (%q): %s", mpath, i+1, clip(e.Name), fmt.Sprintf(format, args...))
		}
		if err := checkListName(e.Name); err != nil {
			return bad("%v", err)
		}
		if names[e.Name] {
			return bad("a second list of that name")
		}
		names[e.Name] = true
		format, err := ParseFormat(e.Format)
		if err != nil {
			return bad("%v", err)
		}
		lim := ThreatLimits()
		switch e.Kind {
		case KindThreat:
			threat++
		case KindTrusted:
			trusted++
			lim = TrustedLimits()
		default:
			return bad("kind %q: want threat or trusted", e.Kind)
		}
		if threat > maxThreatLists || trusted > maxTrustedLists {
			return bad("more than %d threat lists or %d trusted list (GuardDuty's quotas)", maxThreatLists, maxTrustedLists)
		}
		file := path.Join(CustomDir, e.File)
		if e.File == "" || !fs.ValidPath(e.File) || e.File == "." {
			return bad("file %q: want a path inside %s/", clip(e.File), CustomDir)
		}
		l, err := parseListFile(fsys, file, format, lim)
		if err != nil {
			return err
		}
		l.Name, l.Kind = e.Name, e.Kind
		b.custom = append(b.custom, l)
	}
	return nil
}

func readManifest(fsys fs.FS, name string) (*manifest, error) {
	f, err := fsys.Open(name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("intel: %s is missing: it names each customer list's name, format, kind and file", name)
		}
		return nil, fmt.Errorf("intel: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxManifest+1))
	if err != nil {
		return nil, fmt.Errorf("intel: %s: %w", name, err)
	}
	if len(data) > maxManifest {
		return nil, fmt.Errorf("intel: %s: larger than %d bytes", name, maxManifest)
	}
	var m manifest
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("intel: %s: %w", name, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("intel: %s: data after the manifest object", name)
	}
	return &m, nil
}

func parseListFile(fsys fs.FS, file string, format Format, lim Limits) (*List, error) {
	f, err := fsys.Open(file)
	if err != nil {
		return nil, fmt.Errorf("intel: list file %s: %w", file, err)
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.IsDir() {
		return nil, fmt.Errorf("intel: list file %s is a directory", file)
	}
	return ParseList(format, file, f, lim)
}

// checkListName accepts GuardDuty's list names: 1 to 300 bytes of
// printable characters.
func checkListName(name string) error {
	if name == "" || len(name) > maxListName {
		return fmt.Errorf("name: want 1 to %d bytes", maxListName)
	}
	for _, r := range name {
		if !unicode.IsPrint(r) {
			return fmt.Errorf("name: character %q is not printable", r)
		}
	}
	return nil
}
