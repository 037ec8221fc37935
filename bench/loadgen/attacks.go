package loadgen

import (
	"fmt"
	"math"
	"time"

	"github.com/vigil-sec/vigil/detect"
	"github.com/vigil-sec/vigil/event"
	"github.com/vigil-sec/vigil/findings"
	"github.com/vigil-sec/vigil/sources"
)

// Kind is a kind of attack the generator injects.
type Kind int

// The attacks, one detector each, at least one per source.
const (
	StopLogging   Kind = iota // a principal stops a trail: Stealth:IAMUser/CloudTrailLoggingDisabled
	RootUsage                 // an API call with root credentials: Policy:IAMUser/RootCredentialUsage
	Portscan                  // an interface probes 25 ports of a private host: Recon:EC2/Portscan
	SSHBruteForce             // an internet host opens 10 SSH connections to an instance: UnauthorizedAccess:EC2/SSHBruteForce (TARGET)
	DNSTunnel                 // an instance queries 30 encoded names under one domain: Trojan:EC2/DNSDataExfiltration
	CryptoDNS                 // an instance resolves a mining pool: CryptoCurrency:EC2/BitcoinTool.B!DNS
	numKinds
)

var kindNames = [...]string{"stop-logging", "root-usage", "portscan", "ssh-bruteforce", "dns-tunnel", "crypto-dns"}

func (k Kind) String() string {
	if k >= 0 && k < numKinds {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Source is the log the attack shows in.
func (k Kind) Source() event.Source {
	switch k {
	case StopLogging, RootUsage:
		return event.SourceCloudTrail
	case Portscan, SSHBruteForce:
		return event.SourceVPCFlow
	}
	return event.SourceDNS
}

// FindingType is the finding type the attack must raise.
func (k Kind) FindingType() string {
	return [...]string{detect.TypeCloudTrailLoggingDisabled, detect.TypeRootCredentialUsage, detect.TypePortscan,
		detect.TypeSSHBruteForce, detect.TypeDNSDataExfiltration, detect.TypeBitcoinToolDNS}[k]
}

// KindsFor returns the attacks that show in the given sources.
func KindsFor(srcs []event.Source) []Kind {
	var out []Kind
	for k := range numKinds {
		for _, s := range srcs {
			if k.Source() == s {
				out = append(out, k)
			}
		}
	}
	return out
}

// Attack is one injected attack: its records, in the order to produce
// them, and the finding it must raise.
type Attack struct {
	// Seq numbers the generator's attacks from 0.
	Seq    int
	Kind   Kind
	Source event.Source
	// Records are the attack's log records, all of Source.
	Records [][]byte
	// Completes is the index of the record that completes the attack: the
	// first record after which its detector can fire. Latency is measured
	// from the moment it is produced.
	Completes int
	// Finding is the finding the attack must raise.
	Finding Expected
	// Markers are strings that name the attack's entities (its principal,
	// root account, interface or instance) in finding JSON: a finding
	// that holds one is about the attack, not about the background.
	Markers []string
}

// Expected is an expected finding: its type, id and the entity it is
// about, as vigil keys it.
type Expected struct {
	Type    string `json:"type"`
	ID      string `json:"id"`
	Account string `json:"account"`
	Region  string `json:"region"`
	Entity  string `json:"entity"`
}

// Attack builds the next attack of kind k, at the generator's current
// event time. It draws from its own random source: the background records
// that follow are the same whether or not attacks are injected.
func (g *Generator) Attack(k Kind) (*Attack, error) {
	a := &Attack{Seq: g.attacks, Kind: k, Source: k.Source()}
	g.attacks++
	n := a.Seq
	t0 := g.now.Truncate(time.Second)
	r := g.atk
	account := g.accounts[r.IntN(len(g.accounts))]
	region := g.cfg.Regions[r.IntN(len(g.cfg.Regions))]
	tag := fmt.Sprintf("%s%04d", g.cfg.Tag, n)
	var extra string
	switch k {
	case StopLogging:
		p := principal{kind: kindUser, account: account, name: "deploy-bot-" + tag,
			id: fmt.Sprintf("AIDA%016X", r.Uint64()>>4), key: fmt.Sprintf("AKIA%016X", r.Uint64()>>4),
			ua: 0, uaVersion: 30, ip: publicIP(9_100_000 + n)}
		a.Records = [][]byte{
			g.appendEvent(nil, r, &p, &api{source: "sts.amazonaws.com", name: "GetCallerIdentity", read: true}, "us-east-1", t0, false, ""),
			g.appendEvent(nil, r, &p, &api{source: "cloudtrail.amazonaws.com", name: "DescribeTrails", read: true}, region, t0.Add(20*time.Second), false, `{"includeShadowTrails":true}`),
			g.appendEvent(nil, r, &p, &api{source: "cloudtrail.amazonaws.com", name: "StopLogging"}, region, t0.Add(45*time.Second), false,
				`{"name":"arn:aws:cloudtrail:`+region+`:`+account+`:trail/management-events"}`),
		}
		a.Completes, extra = 2, "management-events"
		a.Markers = []string{p.name}
	case RootUsage:
		root := fmt.Sprintf("9%011d", r.Uint64()%99999999999)
		p := principal{kind: kindRoot, account: root, key: fmt.Sprintf("ASIA%016X", r.Uint64()>>4), ua: len(uaFamilies) - 1, ip: publicIP(9_200_000 + n)}
		a.Records = [][]byte{
			g.appendEvent(nil, r, &p, &api{source: "ec2.amazonaws.com", name: "DescribeInstances", read: true}, region, t0, false, `{"instancesSet":{},"filterSet":{}}`),
			g.appendEvent(nil, r, &p, &api{source: "ec2.amazonaws.com", name: "DescribeSecurityGroups", read: true}, region, t0.Add(30*time.Second), false, ""),
		}
		a.Completes = 0
		a.Markers = []string{root}
	case Portscan:
		in := g.attackInstance(account, 240, n)
		target := privateIP(241, n)
		start := t0.Unix()
		rec := func(src, dst string, sp, dp, pk, by int, at int64, accept bool) {
			a.Records = append(a.Records, appendFlow(nil, in.account, in.eni, src, dst, sp, dp, 6, pk, by, at, at+1, accept))
		}
		// The interface's own address shows first, in a connection to an
		// internet host; then a connect scan of 25 ports, each a rejected
		// single SYN from a new source port.
		web := publicIP(9_300_000 + n)
		rec(in.ip, web, 40000+n%20000, 443, 12, 4200, start, true)
		rec(web, in.ip, 443, 40000+n%20000, 10, 21000, start, true)
		for i, port := range scanPorts[:detect.DefaultPortscanPorts] {
			rec(in.ip, target, 45000+i, port, 1, 44, start+5+int64(i)/5, false)
		}
		a.Completes = len(a.Records) - 1
		a.Markers = []string{in.eni}
	case SSHBruteForce:
		in := g.attackInstance(account, 242, n)
		attacker := publicIP(9_400_000 + n)
		start := t0.Unix()
		for i := range detect.DefaultSSHInboundAttempts {
			at, port := start+int64(6*i), 40000+r.IntN(20000)
			pk := 10 + r.IntN(12)
			a.Records = append(a.Records,
				appendFlow(nil, in.account, in.eni, attacker, in.ip, port, 22, 6, pk, pk*80, at, at+5, true),
				appendFlow(nil, in.account, in.eni, in.ip, attacker, 22, port, 6, pk-1, pk*110, at, at+5, true))
		}
		a.Completes, extra = len(a.Records)-2, findings.RoleTarget
		a.Markers = []string{in.eni}
	case DNSTunnel:
		in := g.attackInstance(account, 243, n)
		in.region = region
		domain := fmt.Sprintf("%s%s.net", tunnelDomains[r.IntN(len(tunnelDomains))], tag)
		a.Records = append(a.Records, g.appendQuery(nil, &in, "ssm."+region+".amazonaws.com", "A", "NOERROR", t0, 40000+n%20000, false))
		for i := range detect.DefaultDNSTunnelNames {
			name := base32Label(g, 40+r.IntN(17)) + "." + domain
			a.Records = append(a.Records, g.appendQuery(nil, &in, name, "TXT", "NOERROR", t0.Add(time.Duration(1+2*i)*time.Second), 40000+r.IntN(20000), false))
		}
		a.Completes, extra = len(a.Records)-1, domain
		a.Markers = []string{in.id}
	case CryptoDNS:
		in := g.attackInstance(account, 244, n)
		in.region = region
		pool := miningPools[r.IntN(len(miningPools))]
		a.Records = [][]byte{
			g.appendQuery(nil, &in, "api.github.com", "A", "NOERROR", t0, 40000+n%20000, false),
			g.appendQuery(nil, &in, pool, "A", "NOERROR", t0.Add(10*time.Second), 40000+r.IntN(20000), false),
		}
		a.Completes, extra = 1, pool
		a.Markers = []string{in.id}
	default:
		return nil, fmt.Errorf("loadgen: unknown attack %v", k)
	}
	ev, err := decodeOne(a.Source, a.Records[a.Completes])
	if err != nil {
		return nil, fmt.Errorf("loadgen: %s attack: %w", k, err)
	}
	if ev.Region == "" {
		ev.Region = g.cfg.DefaultRegion
	}
	key := []string{ev.Entity}
	if extra != "" {
		key = append(key, extra)
	}
	a.Finding = Expected{Type: k.FindingType(), Account: ev.Account, Region: ev.Region, Entity: ev.Entity}
	a.Finding.ID = findings.ID(a.Finding.Type, append([]string{ev.Account, ev.Region}, key...)...)
	return a, nil
}

// attackInstance is a fresh instance (and interface) for attack n, with an
// address in block 10.<base>.
func (g *Generator) attackInstance(account string, base, n int) instance {
	r := g.atk
	return instance{account: account, region: g.cfg.DefaultRegion,
		eni: fmt.Sprintf("eni-0%016x", r.Uint64()), id: fmt.Sprintf("i-0%016x", r.Uint64()),
		vpc: fmt.Sprintf("vpc-0%016x", mix(uint64(len(account))+g.cfg.Seed)), ip: privateIP(base, n)}
}

// scanPorts are nmap's most scanned TCP ports.
var scanPorts = []int{80, 23, 443, 21, 22, 25, 3389, 110, 445, 139, 143, 53, 135, 3306, 8080, 1723, 111, 995, 993, 5900, 1025, 587, 8888, 199, 1720, 465, 548, 113, 81, 6001}

var (
	tunnelDomains = []string{"cdn-sync-", "telemetry-", "upd-", "static-"}
	miningPools   = []string{"pool.minexmr.com", "xmr-eu1.nanopool.org", "pool.supportxmr.com", "gulf.moneroocean.stream", "xmr.pool.minergate.com"}
)

// base32Label returns n characters of base32 (RFC 4648, lower case), as
// DNS tunnels (iodine, dnscat2) encode data. Random base32 looks encoded
// to the detector (letters and digits alternating often, high entropy)
// almost always; the rare draw that does not is drawn again, so that every
// name of a tunnel counts and the attack completes at its last name.
func base32Label(g *Generator, n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz234567"
	b := make([]byte, n)
	for {
		var counts [256]int
		switches := 0
		for i := range b {
			b[i] = alphabet[g.atk.IntN(len(alphabet))]
			counts[b[i]]++
			if i > 0 && isDigit(b[i]) != isDigit(b[i-1]) {
				switches++
			}
		}
		h := 0.0
		for _, c := range counts {
			if c > 0 {
				p := float64(c) / float64(n)
				h -= p * math.Log2(p)
			}
		}
		// detect's encodedLabel wants max(4, n/8) switches and 3.5 bits a
		// character; a margin above both.
		if switches >= max(6, n/6) && h >= 3.8 {
			return string(b)
		}
	}
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// decodeOne decodes a record that holds one event, with vigil's decoders.
func decodeOne(src event.Source, rec []byte) (event.Event, error) {
	var (
		out   event.Event
		n     int
		err   error
		emit  = func(ev *event.Event) { out = *ev; n++ }
		limit = sources.Limits{}
	)
	switch src {
	case event.SourceCloudTrail:
		_, err = sources.NewCloudTrailDecoder(limit).Decode(rec, emit)
	case event.SourceVPCFlow:
		var d *sources.FlowDecoder
		if d, err = sources.NewFlowDecoder("", limit); err == nil {
			_, err = d.Decode(rec, emit)
		}
	case event.SourceDNS:
		_, err = sources.NewDNSDecoder(limit).Decode(rec, emit)
	}
	if err == nil && n != 1 {
		err = fmt.Errorf("%d events in the record, want 1", n)
	}
	return out, err
}
