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
// several one per line, or a JSON array of them, optionally
// gzip-compressed. It accepts the variants real exporters write: answers
// as a single object, timestamps without T or zone, srcport as a string or
// a number. Large and compressed records are streamed a query at a time.
//
// It holds a JSON parser and is not safe for concurrent use. The zero value
// is ready to use, with the default Limits.
type DNSDecoder struct {
	lim      Limits
	p        fastjson.Parser
	rd       recordReader
	in       interner
	bigParse bool     // see CloudTrailDecoder
	num      [24]byte // scratch for a numeric srcport

	// The event handed to emit, reused for the next.
	ev      event.Event
	q       event.DNS
	answers []event.Answer
}

// NewDNSDecoder returns a decoder bounded by lim (zero fields mean the
// defaults).
func NewDNSDecoder(lim Limits) *DNSDecoder { return &DNSDecoder{lim: lim} }

// Decode calls emit for each query of rec, in record order. The event and
// everything it points to belong to the decoder and are overwritten after
// emit returns: emit must encode or copy what it needs and keep no pointer.
//
// A non-nil error is a *DecodeError; the good lines are emitted all the
// same, and Result.Failed counts the bad ones, as for
// CloudTrailDecoder.Decode.
func (d *DNSDecoder) Decode(rec []byte, emit func(*event.Event)) (Result, error) {
	lim := d.lim.withDefaults()
	// A small record in memory is parsed whole; anything else (JSON lines,
	// compressed or large records, invalid UTF-8) is streamed.
	if !isGzip(rec) && len(rec) <= lim.MaxElement && utf8.Valid(rec) {
		v, err := d.p.ParseBytes(rec)
		d.bigParse = d.bigParse || parserGrew(rec, v)
		if err == nil {
			f := failures{unit: "line"}
			total := d.decodeDocument(v, rec, emit, &f)
			d.endRecord()
			return Result{Failed: f.failed}, f.err("dns", total)
		}
	}
	res, err := d.decodeStream(rec, lim, emit)
	d.endRecord()
	return res, err
}

// decodeStream decodes rec one element at a time.
func (d *DNSDecoder) decodeStream(rec []byte, lim Limits, emit func(*event.Event)) (Result, error) {
	in, err := d.rd.open(rec, lim)
	if err != nil {
		return Result{Failed: 1}, newError(rec, err, "dns: %v", err)
	}
	f := failures{unit: "line"}
	total := 0
	st := jsonStream{in: in, emit: func(e *elem) {
		total++
		index := e.line // JSON lines are numbered by line
		if !e.top {
			f.unit, index = "element", total
		}
		if e.err != nil {
			f.add(index, e.err, e.raw)
			return
		}
		d.decodeElement(e.b, index, emit, &f)
	}}
	if err := st.run(); err != nil {
		total++
		index := in.line + 1
		if f.unit == "element" {
			index = total
		}
		f.addRest(index, err, in.headBytes())
	} else if st.values == 0 {
		f.add(1, errEmpty, nil)
	}
	return Result{Failed: f.failed}, f.err("dns", total)
}

// endRecord lets go of what the record grew.
func (d *DNSDecoder) endRecord() {
	d.rd.close()
	if d.bigParse {
		d.p = fastjson.Parser{}
		d.bigParse = false
	}
}

// decodeDocument decodes a record parsed whole, valid UTF-8: an array of
// queries or one. It returns how many elements it saw.
func (d *DNSDecoder) decodeDocument(v *fastjson.Value, raw []byte, emit func(*event.Event), f *failures) int {
	if v.Type() != fastjson.TypeArray {
		d.decodeValue(v, raw, 1, emit, f)
		return 1
	}
	f.unit = "element"
	elems, _ := v.Array()
	for i, e := range elems {
		d.decodeValue(e, raw, i+1, emit, f)
	}
	return len(elems)
}

// decodeElement parses and decodes one element of a streamed record.
func (d *DNSDecoder) decodeElement(b []byte, index int, emit func(*event.Event), f *failures) {
	if !utf8.Valid(b) {
		f.add(index, errField("query", "invalid UTF-8"), b)
		return
	}
	v, err := d.p.ParseBytes(b)
	d.bigParse = d.bigParse || parserGrew(b, v)
	if err != nil {
		f.add(index, errJSON(err), b)
		return
	}
	d.decodeValue(v, b, index, emit, f)
}

// decodeValue decodes one query and emits it; raw is its bytes, or the
// record's, for the excerpt.
func (d *DNSDecoder) decodeValue(v *fastjson.Value, raw []byte, index int, emit func(*event.Event), f *failures) {
	if err := d.decodeQuery(v); err != nil {
		f.add(index, err, raw)
		return
	}
	emit(&d.ev)
}

// dnsView holds the fields of one query as views into the parser's buffer.
type dnsView struct {
	account, region, vpc, timestamp, name, qtype, qclass []byte
	rcode, srcaddr, transport, instance, endpoint, fw    []byte
	srcport                                              uint16
	answers                                              *fastjson.Value
}

// maxAddr bounds srcaddr's text: the longest IPv6 form with a zone.
const maxAddr = 64

// decodeQuery decodes one query into d.ev.
func (d *DNSDecoder) decodeQuery(v *fastjson.Value) error {
	o, oerr := v.Object()
	if oerr != nil {
		return errField("query", "not a JSON object")
	}
	var w dnsView
	var err error
	o.Visit(func(k []byte, v *fastjson.Value) {
		if err != nil {
			return
		}
		switch string(k) {
		case "account_id":
			w.account, err = idStr(v, "account_id", maxID)
		case "region":
			w.region, err = idStr(v, "region", maxRegion)
		case "vpc_id":
			w.vpc, err = strN(v, "vpc_id", maxID)
		case "query_timestamp":
			w.timestamp, err = strN(v, "query_timestamp", maxTimestamp)
		case "query_name":
			w.name, err = queryNameField(v)
		case "query_type":
			w.qtype, err = strN(v, "query_type", maxDNSToken)
		case "query_class":
			w.qclass, err = strN(v, "query_class", maxDNSToken)
		case "rcode":
			w.rcode, err = strN(v, "rcode", maxDNSToken)
		case "srcaddr":
			w.srcaddr, err = strN(v, "srcaddr", maxAddr)
		case "transport":
			w.transport, err = strN(v, "transport", maxDNSToken)
		case "firewall_rule_action":
			w.fw, err = strN(v, "firewall_rule_action", maxDNSToken)
		case "srcport":
			w.srcport, err = dnsPort(v, &d.num)
		case "answers":
			w.answers = v
		case "srcids":
			ids := objectOrNil(v)
			if ids == nil {
				return
			}
			if i := ids.Get("instance"); i != nil {
				w.instance, err = idStr(i, "srcids.instance", maxID)
			}
			if e := ids.Get("resolver_endpoint"); e != nil && err == nil {
				w.endpoint, err = strN(e, "srcids.resolver_endpoint", maxID)
			}
		}
	})
	if err != nil {
		return err
	}
	if len(w.timestamp) == 0 {
		return errField("query_timestamp", "missing")
	}
	if len(w.name) == 0 {
		return errField("query_name", "missing")
	}
	t, ok := parseTime(w.timestamp)
	if !ok {
		return errField("query_timestamp", "not a time")
	}
	if err := checkTime(t, "query_timestamp"); err != nil {
		return err
	}
	var src netip.Addr
	if len(w.srcaddr) > 0 {
		if src, err = parseAddrField(w.srcaddr, "srcaddr"); err != nil {
			return err
		}
	}
	in := &d.in
	q := &d.q
	*q = event.DNS{
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
	if q.Answers, err = d.readAnswers(w.answers); err != nil {
		return err
	}
	d.ev = event.Event{
		Source:  event.SourceDNS,
		Time:    t,
		Account: q.AccountID,
		Region:  q.Region,
		Kind:    event.KindNetwork,
		Entity:  q.InstanceID,
		DNS:     q,
	}
	if d.ev.Entity == "" {
		if !src.IsValid() {
			return errField("srcaddr", "missing, and no srcids.instance")
		}
		d.ev.Entity = "ip:" + src.String()
	}
	return checkRouting(&d.ev)
}

// queryNameField reads query_name, bounded in octets as on the wire.
func queryNameField(v *fastjson.Value) ([]byte, error) {
	// Each octet is at most four bytes of text (\DDD).
	b, err := strN(v, "query_name", 4*maxQueryName)
	if err != nil {
		return nil, err
	}
	if n := nameOctets(b); n > maxQueryName {
		return nil, errField("query_name", "%d bytes, more than %d", n, maxQueryName)
	}
	return b, nil
}

// nameOctets returns the octets of a DNS name in presentation form:
// escaped octets (\DDD, \X) and raw octets written as code points up to
// U+00FF count once.
func nameOctets(b []byte) int {
	n := 0
	for i := 0; i < len(b); {
		switch c := b[i]; {
		case c == '\\' && i+3 < len(b) && isDigit(b[i+1]) && isDigit(b[i+2]) && isDigit(b[i+3]):
			i += 4
		case c == '\\' && i+1 < len(b):
			i += 2
		case c < utf8.RuneSelf:
			i++
		default:
			// Exporters that do not escape write a name's raw octets as
			// the code points U+0080–U+00FF: one octet each, two bytes
			// of UTF-8.
			r, size := utf8.DecodeRune(b[i:])
			if r > 0xff {
				n += size - 1
			}
			i += size
		}
		n++
	}
	return n
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// dnsPort reads srcport, a string in the real logs and a number in some
// exports.
func dnsPort(v *fastjson.Value, scratch *[24]byte) (uint16, error) {
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
		b = v.MarshalTo(scratch[:0])
	default:
		return 0, errField("srcport", "not a string or number")
	}
	p, ok := parseUint(b, 65535)
	if !ok {
		return 0, errField("srcport", "not a port number")
	}
	return uint16(p), nil
}

// readAnswers reads the answers array, or the single object some exporters
// write in its place; at most maxAnswers are kept. The slice is the
// decoder's, reused for the next query.
func (d *DNSDecoder) readAnswers(v *fastjson.Value) ([]event.Answer, error) {
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
		d.answers = append(d.answers[:0], a)
		return d.answers, nil
	case fastjson.TypeArray:
		arr, _ := v.Array()
		if len(arr) == 0 {
			return nil, nil
		}
		out := d.answers[:0]
		for _, e := range arr[:min(len(arr), maxAnswers)] {
			a, err := d.answer(e)
			if err != nil {
				return nil, err
			}
			out = append(out, a)
		}
		d.answers = out
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
			// Rdata is cut, not failed: a long TXT answer is no reason to
			// lose the query.
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
			b, ferr = strN(v, "answers.Type", maxDNSToken)
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
