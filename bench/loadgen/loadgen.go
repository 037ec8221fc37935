// Package loadgen generates the records of a simulated AWS organisation
// for vigil's load tests: CloudTrail management events, VPC flow-log lines
// (version 2 default format) and Route 53 Resolver query-log lines, with
// the shape of real traffic, and attacks injected on demand whose expected
// findings are known in advance.
//
// The organisation has accounts, principals, instances (one network
// interface each) and remote hosts in configurable numbers. Popularity is
// Zipf-like: a few principals and instances make most of the traffic, as
// automation roles and front-end servers do. Event times advance along a
// day curve: the simulated organisation is busiest in the afternoon and
// quietest before dawn, so the gap between records' event times follows
// the curve (DayFactor) and a run covers DayRecords records per simulated
// day.
//
// Background fields follow real distributions: CloudTrail's service mix
// with about 80 % read-only calls, a few per cent errors, a twelfth of the
// events from global services (IAM, STS, ...; broadcast by vigil to every
// enabled region), user agents of a handful of SDK, CLI, Terraform and
// console families; flow logs with web, application, worker and database
// instances, replies logged as their own records, about 5 % rejected
// (internet noise), bytes and packets by kind of connection; DNS with a
// Zipf mix of popular, AWS and internal names and a few per cent NXDOMAIN.
// The background is built not to reach any detector's threshold: it has no
// root use, no trail stopped, no scans, no tunnels and no mining pools, so
// every finding outside the injected attacks is a false one.
//
// The same Config gives the same background records, whatever attacks are
// injected between them (attacks draw from their own random source).
package loadgen

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"slices"
	"time"

	"github.com/vigil-sec/vigil/event"
	"github.com/vigil-sec/vigil/intel"
)

// Config describes the simulated organisation.
type Config struct {
	// Seed makes generation repeatable. Default 1.
	Seed uint64
	// Start is the event time of the first record. Default
	// 2025-03-10T00:00:00Z (a Monday, midnight: the day curve's trough
	// comes first).
	Start time.Time
	// Accounts, Principals, Instances and RemoteHosts size the
	// organisation. Defaults: see ForEntities(2000).
	Accounts, Principals, Instances, RemoteHosts int
	// Regions are the regions the organisation works in; the first is
	// its main region. Default us-east-1, us-west-2, eu-west-1.
	Regions []string
	// DefaultRegion is the region vigil gives records that carry none
	// (flow logs in the version 2 format); it places the expected
	// findings of flow-log attacks. Default us-east-1.
	DefaultRegion string
	// DayRecords is how many records make one simulated day (of one
	// source; a mixed stream shares one clock). Default 2,000,000: a
	// 20-second phase at 10,000 records/s covers about 2.4 hours.
	DayRecords int
	// Zipf is the exponent of the popularity of principals, instances
	// and remote hosts (above 1). Default 1.1: the top 1 % of entities
	// make about half of the traffic. Uniform draws them all alike
	// instead, so that a run touches every entity soon: to measure
	// memory and storage at a given number of entities.
	Zipf    float64
	Uniform bool
	// Tag goes into the names of attack entities so that attacks of
	// different runs never share a finding id. Default: derived from Seed.
	Tag string
}

// ForEntities returns the configuration of an organisation of about n
// principals and n instances, with 10 n remote hosts and an account per
// 250 principals (1 to 64).
func ForEntities(n int) Config {
	n = max(n, 10)
	return Config{
		Principals:  n,
		Instances:   n,
		RemoteHosts: 10 * n,
		Accounts:    min(max(n/250, 1), 64),
	}
}

func (c *Config) defaults() {
	def := ForEntities(2000)
	if c.Seed == 0 {
		c.Seed = 1
	}
	if c.Start.IsZero() {
		c.Start = time.Date(2025, 3, 10, 0, 0, 0, 0, time.UTC)
	}
	if c.Accounts <= 0 {
		c.Accounts = def.Accounts
	}
	if c.Principals <= 0 {
		c.Principals = def.Principals
	}
	if c.Instances <= 0 {
		c.Instances = def.Instances
	}
	if c.RemoteHosts <= 0 {
		c.RemoteHosts = def.RemoteHosts
	}
	if len(c.Regions) == 0 {
		c.Regions = []string{"us-east-1", "us-west-2", "eu-west-1"}
	}
	if c.DefaultRegion == "" {
		c.DefaultRegion = "us-east-1"
	}
	if c.DayRecords <= 0 {
		c.DayRecords = 2_000_000
	}
	if c.Zipf <= 1 {
		c.Zipf = 1.1
	}
	if c.Tag == "" {
		c.Tag = fmt.Sprintf("%04x", mix(c.Seed)&0xffff)
	}
}

// Record is one generated log record.
type Record struct {
	Source event.Source
	Value  []byte
}

// Mix is the share of each source in a mixed stream: flow logs dominate
// real volumes, then DNS, then CloudTrail.
var Mix = map[event.Source]float64{event.SourceVPCFlow: 0.6, event.SourceDNS: 0.25, event.SourceCloudTrail: 0.15}

// Generator makes records. It is not safe for concurrent use.
type Generator struct {
	cfg Config
	rng *rand.Rand
	// atk draws the attacks, so that injecting them leaves the background
	// unchanged.
	atk *rand.Rand

	principals, instances, remotes popularity
	domains                        *rand.Zipf

	now     time.Time
	step    float64 // mean event-time seconds between records
	carry   float64 // fractional nanoseconds not yet added to now
	pending []Record
	attacks int

	accounts []string
	regionW  []float64 // cumulative region weights
}

// popularity draws an entity's index: a *rand.Zipf, or uniform.
type popularity interface{ Uint64() uint64 }

// uniform draws indexes in [0, n) alike.
type uniform struct {
	rng *rand.Rand
	n   uint64
}

func (u uniform) Uint64() uint64 { return u.rng.Uint64N(u.n) }

// New returns a generator.
func New(cfg Config) *Generator {
	cfg.defaults()
	g := &Generator{
		cfg:  cfg,
		rng:  rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		atk:  rand.New(rand.NewPCG(cfg.Seed^0xa5a5a5a5, cfg.Seed+0x51ed270b)),
		now:  cfg.Start,
		step: 86400 / float64(cfg.DayRecords),
	}
	draw := func(n int) popularity {
		if cfg.Uniform {
			return uniform{g.rng, uint64(n)}
		}
		return rand.NewZipf(g.rng, cfg.Zipf, 1, uint64(n-1))
	}
	g.principals, g.instances, g.remotes = draw(cfg.Principals), draw(cfg.Instances), draw(cfg.RemoteHosts)
	g.domains = rand.NewZipf(g.rng, 1.2, 1, uint64(len(popularDomains)-1))
	for i := range cfg.Accounts {
		g.accounts = append(g.accounts, fmt.Sprintf("%012d", 100000000000+mix(cfg.Seed+uint64(i))%899999999999))
	}
	// The main region carries half the activity, the others share the rest.
	sum := 0.0
	for i := range cfg.Regions {
		w := 0.5
		if i > 0 {
			w = 0.5 / float64(len(cfg.Regions)-1)
		}
		if len(cfg.Regions) == 1 {
			w = 1
		}
		sum += w
		g.regionW = append(g.regionW, sum)
	}
	return g
}

// Config returns the generator's configuration with its defaults.
func (g *Generator) Config() Config { return g.cfg }

// Now returns the event time the next record will carry (about).
func (g *Generator) Now() time.Time { return g.now }

// DayFactor is the activity at time t relative to the day's mean: 0.4 at
// 02:00, 1.6 at 14:00 (UTC, the organisation's working day).
func DayFactor(t time.Time) float64 {
	h := float64(t.Hour()) + float64(t.Minute())/60 + float64(t.Second())/3600
	return 1 + 0.6*math.Cos(2*math.Pi*(h-14)/24)
}

// tick advances the simulated clock by one record's share of the day.
func (g *Generator) tick() {
	g.carry += g.step / DayFactor(g.now) * 1e9
	d := time.Duration(g.carry)
	g.carry -= float64(d)
	g.now = g.now.Add(d)
}

// Next returns the next background record of src.
func (g *Generator) Next(src event.Source) Record {
	// A reply queued by a flow is its own record, logged right after.
	if src == event.SourceVPCFlow && len(g.pending) > 0 {
		r := g.pending[0]
		g.pending = g.pending[1:]
		return r
	}
	g.tick()
	switch src {
	case event.SourceCloudTrail:
		return Record{Source: src, Value: g.cloudTrail()}
	case event.SourceVPCFlow:
		return Record{Source: src, Value: g.flow()}
	case event.SourceDNS:
		return Record{Source: src, Value: g.dns()}
	}
	panic(fmt.Sprintf("loadgen: unknown source %v", src))
}

// NextOf returns the next background record of one of srcs, drawn by Mix.
func (g *Generator) NextOf(srcs []event.Source) Record {
	if len(srcs) == 1 {
		return g.Next(srcs[0])
	}
	if len(g.pending) > 0 && slices.Contains(srcs, event.SourceVPCFlow) {
		return g.Next(event.SourceVPCFlow)
	}
	total := 0.0
	for _, s := range srcs {
		total += Mix[s]
	}
	x := g.rng.Float64() * total
	for _, s := range srcs {
		if x -= Mix[s]; x < 0 {
			return g.Next(s)
		}
	}
	return g.Next(srcs[len(srcs)-1])
}

// Records returns n background records of src.
func (g *Generator) Records(src event.Source, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = g.Next(src).Value
	}
	return out
}

func (g *Generator) region() string {
	x := g.rng.Float64() * g.regionW[len(g.regionW)-1]
	for i, w := range g.regionW {
		if x < w {
			return g.cfg.Regions[i]
		}
	}
	return g.cfg.Regions[0]
}

// regionOf is the home region of entity i.
func (g *Generator) regionOf(i int) string {
	x := float64(mix(uint64(i)*31+7)%1000) / 1000 * g.regionW[len(g.regionW)-1]
	for j, w := range g.regionW {
		if x < w {
			return g.cfg.Regions[j]
		}
	}
	return g.cfg.Regions[0]
}

// mix is SplitMix64's finaliser: ids that look random but follow from
// their index.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// uuid appends a random version-4 UUID.
func uuid(b []byte, r *rand.Rand) []byte {
	const hex = "0123456789abcdef"
	u := r.Uint64()
	v := r.Uint64()
	for i := range 32 {
		if i == 8 || i == 12 || i == 16 || i == 20 {
			b = append(b, '-')
		}
		var nib uint64
		if i < 16 {
			nib = u >> (4 * i) & 15
		} else {
			nib = v >> (4 * (i - 16)) & 15
		}
		switch i {
		case 12:
			nib = 4
		case 16:
			nib = 8 | nib&3
		}
		b = append(b, hex[nib])
	}
	return b
}

// publicIP returns the i-th address of the pool of remote internet hosts:
// spread over public ranges, never private, shared or documentation ones.
func publicIP(i int) string {
	for {
		h := mix(uint64(i) + 0x1234)
		first := []int{3, 13, 18, 23, 34, 35, 44, 52, 54, 63, 64, 66, 69, 72, 74, 76, 91, 93, 104, 108, 136, 140, 142, 151, 157, 162, 172, 185, 199, 203, 208, 216}
		a := first[h%uint64(len(first))]
		b := int(h>>8) % 256
		if a == 172 && b >= 16 && b < 32 { // 172.16/12 is private
			b += 16
		}
		if a == 203 && b == 0 { // 203.0.113/24 is documentation
			b = 1
		}
		addr := netip.AddrFrom4([4]byte{byte(a), byte(b), byte(int(h>>16) % 256), byte(int(h>>24)%254 + 1)})
		// An address on a built-in threat list would make its caller a
		// finding no attack explains: take another.
		if intel.Default().IP(addr) == nil {
			return addr.String()
		}
		i += 1 << 40
	}
}
