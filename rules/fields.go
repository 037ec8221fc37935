package rules

import (
	"strconv"
	"strings"

	"github.com/vigil-sec/vigil/event"
)

// A getter reads one field of an event: its value, and whether the event
// has it. CloudTrail leaves a field out rather than empty, so an empty
// string is absent, except for request parameters, which are present
// whenever their key is.
type getter func(ct *event.CloudTrail) (string, bool)

func text(f func(ct *event.CloudTrail) string) getter {
	return func(ct *event.CloudTrail) (string, bool) {
		v := f(ct)
		return v, v != ""
	}
}

// fields are the fields rules may name, as CloudTrail's JSON names them.
var fields = map[string]getter{
	"eventSource":        text(func(ct *event.CloudTrail) string { return ct.EventSource }),
	"eventName":          text(func(ct *event.CloudTrail) string { return ct.EventName }),
	"eventType":          text(func(ct *event.CloudTrail) string { return ct.EventType }),
	"errorCode":          text(func(ct *event.CloudTrail) string { return ct.ErrorCode }),
	"awsRegion":          text(func(ct *event.CloudTrail) string { return ct.AWSRegion }),
	"sourceIPAddress":    text(func(ct *event.CloudTrail) string { return ct.SourceIP }),
	"userAgent":          text(func(ct *event.CloudTrail) string { return ct.UserAgent }),
	"recipientAccountId": text(func(ct *event.CloudTrail) string { return ct.RecipientAccount }),
	"vpcEndpointId":      text(func(ct *event.CloudTrail) string { return ct.VPCEndpointID }),
	"readOnly": func(ct *event.CloudTrail) (string, bool) {
		if ct.ReadOnly {
			return "true", true
		}
		return "false", true
	},
	"userIdentity.type":        text(func(ct *event.CloudTrail) string { return ct.Identity.Type }),
	"userIdentity.arn":         text(func(ct *event.CloudTrail) string { return ct.Identity.ARN }),
	"userIdentity.accountId":   text(func(ct *event.CloudTrail) string { return ct.Identity.AccountID }),
	"userIdentity.principalId": text(func(ct *event.CloudTrail) string { return ct.Identity.PrincipalID }),
	"userIdentity.userName":    text(func(ct *event.CloudTrail) string { return ct.Identity.UserName }),
	"userIdentity.accessKeyId": text(func(ct *event.CloudTrail) string { return ct.Identity.AccessKeyID }),
	"userIdentity.invokedBy":   text(func(ct *event.CloudTrail) string { return ct.Identity.InvokedBy }),
	"userIdentity.sessionContext.sessionIssuer.type": text(func(ct *event.CloudTrail) string {
		return ct.Identity.SessionIssuerType
	}),
	"userIdentity.sessionContext.sessionIssuer.arn": text(func(ct *event.CloudTrail) string {
		return ct.Identity.SessionIssuerARN
	}),
	"userIdentity.sessionContext.sessionIssuer.userName": text(func(ct *event.CloudTrail) string {
		return ct.Identity.SessionIssuerUserName
	}),
	// sessionName is not a CloudTrail field: the session part of an
	// assumed-role ARN (".../assumed-role/<role>/<session>"), often the
	// person behind a federated or SSO session.
	"userIdentity.sessionName": text(func(ct *event.CloudTrail) string {
		arn := ct.Identity.ARN
		i := strings.Index(arn, ":assumed-role/")
		if i < 0 {
			return ""
		}
		rest := arn[i+len(":assumed-role/"):]
		j := strings.IndexByte(rest, '/')
		if j < 0 {
			return ""
		}
		return rest[j+1:]
	}),
	"responseElements.ConsoleLogin": text(func(ct *event.CloudTrail) string { return ct.ConsoleLogin }),
	"additionalEventData.MFAUsed":   text(func(ct *event.CloudTrail) string { return ct.MFAUsed }),
}

const paramsPrefix = "requestParameters."

// Bounds of request-parameter paths, those of the decoder
// (sources/cloudtrail.go): it keeps scalar parameters of nested objects
// up to six object levels deep (a list's index is no level of its own),
// the first 16 elements of each list under their index
// ("createVolumePermission.add.items.0.group"), under keys of at most 128
// bytes. A path it cannot keep could never match, so it is refused at
// load.
const (
	maxParamDepth  = 6
	maxParamKeyLen = 128
	maxListElems   = 16
)

// wildcard is the path segment that names any element of a list.
const wildcard = "*"

// maxRuleWildcards bounds the distinct wildcards of one rule, and so the
// element combinations tried on an event (maxListElems^2).
const maxRuleWildcards = 2

// lookupField returns the getter of a field name, or a reason it has none.
// A request-parameter path with a wildcard has no getter of its own: it
// returns the path's segments instead, which the condition binds to list
// elements (see Rule.Match).
func lookupField(name string) (get getter, segs []string, why string) {
	if g, ok := fields[name]; ok {
		return g, nil, ""
	}
	key, ok := strings.CutPrefix(name, paramsPrefix)
	if !ok {
		return nil, nil, "unknown field (see the rule format in README.md)"
	}
	parts := strings.Split(key, ".")
	depth, wild := 0, 0
	for i, p := range parts {
		switch {
		case p == wildcard:
			wild++
			if i == 0 || parts[i-1] == wildcard || isIndex(parts[i-1]) {
				return nil, nil, "a wildcard must follow the name of a list"
			}
		case isIndex(p):
			if i == 0 {
				return nil, nil, "a request parameter path starts with a name"
			}
			if n, err := strconv.Atoi(p); err != nil || n >= maxListElems {
				return nil, nil, "list index past 15: the decoder keeps the first 16 elements of a list"
			}
		default:
			depth++
		}
	}
	switch {
	case strings.TrimSpace(key) == "" || containsEmpty(parts):
		return nil, nil, "empty request parameter path"
	case len(key)+wild > maxParamKeyLen: // an index is up to two digits
		return nil, nil, "request parameter path longer than 128 bytes, which the decoder does not keep"
	case depth > maxParamDepth:
		return nil, nil, "request parameter path deeper than 6 levels, which the decoder does not keep"
	case wild > maxRuleWildcards:
		return nil, nil, "more than 2 wildcards in a request parameter path"
	case wild > 0:
		return nil, parts, ""
	}
	return func(ct *event.CloudTrail) (string, bool) {
		v, ok := ct.RequestParameters[key]
		return v, ok
	}, nil, ""
}

// isIndex reports whether p is a list index: digits.
func isIndex(p string) bool {
	if p == "" {
		return false
	}
	for i := 0; i < len(p); i++ {
		if !isDigit(p[i]) {
			return false
		}
	}
	return true
}

func containsEmpty(parts []string) bool {
	for _, p := range parts {
		if p == "" {
			return true
		}
	}
	return false
}
