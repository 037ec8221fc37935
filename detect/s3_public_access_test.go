package detect

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/vigil-sec/vigil/findings"
)

func s3PublicTypes(occ []findings.Finding) []findings.Finding {
	return append(ofType(occ, TypeBucketAnonymousAccessGranted), ofType(occ, TypeBucketPublicAccessGranted)...)
}

func TestS3PublicAccessPanther(t *testing.T) {
	// The rules' own expectations hold, except "S3 Bucket Policy
	// Modified", whose rule alerts on any PutBucketAcl: that ACL is the
	// canned "private", which grants no one.
	want := map[string]string{
		"S3 Made Publicly Accessible": TypeBucketAnonymousAccessGranted,
		"S3 Bucket Policy Modified":   "",
	}
	for _, c := range credCases(t, "AWS.CloudTrail.ResourceMadePublic", "AWS.S3.BucketPolicyModified") {
		t.Run(c.TestName, func(t *testing.T) {
			typ, ok := want[c.TestName]
			if !ok && c.ExpectedAlert {
				t.Fatalf("case %q not known", c.TestName)
			}
			w := newWorld(DefaultConfig())
			var got []findings.Finding
			if ev, err := decodeCloudTrail(c.Log); err == nil {
				got = s3PublicTypes(w.apply(ev))
			}
			if (typ == "") != (len(got) == 0) || len(got) > 1 || (typ != "" && got[0].Type != typ) {
				t.Fatalf("want %q:%s", typ, summary(got))
			}
			for _, f := range got {
				checkFinding(t, f)
				if f.Severity != findings.SeverityHigh || len(f.Resource.S3BucketDetails) != 1 ||
					f.Resource.S3BucketDetails[0].Name != "example-bucket" ||
					f.Service.Action.AwsAPICallAction.AffectedResources["AWS::S3::Bucket"] != "example-bucket" {
					b, _ := json.MarshalIndent(f, "", "  ")
					t.Fatalf("finding:\n%s", b)
				}
				info := f.Service.AdditionalInfo["publicAccess"].(map[string]any)
				if info["by"] != "bucket policy" || info["statementSid"] != "Public Access" || info["principal"] != `{"AWS":"*"}` {
					t.Fatalf("evidence %v", info)
				}
			}
		})
	}
}

// s3Change is a successful S3 call by a user, with requestParameters
// params (as CloudTrail logs them).
func s3Change(t testing.TB, name string, params any) []byte {
	t.Helper()
	p, err := json.Marshal(params)
	if err != nil {
		t.Fatal(err)
	}
	return []byte(`{"eventVersion":"1.09","userIdentity":{"type":"IAMUser","principalId":"AIDAEXAMPLE","arn":"arn:aws:iam::111122223333:user/alice",` +
		`"accountId":"111122223333","accessKeyId":"AKIAEXAMPLEKEY000001","userName":"alice"},"eventTime":"2026-03-08T21:44:02Z",` +
		`"eventSource":"s3.amazonaws.com","eventName":"` + name + `","awsRegion":"us-east-1","sourceIPAddress":"198.51.100.20",` +
		`"userAgent":"aws-cli/2.15.30","requestParameters":` + string(p) + `,"responseElements":null,"eventID":"e-` + name + `",` +
		`"readOnly":false,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"111122223333","eventCategory":"Management"}`)
}

func TestS3PublicAccess(t *testing.T) {
	policy := func(stmts ...string) map[string]any {
		var doc any
		if err := json.Unmarshal([]byte(`{"Version":"2012-10-17","Statement":[`+strings.Join(stmts, ",")+`]}`), &doc); err != nil {
			t.Fatal(err)
		}
		return map[string]any{"bucketName": "reports", "bucketPolicy": doc, "host": []string{"reports.s3.amazonaws.com"}, "policy": []string{""}}
	}
	const get = `"Action":"s3:GetObject","Resource":"arn:aws:s3:::reports/*"`
	acl := func(grants ...string) map[string]any {
		var doc any
		if err := json.Unmarshal([]byte(`{"AccessControlList":{"Grant":[`+strings.Join(grants, ",")+`]},`+
			`"xmlns":"http://s3.amazonaws.com/doc/2006-03-01/","Owner":{"ID":"d25639fbe9c19cd30a4c0f43fbf00e2d3f96400a9aa8dabfbbebe1906EXAMPLE"}}`), &doc); err != nil {
			t.Fatal(err)
		}
		return map[string]any{"bucketName": "reports", "AccessControlPolicy": doc, "acl": []string{""}, "host": []string{"reports.s3.amazonaws.com"}}
	}
	grant := func(uri, perm string) string {
		return `{"Grantee":{"xsi:type":"Group","xmlns:xsi":"http://www.w3.org/2001/XMLSchema-instance","URI":"` + uri + `"},"Permission":"` + perm + `"}`
	}
	const owner = `{"Grantee":{"xsi:type":"CanonicalUser","xmlns:xsi":"http://www.w3.org/2001/XMLSchema-instance","ID":"d25639fbe9c19cd30a4c0f43fbf00e2d3f96400a9aa8dabfbbebe1906EXAMPLE"},"Permission":"FULL_CONTROL"}`
	for _, c := range []struct {
		name, event string
		params      any
		want        string // finding type, "" for none
	}{
		{"policy Principal *", "PutBucketPolicy", policy(`{"Sid":"Public","Effect":"Allow","Principal":"*",` + get + `}`), TypeBucketAnonymousAccessGranted},
		{"policy AWS * in a list", "PutBucketPolicy", policy(`{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::111122223333:root","*"]},` + get + `}`), TypeBucketAnonymousAccessGranted},
		{"policy NotPrincipal", "PutBucketPolicy", policy(`{"Effect":"Allow","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:user/bob"},` + get + `}`), TypeBucketAnonymousAccessGranted},
		{"policy as text", "PutBucketPolicy", map[string]any{"bucketName": "reports", "bucketPolicy": `{"Statement":{"Effect":"Allow","Principal":"*",` + get + `}}`}, TypeBucketAnonymousAccessGranted},
		{"condition that pins nothing", "PutBucketPolicy", policy(`{"Effect":"Allow","Principal":"*",` + get + `,"Condition":{"Bool":{"aws:SecureTransport":"true"}}}`), TypeBucketAnonymousAccessGranted},
		{"source IP 0.0.0.0/0", "PutBucketPolicy", policy(`{"Effect":"Allow","Principal":"*",` + get + `,"Condition":{"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}}`), TypeBucketAnonymousAccessGranted},
		{"negated condition", "PutBucketPolicy", policy(`{"Effect":"Allow","Principal":"*",` + get + `,"Condition":{"StringNotEquals":{"aws:SourceVpce":"vpce-1a2b3c4d"}}}`), TypeBucketAnonymousAccessGranted},
		{"restricted by source IP", "PutBucketPolicy", policy(`{"Effect":"Allow","Principal":"*",` + get + `,"Condition":{"IpAddress":{"aws:SourceIp":["192.0.2.0/24"]}}}`), ""},
		{"restricted by VPC endpoint", "PutBucketPolicy", policy(`{"Effect":"Allow","Principal":"*",` + get + `,"Condition":{"StringEquals":{"aws:SourceVpce":"vpce-1a2b3c4d"}}}`), ""},
		{"restricted by organisation", "PutBucketPolicy", policy(`{"Effect":"Allow","Principal":{"AWS":"*"},` + get + `,"Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-a1b2c3d4e5"}}}`), ""},
		{"deny", "PutBucketPolicy", policy(`{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::reports/*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}`), ""},
		{"one account", "PutBucketPolicy", policy(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:root"},` + get + `}`), ""},
		{"a service", "PutBucketPolicy", policy(`{"Effect":"Allow","Principal":{"Service":"cloudtrail.amazonaws.com"},"Action":"s3:PutObject","Resource":"arn:aws:s3:::reports/*"}`), ""},
		{"ACL AllUsers", "PutBucketAcl", acl(owner, grant(groupAllUsers, "READ")), TypeBucketAnonymousAccessGranted},
		{"ACL AuthenticatedUsers", "PutBucketAcl", acl(owner, grant(groupAuthenticatedUsers, "READ")), TypeBucketPublicAccessGranted},
		{"ACL both", "PutBucketAcl", acl(grant(groupAuthenticatedUsers, "WRITE"), grant(groupAllUsers, "READ")), TypeBucketAnonymousAccessGranted},
		{"ACL log delivery", "PutBucketAcl", acl(owner, grant("http://acs.amazonaws.com/groups/s3/LogDelivery", "WRITE")), ""},
		{"ACL owner only", "PutBucketAcl", acl(owner), ""},
		{"canned public-read", "PutBucketAcl", map[string]any{"bucketName": "reports", "x-amz-acl": []string{"public-read"}}, TypeBucketAnonymousAccessGranted},
		{"canned authenticated-read", "CreateBucket", map[string]any{"bucketName": "reports", "x-amz-acl": []string{"authenticated-read"}}, TypeBucketPublicAccessGranted},
		{"canned private", "CreateBucket", map[string]any{"bucketName": "reports", "x-amz-acl": []string{"private"}}, ""},
		{"grant header", "PutBucketAcl", map[string]any{"bucketName": "reports", "x-amz-grant-read": []string{`uri="` + groupAllUsers + `"`}}, TypeBucketAnonymousAccessGranted},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(DefaultConfig())
			got := s3PublicTypes(w.apply(cloudTrailEvent(t, s3Change(t, c.event, c.params))))
			if (c.want == "") != (len(got) == 0) || len(got) > 1 || (c.want != "" && got[0].Type != c.want) {
				t.Fatalf("want %q:%s", c.want, summary(got))
			}
			for _, f := range got {
				checkFinding(t, f)
				if f.Resource.S3BucketDetails[0].Arn != "arn:aws:s3:::reports" || f.Service.AdditionalInfo["publicAccess"] == nil {
					t.Fatalf("finding %+v", f)
				}
			}
		})
	}
}
