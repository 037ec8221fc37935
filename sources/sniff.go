package sources

import (
	"bytes"

	"github.com/vigil-sec/vigil/event"
)

// sniffHead is how much of a sample Sniff looks at.
const sniffHead = 64 << 10

// Sniff tells the source of a file or record from its first bytes; a gzip
// sample is decompressed first (a truncated stream is fine). It returns
// SourceUnknown when it cannot tell.
//
//   - JSON naming eventVersion, eventSource or userIdentity, or starting
//     {"Records": → CloudTrail;
//   - JSON naming query_name → DNS;
//   - a line of field names (a flow-log header), or a line of
//     space-separated tokens that starts with a flow-log version (2–8) or
//     holds an ENI id and an action or log status → VPC flow.
func Sniff(sample []byte) event.Source {
	if isGzip(sample) {
		sample = gunzipHead(sample, sniffHead)
	}
	if len(sample) > sniffHead {
		sample = sample[:sniffHead]
	}
	sample = bytes.TrimPrefix(sample, []byte("\xef\xbb\xbf")) // UTF-8 BOM
	line, _, _ := nextLine(sample)
	if line == nil {
		return event.SourceUnknown
	}
	switch line[0] {
	case '{', '[':
		return sniffJSON(sample)
	}
	if looksLikeFlow(line) {
		return event.SourceVPCFlow
	}
	return event.SourceUnknown
}

func sniffJSON(b []byte) event.Source {
	// The head may be truncated mid-document, so look for keys rather
	// than parse.
	switch {
	case bytes.Contains(b, []byte(`"eventVersion"`)),
		bytes.Contains(b, []byte(`"eventSource"`)),
		bytes.Contains(b, []byte(`"userIdentity"`)),
		hasRecordsKey(b):
		return event.SourceCloudTrail
	case bytes.Contains(b, []byte(`"query_name"`)):
		return event.SourceDNS
	}
	return event.SourceUnknown
}

// hasRecordsKey reports whether b starts with {"Records": (whitespace
// allowed).
func hasRecordsKey(b []byte) bool {
	b = bytes.TrimLeft(b, " \t\r\n")
	if len(b) == 0 || b[0] != '{' {
		return false
	}
	b = bytes.TrimLeft(b[1:], " \t\r\n")
	return bytes.HasPrefix(b, []byte(`"Records"`))
}

// looksLikeFlow reports whether line is a flow-log header or data line.
func looksLikeFlow(line []byte) bool {
	if isFlowHeader(line) {
		return true
	}
	toks := bytes.Fields(line)
	if len(toks) < 3 {
		return false
	}
	if len(toks[0]) == 1 && toks[0][0] >= '2' && toks[0][0] <= '8' {
		// A version, then an account id (digits or "unknown") or, in
		// custom formats, an ENI.
		t := toks[1]
		if _, ok := parseUint(t, 1<<64-1); ok || string(t) == "unknown" || bytes.HasPrefix(t, []byte("eni-")) || isDash(t) {
			return true
		}
	}
	eni, status := false, false
	for _, t := range toks {
		switch {
		case bytes.HasPrefix(t, []byte("eni-")):
			eni = true
		case string(t) == "ACCEPT", string(t) == "REJECT", string(t) == "OK",
			string(t) == "NODATA", string(t) == "SKIPDATA":
			status = true
		}
	}
	return eni && status
}
