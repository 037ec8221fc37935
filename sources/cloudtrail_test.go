package sources

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/event"
)

func TestCloudTrailStopLogging(t *testing.T) {
	rec := readTestdata(t, "cloudtrail/stratus.aws.defense-evasion.cloudtrail-stop.json")
	var d CloudTrailDecoder
	evs, res, err := decodeAll(d.Decode, rec)
	if err != nil || res != (Result{}) || len(evs) != 1 {
		t.Fatalf("Decode: %d events, %+v, %v", len(evs), res, err)
	}
	want := event.Event{
		Source:  event.SourceCloudTrail,
		Time:    time.Date(2024, 7, 31, 13, 6, 24, 0, time.UTC),
		Account: "143434273843",
		Region:  "apiso-centralnorth-2r",
		Kind:    event.KindPrincipal,
		Entity:  "arn:aws:iam::143434273843:user/christophe",
		CloudTrail: &event.CloudTrail{
			EventID:          "10163ed2-2253-469d-a5ee-cbc6651f8934",
			EventName:        "StopLogging",
			EventSource:      "cloudtrail.amazonaws.com",
			EventType:        "AwsApiCall",
			AWSRegion:        "apiso-centralnorth-2r",
			SourceIP:         "86.245.153.234",
			UserAgent:        "stratus-red-team_c97089f1-1ae3-4ecc-b006-f5e8fd0f2571",
			RecipientAccount: "143434273843",
			Identity: event.Identity{
				Type:        "IAMUser",
				PrincipalID: "AIDAOC1SYDVN0AF0FMMR",
				ARN:         "arn:aws:iam::143434273843:user/christophe",
				AccountID:   "143434273843",
				AccessKeyID: "AKIAGGWFBBHBE7D3M9WI",
				UserName:    "christophe",
			},
			RequestParameters: map[string]string{"name": "stratus-red-team-ct-stop-trail-buykxbqejv"},
		},
	}
	if !reflect.DeepEqual(evs[0], want) {
		t.Fatalf("got\n%+v\n%+v\nwant\n%+v\n%+v", evs[0], evs[0].CloudTrail, want, want.CloudTrail)
	}
	checkEvents(t, event.SourceCloudTrail, evs)
}

func TestCloudTrailStratusFiles(t *testing.T) {
	tests := []struct {
		file   string
		events int
		check  func(t *testing.T, evs []event.Event)
	}{
		{"stratus.aws.initial-access.console-login-without-mfa.json", 1, func(t *testing.T, evs []event.Event) {
			ct := evs[0].CloudTrail
			if ct.EventName != "ConsoleLogin" || ct.ConsoleLogin != "Success" || ct.MFAUsed != "No" || ct.EventType != "AwsConsoleSignIn" {
				t.Errorf("console login fields: %+v", ct)
			}
		}},
		{"stratus.aws.credential-access.ec2-steal-instance-credentials.json", 5, func(t *testing.T, evs []event.Event) {
			id := evs[0].CloudTrail.Identity
			if id.Type != "AssumedRole" || id.EC2RoleDelivery != "1.0" || id.SessionIssuerType != "Role" ||
				id.SessionIssuerUserName != "stratus-red-team-ec2-steal-credentials-role" || id.MFAAuthenticated {
				t.Errorf("instance-role identity: %+v", id)
			}
			if evs[0].Entity != id.SessionIssuerARN || evs[1].Entity != evs[0].Entity {
				t.Errorf("role sessions do not aggregate under the role: %q, %q", evs[0].Entity, evs[1].Entity)
			}
		}},
		{"stratus.aws.persistence.sts-federation-token.json", 2, func(t *testing.T, evs []event.Event) {
			if e := evs[1]; e.CloudTrail.Identity.Type != "FederatedUser" ||
				e.Entity != "arn:aws:sts::742491224508:federated-user/stratus_red_team" {
				t.Errorf("federated user entity %q", e.Entity)
			}
		}},
		{"stratus.aws.defense-evasion.organizations-leave.json", 3, func(t *testing.T, evs []event.Event) {
			if e := evs[1]; e.Entity != "arn:aws:iam::307578594326:role/stratus-red-team-leave-org-role" {
				t.Errorf("assumed role entity %q", e.Entity)
			}
		}},
		{"stratus.aws.persistence.iam-create-admin-user.json", 3, nil},
	}
	var d CloudTrailDecoder
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			evs, res, err := decodeAll(d.Decode, readTestdata(t, "cloudtrail/"+tt.file))
			if err != nil || res != (Result{}) || len(evs) != tt.events {
				t.Fatalf("Decode: %d events, %+v, %v", len(evs), res, err)
			}
			checkEvents(t, event.SourceCloudTrail, evs)
			if tt.check != nil {
				tt.check(t, evs)
			}
		})
	}
}

// TestCloudTrailPanther decodes real-world rule-test logs, many of them
// partial, and checks every line is accounted for.
func TestCloudTrailPanther(t *testing.T) {
	data := readTestdata(t, "cloudtrail/panther.jsonl")
	lines := bytes.Count(data, []byte("\n"))
	var d CloudTrailDecoder
	evs, res, err := decodeAll(d.Decode, data)
	checkEvents(t, event.SourceCloudTrail, evs)
	if len(evs)+res.Dropped+res.Failed != lines {
		t.Fatalf("%d events + %d dropped + %d failed != %d lines", len(evs), res.Dropped, res.Failed, lines)
	}
	if res.Failed == 0 || err == nil {
		t.Fatal("expected the partial test logs to fail")
	}
	de := checkDecodeError(t, err, "elements failed")
	t.Logf("%d events, %+v: %s", len(evs), res, de.Reason)

	// Line by line, the same split.
	var n, dropped, failed int
	for line := range bytes.Lines(data) {
		evs, res, err := decodeAll(d.Decode, line)
		if (err != nil) != (res.Failed == 1) {
			t.Fatalf("line %q: err %v with %+v", line, err, res)
		}
		n, dropped, failed = n+len(evs), dropped+res.Dropped, failed+res.Failed
	}
	if n != len(evs) || dropped != res.Dropped || failed != res.Failed {
		t.Fatalf("line by line %d/%d/%d, whole %d/%d/%d", n, dropped, failed, len(evs), res.Dropped, res.Failed)
	}
}

// stratusEvents returns the compact JSON of some real events.
func stratusEvents(t testing.TB) [][]byte {
	var out [][]byte
	for _, f := range []string{
		"stratus.aws.persistence.iam-create-admin-user.json",
		"stratus.aws.defense-evasion.organizations-leave.json",
	} {
		var raw []json.RawMessage
		if err := json.Unmarshal(readTestdata(t, "cloudtrail/"+f), &raw); err != nil {
			t.Fatal(err)
		}
		for _, r := range raw {
			var buf bytes.Buffer
			if err := json.Compact(&buf, r); err != nil {
				t.Fatal(err)
			}
			out = append(out, buf.Bytes())
		}
	}
	return out
}

func TestCloudTrailShapes(t *testing.T) {
	evs := stratusEvents(t)
	var d CloudTrailDecoder
	var want []event.Event
	for _, e := range evs {
		got, res, err := decodeAll(d.Decode, e)
		if err != nil || len(got) != 1 || res != (Result{}) {
			t.Fatalf("single event: %d, %+v, %v", len(got), res, err)
		}
		want = append(want, got...)
	}
	records := []byte(`{"Records":[` + string(bytes.Join(evs, []byte(","))) + `]}`)
	array := []byte("[\n" + string(bytes.Join(evs, []byte(",\n"))) + "\n]")
	lines := []byte(string(bytes.Join(evs, []byte("\n"))) + "\n\n")
	crlf := []byte(string(bytes.Join(evs, []byte("\r\n"))))
	for name, rec := range map[string][]byte{
		"records": records, "array": array, "json lines": lines, "crlf lines": crlf,
		"records gzip": gz(t, records), "array gzip": gz(t, array), "json lines gzip": gz(t, lines),
	} {
		t.Run(name, func(t *testing.T) {
			got, res, err := decodeAll(d.Decode, rec)
			if err != nil || res != (Result{}) {
				t.Fatalf("%+v, %v", res, err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("got %d events, want %d equal to one-by-one decoding", len(got), len(want))
			}
		})
	}
	t.Run("single gzip", func(t *testing.T) {
		got, _, err := decodeAll(d.Decode, gz(t, evs[0]))
		if err != nil || !reflect.DeepEqual(got, want[:1]) {
			t.Fatalf("%v", err)
		}
	})
	t.Run("emits in order, reusing the event", func(t *testing.T) {
		var first *event.Event
		var ids []string
		_, err := d.Decode(gz(t, records), func(e *event.Event) {
			if first == nil {
				first = e
			} else if e != first {
				t.Error("a new event for each emit")
			}
			ids = append(ids, e.CloudTrail.EventID)
		})
		if err != nil || len(ids) != len(want) {
			t.Fatalf("%d events, %v", len(ids), err)
		}
		for i := range want {
			if ids[i] != want[i].CloudTrail.EventID {
				t.Fatalf("event %d out of order: %s", i, ids[i])
			}
		}
	})
}

// ctEvent builds a minimal valid event with the given fields replaced or,
// for a nil value, removed.
func ctEvent(t testing.TB, patch map[string]any) []byte {
	t.Helper()
	m := map[string]any{
		"eventVersion": "1.10",
		"eventTime":    "2026-03-08T21:44:02Z",
		"eventSource":  "iam.amazonaws.com",
		"eventName":    "ListUsers",
		"awsRegion":    "us-east-1",
		"userIdentity": map[string]any{
			"type": "IAMUser", "principalId": "AIDAEXAMPLE", "arn": "arn:aws:iam::111122223333:user/alice",
			"accountId": "111122223333", "accessKeyId": "AKIAEXAMPLE", "userName": "alice",
		},
		"recipientAccountId": "111122223333",
		"eventType":          "AwsApiCall",
		"managementEvent":    true,
		"eventCategory":      "Management",
	}
	for k, v := range patch {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCloudTrailDropped(t *testing.T) {
	mgmt := ctEvent(t, nil)
	data := ctEvent(t, map[string]any{"eventCategory": "Data", "managementEvent": false, "eventName": "GetObject"})
	dataOld := ctEvent(t, map[string]any{"eventCategory": nil, "managementEvent": false})
	insight := ctEvent(t, map[string]any{"eventCategory": "Insight", "eventType": "AwsCloudTrailInsight", "userIdentity": nil})
	insightDetails := ctEvent(t, map[string]any{"eventCategory": nil, "insightDetails": map[string]any{"state": "Start"}})
	network := ctEvent(t, map[string]any{"eventCategory": "NetworkActivity", "eventType": "AwsVpceEvent"})
	mgmtString := ctEvent(t, map[string]any{"managementEvent": "True"})
	noCategory := ctEvent(t, map[string]any{"eventCategory": nil, "managementEvent": nil})

	var d CloudTrailDecoder
	for name, tt := range map[string]struct {
		rec             []byte
		events, dropped int
	}{
		"management":       {mgmt, 1, 0},
		"data":             {data, 0, 1},
		"data, old style":  {dataOld, 0, 1},
		"insight":          {insight, 0, 1},
		"insightDetails":   {insightDetails, 0, 1},
		"network activity": {network, 0, 1},
		"string boolean":   {mgmtString, 1, 0},
		"no category":      {noCategory, 1, 0},
		"mixed records": {[]byte(`{"Records":[` + string(bytes.Join([][]byte{mgmt, data, insight, mgmt, network}, []byte(","))) + `]}`),
			2, 3},
	} {
		t.Run(name, func(t *testing.T) {
			evs, res, err := decodeAll(d.Decode, tt.rec)
			if err != nil || len(evs) != tt.events || res.Dropped != tt.dropped || res.Failed != 0 {
				t.Fatalf("got %d events, %+v, %v; want %d events, %d dropped", len(evs), res, err, tt.events, tt.dropped)
			}
		})
	}
}

func TestCloudTrailEntity(t *testing.T) {
	tests := []struct {
		name        string
		identity    map[string]any
		patch       map[string]any
		entity      string
		account     string
		assumedRoot bool
	}{
		{name: "iam user", identity: map[string]any{"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/alice", "accountId": "111122223333"},
			entity: "arn:aws:iam::111122223333:user/alice"},
		{name: "iam user without arn (failed console login)", identity: map[string]any{"type": "IAMUser", "userName": "alice", "accountId": "111122223333"},
			entity: "arn:aws:iam::111122223333:user/alice"},
		{name: "assumed role, session issuer", identity: map[string]any{
			"type": "AssumedRole", "arn": "arn:aws:sts::111122223333:assumed-role/Admin/bob", "accountId": "111122223333",
			"sessionContext": map[string]any{"sessionIssuer": map[string]any{"type": "Role", "arn": "arn:aws:iam::111122223333:role/team/Admin"}},
		}, entity: "arn:aws:iam::111122223333:role/team/Admin"},
		{name: "assumed role, no session issuer", identity: map[string]any{
			"type": "AssumedRole", "arn": "arn:aws:sts::111122223333:assumed-role/Admin/i-0123456789abcdef0", "accountId": "111122223333"},
			entity: "arn:aws:iam::111122223333:role/Admin"},
		{name: "assumed role, china partition", identity: map[string]any{
			"type": "AssumedRole", "arn": "arn:aws-cn:sts::111122223333:assumed-role/Admin/s", "accountId": "111122223333"},
			entity: "arn:aws-cn:iam::111122223333:role/Admin"},
		{name: "assumed role, odd arn kept", identity: map[string]any{"type": "AssumedRole", "arn": "not-an-arn"},
			entity: "not-an-arn"},
		{name: "root", identity: map[string]any{"type": "Root", "arn": "arn:aws:iam::111122223333:root", "accountId": "111122223333", "accessKeyId": "AKIAEXAMPLE"},
			entity: "arn:aws:iam::111122223333:root"},
		{name: "root console, no arn", identity: map[string]any{"type": "Root", "userName": "root"},
			entity: "arn:aws:iam::111122223333:root"},
		{name: "root console session (ASIA key) is not AssumeRoot", identity: map[string]any{
			"type": "Root", "arn": "arn:aws:iam::111122223333:root", "accountId": "111122223333", "accessKeyId": "ASIAEXAMPLE",
			"sessionContext": map[string]any{"attributes": map[string]any{"mfaAuthenticated": "true"}}},
			entity: "arn:aws:iam::111122223333:root"},
		{name: "assume root session", identity: map[string]any{
			"type": "Root", "arn": "arn:aws:iam::222222222222:root", "accountId": "222222222222", "accessKeyId": "ASIAEXAMPLE",
			"sessionContext": map[string]any{"attributes": map[string]any{"mfaAuthenticated": "false"}, "assumedRoot": "true"}},
			patch:  map[string]any{"recipientAccountId": "222222222222"},
			entity: "arn:aws:iam::222222222222:root", account: "222222222222", assumedRoot: true},
		{name: "assumedRoot on a role is ignored", identity: map[string]any{
			"type": "AssumedRole", "arn": "arn:aws:sts::111122223333:assumed-role/Admin/s",
			"sessionContext": map[string]any{"assumedRoot": true}},
			entity: "arn:aws:iam::111122223333:role/Admin"},
		{name: "federated user", identity: map[string]any{"type": "FederatedUser", "arn": "arn:aws:sts::111122223333:federated-user/carol"},
			entity: "arn:aws:sts::111122223333:federated-user/carol"},
		{name: "aws service", identity: map[string]any{"type": "AWSService", "invokedBy": "lambda.amazonaws.com"},
			entity: "service:lambda.amazonaws.com"},
		{name: "aws service without invokedBy", identity: map[string]any{"type": "AWSService"},
			entity: "service:iam.amazonaws.com"},
		{name: "aws account", identity: map[string]any{"type": "AWSAccount", "accountId": "444455556666", "principalId": "AIDA:x"},
			entity: "account:444455556666"},
		{name: "unknown type without arn", identity: map[string]any{"type": "Unknown", "userName": "dave"},
			entity: "service:iam.amazonaws.com"},
		{name: "identity center user with arn", identity: map[string]any{"type": "IdentityCenterUser", "arn": "arn:aws:identitystore::111122223333:user/x"},
			entity: "arn:aws:identitystore::111122223333:user/x"},
		{name: "account falls back to identity", identity: map[string]any{"type": "IAMUser", "arn": "arn:aws:iam::777788889999:user/e", "accountId": "777788889999"},
			patch: map[string]any{"recipientAccountId": nil}, entity: "arn:aws:iam::777788889999:user/e", account: "777788889999"},
		{name: "sparse identity", identity: map[string]any{"type": "IAMUser", "principalId": "AIDAX"},
			patch: map[string]any{"recipientAccountId": nil}, entity: "principal:AIDAX", account: ""},
	}
	var d CloudTrailDecoder
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			patch := map[string]any{"userIdentity": tt.identity}
			for k, v := range tt.patch {
				patch[k] = v
			}
			evs, _, err := decodeAll(d.Decode, ctEvent(t, patch))
			if err != nil || len(evs) != 1 {
				t.Fatalf("%d events, %v", len(evs), err)
			}
			e := evs[0]
			wantAccount := tt.account
			if wantAccount == "" && tt.patch == nil {
				wantAccount = "111122223333"
			}
			if e.Entity != tt.entity || e.Account != wantAccount || e.CloudTrail.Identity.AssumedRoot != tt.assumedRoot {
				t.Fatalf("entity %q account %q assumedRoot %v; want %q %q %v",
					e.Entity, e.Account, e.CloudTrail.Identity.AssumedRoot, tt.entity, wantAccount, tt.assumedRoot)
			}
		})
	}
}

func TestCloudTrailFields(t *testing.T) {
	params := map[string]any{
		"str": "v", "int": 6, "float": 1.5e3, "yes": true, "no": false, "null": nil,
		"nested": map[string]any{"a": 1, "b": map[string]any{"c": "x", "d": map[string]any{"e": "three deep"}}}, "list": []any{1, 2},
		"empty":   map[string]any{},
		"long":    strings.Repeat("é", 200), // 400 bytes: cut at 256 without splitting a rune
		"unicode": "naïve",
	}
	rec := ctEvent(t, map[string]any{
		"requestParameters":   params,
		"responseElements":    map[string]any{"ConsoleLogin": "Failure"},
		"additionalEventData": map[string]any{"MFAUsed": "Yes", "LoginTo": "x"},
		"readOnly":            "true",
		"errorCode":           "AccessDenied",
		"errorMessage":        "User: x is not authorized",
		"vpcEndpointId":       "vpce-123",
		"sourceIPAddress":     "ec2.amazonaws.com",
		"eventTime":           "2026-03-08T22:44:02.5+01:00",
		"userIdentity": map[string]any{"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/alice",
			"invokedBy": "signin.amazonaws.com", "sessionContext": map[string]any{
				"attributes": map[string]any{"mfaAuthenticated": true}, "ec2RoleDelivery": "1.0"}},
	})
	var d CloudTrailDecoder
	evs, _, err := decodeAll(d.Decode, rec)
	if err != nil || len(evs) != 1 {
		t.Fatalf("%d events, %v", len(evs), err)
	}
	ct := evs[0].CloudTrail
	wantParams := map[string]string{
		"str": "v", "int": "6", "float": "1500", "yes": "true", "no": "false",
		"long": strings.Repeat("é", 128), "unicode": "naïve",
		"nested.a": "1", "nested.b.c": "x", "nested.b.d.e": "three deep", "empty": "{}",
		"list.0": "1", "list.1": "2",
	}
	if !reflect.DeepEqual(ct.RequestParameters, wantParams) {
		t.Errorf("params %q", ct.RequestParameters)
	}
	if ct.ConsoleLogin != "Failure" || ct.MFAUsed != "Yes" || !ct.ReadOnly || ct.ErrorCode != "AccessDenied" ||
		ct.ErrorMessage != "User: x is not authorized" || ct.VPCEndpointID != "vpce-123" || ct.SourceIP != "ec2.amazonaws.com" ||
		!ct.Identity.MFAAuthenticated || ct.Identity.EC2RoleDelivery != "1.0" || ct.Identity.InvokedBy != "signin.amazonaws.com" {
		t.Errorf("fields %+v", ct)
	}
	if want := time.Date(2026, 3, 8, 21, 44, 2, 5e8, time.UTC); !evs[0].Time.Equal(want) || evs[0].Time != want {
		t.Errorf("time %v, want %v", evs[0].Time, want)
	}
	if ct.Global {
		t.Error("Global is ingest's to set")
	}

	many := map[string]any{}
	for i := range maxParams + 8 {
		many[fmt.Sprintf("p%02d", i)] = i
	}
	evs, _, err = decodeAll(d.Decode, ctEvent(t, map[string]any{"requestParameters": many}))
	if err != nil || len(evs[0].CloudTrail.RequestParameters) != maxParams {
		t.Errorf("bounded params: %d, %v", len(evs[0].CloudTrail.RequestParameters), err)
	}
	evs, _, err = decodeAll(d.Decode, ctEvent(t, map[string]any{"requestParameters": nil, "readOnly": false}))
	if err != nil || evs[0].CloudTrail.RequestParameters != nil || evs[0].CloudTrail.ReadOnly {
		t.Errorf("no params: %v, %v", evs[0].CloudTrail.RequestParameters, err)
	}
}

// TestCloudTrailOwnsStrings checks returned events do not alias the
// parser's buffer, which the next Decode overwrites.
func TestCloudTrailOwnsStrings(t *testing.T) {
	var d CloudTrailDecoder
	rec := ctEvent(t, map[string]any{"userAgent": strings.Repeat("u", 300), "eventID": "id-1",
		"requestParameters": map[string]any{"k": strings.Repeat("v", 100)}})
	evs, _, err := decodeAll(d.Decode, rec)
	if err != nil {
		t.Fatal(err)
	}
	before := fmt.Sprintf("%+v %+v", evs[0], *evs[0].CloudTrail)
	junk := bytes.Repeat([]byte("X"), len(rec)*2)
	copy(junk, `{"a":"`)
	junk[len(junk)-2], junk[len(junk)-1] = '"', '}'
	for range 3 {
		decodeAll(d.Decode, junk)
		decodeAll(d.Decode, ctEvent(t, map[string]any{"eventName": strings.Repeat("Z", 500)}))
	}
	if after := fmt.Sprintf("%+v %+v", evs[0], *evs[0].CloudTrail); after != before {
		t.Fatalf("event changed after later decodes:\n%s\n%s", before, after)
	}
}

func TestCloudTrailBadInput(t *testing.T) {
	valid := ctEvent(t, nil)
	huge := strings.Repeat("A", 100<<10)
	tests := []decodeErrorTest{
		{"empty", nil, "cloudtrail: empty record", 1, 0},
		{"whitespace", []byte(" \r\n\t\n"), "cloudtrail: empty record", 1, 0},
		{"truncated", valid[:len(valid)/2], "invalid JSON", 1, 0},
		{"not an object", []byte(`"hello"`), "not a JSON object", 1, 0},
		{"number", []byte(`42`), "not a JSON object", 1, 0},
		{"eventName number", ctEvent(t, map[string]any{"eventName": 5}), "cloudtrail: eventName: not a string", 1, 0},
		{"eventSource object", ctEvent(t, map[string]any{"eventSource": map[string]any{}}), "eventSource: not a string", 1, 0},
		{"userIdentity string", ctEvent(t, map[string]any{"userIdentity": "root"}), "cloudtrail: userIdentity: not an object", 1, 0},
		{"userIdentity missing", ctEvent(t, map[string]any{"userIdentity": nil}), "userIdentity: missing", 1, 0},
		{"identity arn number", ctEvent(t, map[string]any{"userIdentity": map[string]any{"type": "IAMUser", "arn": 1}}), "userIdentity.arn: not a string", 1, 0},
		{"eventTime missing", ctEvent(t, map[string]any{"eventTime": nil}), "eventTime: missing", 1, 0},
		{"eventTime bad", ctEvent(t, map[string]any{"eventTime": "yesterday"}), "eventTime: not a time", 1, 0},
		{"eventTime Feb 30", ctEvent(t, map[string]any{"eventTime": "2026-02-30T00:00:00Z"}), "eventTime: not a time", 1, 0},
		{"eventTime number", ctEvent(t, map[string]any{"eventTime": 1741470000}), "eventTime: not a string", 1, 0},
		{"eventName missing", ctEvent(t, map[string]any{"eventName": nil}), "eventName: missing", 1, 0},
		{"eventSource missing", ctEvent(t, map[string]any{"eventSource": nil}), "eventSource: missing", 1, 0},
		{"readOnly number", ctEvent(t, map[string]any{"readOnly": 1}), "readOnly: not a boolean", 1, 0},
		{"100 KB event name", ctEvent(t, map[string]any{"eventName": huge}), "cloudtrail: eventName: 102400 bytes, more than 256", 1, 0},
		{"invalid UTF-8 value", bytes.Replace(valid, []byte("ListUsers"), []byte("List\xffUsers"), 1), "invalid UTF-8", 1, 0},
		{"invalid UTF-8 key", bytes.Replace(valid, []byte(`"eventVersion"`), []byte("\"event\xc3Version\""), 1), "invalid UTF-8", 1, 0},
		{"Records not array", []byte(`{"Records":{}}`), "Records: not an array", 1, 0},
		{"Records with a bad element", []byte(`{"Records":[` + string(valid) + `,{"eventName":1},` + string(valid) + `]}`),
			"1 of 3 elements failed; element 2: eventName: not a string", 1, 2},
		{"Records with an invalid UTF-8 element", []byte(`{"Records":[` + string(valid) + ",{\"eventName\":\"\xff\"}]}"),
			"element 2: event: invalid UTF-8", 1, 1},
		{"array with a scalar", []byte(`[` + string(valid) + `,7]`), "element 2: event: not a JSON object", 1, 1},
		{"json lines with a bad line", []byte(string(valid) + "\n{\"eventName\":\n" + string(valid) + "\n"), "element 2: json:", 1, 2},
		{"json lines with a bad first line", []byte("{oops\n" + string(valid) + "\n"), "element 1: json:", 1, 1},
		{"json lines with invalid UTF-8", []byte(string(valid) + "\n" + string(bytes.Replace(valid, []byte("ListUsers"), []byte("\xfe"), 1))), "element 2: event: invalid UTF-8", 1, 1},
		{"bad gzip", []byte{0x1f, 0x8b, 8, 0, 0, 0}, "cloudtrail: gzip:", 1, 0},
		{"truncated gzip", gz(t, valid)[:30], "cloudtrail: gzip:", 1, 0},
		{"deep nesting", []byte(strings.Repeat("[", 1000) + strings.Repeat("]", 1000)), "invalid JSON", 1, 0},
	}
	var d CloudTrailDecoder
	runDecodeErrorTests(t, event.SourceCloudTrail, d.Decode, tests)
}

func TestCloudTrailGzipBomb(t *testing.T) {
	if testing.Short() {
		t.Skip("compresses 64 MiB")
	}
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	zw.Write([]byte(`{"a":"`))
	zw.Write(bytes.Repeat([]byte("0"), DefaultMaxDecompressed))
	zw.Write([]byte(`"}`))
	zw.Close()
	bomb := buf.Bytes()
	var d CloudTrailDecoder
	_, res, err := decodeAll(d.Decode, bomb)
	de := checkDecodeError(t, err, "cloudtrail: gzip: decompressed size exceeds the limit of 64 MiB (--max-decompressed-mb)")
	if res.Failed != 1 || !errors.Is(de, ErrDecompressedLimit) {
		t.Fatalf("%+v, %v", res, de.Err)
	}
	// The decoder still works and has let go of its large buffers.
	if evs, _, err := decodeAll(d.Decode, gz(t, ctEvent(t, nil))); err != nil || len(evs) != 1 {
		t.Fatalf("after bomb: %v", err)
	}
	if cap(d.rd.win) > keepBuffer {
		t.Fatalf("kept a %d-byte window", cap(d.rd.win))
	}
}

func TestExcerpt(t *testing.T) {
	for in, want := range map[string]string{
		"":                          "",
		"short":                     "short",
		strings.Repeat("x", 100):    strings.Repeat("x", 64),
		strings.Repeat("é", 40):     strings.Repeat("é", 32),
		"a\xffb":                    "a\uFFFDb",
		strings.Repeat("\xff", 100): strings.Repeat("\uFFFD", 21),
	} {
		ex := excerpt([]byte(in))
		if ex != want {
			t.Errorf("excerpt(%q) = %q, want %q", in, ex, want)
		}
		checkExcerpt(t, &DecodeError{Reason: "r", Excerpt: ex})
	}
}
