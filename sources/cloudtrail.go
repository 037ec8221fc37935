package sources

import (
	"bytes"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/valyala/fastjson"
	"github.com/vigil-sec/vigil/event"
)

// Bounds on CloudTrail request parameters kept per event.
const (
	maxParams      = 64
	maxParamValue  = 256
	maxParamKeyLen = 128
	// paramsHint is the size the parameter map starts at: most requests
	// have a handful.
	paramsHint = 16
)

// CloudTrailDecoder decodes CloudTrail records: one event object, an S3
// delivery file {"Records":[...]}, a JSON array of events, or JSON lines,
// any of them gzip-compressed. Only management events are emitted; data,
// network-activity and Insights events are counted in Result.Dropped.
//
// Large records are streamed: a compressed delivery file is decompressed
// and split one event at a time, so decoding it takes the memory of its
// largest event, not of the file.
//
// It holds a JSON parser and is not safe for concurrent use. The zero value
// is ready to use, with the default Limits.
type CloudTrailDecoder struct {
	lim     Limits
	p       fastjson.Parser
	rd      recordReader
	in      interner
	scratch []byte
	key     []byte // a flattened request parameter's key
	// docParser parses policy documents sent as text (canonicalDoc).
	docParser fastjson.Parser
	// bigParse is set when the parser has grown past keepBuffer; it is
	// replaced at the end of the record.
	bigParse bool

	// The event handed to emit, reused for the next.
	ev     event.Event
	ct     event.CloudTrail
	params map[string]string
}

// NewCloudTrailDecoder returns a decoder bounded by lim (zero fields mean
// the defaults).
func NewCloudTrailDecoder(lim Limits) *CloudTrailDecoder { return &CloudTrailDecoder{lim: lim} }

// Decode calls emit for each management event of rec, in record order.
// The event and everything it points to belong to the decoder and are
// overwritten after emit returns: emit must encode or copy what it needs
// and keep no pointer (strings are immutable and may be kept).
//
// A non-nil error is a *DecodeError: the record, or some of its elements,
// failed. The good elements are emitted all the same, and Result.Failed
// counts the bad ones; once malformed JSON, a gzip error or the
// decompressed limit is met, the rest of the record counts as one failed
// element.
func (d *CloudTrailDecoder) Decode(rec []byte, emit func(*event.Event)) (Result, error) {
	lim := d.lim.withDefaults()
	// A small record in memory is parsed whole, as one JSON document: one
	// parse for the common single-event record. Anything else is streamed,
	// and so is invalid UTF-8 (rare), to find the elements at fault.
	if !isGzip(rec) && len(rec) <= lim.MaxElement && utf8.Valid(rec) {
		v, err := d.p.ParseBytes(rec)
		d.noteParse(rec, v)
		if err == nil {
			var res Result
			f := failures{unit: "element"}
			total := d.decodeDocument(v, rec, emit, &res, &f)
			d.endRecord()
			res.Failed = f.failed
			return res, f.err("cloudtrail", total)
		}
	}
	res, err := d.decodeStream(rec, lim, emit)
	d.endRecord()
	return res, err
}

// decodeStream decodes rec one element at a time.
func (d *CloudTrailDecoder) decodeStream(rec []byte, lim Limits, emit func(*event.Event)) (Result, error) {
	in, err := d.rd.open(rec, lim)
	if err != nil {
		return Result{Failed: 1}, newError(rec, err, "cloudtrail: %v", err)
	}
	var res Result
	f := failures{unit: "element"}
	total := 0
	st := jsonStream{in: in, wrapper: "Records", emit: func(e *elem) {
		total++
		if e.err != nil {
			f.add(total, e.err, e.raw)
			return
		}
		d.decodeElement(e.b, total, emit, &res, &f)
	}}
	if err := st.run(); err != nil {
		total++
		f.addRest(total, err, in.headBytes())
	} else if st.values == 0 {
		f.add(1, errEmpty, nil)
	}
	res.Failed = f.failed
	return res, f.err("cloudtrail", total)
}

// endRecord lets go of what the record grew.
func (d *CloudTrailDecoder) endRecord() {
	d.rd.close()
	if d.bigParse {
		d.p = fastjson.Parser{}
		d.bigParse = false
	}
	if cap(d.scratch) > keepBuffer {
		d.scratch = nil
	}
}

// noteParse marks the parser for replacement when parsing b into v (nil
// if that failed) grew it past keepBuffer.
func (d *CloudTrailDecoder) noteParse(b []byte, v *fastjson.Value) {
	if parserGrew(b, v) {
		d.bigParse = true
	}
}

// decodeDocument decodes one parsed record, valid UTF-8: a Records
// wrapper, an array of events or one event. It returns how many elements
// it saw.
func (d *CloudTrailDecoder) decodeDocument(v *fastjson.Value, raw []byte, emit func(*event.Event), res *Result, f *failures) int {
	var elems []*fastjson.Value
	switch v.Type() {
	case fastjson.TypeObject:
		if recs := v.Get("Records"); recs != nil {
			if recs.Type() != fastjson.TypeArray {
				f.add(1, errField("Records", "not an array"), raw)
				return 1
			}
			elems, _ = recs.Array()
			break
		}
		d.decodeValue(v, raw, emit, res, f, 1)
		return 1
	case fastjson.TypeArray:
		elems, _ = v.Array()
	default:
		f.add(1, errField("event", "not a JSON object"), raw)
		return 1
	}
	for i, e := range elems {
		d.decodeValue(e, raw, emit, res, f, i+1)
	}
	return len(elems)
}

// decodeElement parses and decodes one element of a streamed record.
func (d *CloudTrailDecoder) decodeElement(b []byte, index int, emit func(*event.Event), res *Result, f *failures) {
	if !utf8.Valid(b) {
		f.add(index, errField("event", "invalid UTF-8"), b)
		return
	}
	v, err := d.p.ParseBytes(b)
	d.noteParse(b, v)
	if err != nil {
		f.add(index, errJSON(err), b)
		return
	}
	d.decodeValue(v, b, emit, res, f, index)
}

// decodeValue decodes element index and emits it; raw is its bytes, or
// the record's, for the excerpt.
func (d *CloudTrailDecoder) decodeValue(v *fastjson.Value, raw []byte, emit func(*event.Event), res *Result, f *failures, index int) {
	dropped, err := d.decodeEvent(v)
	switch {
	case err != nil:
		f.add(index, err, raw)
	case dropped:
		res.Dropped++
	default:
		emit(&d.ev)
	}
}

// ctView holds the fields of one event as views into the parser's buffer.
type ctView struct {
	eventTime, eventName, eventSource, eventType, eventCategory []byte
	eventID, awsRegion, sourceIP, userAgent, errorCode          []byte
	errorMessage, recipient, vpcEndpoint, consoleLogin, mfaUsed []byte
	vpcEndpointAccount                                          []byte
	readOnly, mgmt, mgmtSet, insight                            bool
	identity, params, response                                  *fastjson.Object
	identitySet                                                 bool
}

// decodeEvent decodes one CloudTrail event object into d.ev. dropped is
// set for events that are well-formed but not management events.
func (d *CloudTrailDecoder) decodeEvent(v *fastjson.Value) (dropped bool, err error) {
	o, oerr := v.Object()
	if oerr != nil {
		return false, errField("event", "not a JSON object")
	}
	var w ctView
	o.Visit(func(k []byte, v *fastjson.Value) {
		if err != nil {
			return
		}
		switch string(k) {
		case "eventTime":
			w.eventTime, err = strN(v, "eventTime", maxTimestamp)
		case "eventName":
			w.eventName, err = strN(v, "eventName", maxName)
		case "eventSource":
			// Part of the entity of service events.
			w.eventSource, err = idStr(v, "eventSource", maxName)
		case "eventType":
			w.eventType, err = strN(v, "eventType", maxName)
		case "eventCategory":
			w.eventCategory, err = strN(v, "eventCategory", maxName)
		case "eventID":
			w.eventID, err = strN(v, "eventID", maxID)
		case "awsRegion":
			w.awsRegion, err = idStr(v, "awsRegion", maxRegion)
		case "sourceIPAddress":
			w.sourceIP, err = strN(v, "sourceIPAddress", maxName)
		case "userAgent":
			w.userAgent, err = freeText(v, "userAgent")
		case "errorCode":
			w.errorCode, err = strN(v, "errorCode", maxName)
		case "errorMessage":
			w.errorMessage, err = freeText(v, "errorMessage")
		case "recipientAccountId":
			w.recipient, err = idStr(v, "recipientAccountId", maxID)
		case "vpcEndpointId":
			w.vpcEndpoint, err = strN(v, "vpcEndpointId", maxID)
		case "vpcEndpointAccountId":
			w.vpcEndpointAccount, err = idStr(v, "vpcEndpointAccountId", maxID)
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
				w.response = o
				if c := o.Get("ConsoleLogin"); c != nil {
					w.consoleLogin, err = strN(c, "responseElements.ConsoleLogin", maxName)
				}
			}
		case "additionalEventData":
			if o := objectOrNil(v); o != nil {
				if m := o.Get("MFAUsed"); m != nil {
					w.mfaUsed, err = strN(m, "additionalEventData.MFAUsed", maxName)
				}
			}
		}
	})
	if err != nil {
		return false, err
	}
	switch string(w.eventCategory) {
	case "Data", "Insight", "NetworkActivity":
		return true, nil
	}
	if w.insight || (w.mgmtSet && !w.mgmt) || string(w.eventType) == "AwsCloudTrailInsight" {
		return true, nil
	}

	switch {
	case len(w.eventTime) == 0:
		return false, errField("eventTime", "missing")
	case len(w.eventName) == 0:
		return false, errField("eventName", "missing")
	case len(w.eventSource) == 0:
		return false, errField("eventSource", "missing")
	case !w.identitySet:
		return false, errField("userIdentity", "missing")
	}
	t, ok := parseTime(w.eventTime)
	if !ok {
		return false, errField("eventTime", "not a time")
	}
	if err := checkTime(t, "eventTime"); err != nil {
		return false, err
	}

	in := &d.in
	ct := &d.ct
	*ct = event.CloudTrail{
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
		return false, err
	}
	ct.RequestParameters = d.requestParams(w.params)
	inv := inventoryFacts(ct, w.params, w.response)
	d.detectorParams(&w, ct, inv)

	d.ev = event.Event{
		Source:     event.SourceCloudTrail,
		Time:       t,
		Account:    ct.RecipientAccount,
		Region:     ct.AWSRegion,
		Kind:       event.KindPrincipal,
		CloudTrail: ct,
	}
	if d.ev.Account == "" {
		d.ev.Account = ct.Identity.AccountID
	}
	d.ev.Entity = principalEntity(ct, d.ev.Account)
	d.ev.Inventory = inv
	return false, checkRouting(&d.ev)
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
			b, err = strN(v, "userIdentity.type", maxName)
			id.Type = in.get(b)
		case "principalId":
			b, err = idStr(v, "userIdentity.principalId", maxARN)
			id.PrincipalID = in.get(b)
		case "arn":
			b, err = idStr(v, "userIdentity.arn", maxARN)
			id.ARN = in.get(b)
		case "accountId":
			b, err = idStr(v, "userIdentity.accountId", maxID)
			id.AccountID = in.get(b)
		case "accessKeyId":
			b, err = strN(v, "userIdentity.accessKeyId", maxID)
			id.AccessKeyID = in.get(b)
		case "userName":
			b, err = idStr(v, "userIdentity.userName", maxARN)
			id.UserName = in.get(b)
		case "invokedBy":
			b, err = idStr(v, "userIdentity.invokedBy", maxName)
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
				b, err = strN(t, "sessionIssuer.type", maxName)
				id.SessionIssuerType = in.get(b)
			}
			if a := iss.Get("arn"); a != nil && err == nil {
				b, err = idStr(a, "sessionIssuer.arn", maxARN)
				id.SessionIssuerARN = in.get(b)
			}
			if u := iss.Get("userName"); u != nil && err == nil {
				b, err = strN(u, "sessionIssuer.userName", maxARN)
				id.SessionIssuerUserName = in.get(b)
			}
		case "attributes":
			if a := objectOrNil(v); a != nil {
				if m := a.Get("mfaAuthenticated"); m != nil {
					id.MFAAuthenticated, _, err = boolish(m, "sessionContext.attributes.mfaAuthenticated")
				}
			}
		case "ec2RoleDelivery":
			b, err = strN(v, "sessionContext.ec2RoleDelivery", maxName)
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

// requestParams returns the scalar request parameters, bounded in count
// and size, flattened to dotted paths:
//
//   - a nested object's scalars under "outer.inner" (an empty object is
//     kept as "{}": an empty BucketLoggingStatus turns logging off), up to
//     maxParamDepth object levels;
//   - a list's elements under their index, "items.0.group" or
//     "valuesToAdd.0", the first maxListElems of each list; a list's
//     index is no level of its own, so ipPermissions.items.0.ipRanges.
//     items.0.cidrIp is five levels deep;
//   - each object's scalars before its nested objects and lists, so a
//     long list cannot push out the top-level names most detectors read.
//
// Values are cut at maxParamValue bytes, except the policy documents of
// isDocParam, cut at maxDocParam. The map is the decoder's, reused for the
// next event.
func (d *CloudTrailDecoder) requestParams(o *fastjson.Object) map[string]string {
	if o == nil || o.Len() == 0 {
		return nil
	}
	// Clearing a map costs its capacity: one grown by a large request is
	// dropped rather than cleared for every event after it.
	if d.params == nil || len(d.params) > paramsHint {
		d.params = make(map[string]string, paramsHint)
	} else {
		clear(d.params)
	}
	if d.key == nil {
		d.key = make([]byte, 0, 2*maxParamKeyLen)
	}
	d.flattenObject(o, d.key[:0], 1)
	if len(d.params) == 0 {
		return nil
	}
	return d.params
}

// Bounds of the flattening: how deep it looks into nested objects, how
// many elements of one list it keeps, and how long a policy document may
// be (IAM caps a trust policy at 4096 characters and a managed policy at
// 6144, whitespace aside; a longer one is cut).
const (
	maxParamDepth = 6
	maxListElems  = 16
	maxDocParam   = 8 << 10
)

// isDocParam reports whether a top-level parameter holds a policy
// document as text, which rules search whole ("foreign account in the
// trust policy"). A document that is JSON is kept in a canonical form,
// compact and with no needless escapes, so that a rule's "contains" sees
// "Principal":"*" however the caller spelt it ("Principal" : "\u002a").
func isDocParam(k []byte) bool {
	switch string(k) {
	case "policyDocument", "assumeRolePolicyDocument", "policy":
		return true
	}
	return false
}

// flattenObject keeps the scalars of o, then flattens its objects and
// lists; prefix is the path of o with a trailing '.', depth its level.
func (d *CloudTrailDecoder) flattenObject(o *fastjson.Object, prefix []byte, depth int) {
	nested := false
	o.Visit(func(k []byte, v *fastjson.Value) {
		switch v.Type() {
		case fastjson.TypeObject, fastjson.TypeArray:
			nested = true
			return
		}
		if len(k) > 0 {
			d.keep(append(prefix, k...), v, depth == 1 && isDocParam(k))
		}
	})
	if !nested {
		return
	}
	o.Visit(func(k []byte, v *fastjson.Value) {
		if len(k) > 0 && len(d.params) < maxParams {
			d.flattenNested(append(prefix, k...), v, depth)
		}
	})
}

// flattenNested flattens v, an object or a list at key.
func (d *CloudTrailDecoder) flattenNested(key []byte, v *fastjson.Value, depth int) {
	if len(key) >= maxParamKeyLen {
		return
	}
	switch v.Type() {
	case fastjson.TypeObject:
		inner, _ := v.Object()
		switch {
		case inner.Len() == 0:
			d.keepString(key, "{}")
		case depth < maxParamDepth:
			d.flattenObject(inner, append(key, '.'), depth+1)
		}
	case fastjson.TypeArray:
		a, _ := v.Array()
		key = append(key, '.')
		for i, e := range a {
			if i == maxListElems || len(d.params) >= maxParams {
				break
			}
			ik := strconv.AppendInt(key, int64(i), 10)
			switch e.Type() {
			case fastjson.TypeObject:
				// An element's fields are one level below the list, as
				// an object's are: the index is no level.
				if inner, _ := e.Object(); inner.Len() > 0 && depth < maxParamDepth && len(ik) < maxParamKeyLen {
					d.flattenObject(inner, append(ik, '.'), depth+1)
				}
			case fastjson.TypeArray:
				// A list of lists: no request parameter has one.
			default:
				d.keep(ik, e, false)
			}
		}
	}
}

// keep adds one scalar parameter, if the bounds allow.
func (d *CloudTrailDecoder) keep(key []byte, v *fastjson.Value, doc bool) {
	if len(d.params) >= maxParams || len(key) > maxParamKeyLen {
		return
	}
	var val []byte
	switch v.Type() {
	case fastjson.TypeString:
		val, _ = v.StringBytes()
		if doc {
			val = d.canonicalDoc(val)
		}
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
	limit := maxParamValue
	if doc {
		limit = maxDocParam
	}
	d.params[d.in.get(key)] = string(truncateUTF8(val, limit))
}

// keepString is keep for a fixed value.
func (d *CloudTrailDecoder) keepString(key []byte, val string) {
	if len(d.params) < maxParams && len(key) <= maxParamKeyLen {
		d.params[d.in.get(key)] = val
	}
}

// canonicalDoc returns doc, a JSON document sent as text, in canonical
// form (see isDocParam), or doc itself if it is not JSON. It parses with a
// parser of its own, as the event's values live in d.p, and lets go of it
// when a large document grew it.
func (d *CloudTrailDecoder) canonicalDoc(doc []byte) []byte {
	if !bytes.ContainsAny(doc, " \t\r\n\\") {
		return doc // canonical already, or not JSON
	}
	v, err := d.docParser.ParseBytes(doc)
	if parserGrew(doc, v) {
		defer func() { d.docParser = fastjson.Parser{} }()
	}
	if err != nil {
		return doc
	}
	d.scratch = appendCanonical(d.scratch[:0], v)
	return d.scratch
}

// appendCanonical appends v as compact JSON, its strings unescaped and
// escaped again only where JSON requires it. The parser bounds v's depth.
func appendCanonical(b []byte, v *fastjson.Value) []byte {
	switch v.Type() {
	case fastjson.TypeObject:
		o, _ := v.Object()
		b = append(b, '{')
		n := 0
		o.Visit(func(k []byte, e *fastjson.Value) {
			if n > 0 {
				b = append(b, ',')
			}
			n++
			b = appendJSONString(b, k)
			b = append(b, ':')
			b = appendCanonical(b, e)
		})
		return append(b, '}')
	case fastjson.TypeArray:
		a, _ := v.Array()
		b = append(b, '[')
		for i, e := range a {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendCanonical(b, e)
		}
		return append(b, ']')
	case fastjson.TypeString:
		s, _ := v.StringBytes()
		return appendJSONString(b, s)
	}
	return v.MarshalTo(b) // numbers as written, true, false, null
}

// appendJSONString appends s quoted, escaping only '"', '\' and control
// characters.
func appendJSONString(b, s []byte) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for _, c := range s {
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
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
