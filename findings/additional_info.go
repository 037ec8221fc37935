package findings

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
)

// AdditionalInfo is service.additionalInfo: free-form keys such as
// threatListName, portsScannedSample or userAgent. It is written in the
// EventBridge form (spec §3.1): the expanded keys, then "value", a JSON
// string of the same keys, then "type": "default". Both the EventBridge and
// the API form ({"value": "...", "type": "default"} only) are read. Keys
// are written sorted, so the output is deterministic; "value" and "type"
// are reserved and ignored as keys.
type AdditionalInfo map[string]any

// MarshalJSON writes the EventBridge form.
func (a AdditionalInfo) MarshalJSON() ([]byte, error) {
	keys := make([]string, 0, len(a))
	for k := range a {
		if k != "value" && k != "type" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	// inner is the object of expanded keys, used both inline and as the
	// "value" string.
	var inner bytes.Buffer
	inner.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			inner.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		vb, err := json.Marshal(a[k])
		if err != nil {
			return nil, fmt.Errorf("findings: additionalInfo.%s: %w", k, err)
		}
		inner.Write(kb)
		inner.WriteByte(':')
		inner.Write(vb)
	}
	inner.WriteByte('}')
	value, _ := json.Marshal(inner.String())

	var out bytes.Buffer
	out.Grow(2*inner.Len() + 40)
	out.Write(inner.Bytes()[:inner.Len()-1]) // the object without its '}'
	if len(keys) > 0 {
		out.WriteByte(',')
	}
	out.WriteString(`"value":`)
	out.Write(value)
	out.WriteString(`,"type":"default"}`)
	return out.Bytes(), nil
}

// UnmarshalJSON reads either form. Numbers are kept as json.Number so they
// are written back exactly as read.
func (a *AdditionalInfo) UnmarshalJSON(b []byte) error {
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		*a = nil
		return nil
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("findings: additionalInfo: %w", err)
	}
	out := AdditionalInfo{}
	for k, v := range raw {
		if k == "value" || k == "type" {
			continue
		}
		x, err := decodeAny(v)
		if err != nil {
			return fmt.Errorf("findings: additionalInfo.%s: %w", k, err)
		}
		out[k] = x
	}
	// The API form carries the keys only inside the "value" string.
	if v, ok := raw["value"]; ok && len(out) == 0 {
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return fmt.Errorf("findings: additionalInfo.value: %w", err)
		}
		if s != "" {
			var inner map[string]json.RawMessage
			if err := json.Unmarshal([]byte(s), &inner); err != nil {
				return fmt.Errorf("findings: additionalInfo.value: %w", err)
			}
			for k, v := range inner {
				x, err := decodeAny(v)
				if err != nil {
					return fmt.Errorf("findings: additionalInfo.value.%s: %w", k, err)
				}
				out[k] = x
			}
		}
	}
	if len(out) == 0 {
		out = nil
	}
	*a = out
	return nil
}

func decodeAny(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var x any
	if err := d.Decode(&x); err != nil {
		return nil, err
	}
	return x, nil
}

// clone returns a copy of a whose top-level keys can be changed without
// affecting a; values are shared and treated as immutable.
func (a AdditionalInfo) clone() AdditionalInfo {
	if a == nil {
		return nil
	}
	return maps.Clone(a)
}
