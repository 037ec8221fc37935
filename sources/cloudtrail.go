package sources

import (
	"strings"
	"unicode/utf8"

	"github.com/valyala/fastjson"
	"github.com/vigil-sec/vigil/event"
)

// Bounds on CloudTrail request parameters kept per event.
const (
	maxParams      = 32
	maxParamValue  = 256
	maxParamKeyLen = 128
)

// CloudTrailDecoder decodes CloudTrail records: one event object, an S3
// delivery file {"Records":[...]}, a JSON array of events, or JSON lines,
// any of them gzip-compressed. Only management events are returned; data,
// network-activity and Insights events are counted in Result.Dropped.
//
// It holds a JSON parser and is not safe for concurrent use. The zero value
// is ready to use.
type CloudTrailDecoder struct {
	p       fastjson.Parser
	gz      gunzipper
	in      interner
	scratch []byte
}

// NewCloudTrailDecoder returns a decoder; the zero value works as well.
func NewCloudTrailDecoder() *CloudTrailDecoder { return &CloudTrailDecoder{} }

// Decode appends the management events of rec to out. A non-nil error is a
// *DecodeError: the record, or some of its elements, failed. Events of the
// good elements are returned all the same, and Result.Failed counts the bad
// ones.
func (d *CloudTrailDecoder) Decode(rec []byte, out []event.Event) ([]event.Event, Result, error) {
	var res Result
	data := rec
	if isGzip(rec) {
		var err error
		if data, err = d.gz.gunzip(rec); err != nil {
			res.Failed = 1
			return out, res, newError(rec, err, "cloudtrail: %v", err)
		}
	}
	// Invalid UTF-8 is rare; only then is each element checked on its own.
	checkUTF8 := !utf8.Valid(data)

	var f failures
	total := 0
	v, err := d.p.ParseBytes(data)
	switch {
	case err == nil:
		out, total = d.decodeDocument(v, data, checkUTF8, out, &res, &f, 0)
	case isJSONLines(&d.p, data):
		rest := data
		for {
			var line []byte
			if line, rest, _ = nextLine(rest); line == nil {
				break
			}
			v, err := d.p.ParseBytes(line)
			if err != nil {
				total++
				f.add(total, errField("json", "%v", err), line)
				continue
			}
			var n int
			out, n = d.decodeDocument(v, line, checkUTF8 && !utf8.Valid(line), out, &res, &f, total)
			total += n
		}
	default:
		res.Failed = 1
		return out, res, newError(data, err, "cloudtrail: invalid JSON: %v", err)
	}
	res.Failed = f.failed
	return out, res, f.err("cloudtrail", data, total)
}

// decodeDocument decodes one parsed JSON value: a Records wrapper, an array
// of events or one event. base numbers its elements; it returns how many
// elements it saw.
func (d *CloudTrailDecoder) decodeDocument(v *fastjson.Value, raw []byte, checkUTF8 bool,
	out []event.Event, res *Result, f *failures, base int) ([]event.Event, int) {
	var elems []*fastjson.Value
	switch v.Type() {
	case fastjson.TypeObject:
		if recs := v.Get("Records"); recs != nil {
			if recs.Type() != fastjson.TypeArray {
				f.add(base+1, errField("Records", "not an array"), raw)
				return out, 1
			}
			elems, _ = recs.Array()
			break
		}
		if checkUTF8 { // raw is exactly this object
			f.add(base+1, errField("event", "invalid UTF-8"), raw)
			return out, 1
		}
		return d.appendEvent(v, raw, false, out, res, f, base+1), 1
	case fastjson.TypeArray:
		elems, _ = v.Array()
	default:
		f.add(base+1, errField("event", "not a JSON object"), raw)
		return out, 1
	}
	for i, e := range elems {
		out = d.appendEvent(e, nil, checkUTF8, out, res, f, base+i+1)
	}
	return out, len(elems)
}

// appendEvent decodes element index. raw is its bytes when known; with
// checkUTF8 and no raw bytes the element is re-serialised to check them.
func (d *CloudTrailDecoder) appendEvent(v *fastjson.Value, raw []byte, checkUTF8 bool,
	out []event.Event, res *Result, f *failures, index int) []event.Event {
	if checkUTF8 {
		// MarshalTo copies strings raw, so invalid bytes survive into it.
		d.scratch = v.MarshalTo(d.scratch[:0])
		if !utf8.Valid(d.scratch) {
			f.add(index, errField("event", "invalid UTF-8"), d.scratch)
			d.scratch = nil // f keeps it for the excerpt
			return out
		}
	}
	ev, dropped, err := d.decodeEvent(v)
	switch {
	case err != nil:
		f.add(index, err, raw)
	case dropped:
		res.Dropped++
	default:
		out = append(out, ev)
	}
	return out
}

// ctView holds the fields of one event as views into the parser's buffer.
type ctView struct {
	eventTime, eventName, eventSource, eventType, eventCategory []byte
	eventID, awsRegion, sourceIP, userAgent, errorCode          []byte
	errorMessage, recipient, vpcEndpoint, consoleLogin, mfaUsed []byte
	readOnly, mgmt, mgmtSet, insight                            bool
	identity, params                                            *fastjson.Object
	identitySet                                                 bool
}

// decodeEvent decodes one CloudTrail event object. dropped is set for
// events that are well-formed but not management events.
func (d *CloudTrailDecoder) decodeEvent(v *fastjson.Value) (ev event.Event, dropped bool, err error) {
	o, oerr := v.Object()
	if oerr != nil {
		return ev, false, errField("event", "not a JSON object")
	}
	var w ctView
	o.Visit(func(k []byte, v *fastjson.Value) {
		if err != nil {
			return
		}
		switch string(k) {
		case "eventTime":
			w.eventTime, err = str(v, "eventTime")
		case "eventName":
			w.eventName, err = str(v, "eventName")
		case "eventSource":
			w.eventSource, err = str(v, "eventSource")
		case "eventType":
			w.eventType, err = str(v, "eventType")
		case "eventCategory":
			w.eventCategory, err = str(v, "eventCategory")
		case "eventID":
			w.eventID, err = str(v, "eventID")
		case "awsRegion":
			w.awsRegion, err = str(v, "awsRegion")
		case "sourceIPAddress":
			w.sourceIP, err = str(v, "sourceIPAddress")
		case "userAgent":
			w.userAgent, err = str(v, "userAgent")
		case "errorCode":
			w.errorCode, err = str(v, "errorCode")
		case "errorMessage":
			w.errorMessage, err = str(v, "errorMessage")
		case "recipientAccountId":
			w.recipient, err = str(v, "recipientAccountId")
		case "vpcEndpointId":
			w.vpcEndpoint, err = str(v, "vpcEndpointId")
		case "readOnly":
			w.readOnly, _, err = boolish(v, "readOnly")
		case "managementEvent":
			w.mgmt, w.mgmtSet, err = boolish(v, "managementEvent")
		case "insightDetails":
			w.insight = v.Type() != fastjson.TypeNull
		case "userIdentity":
			switch v.Type() {
			case fastjson.TypeObject:
				w.identity, _ = v.Object()
				w.identitySet = true
			case fastjson.TypeNull:
			default:
				err = errField("userIdentity", "not an object")
			}
		case "requestParameters":
			w.params = objectOrNil(v)
		case "responseElements":
			if o := objectOrNil(v); o != nil {
				if c := o.Get("ConsoleLogin"); c != nil {
					w.consoleLogin, err = str(c, "responseElements.ConsoleLogin")
				}
			}
		case "additionalEventData":
			if o := objectOrNil(v); o != nil {
				if m := o.Get("MFAUsed"); m != nil {
					w.mfaUsed, err = str(m, "additionalEventData.MFAUsed")
				}
			}
		}
	})
	if err != nil {
		return ev, false, err
	}
	switch string(w.eventCategory) {
	case "Data", "Insight", "NetworkActivity":
		return ev, true, nil
	}
	if w.insight || (w.mgmtSet && !w.mgmt) || string(w.eventType) == "AwsCloudTrailInsight" {
		return ev, true, nil
	}

	switch {
	case len(w.eventTime) == 0:
		return ev, false, errField("eventTime", "missing")
	case len(w.eventName) == 0:
		return ev, false, errField("eventName", "missing")
	case len(w.eventSource) == 0:
		return ev, false, errField("eventSource", "missing")
	case !w.identitySet:
		return ev, false, errField("userIdentity", "missing")
	}
	t, ok := parseTime(w.eventTime)
	if !ok {
		return ev, false, errField("eventTime", "not a time: %q", excerpt(w.eventTime))
	}

	in := &d.in
	ct := &event.CloudTrail{
		EventID:          string(w.eventID),
		EventName:        in.get(w.eventName),
		EventSource:      in.get(w.eventSource),
		EventType:        in.get(w.eventType),
		AWSRegion:        in.get(w.awsRegion),
		SourceIP:         in.get(w.sourceIP),
		UserAgent:        in.get(w.userAgent),
		ErrorCode:        in.get(w.errorCode),
		ErrorMessage:     string(w.errorMessage),
		ReadOnly:         w.readOnly,
		RecipientAccount: in.get(w.recipient),
		VPCEndpointID:    in.get(w.vpcEndpoint),
		ConsoleLogin:     in.get(w.consoleLogin),
		MFAUsed:          in.get(w.mfaUsed),
	}
	if err := d.identity(w.identity, &ct.Identity); err != nil {
		return ev, false, err
	}
	ct.RequestParameters = d.params(w.params)

	ev = event.Event{
		Source:     event.SourceCloudTrail,
		Time:       t,
		Account:    ct.RecipientAccount,
		Region:     ct.AWSRegion,
		Kind:       event.KindPrincipal,
		CloudTrail: ct,
	}
	if ev.Account == "" {
		ev.Account = ct.Identity.AccountID
	}
	ev.Entity = principalEntity(ct, ev.Account)
	return ev, false, nil
}

// identity fills id from userIdentity.
func (d *CloudTrailDecoder) identity(o *fastjson.Object, id *event.Identity) error {
	var err error
	var session *fastjson.Object
	in := &d.in
	o.Visit(func(k []byte, v *fastjson.Value) {
		if err != nil {
			return
		}
		var b []byte
		switch string(k) {
		case "type":
			b, err = str(v, "userIdentity.type")
			id.Type = in.get(b)
		case "principalId":
			b, err = str(v, "userIdentity.principalId")
			id.PrincipalID = in.get(b)
		case "arn":
			b, err = str(v, "userIdentity.arn")
			id.ARN = in.get(b)
		case "accountId":
			b, err = str(v, "userIdentity.accountId")
			id.AccountID = in.get(b)
		case "accessKeyId":
			b, err = str(v, "userIdentity.accessKeyId")
			id.AccessKeyID = in.get(b)
		case "userName":
			b, err = str(v, "userIdentity.userName")
			id.UserName = in.get(b)
		case "invokedBy":
			b, err = str(v, "userIdentity.invokedBy")
			id.InvokedBy = in.get(b)
		case "sessionContext":
			session = objectOrNil(v)
		}
	})
	if err != nil || session == nil {
		return err
	}
	session.Visit(func(k []byte, v *fastjson.Value) {
		if err != nil {
			return
		}
		var b []byte
		switch string(k) {
		case "sessionIssuer":
			iss := objectOrNil(v)
			if iss == nil {
				return
			}
			if t := iss.Get("type"); t != nil {
				b, err = str(t, "sessionIssuer.type")
				id.SessionIssuerType = in.get(b)
			}
			if a := iss.Get("arn"); a != nil && err == nil {
				b, err = str(a, "sessionIssuer.arn")
				id.SessionIssuerARN = in.get(b)
			}
			if u := iss.Get("userName"); u != nil && err == nil {
				b, err = str(u, "sessionIssuer.userName")
				id.SessionIssuerUserName = in.get(b)
			}
		case "attributes":
			if a := objectOrNil(v); a != nil {
				if m := a.Get("mfaAuthenticated"); m != nil {
					id.MFAAuthenticated, _, err = boolish(m, "sessionContext.attributes.mfaAuthenticated")
				}
			}
		case "ec2RoleDelivery":
			b, err = str(v, "sessionContext.ec2RoleDelivery")
			id.EC2RoleDelivery = in.get(b)
		case "assumedRoot":
			id.AssumedRoot, _, err = boolish(v, "sessionContext.assumedRoot")
		}
	})
	// AssumeRoot sessions show as type Root with sessionContext.assumedRoot;
	// the caller of AssumeRoot (a role) may carry the marker too, so only a
	// Root identity counts. An ASIA key alone is not enough: root console
	// sessions and GetSessionToken use temporary keys as well.
	id.AssumedRoot = id.AssumedRoot && id.Type == "Root"
	return err
}

// params returns the top-level scalar request parameters, bounded in count
// and size; nested objects and arrays are skipped.
func (d *CloudTrailDecoder) params(o *fastjson.Object) map[string]string {
	if o == nil || o.Len() == 0 {
		return nil
	}
	var m map[string]string
	o.Visit(func(k []byte, v *fastjson.Value) {
		if len(m) >= maxParams || len(k) == 0 || len(k) > maxParamKeyLen {
			return
		}
		var val []byte
		switch v.Type() {
		case fastjson.TypeString:
			val, _ = v.StringBytes()
		case fastjson.TypeNumber:
			d.scratch = v.MarshalTo(d.scratch[:0]) // the number's own text
			val = d.scratch
		case fastjson.TypeTrue:
			val = []byte("true")
		case fastjson.TypeFalse:
			val = []byte("false")
		default:
			return
		}
		if m == nil {
			m = make(map[string]string, min(o.Len(), maxParams))
		}
		m[d.in.get(k)] = string(truncateUTF8(val, maxParamValue))
	})
	return m
}

// truncateUTF8 cuts b to at most n bytes without splitting a rune.
func truncateUTF8(b []byte, n int) []byte {
	if len(b) <= n {
		return b
	}
	for n > 0 && !utf8.RuneStart(b[n]) {
		n--
	}
	return b[:n]
}

// principalEntity returns the entity an event is routed to:
//
//   - IAMUser: the user ARN (or one built from the account and userName);
//   - AssumedRole: the role ARN from sessionContext.sessionIssuer, else the
//     session ARN turned into its role ARN, so all sessions of a role
//     aggregate;
//   - Root: arn:<partition>:iam::<account>:root;
//   - FederatedUser: its ARN;
//   - AWSAccount: "account:<accountId>";
//   - AWSService: "service:<invokedBy or eventSource>";
//   - other types (Unknown, IdentityCenterUser, Directory, ...): the ARN if
//     any, else "service:<invokedBy or eventSource>".
//
// An identity too sparse for its rule falls back to "principal:<id>" or
// "account:<account>".
func principalEntity(ct *event.CloudTrail, account string) string {
	id := &ct.Identity
	acct := id.AccountID
	if acct == "" {
		acct = account
	}
	var e string
	switch id.Type {
	case "IAMUser":
		e = id.ARN
		if e == "" && id.UserName != "" && acct != "" {
			e = "arn:" + partition(id.ARN) + ":iam::" + acct + ":user/" + id.UserName
		}
	case "AssumedRole":
		e = id.SessionIssuerARN
		if e == "" {
			e = roleFromSession(id.ARN)
		}
	case "Root":
		if acct != "" {
			e = "arn:" + partition(id.ARN) + ":iam::" + acct + ":root"
		}
	case "FederatedUser":
		e = id.ARN
	case "AWSAccount":
		if acct != "" {
			e = "account:" + acct
		}
	case "AWSService":
		e = serviceEntity(ct)
	default:
		e = id.ARN
		if e == "" {
			e = serviceEntity(ct)
		}
	}
	switch {
	case e != "":
		return e
	case id.PrincipalID != "":
		return "principal:" + id.PrincipalID
	}
	return "account:" + acct
}

func serviceEntity(ct *event.CloudTrail) string {
	if ct.Identity.InvokedBy != "" {
		return "service:" + ct.Identity.InvokedBy
	}
	return "service:" + ct.EventSource
}

// partition returns the partition of an ARN ("aws", "aws-cn", ...), "aws"
// if arn is not one.
func partition(arn string) string {
	if rest, ok := strings.CutPrefix(arn, "arn:"); ok {
		if p, _, ok := strings.Cut(rest, ":"); ok && p != "" {
			return p
		}
	}
	return "aws"
}

// roleFromSession turns arn:<p>:sts::<acct>:assumed-role/<role>/<session>
// into arn:<p>:iam::<acct>:role/<role>. Other ARNs are returned unchanged.
func roleFromSession(arn string) string {
	// arn : partition : sts : (empty region) : account : assumed-role/R/S
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "sts" {
		return arn
	}
	res, ok := strings.CutPrefix(parts[5], "assumed-role/")
	if !ok {
		return arn
	}
	role, _, _ := strings.Cut(res, "/")
	if role == "" {
		return arn
	}
	return "arn:" + parts[1] + ":iam::" + parts[4] + ":role/" + role
}
