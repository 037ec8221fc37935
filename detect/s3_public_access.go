package detect

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"

	"github.com/vigil-sec/vigil/event"
	"github.com/vigil-sec/vigil/findings"
	"github.com/vigil-sec/vigil/profiles"
)

// Policy:S3/BucketAnonymousAccessGranted and
// Policy:S3/BucketPublicAccessGranted (High): a successful change of a
// bucket's policy or ACL made it public to anyone on the internet
// (anonymous) or to every authenticated AWS user.
//
// GuardDuty evaluates the bucket's resulting permissions with automated
// reasoning; vigil evaluates what the request sets, which is the bucket's
// whole policy (PutBucketPolicy replaces it) or ACL (PutBucketAcl replaces
// it; CreateBucket sets the first one):
//
//   - a bucket policy statement with Effect Allow, Principal "*" or
//     {"AWS": "*"} (or a NotPrincipal), and no condition that pins the
//     caller: anonymous. A condition pins the caller when it requires,
//     with a positive operator (not a Not... or ...IfExists one) and a
//     value other than a bare wildcard, one of the keys S3 itself takes as
//     making a policy non-public: aws:SourceIp (not 0.0.0.0/0 or ::/0),
//     aws:SourceVpc, aws:SourceVpce, aws:SourceArn, aws:SourceAccount,
//     aws:SourceOwner, aws:PrincipalOrgID, aws:PrincipalOrgPaths,
//     aws:PrincipalAccount, aws:PrincipalArn, aws:userid,
//     s3:DataAccessPointArn, s3:DataAccessPointAccount,
//     s3:x-amz-server-side-encryption-aws-kms-key-id;
//   - an ACL grant (AccessControlPolicy, or an x-amz-grant-* header) to
//     the group http://acs.amazonaws.com/groups/global/AllUsers, or the
//     canned ACL public-read or public-read-write: anonymous;
//   - a grant to .../groups/global/AuthenticatedUsers, or the canned ACL
//     authenticated-read: all authenticated AWS users.
//
// A request that grants both raises the anonymous type only. Block Public
// Access may still stop the grant from taking effect (GuardDuty says so
// with effectivePermission UNKNOWN); vigil does not know the bucket's or
// account's setting at that time, and reports the grant. A policy cut by
// the decoder's bound (20 KiB, S3's own limit) or not valid JSON is not
// evaluated.
//
// Aggregation key: (account, region, type, principal, bucket).

// s3PublicGroups are the ACL grantee groups that make a bucket public.
const (
	groupAllUsers           = "http://acs.amazonaws.com/groups/global/AllUsers"
	groupAuthenticatedUsers = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
)

// pinningConditionKeys are the condition keys that, with a fixed value,
// make S3 take a wildcard-principal statement as not public.
var pinningConditionKeys = map[string]bool{
	"aws:sourceip": true, "aws:sourcevpc": true, "aws:sourcevpce": true, "aws:sourcearn": true,
	"aws:sourceaccount": true, "aws:sourceowner": true, "aws:principalorgid": true,
	"aws:principalorgpaths": true, "aws:principalaccount": true, "aws:principalarn": true,
	"aws:userid": true, "s3:dataaccesspointarn": true, "s3:dataaccesspointaccount": true,
	"s3:x-amz-server-side-encryption-aws-kms-key-id": true,
}

// publicGrant is what made a bucket public.
type publicGrant struct {
	anonymous bool   // anonymous, else all authenticated AWS users
	by        string // "bucket policy", "ACL", "canned ACL", "ACL header"
	detail    map[string]any
}

func (e *Engine) s3PublicAccess(p *profiles.Principal, ev *event.Event, out []findings.Finding) []findings.Finding {
	ct := ev.CloudTrail
	if ct.EventSource != s3Source || !succeeded(ct) {
		return out
	}
	var grants []publicGrant
	switch ct.EventName {
	case "PutBucketPolicy":
		grants = publicPolicy(ct.RequestParameters[event.ParamBucketPolicy])
	case "PutBucketAcl", "CreateBucket":
		grants = publicACL(ct.RequestParameters)
	default:
		return out
	}
	if len(grants) == 0 {
		return out
	}
	g := grants[0]
	for _, x := range grants[1:] {
		if x.anonymous && !g.anonymous {
			g = x
		}
	}
	typ, to := TypeBucketPublicAccessGranted, "all authenticated AWS users"
	if g.anonymous {
		typ, to = TypeBucketAnonymousAccessGranted, "anyone on the internet (anonymous)"
	}
	bucket := ct.RequestParameters["bucketName"]
	var f findings.Finding
	if bucket == "" {
		f = callFinding(typ, findings.SeverityHigh, p, ev, nil)
	} else {
		f = callFinding(typ, findings.SeverityHigh, p, ev, map[string]string{"AWS::S3::Bucket": bucket}, bucket)
		f.Resource.S3BucketDetails = []findings.S3BucketDetail{{Name: bucket, Arn: "arn:aws:s3:::" + bucket, Type: "Destination"}}
	}
	f.Title = "Amazon S3 bucket " + bucket + " was made accessible to " + to + "."
	f.Description = principalLabel(&ct.Identity) + " called " + ct.EventName + " with a " + g.by + " that grants access to bucket " +
		bucket + " to " + to + ". If this was not intended, the bucket's data may be exposed. Block Public Access, if on, may still stop it."
	info := map[string]any{"grantedTo": to, "by": g.by, "effectivePermission": "UNKNOWN"}
	for k, v := range g.detail {
		info[k] = v
	}
	if f.Service.AdditionalInfo == nil {
		f.Service.AdditionalInfo = findings.AdditionalInfo{}
	}
	f.Service.AdditionalInfo["publicAccess"] = info
	return append(out, f)
}

// publicPolicy returns the statements of a bucket policy document that
// make the bucket public.
func publicPolicy(doc string) []publicGrant {
	if doc == "" {
		return nil
	}
	var pol struct {
		Statement json.RawMessage `json:"Statement"`
	}
	if err := json.Unmarshal([]byte(doc), &pol); err != nil || len(pol.Statement) == 0 {
		return nil
	}
	var stmts []policyStatement
	if err := json.Unmarshal(pol.Statement, &stmts); err != nil {
		var one policyStatement
		if json.Unmarshal(pol.Statement, &one) != nil {
			return nil
		}
		stmts = []policyStatement{one}
	}
	var out []publicGrant
	for i, s := range stmts {
		if !strings.EqualFold(s.Effect, "Allow") {
			continue
		}
		who := ""
		switch {
		case len(s.NotPrincipal) > 0:
			who = "NotPrincipal " + string(s.NotPrincipal)
		case wildcardPrincipal(s.Principal):
			who = string(s.Principal)
		default:
			continue
		}
		if pinningCondition(s.Condition) {
			continue
		}
		detail := map[string]any{"statementIndex": i, "principal": who}
		if s.Sid != "" {
			detail["statementSid"] = s.Sid
		}
		if len(s.Action) > 0 {
			detail["action"] = json.RawMessage(s.Action)
		}
		if len(s.Condition) > 0 {
			detail["condition"] = "present, but pins no caller"
		}
		out = append(out, publicGrant{anonymous: true, by: "bucket policy", detail: detail})
	}
	return out
}

// policyStatement is the part of a policy statement the evaluation reads.
type policyStatement struct {
	Sid          string                                `json:"Sid"`
	Effect       string                                `json:"Effect"`
	Principal    json.RawMessage                       `json:"Principal"`
	NotPrincipal json.RawMessage                       `json:"NotPrincipal"`
	Action       json.RawMessage                       `json:"Action"`
	Condition    map[string]map[string]json.RawMessage `json:"Condition"`
}

// wildcardPrincipal reports whether a Principal is everyone: "*", or an
// object whose AWS (or CanonicalUser) member is "*" or lists "*".
func wildcardPrincipal(raw json.RawMessage) bool {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s == "*"
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return false
	}
	for k, v := range m {
		if k != "AWS" && k != "CanonicalUser" {
			continue
		}
		for _, x := range stringList(v) {
			if x == "*" {
				return true
			}
		}
	}
	return false
}

// pinningCondition reports whether a statement's conditions pin the
// caller.
func pinningCondition(cond map[string]map[string]json.RawMessage) bool {
	for op, keys := range cond {
		o := strings.ToLower(op)
		if strings.Contains(o, "not") || strings.HasSuffix(o, "ifexists") || o == "null" {
			continue
		}
		for key, v := range keys {
			k := strings.ToLower(key)
			if !pinningConditionKeys[k] {
				continue
			}
			for _, x := range stringList(v) {
				if x == "" || strings.Trim(x, "*?") == "" {
					continue
				}
				if k == "aws:sourceip" && (x == "0.0.0.0/0" || x == "::/0") {
					continue
				}
				return true
			}
		}
	}
	return false
}

// stringList reads a JSON string or list of strings.
func stringList(raw json.RawMessage) []string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return []string{s}
	}
	var l []string
	if json.Unmarshal(raw, &l) == nil {
		return l
	}
	return nil
}

// publicACL returns the grants of an ACL request (its AccessControlPolicy,
// canned ACL and grant headers) that make the bucket public.
func publicACL(params map[string]string) []publicGrant {
	var out []publicGrant
	for _, acl := range strings.Split(params[event.ParamCannedACL], ",") {
		switch acl = strings.TrimSpace(acl); acl {
		case "public-read", "public-read-write":
			out = append(out, publicGrant{anonymous: true, by: "canned ACL", detail: map[string]any{"cannedAcl": acl}})
		case "authenticated-read":
			out = append(out, publicGrant{by: "canned ACL", detail: map[string]any{"cannedAcl": acl}})
		}
	}
	for _, h := range []string{"x-amz-grant-read", "x-amz-grant-read-acp", "x-amz-grant-write", "x-amz-grant-write-acp", "x-amz-grant-full-control"} {
		v := params[event.ParamGrantPrefix+h]
		for _, g := range []struct {
			uri       string
			anonymous bool
		}{{groupAllUsers, true}, {groupAuthenticatedUsers, false}} {
			if strings.Contains(v, g.uri) {
				out = append(out, publicGrant{anonymous: g.anonymous, by: "ACL header", detail: map[string]any{"header": h, "grantee": g.uri}})
			}
		}
	}
	if doc := params[event.ParamAccessControlPolicy]; doc != "" {
		var acp any
		if json.Unmarshal([]byte(doc), &acp) == nil {
			walkGrants(acp, &out, 0)
		}
	}
	return out
}

// walkGrants finds the grants to public groups in an AccessControlPolicy
// (Grant may be one object or a list, Grantee's URI names the group).
func walkGrants(v any, out *[]publicGrant, depth int) {
	if depth > 8 {
		return
	}
	switch v := v.(type) {
	case map[string]any:
		if grantee, ok := v["Grantee"].(map[string]any); ok {
			uri, _ := grantee["URI"].(string)
			perm, _ := v["Permission"].(string)
			switch uri {
			case groupAllUsers, groupAuthenticatedUsers:
				*out = append(*out, publicGrant{anonymous: uri == groupAllUsers, by: "ACL",
					detail: map[string]any{"grantee": uri, "permission": perm}})
			}
			return
		}
		for _, k := range slices.Sorted(maps.Keys(v)) {
			walkGrants(v[k], out, depth+1)
		}
	case []any:
		for _, x := range v {
			walkGrants(x, out, depth+1)
		}
	}
}
