package detect

import (
	"strings"

	"github.com/vigil-sec/vigil/event"
	"github.com/vigil-sec/vigil/findings"
	"github.com/vigil-sec/vigil/profiles"
)

// S3 settings that protect buckets, turned off (spec §1.3), each raised
// for a successful call:
//
//   - Policy:S3/AccountBlockPublicAccessDisabled (Low): the account's S3
//     Block Public Access was deleted (DeleteAccountPublicAccessBlock) or
//     set with any of its four flags false (PutAccountPublicAccessBlock);
//   - Policy:S3/BucketBlockPublicAccessDisabled (Low): the same for one
//     bucket (DeleteBucketPublicAccessBlock, PutBucketPublicAccessBlock);
//   - Stealth:S3/ServerAccessLoggingDisabled (Low): PutBucketLogging with
//     a BucketLoggingStatus that has no LoggingEnabled, which stops the
//     bucket's access logs (a request without BucketLoggingStatus is not
//     one S3 accepts).
//
// The flags are request parameters the decoder flattens
// ("PublicAccessBlockConfiguration.BlockPublicAcls"). A flag the request
// leaves out counts as false, as S3 takes it. Aggregation key: (account,
// region, type, principal, bucket); the account-level type has no bucket.

const s3Source = "s3.amazonaws.com"

var publicAccessFlags = []string{"BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"}

func (e *Engine) s3Settings(p *profiles.Principal, ev *event.Event, out []findings.Finding) []findings.Finding {
	ct := ev.CloudTrail
	if ct.EventSource != s3Source || !succeeded(ct) {
		return out
	}
	params := ct.RequestParameters
	bucket := params["bucketName"]
	// A Put turns Block Public Access off only with a flag false.
	putOn := func() bool { return strings.HasPrefix(ct.EventName, "Put") && !publicAccessOff(params) }
	var typ, title string
	switch ct.EventName {
	case "DeleteAccountPublicAccessBlock", "PutAccountPublicAccessBlock":
		if putOn() {
			return out
		}
		typ, title = TypeAccountBlockPublicAccessOff, "Amazon S3 Block Public Access was disabled for the account."
	case "DeleteBucketPublicAccessBlock", "PutBucketPublicAccessBlock":
		if putOn() {
			return out
		}
		typ, title = TypeBucketBlockPublicAccessOff, "Amazon S3 Block Public Access was disabled for S3 bucket "+bucket+"."
	case "PutBucketLogging":
		if !hasParam(params, "BucketLoggingStatus") || hasParam(params, "BucketLoggingStatus.LoggingEnabled") {
			return out
		}
		typ, title = TypeS3ServerAccessLoggingOff, "Server access logging was disabled for S3 bucket "+bucket+"."
	default:
		return out
	}
	var f findings.Finding
	if typ == TypeAccountBlockPublicAccessOff || bucket == "" {
		f = callFinding(typ, findings.SeverityLow, p, ev, nil)
	} else {
		f = callFinding(typ, findings.SeverityLow, p, ev, map[string]string{"AWS::S3::Bucket": bucket}, bucket)
		f.Resource.S3BucketDetails = []findings.S3BucketDetail{{Name: bucket, Arn: "arn:aws:s3:::" + bucket, Type: "Destination"}}
	}
	because(&f, reasons[typ], s3Observed(ct.EventName, params)...)
	f.Title = title
	f.Description = strings.TrimSuffix(title, ".") + " by " + principalLabel(&ct.Identity) + " calling " + ct.EventName +
		". If this was not intended, data in the account's buckets may be exposed or its access go unrecorded."
	return append(out, f)
}

// reasons say what raised each type of this file (additionalInfo.reason).
var reasons = map[string]string{
	TypeAccountBlockPublicAccessOff: "the account's Block Public Access deleted, or put with a flag false",
	TypeBucketBlockPublicAccessOff:  "the bucket's Block Public Access deleted, or put with a flag false",
	TypeS3ServerAccessLoggingOff:    "PutBucketLogging without LoggingEnabled",
}

// s3Observed lists the request values behind a finding of this file: the
// API and the four Block Public Access flags a Put set.
func s3Observed(api string, params map[string]string) []string {
	out := []string{"api", api}
	for _, flag := range publicAccessFlags {
		if v, ok := params["PublicAccessBlockConfiguration."+flag]; ok {
			out = append(out, flag, v)
		}
	}
	return out
}

// publicAccessOff reports whether a Put*PublicAccessBlock request sets any
// of the four Block Public Access flags false.
func publicAccessOff(params map[string]string) bool {
	if !hasParam(params, "PublicAccessBlockConfiguration") {
		return false // no configuration: S3 rejects the request
	}
	for _, flag := range publicAccessFlags {
		if !strings.EqualFold(params["PublicAccessBlockConfiguration."+flag], "true") {
			return true
		}
	}
	return false
}

// hasParam reports whether the request has the parameter name, a scalar
// or an object (whose members flatten to "name.member").
func hasParam(params map[string]string, name string) bool {
	if _, ok := params[name]; ok {
		return true
	}
	for k := range params {
		if strings.HasPrefix(k, name+".") {
			return true
		}
	}
	return false
}
