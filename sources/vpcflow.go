package sources

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/vigil-sec/vigil/event"
)

// maxCachedFormats bounds the formats a FlowDecoder remembers from record
// headers and header lines.
const maxCachedFormats = 64

// FlowDecoder decodes VPC Flow Logs records: one or more space-separated
// lines in the decoder's format, or in the format of a header line ("version
// account-id ...") earlier in the same record. NODATA and SKIPDATA lines
// decode too (addresses invalid, action None). Event.Time is the start
// field (zero for formats without it); the entity is the instance-id when
// set, else the interface-id.
//
// It is not safe for concurrent use.
type FlowDecoder struct {
	def     *flowFormat
	formats map[string]*flowFormat
	gz      gunzipper
	in      interner
}

// NewFlowDecoder returns a decoder for lines in format: "" for the default
// version 2 format, else a space-separated list of AWS field names, with or
// without ${...}. An unknown field name is an error.
func NewFlowDecoder(format string) (*FlowDecoder, error) {
	if format == "" {
		format = defaultFlowFormat
	}
	ff, err := parseFlowFormat(format)
	if err != nil {
		return nil, fmt.Errorf("vpcflow: %w", err)
	}
	return &FlowDecoder{def: ff}, nil
}

// Decode appends the events of rec's lines to out. A non-nil error is a
// *DecodeError; events of the good lines are still returned, and
// Result.Failed counts the bad ones.
func (d *FlowDecoder) Decode(rec []byte, out []event.Event) ([]event.Event, Result, error) {
	return d.decode(rec, d.defaultFormat(), out)
}

// DecodeWithFormat is Decode with format (from a Kafka record header) in
// place of the decoder's own; "" means the decoder's. Parsed formats are
// cached.
func (d *FlowDecoder) DecodeWithFormat(rec []byte, format string, out []event.Event) ([]event.Event, Result, error) {
	if format == "" {
		return d.Decode(rec, out)
	}
	ff, err := d.format(format)
	if err != nil {
		return out, Result{Failed: 1}, newError(rec, err, "vpcflow: format header: %v", err)
	}
	return d.decode(rec, ff, out)
}

func (d *FlowDecoder) defaultFormat() *flowFormat {
	if d.def == nil { // zero value: default format
		d.def, _ = parseFlowFormat(defaultFlowFormat)
	}
	return d.def
}

// format returns the parsed format s, from the cache when it can.
func (d *FlowDecoder) format(s string) (*flowFormat, error) {
	if ff, ok := d.formats[s]; ok {
		return ff, nil
	}
	ff, err := parseFlowFormat(s)
	if err != nil {
		return nil, err
	}
	if d.formats == nil || len(d.formats) >= maxCachedFormats {
		d.formats = make(map[string]*flowFormat)
	}
	d.formats[strings.Clone(s)] = ff
	return ff, nil
}

// formatBytes is format for a header line, without allocating on a hit.
func (d *FlowDecoder) formatBytes(b []byte) (*flowFormat, error) {
	if ff, ok := d.formats[string(b)]; ok {
		return ff, nil
	}
	return d.format(string(b))
}

func (d *FlowDecoder) decode(rec []byte, ff *flowFormat, out []event.Event) ([]event.Event, Result, error) {
	data := rec
	if isGzip(rec) {
		var err error
		if data, err = d.gz.gunzip(rec); err != nil {
			return out, Result{Failed: 1}, newError(rec, err, "vpcflow: %v", err)
		}
	}
	f := failures{unit: "line"}
	total, lineNo := 0, 0
	for rest := data; ; {
		line, r, n := nextLine(rest)
		rest, lineNo = r, lineNo+n
		if line == nil {
			break
		}
		if isFlowHeader(line) {
			nf, err := d.formatBytes(line)
			if err != nil {
				// The lines that follow cannot be read without their
				// format: they all fail with the header.
				failed := f.failed + max(1, countLines(rest))
				return out, Result{Failed: failed},
					newError(line, err, "vpcflow: %v (header, line %d)", err, lineNo)
			}
			ff = nf
			continue
		}
		total++
		ev, err := d.decodeLine(line, ff)
		if err != nil {
			f.add(lineNo, err, line)
			continue
		}
		out = append(out, ev)
	}
	return out, Result{Failed: f.failed}, f.err("vpcflow", data, total)
}

// countLines counts the non-blank lines of data.
func countLines(data []byte) int {
	n := 0
	for {
		line, rest, _ := nextLine(data)
		if line == nil {
			return n
		}
		n, data = n+1, rest
	}
}

// isFlowHeader reports whether line is a header: its first token is a field
// name (data lines start with a value, and no value is a field name).
func isFlowHeader(line []byte) bool {
	tok := line
	if i := bytes.IndexAny(line, " \t"); i >= 0 {
		tok = line[:i]
	}
	if len(tok) == 0 || tok[0] >= '0' && tok[0] <= '9' {
		return false
	}
	_, ok := lookupFlowField(string(tok))
	return ok
}

// decodeLine decodes one data line with a byte scanner: no per-field
// allocation beyond strings not yet interned and IPv6 parsing.
func (d *FlowDecoder) decodeLine(line []byte, ff *flowFormat) (event.Event, error) {
	if !utf8.Valid(line) {
		return event.Event{}, errors.New("invalid UTF-8")
	}
	fl := &event.Flow{Version: ff.version}
	var start int64
	hasStart := false
	p := 0
	for i, field := range ff.fields {
		for p < len(line) && (line[p] == ' ' || line[p] == '\t') {
			p++
		}
		if p >= len(line) {
			return event.Event{}, fmt.Errorf("%d fields, format has %d", i, len(ff.fields))
		}
		q := p
		for q < len(line) && line[q] != ' ' && line[q] != '\t' {
			q++
		}
		tok := line[p:q]
		p = q
		if err := d.setField(fl, field, tok); err != nil {
			if n := countFields(line); n != len(ff.fields) {
				// A short or long line: say so rather than blame a field.
				return event.Event{}, fmt.Errorf("%d fields, format has %d", n, len(ff.fields))
			}
			return event.Event{}, err
		}
		if field == fStart && !isDash(tok) {
			start, hasStart = fl.Start, true
		}
	}
	for p < len(line) && (line[p] == ' ' || line[p] == '\t') {
		p++
	}
	if p < len(line) {
		return event.Event{}, fmt.Errorf("%d fields, format has %d", countFields(line), len(ff.fields))
	}
	ev := event.Event{
		Source:  event.SourceVPCFlow,
		Account: fl.AccountID,
		Region:  fl.Region,
		Kind:    event.KindNetwork,
		Entity:  fl.InstanceID,
		Flow:    fl,
	}
	if hasStart {
		ev.Time = time.Unix(start, 0).UTC()
	}
	if ev.Entity == "" {
		ev.Entity = fl.InterfaceID
	}
	if ev.Entity == "" {
		return event.Event{}, errors.New("neither interface-id nor instance-id is set")
	}
	return ev, nil
}

// countFields counts the space-separated fields of line (error path only).
func countFields(line []byte) int {
	return len(bytes.Fields(line))
}

func isDash(tok []byte) bool { return len(tok) == 1 && tok[0] == '-' }

// setField stores one token; "-" leaves the field at its zero value.
func (d *FlowDecoder) setField(fl *event.Flow, field flowField, tok []byte) error {
	if isDash(tok) {
		return nil
	}
	var err error
	switch field {
	case fVersion:
		err = parseUintField(&fl.Version, tok, 255, "version")
	case fAccountID:
		fl.AccountID = d.in.get(tok)
	case fInterfaceID:
		fl.InterfaceID = d.in.get(tok)
	case fInstanceID:
		fl.InstanceID = d.in.get(tok)
	case fVPCID:
		fl.VPCID = d.in.get(tok)
	case fSubnetID:
		fl.SubnetID = d.in.get(tok)
	case fRegion:
		fl.Region = d.in.get(tok)
	case fSrcAddr:
		fl.Src, err = parseAddrField(tok, "srcaddr")
	case fDstAddr:
		fl.Dst, err = parseAddrField(tok, "dstaddr")
	case fPktSrcAddr:
		fl.PktSrc, err = parseAddrField(tok, "pkt-srcaddr")
	case fPktDstAddr:
		fl.PktDst, err = parseAddrField(tok, "pkt-dstaddr")
	case fSrcPort:
		err = parseUintField(&fl.SrcPort, tok, 65535, "srcport")
	case fDstPort:
		err = parseUintField(&fl.DstPort, tok, 65535, "dstport")
	case fProtocol:
		err = parseUintField(&fl.Protocol, tok, 255, "protocol")
	case fPackets:
		err = parseUintField(&fl.Packets, tok, 1<<64-1, "packets")
	case fBytes:
		err = parseUintField(&fl.Bytes, tok, 1<<64-1, "bytes")
	case fStart:
		err = parseUintField(&fl.Start, tok, 1<<63-1, "start")
	case fEnd:
		err = parseUintField(&fl.End, tok, 1<<63-1, "end")
	case fTCPFlags:
		err = parseUintField(&fl.TCPFlags, tok, 65535, "tcp-flags")
	case fAction:
		err = parseNamed(&fl.Action, tok, flowActions, "action")
	case fLogStatus:
		err = parseNamed(&fl.LogStatus, tok, logStatuses, "log-status")
	case fFlowDirection:
		err = parseNamed(&fl.Direction, tok, directions, "flow-direction")
	}
	// Other fields (type, az-id, ECS, ...) are not kept.
	return err
}

// parseUintField parses a decimal no larger than max into *dst (0 on
// error).
func parseUintField[T uint8 | uint16 | uint64 | int64](dst *T, tok []byte, max uint64, field string) error {
	v, ok := parseUint(tok, max)
	*dst = T(v)
	if !ok {
		return fmt.Errorf("%s: invalid number %q", field, excerpt(tok))
	}
	return nil
}

// named is one value of an enumerated field and its name in the logs.
type named[T any] struct {
	name  string
	value T
}

var (
	flowActions = []named[event.FlowAction]{{"ACCEPT", event.ActionAccept}, {"REJECT", event.ActionReject}}
	logStatuses = []named[event.LogStatus]{{"OK", event.StatusOK}, {"NODATA", event.StatusNoData}, {"SKIPDATA", event.StatusSkipData}}
	directions  = []named[event.Direction]{{"ingress", event.DirectionIngress}, {"egress", event.DirectionEgress}}
)

// parseNamed sets *dst to the value named tok among values; an unknown
// name leaves *dst unchanged.
func parseNamed[T any](dst *T, tok []byte, values []named[T], field string) error {
	for _, v := range values {
		if string(tok) == v.name {
			*dst = v.value
			return nil
		}
	}
	return fmt.Errorf("%s: invalid %q", field, excerpt(tok))
}

func parseUint(b []byte, max uint64) (uint64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if v > (max-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	return v, true
}

func parseAddrField(tok []byte, field string) (netip.Addr, error) {
	if a, ok := parseIPv4(tok); ok {
		return a, nil
	}
	if bytes.IndexByte(tok, ':') >= 0 && len(tok) <= 64 {
		if a, err := netip.ParseAddr(string(tok)); err == nil {
			return a, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("%s: invalid address %q", field, excerpt(tok))
}

// parseIPv4 parses dotted-quad IPv4 without allocating; like netip it
// rejects leading zeros.
func parseIPv4(b []byte) (netip.Addr, bool) {
	var ip [4]byte
	n, val, digits := 0, 0, 0
	for i := 0; i <= len(b); i++ {
		if i == len(b) || b[i] == '.' {
			if digits == 0 || n == 4 {
				return netip.Addr{}, false
			}
			ip[n] = byte(val)
			n++
			val, digits = 0, 0
			continue
		}
		c := b[i]
		if c < '0' || c > '9' || digits > 0 && val == 0 {
			return netip.Addr{}, false
		}
		val = val*10 + int(c-'0')
		digits++
		if val > 255 {
			return netip.Addr{}, false
		}
	}
	if n != 4 {
		return netip.Addr{}, false
	}
	return netip.AddrFrom4(ip), true
}
