package event

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/vigil-sec/vigil/wire"
)

// codecVersion is the first byte of every encoding. Bump it when the layout
// changes; Unmarshal rejects versions it does not know, so a mixed-version
// cluster fails loudly rather than misreading fields.
const codecVersion = 1

// Presence bits of the flags byte.
const (
	hasCloudTrail = 1 << iota
	hasFlow
	hasDNS
	hasInventory
)

// Bits of the CloudTrail booleans byte.
const (
	ctReadOnly = 1 << iota
	ctGlobal
	ctMFAAuthenticated
	ctAssumedRoot
)

// ErrCodec is wrapped by every error Unmarshal returns.
var ErrCodec = errors.New("event: bad encoding")

// MarshalBinary encodes e for the internal topic. See AppendBinary.
func (e *Event) MarshalBinary() ([]byte, error) {
	return e.AppendBinary(make([]byte, 0, 256))
}

// AppendBinary appends the encoding of e to b: a version byte, then varints
// and length-prefixed strings in field order. Time keeps its instant to the
// nanosecond but not its location or monotonic reading (it decodes as UTC).
// Request parameters are written in key order, so equal events encode to
// equal bytes.
func (e *Event) AppendBinary(b []byte) ([]byte, error) {
	var flags byte
	if e.CloudTrail != nil {
		flags |= hasCloudTrail
	}
	if e.Flow != nil {
		flags |= hasFlow
	}
	if e.DNS != nil {
		flags |= hasDNS
	}
	if e.Inventory != nil {
		flags |= hasInventory
	}
	b = append(b, codecVersion, byte(e.Source), byte(e.Kind), flags)
	b = wire.AppendTime(b, e.Time)
	b = wire.AppendString(b, e.Account)
	b = wire.AppendString(b, e.Region)
	b = wire.AppendString(b, e.Entity)
	if c := e.CloudTrail; c != nil {
		b = appendCloudTrail(b, c)
	}
	if f := e.Flow; f != nil {
		b = appendFlow(b, f)
	}
	if d := e.DNS; d != nil {
		b = appendDNS(b, d)
	}
	if inv := e.Inventory; inv != nil {
		b = appendInventory(b, inv)
	}
	return b, nil
}

func appendCloudTrail(b []byte, c *CloudTrail) []byte {
	for _, s := range [...]string{
		c.EventID, c.EventName, c.EventSource, c.EventType, c.AWSRegion,
		c.SourceIP, c.UserAgent, c.ErrorCode, c.ErrorMessage,
		c.RecipientAccount, c.VPCEndpointID, c.ConsoleLogin, c.MFAUsed,
	} {
		b = wire.AppendString(b, s)
	}
	id := &c.Identity
	for _, s := range [...]string{
		id.Type, id.PrincipalID, id.ARN, id.AccountID, id.AccessKeyID,
		id.UserName, id.InvokedBy, id.SessionIssuerType, id.SessionIssuerARN,
		id.SessionIssuerUserName, id.EC2RoleDelivery,
	} {
		b = wire.AppendString(b, s)
	}
	var bools byte
	if c.ReadOnly {
		bools |= ctReadOnly
	}
	if c.Global {
		bools |= ctGlobal
	}
	if id.MFAAuthenticated {
		bools |= ctMFAAuthenticated
	}
	if id.AssumedRoot {
		bools |= ctAssumedRoot
	}
	b = append(b, bools)
	// 0 = nil map, n+1 = n entries; a nil map and an empty one both round-trip.
	if c.RequestParameters == nil {
		return append(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(len(c.RequestParameters))+1)
	var buf [32]string
	keys := buf[:0]
	for k := range c.RequestParameters {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		b = wire.AppendString(b, k)
		b = wire.AppendString(b, c.RequestParameters[k])
	}
	return b
}

func appendFlow(b []byte, f *Flow) []byte {
	b = append(b, f.Version, f.Protocol, byte(f.Action), byte(f.LogStatus), byte(f.Direction))
	for _, s := range [...]string{f.AccountID, f.InterfaceID, f.InstanceID, f.VPCID, f.SubnetID, f.Region} {
		b = wire.AppendString(b, s)
	}
	for _, a := range [...]netip.Addr{f.Src, f.Dst, f.PktSrc, f.PktDst} {
		b = appendAddr(b, a)
	}
	b = binary.AppendUvarint(b, uint64(f.SrcPort))
	b = binary.AppendUvarint(b, uint64(f.DstPort))
	b = binary.AppendUvarint(b, uint64(f.TCPFlags))
	b = binary.AppendUvarint(b, f.Packets)
	b = binary.AppendUvarint(b, f.Bytes)
	b = binary.AppendVarint(b, f.Start)
	b = binary.AppendVarint(b, f.End)
	return b
}

func appendDNS(b []byte, d *DNS) []byte {
	for _, s := range [...]string{
		d.AccountID, d.Region, d.VPCID, d.QueryName, d.QueryType, d.QueryClass,
		d.RCode, d.Transport, d.InstanceID, d.ResolverEndpoint, d.FirewallAction,
	} {
		b = wire.AppendString(b, s)
	}
	b = appendAddr(b, d.SrcAddr)
	b = binary.AppendUvarint(b, uint64(d.SrcPort))
	if d.Answers == nil {
		return append(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(len(d.Answers))+1)
	for _, a := range d.Answers {
		b = wire.AppendString(b, a.Rdata)
		b = wire.AppendString(b, a.Type)
	}
	return b
}

// appendAddr writes netip's binary form (0, 4 or 16 bytes, plus any zone)
// behind a length.
func appendAddr(b []byte, a netip.Addr) []byte {
	n := 0
	switch {
	case a.Is4():
		n = 4
	case a.IsValid():
		n = 16 + len(a.Zone())
	}
	b = binary.AppendUvarint(b, uint64(n))
	b, _ = a.AppendBinary(b) // never fails
	return b
}

// UnmarshalBinary decodes an encoding made by MarshalBinary into e,
// replacing its contents. Every length is checked against the bytes that
// remain, so garbage yields an error, never a panic or a large allocation.
// All decoded strings share one allocation.
func (e *Event) UnmarshalBinary(b []byte) error {
	*e = Event{}
	if len(b) == 0 {
		return fmt.Errorf("%w: empty", ErrCodec)
	}
	if b[0] != codecVersion {
		return fmt.Errorf("%w: unknown version %d", ErrCodec, b[0])
	}
	r := reader{Reader: wire.Reader{Buf: b, Off: 1, Wrap: wrapErr}, s: string(b)}
	e.Source = Source(r.Byte())
	e.Kind = EntityKind(r.Byte())
	flags := r.Byte()
	if flags&^(hasCloudTrail|hasFlow|hasDNS|hasInventory) != 0 {
		r.Failf("unknown flags %#x", flags)
	}
	sec := r.Varint()
	nsec := r.Uvarint()
	if r.Err == nil && nsec >= 1e9 {
		r.Failf("nanoseconds %d out of range", nsec)
	}
	e.Time = time.Unix(sec, int64(nsec)).UTC()
	e.Account = r.string()
	e.Region = r.string()
	e.Entity = r.string()
	if flags&hasCloudTrail != 0 {
		e.CloudTrail = r.cloudTrail()
	}
	if flags&hasFlow != 0 {
		e.Flow = r.flow()
	}
	if flags&hasDNS != 0 {
		e.DNS = r.dns()
	}
	if flags&hasInventory != 0 {
		e.Inventory = r.inventory()
	}
	if r.Err == nil && r.Off != len(b) {
		r.Failf("%d trailing bytes", len(b)-r.Off)
	}
	if r.Err != nil {
		*e = Event{}
		return r.Err
	}
	return nil
}

// reader decodes sequentially (see wire.Reader). Decoded strings are
// substrings of s, the input as one string, so they share one allocation.
type reader struct {
	wire.Reader
	s string
}

// wrapErr words every decoding error as "event: bad encoding: at byte N: ...".
func wrapErr(off int, err error) error {
	return fmt.Errorf("%w: at byte %d: %s", ErrCodec, off, err)
}

// length reads a length and checks that at least min*length bytes remain.
func (r *reader) length(min int) int {
	return r.checkLen(r.Uvarint(), min)
}

// count reads the length of an optional collection, written as 0 for nil
// and n+1 otherwise; ok is false for nil.
func (r *reader) count(min int) (n int, ok bool) {
	v := r.Uvarint()
	if r.Err != nil || v == 0 {
		return 0, false
	}
	n = r.checkLen(v-1, min)
	return n, r.Err == nil
}

func (r *reader) checkLen(n uint64, min int) int {
	if r.Err != nil {
		return 0
	}
	if n > uint64(r.Left())/uint64(min) {
		r.Failf("length %d exceeds the %d bytes left", n, r.Left())
		return 0
	}
	return int(n)
}

func (r *reader) string() string {
	n := r.length(1)
	if r.Err != nil || n == 0 {
		return ""
	}
	s := r.s[r.Off : r.Off+n]
	r.Off += n
	return s
}

func (r *reader) uint16() uint16 { return wire.Uint[uint16](&r.Reader, "%d overflows uint16") }

func (r *reader) addr() netip.Addr {
	n := r.length(1)
	if r.Err != nil {
		return netip.Addr{}
	}
	var a netip.Addr
	if err := a.UnmarshalBinary(r.Buf[r.Off : r.Off+n]); err != nil {
		r.Failf("address: %v", err)
		return netip.Addr{}
	}
	r.Off += n
	return a
}

func (r *reader) cloudTrail() *CloudTrail {
	c := &CloudTrail{}
	for _, p := range [...]*string{
		&c.EventID, &c.EventName, &c.EventSource, &c.EventType, &c.AWSRegion,
		&c.SourceIP, &c.UserAgent, &c.ErrorCode, &c.ErrorMessage,
		&c.RecipientAccount, &c.VPCEndpointID, &c.ConsoleLogin, &c.MFAUsed,
	} {
		*p = r.string()
	}
	id := &c.Identity
	for _, p := range [...]*string{
		&id.Type, &id.PrincipalID, &id.ARN, &id.AccountID, &id.AccessKeyID,
		&id.UserName, &id.InvokedBy, &id.SessionIssuerType, &id.SessionIssuerARN,
		&id.SessionIssuerUserName, &id.EC2RoleDelivery,
	} {
		*p = r.string()
	}
	bools := r.Byte()
	if bools&^(ctReadOnly|ctGlobal|ctMFAAuthenticated|ctAssumedRoot) != 0 {
		r.Failf("unknown CloudTrail bits %#x", bools)
	}
	c.ReadOnly = bools&ctReadOnly != 0
	c.Global = bools&ctGlobal != 0
	id.MFAAuthenticated = bools&ctMFAAuthenticated != 0
	id.AssumedRoot = bools&ctAssumedRoot != 0
	// Each entry takes at least two bytes (two empty strings).
	if n, ok := r.count(2); ok {
		c.RequestParameters = make(map[string]string, n)
		for range n {
			k := r.string()
			c.RequestParameters[k] = r.string()
		}
	}
	return c
}

func (r *reader) flow() *Flow {
	f := &Flow{
		Version:   r.Byte(),
		Protocol:  r.Byte(),
		Action:    FlowAction(r.Byte()),
		LogStatus: LogStatus(r.Byte()),
		Direction: Direction(r.Byte()),
	}
	for _, p := range [...]*string{&f.AccountID, &f.InterfaceID, &f.InstanceID, &f.VPCID, &f.SubnetID, &f.Region} {
		*p = r.string()
	}
	for _, p := range [...]*netip.Addr{&f.Src, &f.Dst, &f.PktSrc, &f.PktDst} {
		*p = r.addr()
	}
	f.SrcPort = r.uint16()
	f.DstPort = r.uint16()
	f.TCPFlags = r.uint16()
	f.Packets = r.Uvarint()
	f.Bytes = r.Uvarint()
	f.Start = r.Varint()
	f.End = r.Varint()
	return f
}

func (r *reader) dns() *DNS {
	d := &DNS{}
	for _, p := range [...]*string{
		&d.AccountID, &d.Region, &d.VPCID, &d.QueryName, &d.QueryType, &d.QueryClass,
		&d.RCode, &d.Transport, &d.InstanceID, &d.ResolverEndpoint, &d.FirewallAction,
	} {
		*p = r.string()
	}
	d.SrcAddr = r.addr()
	d.SrcPort = r.uint16()
	// Each answer takes at least two bytes.
	if n, ok := r.count(2); ok {
		d.Answers = make([]Answer, n)
		for i := range d.Answers {
			d.Answers[i] = Answer{Rdata: r.string(), Type: r.string()}
		}
	}
	return d
}
