package detect

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/vigil-sec/vigil/event"
	"github.com/vigil-sec/vigil/findings"
	"github.com/vigil-sec/vigil/profiles"
)

// CredentialAccess:IAMUser/CompromisedCredentials (High): a long-term IAM
// user access key (AKIA...) known to be leaked was used. A root user's key
// on the --leaked-keys list counts too.
//
// GuardDuty knows a key is leaked from AWS's own threat intelligence
// (public code repositories and paste sites AWS scans), which nothing in
// CloudTrail carries and vigil cannot see. vigil's version knows a key is
// leaked when
//
//   - its id is in the --leaked-keys file (one key id a line, with an
//     optional "# note"): the operator's own feed, from a secret scanner
//     or AWS Support's notice; or
//   - AWS quarantined it: AWS puts an AWSCompromisedKeyQuarantine policy
//     (V1 to V3) on a user whose key it found exposed. When the user's
//     profile sees that (a PutUserPolicy or AttachUserPolicy made with the
//     user's own identity, as AWS logs it, naming the user), every key the
//     user had used by then is taken as leaked from that time; and a call
//     denied with an error message naming the quarantine policy marks the
//     key that made it.
//
// The finding is raised for each later use of such a key by anyone but
// AWS: not for the quarantine itself, nor for calls an AWS service makes
// (invokedBy, or a service host name as sourceIPAddress). A quarantine
// attached by another principal (an administrator, or AWS acting through
// a role) is logged under that principal and reaches its profile, not the
// user's: vigil then knows of it only through the denied calls. Keys the
// user first used after the quarantine are new keys, not taken as leaked.
//
// Aggregation key: (account, region, type, principal, access key).

// quarantinePolicy is the name prefix of AWS's quarantine policies.
const quarantinePolicy = "AWSCompromisedKeyQuarantine"

func (e *Engine) compromisedCredentials(p *profiles.Principal, ev *event.Event, out []findings.Finding) []findings.Finding {
	ct := ev.CloudTrail
	id := &ct.Identity
	if id.Type != "IAMUser" && id.Type != "Root" {
		return out
	}
	t := ev.Time
	marker := quarantineOfSelf(ct)
	if marker {
		p.Credentials.ObserveQuarantine(t)
	}
	if !strings.HasPrefix(id.AccessKeyID, leakedKeyPrefix) {
		return out
	}
	denied := ct.ErrorCode != "" && strings.Contains(ct.ErrorMessage, quarantinePolicy)
	p.Credentials.ObserveKey(id.AccessKeyID, t, denied)
	if marker || id.InvokedBy != "" || serviceCaller(ct.SourceIP) {
		return out
	}
	key := p.Credentials.Key(id.AccessKeyID)
	var evidence []string
	if note, ok := e.cfg.LeakedKeys.Lookup(id.AccessKeyID); ok {
		s := "listed as leaked in " + e.cfg.LeakedKeys.Source()
		if note != "" {
			s += " (" + note + ")"
		}
		evidence = append(evidence, s)
	}
	if key != nil && !key.DeniedByQuarantine.IsZero() && !key.DeniedByQuarantine.After(t) {
		evidence = append(evidence, "a call with the key was denied by AWS's "+quarantinePolicy+" policy at "+stamp(key.DeniedByQuarantine))
	}
	if q := p.Credentials.QuarantinedAt; key != nil && !q.IsZero() && !q.After(t) && !key.FirstSeen.After(q) {
		evidence = append(evidence, "AWS put a "+quarantinePolicy+" policy on the user at "+stamp(q)+
			"; the key was in use since "+stamp(key.FirstSeen))
	}
	if len(evidence) == 0 {
		return out
	}
	f := callFinding(TypeCompromisedCredentials, findings.SeverityHigh, p, ev, nil, id.AccessKeyID)
	f.Title = "Leaked access key " + id.AccessKeyID + " of " + principalLabel(id) + " was used."
	f.Description = "The long-term access key " + id.AccessKeyID + " of " + principalLabel(id) + ", known to be leaked (" +
		strings.Join(evidence, "; ") + "), was used to call " + ct.EventName + ". Deactivate the key and review what it did."
	if f.Service.AdditionalInfo == nil {
		f.Service.AdditionalInfo = findings.AdditionalInfo{}
	}
	f.Service.AdditionalInfo["leakedKey"] = map[string]any{"accessKeyId": id.AccessKeyID, "evidence": evidence}
	return append(out, f)
}

// quarantineOfSelf reports whether ct puts a quarantine policy on the user
// that made it (as AWS's quarantine is logged).
func quarantineOfSelf(ct *event.CloudTrail) bool {
	if ct.EventSource != iamSource || !succeeded(ct) {
		return false
	}
	params := ct.RequestParameters
	var policy string
	switch ct.EventName {
	case "AttachUserPolicy":
		policy = params["policyArn"]
		policy = policy[strings.LastIndexByte(policy, '/')+1:]
	case "PutUserPolicy":
		policy = params["policyName"]
	default:
		return false
	}
	return strings.HasPrefix(policy, quarantinePolicy) && params["userName"] != "" && params["userName"] == ct.Identity.UserName
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// Bounds of a leaked-keys file.
const (
	MaxLeakedKeys   = 1 << 20
	maxLeakedLine   = 1 << 10
	maxLeakedNote   = 256
	leakedKeyPrefix = "AKIA"
)

// LeakedKeys is a list of long-term access key ids known to be leaked,
// each with an optional note. It is immutable; a nil list holds no key.
type LeakedKeys struct {
	source string
	notes  map[string]string
}

// LoadLeakedKeys reads a leaked-keys file (see ParseLeakedKeys).
func LoadLeakedKeys(path string) (*LeakedKeys, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("leaked keys: %w", err)
	}
	defer f.Close()
	return ParseLeakedKeys(f, path)
}

// ParseLeakedKeys reads one access key id a line, optionally followed by
// "# note"; blank lines and lines starting with '#' are skipped. A line
// that is not a long-term key id ("AKIA" and 16 capital letters or
// digits) fails the whole file, with its line number.
func ParseLeakedKeys(r io.Reader, source string) (*LeakedKeys, error) {
	l := &LeakedKeys{source: source, notes: map[string]string{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 256), maxLeakedLine)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		key, note, _ := strings.Cut(line, "#")
		key, note = strings.TrimSpace(key), strings.TrimSpace(note)
		if !isLongTermKeyID(key) {
			return nil, fmt.Errorf("leaked keys %s: line %d: %q is not a long-term access key id (AKIA and 16 capital letters or digits)", source, n, clipLeakedNote(key, 40))
		}
		if len(l.notes) >= MaxLeakedKeys {
			return nil, fmt.Errorf("leaked keys %s: more than %d keys", source, MaxLeakedKeys)
		}
		l.notes[key] = clipLeakedNote(strings.ToValidUTF8(note, ""), maxLeakedNote)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("leaked keys %s: line %d longer than %d bytes", source, n+1, maxLeakedLine)
		}
		return nil, fmt.Errorf("leaked keys %s: %w", source, err)
	}
	return l, nil
}

// isLongTermKeyID reports whether s is an IAM user's access key id.
func isLongTermKeyID(s string) bool {
	if len(s) != 20 || !strings.HasPrefix(s, leakedKeyPrefix) {
		return false
	}
	for _, c := range s[4:] {
		if (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// clipLeakedNote cuts s to at most n bytes on a rune boundary.
func clipLeakedNote(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

// Lookup returns the note of key id and whether the list holds it.
func (l *LeakedKeys) Lookup(id string) (note string, ok bool) {
	if l == nil {
		return "", false
	}
	note, ok = l.notes[id]
	return note, ok
}

// Len returns how many keys the list holds.
func (l *LeakedKeys) Len() int {
	if l == nil {
		return 0
	}
	return len(l.notes)
}

// Source names the file the list was read from.
func (l *LeakedKeys) Source() string {
	if l == nil {
		return ""
	}
	return l.source
}
