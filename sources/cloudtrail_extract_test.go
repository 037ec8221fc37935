package sources

import (
	"strings"
	"testing"

	"github.com/vigil-sec/vigil/event"
)

// TestCloudTrailDetectorParams: the values the credential and S3
// detectors evaluate are kept, bounded, under their event.Param* keys,
// and nothing else of the nested request or response is.
func TestCloudTrailDetectorParams(t *testing.T) {
	record := func(source, name, params, response, extra string) []byte {
		return []byte(`{"eventVersion":"1.09","userIdentity":{"type":"IAMUser","principalId":"AIDAEXAMPLE","arn":"arn:aws:iam::111122223333:user/alice",` +
			`"accountId":"111122223333","userName":"alice"},"eventTime":"2026-03-08T21:44:02Z","eventSource":"` + source + `","eventName":"` + name + `",` +
			`"awsRegion":"us-east-1","sourceIPAddress":"198.51.100.20","requestParameters":` + params + `,"responseElements":` + response + `,` +
			`"eventID":"e-1","eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"111122223333"` + extra + `}`)
	}
	bigPolicy := `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"` + strings.Repeat("r", maxPolicyDoc) + `"}]}`
	for _, c := range []struct {
		name string
		rec  []byte
		want map[string]string // the Param* keys expected, "" meaning absent
	}{
		{"bucket policy", record("s3.amazonaws.com", "PutBucketPolicy",
			`{"bucketName":"reports","bucketPolicy":{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*"}]},"host":["reports.s3.amazonaws.com"]}`, "null", ""),
			map[string]string{event.ParamBucketPolicy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*"}]}`}},
		{"bucket policy over the bound", record("s3.amazonaws.com", "PutBucketPolicy", `{"bucketName":"reports","bucketPolicy":`+bigPolicy+`}`, "null", ""),
			map[string]string{event.ParamBucketPolicy: ""}},
		{"acl", record("s3.amazonaws.com", "PutBucketAcl",
			`{"bucketName":"reports","AccessControlPolicy":{"AccessControlList":{"Grant":{"Grantee":{"URI":"http://acs.amazonaws.com/groups/global/AllUsers"},"Permission":"READ"}}},`+
				`"x-amz-acl":["public-read"],"x-amz-grant-read":["uri=\"http://acs.amazonaws.com/groups/global/AuthenticatedUsers\"","id=\"abc\""]}`, "null", ""),
			map[string]string{
				event.ParamAccessControlPolicy:                   `{"AccessControlList":{"Grant":{"Grantee":{"URI":"http://acs.amazonaws.com/groups/global/AllUsers"},"Permission":"READ"}}}`,
				event.ParamCannedACL:                             "public-read",
				event.ParamGrantPrefix + "x-amz-grant-read":      `uri="http://acs.amazonaws.com/groups/global/AuthenticatedUsers", id="abc"`,
				event.ParamGrantPrefix + "x-amz-grant-write-acp": "",
			}},
		{"policy of another call", record("s3.amazonaws.com", "GetBucketPolicy", `{"bucketName":"reports","bucketPolicy":{"Statement":[]}}`, "null", ""),
			map[string]string{event.ParamBucketPolicy: ""}},
		{"run instances", record("ec2.amazonaws.com", "RunInstances", `{"instanceType":"t3.micro"}`,
			`{"ownerId":"111122223333","instancesSet":{"items":[{"instanceId":"i-0d7e4b9be8a0de6ea","privateIpAddress":"10.0.1.5","ipAddress":"54.74.1.10",`+
				`"networkInterfaceSet":{"items":[{"privateIpAddress":"10.0.1.5","association":{"publicIp":"54.74.1.10"}},{"privateIpAddress":"10.0.2.7"}]}},`+
				`{"instanceId":"i-0aaaaaaaaaaaaaaaa"},{"instanceId":"not an instance"}]}}`, ""),
			map[string]string{event.ParamInstances: "i-0d7e4b9be8a0de6ea 10.0.1.5 54.74.1.10 10.0.2.7;i-0aaaaaaaaaaaaaaaa"}},
		{"vpc endpoint account", record("s3.amazonaws.com", "ListBuckets", "null", "null", `,"vpcEndpointId":"vpce-1a2b3c4d","vpcEndpointAccountId":"444455556666"`),
			map[string]string{event.ParamVPCEndpointAccount: "444455556666"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var d CloudTrailDecoder
			evs, _, err := decodeAll(d.Decode, c.rec)
			if err != nil || len(evs) != 1 {
				t.Fatalf("%d events, %v", len(evs), err)
			}
			params := evs[0].CloudTrail.RequestParameters
			for k, want := range c.want {
				if got := params[k]; got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			for k, v := range params {
				if strings.HasPrefix(k, "@") && c.want[k] == "" {
					t.Errorf("unexpected %s = %q", k, v)
				}
			}
			// The values survive the internal topic's encoding.
			b, err := evs[0].MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			var back event.Event
			if err := back.UnmarshalBinary(b); err != nil {
				t.Fatal(err)
			}
			for k := range c.want {
				if back.CloudTrail.RequestParameters[k] != params[k] {
					t.Errorf("%s lost in the encoding", k)
				}
			}
		})
	}
}
