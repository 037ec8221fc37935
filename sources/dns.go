package sources

import (
	"net/netip"
	"strings"
	"unicode/utf8"

	"github.com/valyala/fastjson"
	"github.com/vigil-sec/vigil/event"
)

// Bounds on the answers kept per query.
const (
	maxAnswers    = 32
	maxAnswerData = 1024
)

// DNSDecoder decodes Route 53 Resolver query-log records: one JSON object,
// or several one per line, optionally gzip-compressed. It accepts the
// variants real exporters write: answers as a single object, timestamps
// without T or zone, srcport as a string or a number.
//
// It holds a JSON parser and is not safe for concurrent use. The zero value
// is ready to use.
type DNSDecoder struct {
	p  fastjson.Parser
	gz gunzipper
	in interner
}

// Decode appends the queries of rec to out. A non-nil error is a
// *DecodeError; events of the good lines are still returned, and
// Result.Failed counts the bad ones.
func (d *DNSDecoder) Decode(rec []byte, out []event.Event) ([]event.Event, Result, error) {
	data := rec
	if isGzip(rec) {
		var err error
		if data, err = d.gz.gunzip(rec); err != nil {
			return out, Result{Failed: 1}, newError(rec, err, "dns: %v", err)
		}
	}
	f := failures{unit: "line"}
	total := 0
	// add decodes one query; raw is its bytes, checked for UTF-8 if check.
	add := func(v *fastjson.Value, raw []byte, index int, check bool) {
		total++
		if check && !utf8.Valid(raw) {
			f.add(index, errField("query", "invalid UTF-8"), raw)
			return
		}
		ev, err := d.decodeQuery(v)
		if err != nil {
			f.add(index, err, raw)
			return
		}
		out = append(out, ev)
	}
	v, err := d.p.ParseBytes(data)
	switch {
	case err == nil && v.Type() == fastjson.TypeArray:
		f.unit = "element"
		valid := utf8.Valid(data)
		elems, _ := v.Array()
		for i, e := range elems {
			raw := data
			if !valid { // find the elements at fault
				raw = e.MarshalTo(nil)
			}
			add(e, raw, i+1, !valid)
		}
	case err == nil:
		add(v, data, 1, true)
	case isJSONLines(&d.p, data):
		lineNo := 0
		for rest := data; ; {
			line, r, n := nextLine(rest)
			rest, lineNo = r, lineNo+n
			if line == nil {
				break
			}
			v, err := d.p.ParseBytes(line)
			if err != nil {
				total++
				f.add(lineNo, errField("json", "%v", err), line)
				continue
			}
			add(v, line, lineNo, true)
		}
	default:
		return out, Result{Failed: 1}, newError(data, err, "dns: invalid JSON: %v", err)
	}
	return out, Result{Failed: f.failed}, f.err("dns", data, total)
}

// dnsView holds the fields of one query as views into the parser's buffer.
type dnsView struct {
	account, region, vpc, timestamp, name, qtype, qclass []byte
	rcode, srcaddr, transport, instance, endpoint, fw    []byte
	srcport                                              uint16
	answers                                              *fastjson.Value
}

func (d *DNSDecoder) decodeQuery(v *fastjson.Value) (event.Event, error) {
	o, oerr := v.Object()
	if oerr != nil {
		return event.Event{}, errField("query", "not a JSON object")
	}
	var w dnsView
	var err error
	o.Visit(func(k []byte, v *fastjson.Value) {
		if err != nil {
			return
		}
		switch string(k) {
		case "account_id":
			w.account, err = str(v, "account_id")
		case "region":
			w.region, err = str(v, "region")
		case "vpc_id":
			w.vpc, err = str(v, "vpc_id")
		case "query_timestamp":
			w.timestamp, err = str(v, "query_timestamp")
		case "query_name":
			w.name, err = str(v, "query_name")
		case "query_type":
			w.qtype, err = str(v, "query_type")
		case "query_class":
			w.qclass, err = str(v, "query_class")
		case "rcode":
			w.rcode, err = str(v, "rcode")
		case "srcaddr":
			w.srcaddr, err = str(v, "srcaddr")
		case "transport":
			w.transport, err = str(v, "transport")
		case "firewall_rule_action":
			w.fw, err = str(v, "firewall_rule_action")
		case "srcport":
			w.srcport, err = dnsPort(v)
		case "answers":
			w.answers = v
		case "srcids":
			ids := objectOrNil(v)
			if ids == nil {
				return
			}
			if i := ids.Get("instance"); i != nil {
				w.instance, err = str(i, "srcids.instance")
			}
			if e := ids.Get("resolver_endpoint"); e != nil && err == nil {
				w.endpoint, err = str(e, "srcids.resolver_endpoint")
			}
		}
	})
	if err != nil {
		return event.Event{}, err
	}
	if len(w.timestamp) == 0 {
		return event.Event{}, errField("query_timestamp", "missing")
	}
	if len(w.name) == 0 {
		return event.Event{}, errField("query_name", "missing")
	}
	t, ok := parseTime(w.timestamp)
	if !ok {
		return event.Event{}, errField("query_timestamp", "not a time: %q", excerpt(w.timestamp))
	}
	var src netip.Addr
	if len(w.srcaddr) > 0 {
		if src, err = parseAddrField(w.srcaddr, "srcaddr"); err != nil {
			return event.Event{}, err
		}
	}
	in := &d.in
	q := &event.DNS{
		AccountID:        in.get(w.account),
		Region:           in.get(w.region),
		VPCID:            in.get(w.vpc),
		QueryName:        queryName(w.name),
		QueryType:        in.get(w.qtype),
		QueryClass:       in.get(w.qclass),
		RCode:            in.get(w.rcode),
		SrcAddr:          src,
		SrcPort:          w.srcport,
		Transport:        in.get(w.transport),
		InstanceID:       in.get(w.instance),
		ResolverEndpoint: in.get(w.endpoint),
		FirewallAction:   in.get(w.fw),
	}
	if q.Answers, err = d.answers(w.answers); err != nil {
		return event.Event{}, err
	}
	ev := event.Event{
		Source:  event.SourceDNS,
		Time:    t,
		Account: q.AccountID,
		Region:  q.Region,
		Kind:    event.KindNetwork,
		Entity:  q.InstanceID,
		DNS:     q,
	}
	if ev.Entity == "" {
		if !src.IsValid() {
			return event.Event{}, errField("srcaddr", "missing, and no srcids.instance")
		}
		ev.Entity = "ip:" + src.String()
	}
	return ev, nil
}

// dnsPort reads srcport, a string in the real logs and a number in some
// exports.
func dnsPort(v *fastjson.Value) (uint16, error) {
	var b []byte
	switch v.Type() {
	case fastjson.TypeNull:
		return 0, nil
	case fastjson.TypeString:
		b, _ = v.StringBytes()
		if len(b) == 0 || isDash(b) {
			return 0, nil
		}
	case fastjson.TypeNumber:
		var scratch [24]byte
		b = v.MarshalTo(scratch[:0])
	default:
		return 0, errField("srcport", "not a string or number")
	}
	p, ok := parseUint(b, 65535)
	if !ok {
		return 0, errField("srcport", "invalid port %q", excerpt(b))
	}
	return uint16(p), nil
}

// answers reads the answers array, or the single object some exporters
// write in its place; at most maxAnswers are kept.
func (d *DNSDecoder) answers(v *fastjson.Value) ([]event.Answer, error) {
	if v == nil {
		return nil, nil
	}
	switch v.Type() {
	case fastjson.TypeNull:
		return nil, nil
	case fastjson.TypeObject:
		a, err := d.answer(v)
		if err != nil {
			return nil, err
		}
		return []event.Answer{a}, nil
	case fastjson.TypeArray:
		arr, _ := v.Array()
		if len(arr) == 0 {
			return nil, nil
		}
		out := make([]event.Answer, 0, min(len(arr), maxAnswers))
		for _, e := range arr[:min(len(arr), maxAnswers)] {
			a, err := d.answer(e)
			if err != nil {
				return nil, err
			}
			out = append(out, a)
		}
		return out, nil
	}
	return nil, errField("answers", "not an array")
}

func (d *DNSDecoder) answer(v *fastjson.Value) (event.Answer, error) {
	o, err := v.Object()
	if err != nil {
		return event.Answer{}, errField("answers", "element not an object")
	}
	var a event.Answer
	var ferr error
	o.Visit(func(k []byte, v *fastjson.Value) {
		if ferr != nil {
			return
		}
		switch string(k) {
		case "Rdata", "rdata":
			// Rdata is not bounded by maxField: a long TXT answer is
			// truncated, not a reason to lose the query.
			if v.Type() != fastjson.TypeString {
				if v.Type() != fastjson.TypeNull {
					ferr = errField("answers.Rdata", "not a string")
				}
				return
			}
			b, _ := v.StringBytes()
			a.Rdata = string(truncateUTF8(b, maxAnswerData))
		case "Type", "type":
			var b []byte
			b, ferr = str(v, "answers.Type")
			a.Type = d.in.get(b)
		}
	})
	return a, ferr
}

// queryName lower-cases name (ASCII) and strips one trailing dot, copying
// it out of the parser's buffer.
func queryName(name []byte) string {
	if len(name) > 1 && name[len(name)-1] == '.' {
		name = name[:len(name)-1]
	}
	upper := false
	for _, c := range name {
		if c >= 'A' && c <= 'Z' {
			upper = true
			break
		}
	}
	if !upper {
		return string(name)
	}
	var sb strings.Builder
	sb.Grow(len(name))
	for _, c := range name {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		sb.WriteByte(c)
	}
	return sb.String()
}
