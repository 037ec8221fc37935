package intel

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
)

// parseSTIX reads a STIX 1.x XML document (GuardDuty's STIX): the values
// of CybOX address objects (AddressObj:Address_Value) and domain name
// objects (DomainNameObj:Value), wherever they are in the document.
//
// A value is one address, network or domain, or several separated by
// "##comma##" (with apply_condition="ANY"). An address value with
// condition="InclusiveBetween" is a range "first##comma##last", listed as
// the networks that cover it exactly. Other conditions (StartsWith,
// Contains, ...) cannot be listed and are refused. Address objects of
// other categories than addresses and networks (e-mail, MAC, ASN) are
// counted in List.Skipped. The document must be well-formed; entities
// are not expanded.
func parseSTIX(br *boundedReader, l *List) error {
	d := xml.NewDecoder(br)
	d.Strict = true
	type value struct {
		domain    bool
		condition string
		line      int
	}
	var (
		cur      *value
		text     strings.Builder
		category string
		root     bool
	)
	fail := func(line int, err error) error {
		var pe *ParseError
		if errors.As(err, &pe) {
			return pe
		}
		return &ParseError{Line: line, Reason: err.Error()}
	}
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		line, _ := d.InputPos()
		if err != nil {
			return fail(line, fmt.Errorf("XML: %w", err))
		}
		switch t := tok.(type) {
		case xml.StartElement:
			root = true
			if cur != nil {
				return fail(line, fmt.Errorf("element %s inside an indicator value", t.Name.Local))
			}
			switch {
			case t.Name.Local == "Properties":
				category = attr(t, "category")
			case t.Name.Local == "Address_Value" && strings.Contains(t.Name.Space, "AddressObj"):
				cur = &value{condition: attr(t, "condition"), line: line}
			case t.Name.Local == "Value" && strings.Contains(t.Name.Space, "DomainNameObj"):
				cur = &value{domain: true, condition: attr(t, "condition"), line: line}
			}
		case xml.CharData:
			if cur != nil {
				if text.Len()+len(t) > maxIndicatorLen {
					return fail(cur.line, fmt.Errorf("an indicator value longer than %d bytes", maxIndicatorLen))
				}
				text.Write(t)
			}
		case xml.EndElement:
			if t.Name.Local == "Properties" {
				category = ""
			}
			if cur == nil {
				continue
			}
			v := cur
			cur = nil
			s := strings.TrimSpace(text.String())
			text.Reset()
			if err := stixValue(l, s, v.domain, v.condition, category); err != nil {
				return fail(v.line, err)
			}
		}
	}
	if !root {
		return errors.New("no XML element (want a STIX 1.x document)")
	}
	return nil
}

// stixValue adds the entries of one address or domain value.
func stixValue(l *List, s string, domain bool, condition, category string) error {
	values := strings.Split(s, "##comma##")
	switch condition {
	case "", "Equals":
	case "InclusiveBetween":
		if domain {
			return errors.New("condition InclusiveBetween on a domain")
		}
		if len(values) != 2 {
			return fmt.Errorf("InclusiveBetween wants first##comma##last, got %q", clip(s))
		}
		return addRange(l, values[0], values[1])
	default:
		return fmt.Errorf("condition %q is not supported (want Equals or InclusiveBetween)", clip(condition))
	}
	if !domain {
		switch category {
		case "", "ipv4-addr", "ipv6-addr", "ipv4-net", "ipv6-net", "cidr":
		default:
			l.Skipped += len(values)
			return nil
		}
	}
	for _, v := range values {
		v = strings.TrimSpace(v)
		if v == "" {
			return errors.New("an empty value")
		}
		var err error
		if domain {
			err = l.addDomain(v)
		} else {
			err = l.addIP(v)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func attr(t xml.StartElement, name string) string {
	for _, a := range t.Attr {
		if a.Name.Local == name {
			return strings.TrimSpace(a.Value)
		}
	}
	return ""
}

// addRange adds the address range first–last as the fewest networks that
// cover it exactly (at most two per prefix length).
func addRange(l *List, first, last string) error {
	from, err1 := netip.ParseAddr(strings.TrimSpace(first))
	to, err2 := netip.ParseAddr(strings.TrimSpace(last))
	if err1 != nil || err2 != nil || from.Zone() != "" || to.Zone() != "" {
		return fmt.Errorf("range %q–%q: want two IP addresses", clip(first), clip(last))
	}
	from, to = from.Unmap(), to.Unmap()
	if from.Is4() != to.Is4() || to.Less(from) {
		return fmt.Errorf("range %s–%s: want two addresses of one family, the first not after the last", from, to)
	}
	for a := from; ; {
		bits := a.BitLen()
		for bits > 0 {
			p := netip.PrefixFrom(a, bits-1).Masked()
			if p.Addr() != a || to.Less(lastAddr(p)) {
				break
			}
			bits--
		}
		p := netip.PrefixFrom(a, bits)
		if err := l.addPrefix(p); err != nil {
			return err
		}
		end := lastAddr(p)
		if end == to {
			return nil
		}
		a = end.Next()
	}
}

// lastAddr returns the last address of network p.
func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr()
	if a.Is4() {
		b := a.As4()
		setHostBits(b[:], p.Bits())
		return netip.AddrFrom4(b)
	}
	b := a.As16()
	setHostBits(b[:], p.Bits())
	return netip.AddrFrom16(b)
}

func setHostBits(b []byte, bits int) {
	for i := bits; i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
}
