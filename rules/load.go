package rules

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Bounds on rule files: they may come from anywhere, so every count and
// size is capped and a file past a cap is refused.
const (
	// MaxFileSize bounds one rule file.
	MaxFileSize = 1 << 20
	// MaxFiles bounds the rule files of a directory.
	MaxFiles = 256
	// MaxRules bounds a set, starter rules included.
	MaxRules = 512
	// MaxThresholdRules bounds the rules with a threshold: each keeps
	// windows in every principal's profile (profiles.MaxCountedRules).
	MaxThresholdRules = 32
	// MaxConditions bounds the conditions of a rule.
	MaxConditions = 32
	// MaxValues bounds the arguments of one operator.
	MaxValues = 1024
	// MaxValueLen bounds one argument, a description or a type.
	MaxValueLen = 1024
	// MaxIDLen bounds a rule id.
	MaxIDLen = 64
	// MaxCount bounds a threshold's count: a window counts at most that
	// many distinct events (profiles.MaxWindowKeys).
	MaxCount = 64
	// MinWithin and MaxWithin bound a threshold's window.
	MinWithin = time.Second
	MaxWithin = 24 * time.Hour
)

// Error is a rule file that does not load: where, and why.
type Error struct {
	File string
	Line int    // 0 when unknown
	Rule string // the rule's id, when known
	Key  string // the key at fault ("match.eventName.in")
	Msg  string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteString(":" + strconv.Itoa(e.Line))
	}
	b.WriteString(": ")
	if e.Rule != "" {
		b.WriteString("rule " + e.Rule + ": ")
	}
	if e.Key != "" {
		b.WriteString(e.Key + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// File is one parsed rule file.
type File struct {
	Name  string
	Rules []*Rule
	// Disable lists rule ids, of this or other files (the starter rules),
	// that the set leaves out.
	Disable []string
}

// Parse reads and validates one rule file, YAML or JSON (JSON is YAML).
// name is used in errors and in the rules' File.
//
// The file is a mapping with the keys "rules" (a list of rules) and
// "disable" (a list of rule ids); a rule has the keys id, type, severity,
// description, match, and optionally threshold and disabled. See
// README.md for the conditions.
func Parse(name string, data []byte) (*File, error) {
	if len(data) > MaxFileSize {
		return nil, &Error{File: name, Msg: fmt.Sprintf("larger than %d bytes", MaxFileSize)}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return &File{Name: name}, nil // empty file
		}
		return nil, &Error{File: name, Msg: "not YAML or JSON: " + err.Error()}
	}
	var more yaml.Node
	if err := dec.Decode(&more); !errors.Is(err, io.EOF) {
		return nil, &Error{File: name, Msg: "more than one YAML document"}
	}
	p := parser{file: name}
	f := p.file1(&doc)
	if p.err != nil {
		return nil, p.err
	}
	return f, nil
}

// parser walks a document, keeping the first error.
type parser struct {
	file string
	rule string
	err  *Error
}

func (p *parser) fail(n *yaml.Node, key, format string, args ...any) {
	if p.err != nil {
		return
	}
	line := 0
	if n != nil {
		line = n.Line
	}
	p.err = &Error{File: p.file, Line: line, Rule: p.rule, Key: key, Msg: fmt.Sprintf(format, args...)}
}

// mapping returns the key and value nodes of a mapping, refusing aliases
// (a rule file needs none, and expanding them is how small files grow
// large), duplicate keys and keys outside allowed.
func (p *parser) mapping(n *yaml.Node, key string, allowed ...string) (keys []string, vals []*yaml.Node) {
	if n.Kind != yaml.MappingNode {
		p.fail(n, key, "want a mapping, got %s", kindName(n))
		return nil, nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			p.fail(k, key, "keys must be plain strings")
			return nil, nil
		}
		if v.Kind == yaml.AliasNode {
			p.fail(v, join(key, k.Value), "aliases are not allowed")
			return nil, nil
		}
		if allowed != nil && !slices.Contains(allowed, k.Value) {
			p.fail(k, join(key, k.Value), "unknown key (want one of %s)", strings.Join(allowed, ", "))
			return nil, nil
		}
		if slices.Contains(keys, k.Value) {
			p.fail(k, join(key, k.Value), "repeated key")
			return nil, nil
		}
		keys, vals = append(keys, k.Value), append(vals, v)
	}
	return keys, vals
}

func join(a, b string) string {
	if a == "" {
		return b
	}
	return a + "." + b
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return "a scalar"
	case yaml.AliasNode:
		return "an alias"
	}
	return "nothing"
}

// scalar returns a scalar's text.
func (p *parser) scalar(n *yaml.Node, key string) string {
	if n.Kind != yaml.ScalarNode {
		p.fail(n, key, "want a scalar, got %s", kindName(n))
		return ""
	}
	if len(n.Value) > MaxValueLen {
		p.fail(n, key, "longer than %d bytes", MaxValueLen)
		return ""
	}
	return n.Value
}

// scalars returns a scalar, or a list of scalars, as a list.
func (p *parser) scalars(n *yaml.Node, key string) []string {
	if n.Kind == yaml.ScalarNode {
		return []string{p.scalar(n, key)}
	}
	if n.Kind != yaml.SequenceNode {
		p.fail(n, key, "want a value or a list, got %s", kindName(n))
		return nil
	}
	if len(n.Content) == 0 || len(n.Content) > MaxValues {
		p.fail(n, key, "want 1 to %d values, got %d", MaxValues, len(n.Content))
		return nil
	}
	out := make([]string, 0, len(n.Content))
	for _, c := range n.Content {
		out = append(out, p.scalar(c, key))
		if p.err != nil {
			return nil
		}
	}
	return out
}

func (p *parser) boolean(n *yaml.Node, key string) bool {
	switch v := p.scalar(n, key); v {
	case "true":
		return true
	case "false":
		return false
	default:
		p.fail(n, key, "want true or false, got %q", v)
	}
	return false
}

func (p *parser) file1(doc *yaml.Node) *File {
	f := &File{Name: p.file}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		p.fail(doc, "", "not a document")
		return nil
	}
	root := doc.Content[0]
	keys, vals := p.mapping(root, "", "rules", "disable")
	for i, k := range keys {
		switch k {
		case "disable":
			f.Disable = p.scalars(vals[i], "disable")
			for _, id := range f.Disable {
				if !validID(id) {
					p.fail(vals[i], "disable", "%q is not a rule id", id)
				}
			}
		case "rules":
			n := vals[i]
			if n.Kind != yaml.SequenceNode {
				p.fail(n, "rules", "want a list of rules, got %s", kindName(n))
				break
			}
			if len(n.Content) > MaxRules {
				p.fail(n, "rules", "more than %d rules", MaxRules)
				break
			}
			for _, rn := range n.Content {
				if r := p.rule1(rn); r != nil {
					f.Rules = append(f.Rules, r)
				}
				if p.err != nil {
					break
				}
			}
		}
	}
	if p.err != nil {
		return nil
	}
	return f
}

var (
	idRE   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	typeRE = regexp.MustCompile(`^([A-Z][A-Za-z]*):([A-Za-z0-9][A-Za-z0-9-]*)/([A-Za-z0-9][A-Za-z0-9.!&_-]*)$`)
)

func validID(id string) bool { return len(id) <= MaxIDLen && idRE.MatchString(id) }

// Tactics are the threat purposes a rule's finding type may start with:
// GuardDuty's, and the MITRE ATT&CK tactics its custom detection rules
// use (spec §1.1, §1.7).
var Tactics = []string{
	"AttackSequence", "Backdoor", "Behavior", "Collection", "CommandAndControl", "CredentialAccess",
	"CryptoCurrency", "DefenseEvasion", "DefenseImpairment", "Discovery", "Execution", "Exfiltration",
	"Impact", "InitialAccess", "LateralMovement", "PenTest", "Persistence", "Policy", "PrivilegeEscalation",
	"Recon", "Reconnaissance", "ResourceDevelopment", "Stealth", "Trojan", "UnauthorizedAccess",
}

// CheckType reports why typ is not a finding type of the form
// Tactic:Service/Technique with a known tactic, or nil.
func CheckType(typ string) error {
	m := typeRE.FindStringSubmatch(typ)
	switch {
	case len(typ) > 128:
		return errors.New("longer than 128 bytes")
	case m == nil:
		return fmt.Errorf("%q is not of the form Tactic:Service/Technique (e.g. Persistence:IAM/AccountManipulation)", typ)
	case !slices.Contains(Tactics, m[1]):
		return fmt.Errorf("unknown tactic %q (want one of %s)", m[1], strings.Join(Tactics, ", "))
	}
	return nil
}

// ParseSeverity reads a severity: a number from 1 to 10, or Low, Medium,
// High or Critical (GuardDuty's default values 2, 5, 8 and 9).
func ParseSeverity(s string) (float64, error) {
	switch strings.ToLower(s) {
	case "low":
		return 2, nil
	case "medium":
		return 5, nil
	case "high":
		return 8, nil
	case "critical":
		return 9, nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || v < 1 || v > 10 {
		return 0, fmt.Errorf("%q is neither a number from 1 to 10 nor Low, Medium, High or Critical", s)
	}
	return v, nil
}

func (p *parser) rule1(n *yaml.Node) *Rule {
	// The id first, so that every error names the rule.
	p.rule = ""
	var idNode *yaml.Node
	for i := 0; n.Kind == yaml.MappingNode && i+1 < len(n.Content); i += 2 {
		if k, v := n.Content[i], n.Content[i+1]; k.Value == "id" && v.Kind == yaml.ScalarNode && len(v.Value) <= MaxValueLen {
			p.rule, idNode = v.Value, v
			break
		}
	}
	keys, vals := p.mapping(n, "", "id", "type", "severity", "description", "match", "threshold", "disabled")
	if p.err != nil {
		return nil
	}
	switch {
	case idNode == nil && slices.Contains(keys, "id"):
		p.fail(n, "id", "want a scalar of at most %d bytes", MaxIDLen)
	case idNode == nil:
		p.fail(n, "id", "missing")
	case !validID(p.rule):
		p.fail(idNode, "id", "%q is not an id: letters, digits, '.', '_' and '-', at most %d bytes", p.rule, MaxIDLen)
	}
	r := &Rule{ID: p.rule, File: p.file}
	var disabled bool
	var match, threshold *yaml.Node
	for i, k := range keys {
		v := vals[i]
		switch k {
		case "id":
		case "type":
			r.Type = p.scalar(v, k)
			if err := CheckType(r.Type); err != nil && p.err == nil {
				p.fail(v, k, "%v", err)
			}
		case "severity":
			s := p.scalar(v, k)
			sev, err := ParseSeverity(s)
			if err != nil && p.err == nil {
				p.fail(v, k, "%v", err)
			}
			r.Severity = sev
		case "description":
			r.Description = strings.TrimSpace(p.scalar(v, k))
		case "disabled":
			disabled = p.boolean(v, k)
		case "match":
			match = v
		case "threshold":
			threshold = v
		}
	}
	for _, req := range []struct {
		key string
		ok  bool
	}{{"type", r.Type != ""}, {"severity", r.Severity != 0}, {"description", r.Description != ""}, {"match", match != nil}} {
		if !req.ok {
			p.fail(n, req.key, "missing")
		}
	}
	if p.err != nil {
		return nil
	}
	r.Conditions = p.conditions(match)
	if p.err == nil && !r.bindWildcards() {
		p.fail(match, "match", "more than %d distinct wildcards (\"*\") in one rule", maxRuleWildcards)
	}
	if threshold != nil {
		r.Threshold = p.threshold(threshold)
	}
	if p.err != nil || disabled {
		return nil
	}
	return r
}

// conditions reads match: a mapping of field names to a value (equals),
// a list (in), or a mapping of operators to their arguments.
func (p *parser) conditions(n *yaml.Node) []Condition {
	keys, vals := p.mapping(n, "match")
	if p.err != nil {
		return nil
	}
	if len(keys) == 0 {
		p.fail(n, "match", "no condition: a rule must match something")
		return nil
	}
	var out []Condition
	for i, field := range keys {
		key := "match." + field
		get, segs, why := lookupField(field)
		if get == nil && segs == nil {
			p.fail(vals[i], key, "%s", why)
			return nil
		}
		v := vals[i]
		switch v.Kind {
		case yaml.ScalarNode:
			out = append(out, p.condition(v, key, field, get, segs, OpEquals, v))
		case yaml.SequenceNode:
			out = append(out, p.condition(v, key, field, get, segs, OpIn, v))
		case yaml.MappingNode:
			ops, args := p.mapping(v, key, OpEquals, OpPrefix, OpIn, OpNotIn, OpContains, OpCIDR, OpCovers,
				OpAtLeast, OpAtMost, OpAbsent, OpPresent, OpNotEqualsField, OpForeignAccount)
			if len(ops) == 0 && p.err == nil {
				p.fail(v, key, "no operator")
			}
			for j, op := range ops {
				out = append(out, p.condition(args[j], key+"."+op, field, get, segs, op, args[j]))
			}
		default:
			p.fail(v, key, "want a value, a list or operators, got %s", kindName(v))
		}
		if p.err != nil {
			return nil
		}
		if len(out) > MaxConditions {
			p.fail(n, "match", "more than %d conditions", MaxConditions)
			return nil
		}
	}
	return out
}

func (p *parser) condition(n *yaml.Node, key, field string, get getter, segs []string, op string, arg *yaml.Node) Condition {
	c := Condition{Field: field, Op: op, get: get, segs: segs}
	switch op {
	case OpEquals, OpAtLeast, OpAtMost:
		c.Values = []string{p.scalar(arg, key)}
	case OpAbsent, OpPresent, OpForeignAccount:
		if !p.boolean(arg, key) && p.err == nil {
			// "absent: false" reads as present; the others have no
			// negative form.
			if op != OpAbsent {
				p.fail(n, key, "only true is meaningful")
			}
			c.Op = OpPresent
		}
	default:
		c.Values = p.scalars(arg, key)
	}
	if p.err != nil {
		return c
	}
	switch op {
	case OpIn, OpNotIn:
		c.set = make(map[string]struct{}, len(c.Values))
		for _, v := range c.Values {
			c.set[v] = struct{}{}
		}
	case OpCIDR, OpCovers:
		for _, v := range c.Values {
			net, ok := parseNet(v)
			if !ok {
				p.fail(n, key, "%q is not an address or a network in CIDR form", v)
				return c
			}
			c.nets = append(c.nets, net)
		}
	case OpAtLeast, OpAtMost:
		f, err := strconv.ParseFloat(c.Values[0], 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			p.fail(n, key, "%q is not a number", c.Values[0])
		}
		c.num = f
	case OpNotEqualsField:
		for _, f := range c.Values {
			other, segs, why := lookupField(f)
			if segs != nil {
				why = "a wildcard is allowed only in the field a condition tests"
			}
			if other == nil {
				p.fail(n, key, "%q: %s", f, why)
				return c
			}
			c.others = append(c.others, other)
		}
	case OpPrefix, OpContains:
		if slices.Contains(c.Values, "") {
			p.fail(n, key, "an empty string matches everything")
		}
	}
	return c
}

// threshold reads "N within DURATION" or a mapping of count, within and
// groupBy.
func (p *parser) threshold(n *yaml.Node) *Threshold {
	t := &Threshold{}
	var countNode, withinNode *yaml.Node
	var count, within string
	switch n.Kind {
	case yaml.ScalarNode:
		f := strings.Fields(n.Value)
		if len(f) == 4 && f[0] == "count" {
			f = f[1:]
		}
		if len(f) != 3 || f[1] != "within" {
			p.fail(n, "threshold", "want \"count N within DURATION\" or a mapping of count, within, groupBy and distinct")
			return nil
		}
		count, within, countNode, withinNode = f[0], f[2], n, n
	default:
		keys, vals := p.mapping(n, "threshold", "count", "within", "groupBy", "distinct")
		for i, k := range keys {
			switch k {
			case "count":
				count, countNode = p.scalar(vals[i], "threshold.count"), vals[i]
			case "within":
				within, withinNode = p.scalar(vals[i], "threshold.within"), vals[i]
			case "groupBy":
				t.GroupBy = p.scalar(vals[i], "threshold.groupBy")
				var segs []string
				var why string
				if t.group, segs, why = lookupField(t.GroupBy); t.group == nil && p.err == nil {
					if segs != nil {
						why = "a wildcard is allowed only in the field a condition tests"
					}
					p.fail(vals[i], "threshold.groupBy", "%q: %s", t.GroupBy, why)
				}
			case "distinct":
				t.Distinct = p.scalar(vals[i], "threshold.distinct")
				var segs []string
				var why string
				if t.distinct, segs, why = lookupField(t.Distinct); t.distinct == nil && p.err == nil {
					if segs != nil {
						why = "a wildcard is allowed only in the field a condition tests"
					}
					p.fail(vals[i], "threshold.distinct", "%q: %s", t.Distinct, why)
				}
			}
		}
		if countNode == nil {
			p.fail(n, "threshold.count", "missing")
		}
		if withinNode == nil {
			p.fail(n, "threshold.within", "missing")
		}
	}
	if p.err != nil {
		return nil
	}
	c, err := strconv.Atoi(count)
	if err != nil || c < 2 || c > MaxCount {
		p.fail(countNode, "threshold.count", "%q: want a whole number from 2 to %d (1 is a rule without a threshold)", count, MaxCount)
		return nil
	}
	d, err := time.ParseDuration(within)
	if err != nil || d < MinWithin || d > MaxWithin {
		p.fail(withinNode, "threshold.within", "%q: want a duration from %v to %v (\"10m\", \"1h\")", within, MinWithin, MaxWithin)
		return nil
	}
	t.Count, t.Within = c, d
	return t
}

// New joins parsed files into a set: rule ids must be unique, the ids a
// file disables are left out (an id no file defines is an error, to catch
// typos), and the set stays within MaxRules and MaxThresholdRules.
func New(files ...*File) (*Set, error) {
	byID := map[string]*Rule{}
	var all []*Rule
	for _, f := range files {
		for _, r := range f.Rules {
			if prev, ok := byID[r.ID]; ok {
				return nil, &Error{File: f.Name, Rule: r.ID, Msg: "id already used by a rule of " + prev.File}
			}
			byID[r.ID] = r
			all = append(all, r)
		}
	}
	off := map[string]bool{}
	for _, f := range files {
		for _, id := range f.Disable {
			if byID[id] == nil {
				return nil, &Error{File: f.Name, Key: "disable", Msg: fmt.Sprintf("no rule has the id %q", id)}
			}
			off[id] = true
		}
	}
	all = slices.DeleteFunc(all, func(r *Rule) bool { return off[r.ID] })
	slices.SortFunc(all, func(a, b *Rule) int { return strings.Compare(a.ID, b.ID) })
	if len(all) > MaxRules {
		return nil, fmt.Errorf("rules: %d rules, more than %d", len(all), MaxRules)
	}
	n := 0
	for _, r := range all {
		if r.Threshold != nil {
			n++
		}
	}
	if n > MaxThresholdRules {
		return nil, fmt.Errorf("rules: %d rules with a threshold, more than %d (each keeps windows in every principal's profile)", n, MaxThresholdRules)
	}
	return newSet(all), nil
}

// Load reads the rule files (*.yaml, *.yml, *.json) at the top of fsys,
// in name order, and joins them with the starter rules when starter is
// set.
func Load(fsys fs.FS, starter bool) (*Set, error) {
	var files []*File
	if starter {
		files = append(files, starterFiles()...)
	}
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	n := 0
	for _, e := range entries {
		switch path.Ext(e.Name()) {
		case ".yaml", ".yml", ".json":
		default:
			continue
		}
		if e.IsDir() {
			continue
		}
		if n++; n > MaxFiles {
			return nil, fmt.Errorf("rules: more than %d rule files", MaxFiles)
		}
		f, err := readFile(fsys, e.Name())
		if err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	return New(files...)
}

// LoadDir is Load of a directory; errors name the files by their path.
func LoadDir(dir string, starter bool) (*Set, error) {
	s, err := Load(os.DirFS(dir), starter)
	var e *Error
	if errors.As(err, &e) && !strings.HasPrefix(e.File, starterDir+"/") {
		e.File = filepath.Join(dir, e.File)
	}
	return s, err
}

func readFile(fsys fs.FS, name string) (*File, error) {
	fh, err := fsys.Open(name)
	if err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	defer fh.Close()
	b, err := io.ReadAll(io.LimitReader(fh, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("rules: %s: %w", name, err)
	}
	return Parse(name, b)
}
