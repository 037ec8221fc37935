package loadgen

import (
	"fmt"
	"strconv"

	"github.com/vigil-sec/vigil/event"
)

// Instance roles, by what their interfaces' logs show.
const (
	roleWeb    = iota // serves the internet on 443/80
	roleApp           // calls public APIs and private databases, serves the load balancer
	roleWorker        // moves data to and from S3
	roleDB            // serves the applications
)

// instance is instance i and its one network interface, derived from i.
type instance struct {
	account, region string
	eni, id, vpc    string
	ip              string
	role            int
}

func (g *Generator) instance(i int) instance {
	h := mix(uint64(i)*0x2545f4914f6cdd1d ^ g.cfg.Seed)
	in := instance{
		account: g.accounts[i%len(g.accounts)],
		region:  g.regionOf(i + 1<<30),
		eni:     fmt.Sprintf("eni-0%016x", h),
		id:      fmt.Sprintf("i-0%016x", mix(h)),
		ip:      privateIP(10, i),
	}
	in.vpc = fmt.Sprintf("vpc-0%016x", mix(uint64(i%len(g.accounts))+g.cfg.Seed))
	switch r := h >> 60; {
	case r < 5:
		in.role = roleWeb
	case r < 11:
		in.role = roleApp
	case r < 14:
		in.role = roleWorker
	default:
		in.role = roleDB
	}
	return in
}

// privateIP returns the i-th address of a 10.0.0.0/8 block whose second
// octet starts at base (instances 10-109, databases 200, load balancers
// 210, bastions 220, attacks 240 and up).
func privateIP(base, i int) string {
	return fmt.Sprintf("10.%d.%d.%d", base+(i/64516)%100, (i/254)%254+1, i%254+1)
}

// Ports and their connection shapes.
var (
	dbPorts    = []int{5432, 5432, 3306, 6379, 9200, 27017}
	apiPorts   = []int{443, 443, 443, 443, 443, 80}
	noisePorts = []int{22, 23, 445, 3389, 1433, 8080, 5900, 6379, 2375, 9200, 8443, 81, 8888, 5060, 3306, 25}
)

// flow makes one background flow record, and queues its reply when it was
// accepted.
func (g *Generator) flow() []byte {
	in := g.instance(int(g.instances.Uint64()))
	var (
		src, dst             string
		sport, dport, proto  = 0, 0, 6
		pk, byt, rpk, rbyt   int
		accept, reply, local = true, true, in.ip
	)
	eph := 32768 + g.rng.IntN(28232)
	out := func(remote string, port int) { src, dst, sport, dport = local, remote, eph, port }
	in2 := func(remote string, port int) { src, dst, sport, dport = remote, local, eph, port }
	x := g.rng.IntN(1000)
	switch {
	case x < 100: // internet noise: probes of closed ports, rejected (about 5 % of records, replies counted)
		in2(publicIP(g.rng.IntN(1<<20)+5_000_000), noisePorts[g.rng.IntN(len(noisePorts))])
		accept, reply, pk = false, false, 1+g.rng.IntN(2)
		byt = pk * 44
	case x < 103 && (in.role == roleApp || in.role == roleWorker): // an operator's SSH session from a bastion
		in2(privateIP(220, g.rng.IntN(4)), 22)
		pk, rpk = 20+g.rng.IntN(400), 20+g.rng.IntN(600)
		byt, rbyt = pk*(80+g.rng.IntN(200)), rpk*(100+g.rng.IntN(800))
	default:
		switch in.role {
		case roleWeb:
			if g.rng.IntN(10) < 8 {
				in2(g.remote(), apiPorts[g.rng.IntN(len(apiPorts))])
				pk, rpk = 5+g.rng.IntN(30), 6+g.rng.IntN(60)
				byt, rbyt = pk*(60+g.rng.IntN(600)), rpk*(200+g.rng.IntN(1200))
			} else {
				out(privateIP(200, g.rng.IntN(64)), dbPorts[g.rng.IntN(len(dbPorts))])
				pk, rpk = 4+g.rng.IntN(20), 4+g.rng.IntN(40)
				byt, rbyt = pk*(80+g.rng.IntN(300)), rpk*(100+g.rng.IntN(1300))
			}
		case roleApp:
			switch y := g.rng.IntN(10); {
			case y < 5:
				out(g.remote(), 443)
				pk, rpk = 6+g.rng.IntN(40), 6+g.rng.IntN(60)
				byt, rbyt = pk*(80+g.rng.IntN(500)), rpk*(150+g.rng.IntN(1300))
			case y < 8:
				out(privateIP(200, g.rng.IntN(64)), dbPorts[g.rng.IntN(len(dbPorts))])
				pk, rpk = 4+g.rng.IntN(40), 4+g.rng.IntN(80)
				byt, rbyt = pk*(80+g.rng.IntN(300)), rpk*(100+g.rng.IntN(1300))
			case y < 9:
				in2(privateIP(210, g.rng.IntN(16)), 8080)
				pk, rpk = 5+g.rng.IntN(20), 5+g.rng.IntN(40)
				byt, rbyt = pk*(100+g.rng.IntN(500)), rpk*(200+g.rng.IntN(1200))
			default: // time
				out(publicIP(g.rng.IntN(8)+2_000_000), 123)
				proto, pk, rpk = 17, 1, 1
				byt, rbyt = 76, 76
			}
		case roleWorker:
			out(publicIP(g.rng.IntN(256)+3_000_000), 443) // S3
			pk, rpk = 100+g.rng.IntN(5000), 50+g.rng.IntN(2000)
			byt, rbyt = pk*(800+g.rng.IntN(600)), rpk*(60+g.rng.IntN(200))
			if g.rng.IntN(2) == 0 { // downloads
				byt, rbyt = rbyt, byt
			}
		case roleDB:
			in2(privateIP(10, g.rng.IntN(g.cfg.Instances)), dbPorts[g.rng.IntN(len(dbPorts))])
			pk, rpk = 4+g.rng.IntN(60), 4+g.rng.IntN(120)
			byt, rbyt = pk*(80+g.rng.IntN(400)), rpk*(100+g.rng.IntN(1300))
		}
	}
	start := g.now.Unix()
	end := start + int64(g.rng.IntN(60))
	b := appendFlow(make([]byte, 0, 128), in.account, in.eni, src, dst, sport, dport, proto, pk, byt, start, end, accept)
	if reply {
		g.pending = append(g.pending, Record{Source: event.SourceVPCFlow, Value: appendFlow(make([]byte, 0, 128), in.account, in.eni, dst, src, dport, sport, proto, rpk, rbyt, start, end, true)})
	}
	return b
}

// remote draws a remote internet host by popularity.
func (g *Generator) remote() string { return publicIP(int(g.remotes.Uint64())) }

// appendFlow appends a flow record in the version 2 default format.
func appendFlow(b []byte, account, eni, src, dst string, sport, dport, proto, packets, bytes int, start, end int64, accept bool) []byte {
	b = append(b, "2 "...)
	b = append(b, account...)
	b = append(b, ' ')
	b = append(b, eni...)
	b = append(b, ' ')
	b = append(b, src...)
	b = append(b, ' ')
	b = append(b, dst...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(sport), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(dport), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(proto), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(packets), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(bytes), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, start, 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, end, 10)
	if accept {
		return append(b, " ACCEPT OK"...)
	}
	return append(b, " REJECT OK"...)
}
