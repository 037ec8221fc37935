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
// set, else the interface-id. Compressed records are streamed a line at a
// time.
//
// It is not safe for concurrent use. The zero value decodes the default
// format with the default Limits.
type FlowDecoder struct {
	lim     Limits
	def     *flowFormat
	formats map[string]*flowFormat
	rd      recordReader
	in      interner

	// The event handed to emit, reused for the next.
	ev event.Event
	fl event.Flow
}

// NewFlowDecoder returns a decoder for lines in format, bounded by lim
// (zero fields mean the defaults). format is "" for the default version 2
// format, else a space-separated list of AWS field names, with or without
// ${...}. An unknown field name is an error.
func NewFlowDecoder(format string, lim Limits) (*FlowDecoder, error) {
	if format == "" {
		format = defaultFlowFormat
	}
	ff, err := parseFlowFormat(format)
	if err != nil {
		return nil, fmt.Errorf("vpcflow: %w", err)
	}
	return &FlowDecoder{def: ff, lim: lim}, nil
}

// Decode calls emit for each line of rec, in record order. The event and
// everything it points to belong to the decoder and are overwritten after
// emit returns: emit must encode or copy what it needs and keep no pointer.
//
// A non-nil error is a *DecodeError; the good lines are emitted all the
// same, and Result.Failed counts the bad ones.
func (d *FlowDecoder) Decode(rec []byte, emit func(*event.Event)) (Result, error) {
	return d.decode(rec, d.defaultFormat(), emit)
}

// DecodeWithFormat is Decode with format (from a Kafka record header) in
// place of the decoder's own; "" means the decoder's. Parsed formats are
// cached.
func (d *FlowDecoder) DecodeWithFormat(rec []byte, format string, emit func(*event.Event)) (Result, error) {
	if format == "" {
		return d.Decode(rec, emit)
	}
	ff, err := d.format(format)
	if err != nil {
		return Result{Failed: 1}, newError(rec, err, "vpcflow: format header: %v", err)
	}
	return d.decode(rec, ff, emit)
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

var errHeaderOnly = errors.New("no flow lines after the header")

func (d *FlowDecoder) decode(rec []byte, ff *flowFormat, emit func(*event.Event)) (Result, error) {
	lim := d.lim.withDefaults()
	in, err := d.rd.open(rec, lim)
	if err != nil {
		return Result{Failed: 1}, newError(rec, err, "vpcflow: %v", err)
	}
	defer d.rd.close()
	f := failures{unit: "line"}
	total, headers := 0, 0
	for {
		line, lineNo, size, ok := in.nextLine()
		if !ok {
			break
		}
		if line == nil {
			total++
			f.add(lineNo, errElement("line", size, lim.MaxElement), in.kept())
			continue
		}
		if isFlowHeader(line) {
			headers++
			nf, err := d.formatBytes(line)
			if err != nil {
				// The lines that follow cannot be read without their
				// format: they all fail with the header. (The error is
				// made first: counting reuses the line's bytes.)
				derr := newError(line, err, "vpcflow: %v (header, line %d)", err, lineNo)
				return Result{Failed: f.failed + max(1, countLines(in))}, derr
			}
			ff = nf
			continue
		}
		total++
		if err := d.decodeLine(line, ff); err != nil {
			f.add(lineNo, err, line)
			continue
		}
		emit(&d.ev)
	}
	if err := in.readErr(); err != nil {
		total++
		f.addRest(in.line+1, err, in.headBytes())
	} else if total == 0 {
		err := errEmpty
		if headers > 0 {
			err = errHeaderOnly
		}
		f.add(1, err, in.headBytes())
	}
	return Result{Failed: f.failed}, f.err("vpcflow", total)
}

// countLines counts the non-blank lines left in in.
func countLines(in *input) int {
	n := 0
	for {
		if _, _, _, ok := in.nextLine(); !ok {
			return n
		}
		n++
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

// decodeLine decodes one data line into d.ev with a byte scanner: no
// per-field allocation beyond strings not yet interned and IPv6 parsing.
func (d *FlowDecoder) decodeLine(line []byte, ff *flowFormat) error {
	if !utf8.Valid(line) {
		return errors.New("invalid UTF-8")
	}
	fl := &d.fl
	*fl = event.Flow{Version: ff.version}
	hasStart, hasEnd := false, false
	p := 0
	for i, field := range ff.fields {
		for p < len(line) && (line[p] == ' ' || line[p] == '\t') {
			p++
		}
		if p >= len(line) {
			return fmt.Errorf("%d fields, format has %d", i, len(ff.fields))
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
				return fmt.Errorf("%d fields, format has %d", n, len(ff.fields))
			}
			return err
		}
		switch {
		case isDash(tok):
		case field == fStart:
			hasStart = true
		case field == fEnd:
			hasEnd = true
		}
	}
	for p < len(line) && (line[p] == ' ' || line[p] == '\t') {
		p++
	}
	if p < len(line) {
		return fmt.Errorf("%d fields, format has %d", countFields(line), len(ff.fields))
	}
	if hasStart {
		if err := checkUnix(fl.Start, "start"); err != nil {
			return err
		}
	}
	if hasEnd {
		if err := checkUnix(fl.End, "end"); err != nil {
			return err
		}
		if hasStart && fl.End < fl.Start {
			return errField("end", "%d before start %d", fl.End, fl.Start)
		}
	}
	d.ev = event.Event{
		Source:  event.SourceVPCFlow,
		Account: fl.AccountID,
		Region:  fl.Region,
		Kind:    event.KindNetwork,
		Entity:  fl.InstanceID,
		Flow:    fl,
	}
	if hasStart {
		d.ev.Time = time.Unix(fl.Start, 0).UTC()
	}
	if d.ev.Entity == "" {
		d.ev.Entity = fl.InterfaceID
	}
	if d.ev.Entity == "" {
		return errors.New("neither interface-id nor instance-id is set")
	}
	return checkRouting(&d.ev)
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
		fl.AccountID, err = d.id(tok, maxID, "account-id")
	case fInterfaceID:
		fl.InterfaceID, err = d.id(tok, maxID, "interface-id")
	case fInstanceID:
		fl.InstanceID, err = d.id(tok, maxID, "instance-id")
	case fVPCID:
		fl.VPCID, err = d.id(tok, maxID, "vpc-id")
	case fSubnetID:
		fl.SubnetID, err = d.id(tok, maxID, "subnet-id")
	case fRegion:
		fl.Region, err = d.id(tok, maxRegion, "region")
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

// id returns an id field, checked as checkID does (the line is split on
// spaces and tabs only, so other control characters reach here).
func (d *FlowDecoder) id(tok []byte, max int, field string) (string, error) {
	if err := checkID(tok, max, field); err != nil {
		return "", err
	}
	return d.in.get(tok), nil
}

// parseUintField parses a decimal no larger than max into *dst (0 on
// error).
func parseUintField[T uint8 | uint16 | uint64 | int64](dst *T, tok []byte, max uint64, field string) error {
	v, ok := parseUint(tok, max)
	*dst = T(v)
	if !ok {
		return fmt.Errorf("%s: not a number in range", field)
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
	return fmt.Errorf("%s: not a known value", field)
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
	return netip.Addr{}, fmt.Errorf("%s: not an IP address", field)
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
