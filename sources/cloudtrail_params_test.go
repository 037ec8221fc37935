package sources

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// TestCloudTrailParamPaths: the request parameters detection rules read
// from lists and deep objects are kept under indexed, dotted paths, and
// policy documents whole; every bound holds.
func TestCloudTrailParamPaths(t *testing.T) {
	// The pretty-printed trust policy of the Stratus Red Team backdoor
	// role (detect/testdata/stratus.persistence.iam-backdoor-role.json):
	// the foreign account lies past byte 256.
	trust := "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\n      \"Effect\": \"Allow\",\n      \"Principal\": {\n        \"Service\": \"ec2.amazonaws.com\"\n      },\n      \"Action\": \"sts:AssumeRole\"\n    },\n    {\n      \"Effect\": \"Allow\",\n      \"Principal\": {\n        \"AWS\": \"arn:aws:iam::193672423079:root\"\n      },\n      \"Action\": \"sts:AssumeRole\"\n    }\n  ]\n}"
	// A document padded past maxDocParam with whitespace: kept whole.
	padded := `{"Statement":[` + strings.Repeat(" ", maxDocParam) + `{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:root"},"Action":"sts:AssumeRole"}]}`
	notJSON := strings.Repeat("x", maxDocParam+100)
	var many []string
	for i := range 40 {
		many = append(many, fmt.Sprintf(`{"userId":"%012d"}`, i))
	}
	tests := []struct {
		name   string
		params string
		want   map[string]string // "" means absent
		count  int               // parameters kept, when set
	}{
		{"snapshot shared (Stratus)",
			`{"attributeType":"CREATE_VOLUME_PERMISSION","createVolumePermission":{"add":{"items":[{"userId":"098797384747"}]}},"snapshotId":"snap-041993b54a9b3af6f"}`,
			map[string]string{"createVolumePermission.add.items.0.userId": "098797384747", "attributeType": "CREATE_VOLUME_PERMISSION"}, 3},
		{"snapshot made private",
			`{"attributeType":"CREATE_VOLUME_PERMISSION","createVolumePermission":{"remove":{"items":[{"group":"all"}]}},"snapshotId":"snap-1"}`,
			map[string]string{"createVolumePermission.remove.items.0.group": "all", "createVolumePermission.add.items.0.group": ""}, 3},
		{"AMI shared publicly",
			`{"attributeType":"launchPermission","imageId":"ami-1111","launchPermission":{"add":{"items":[{"group":"all"},{"userId":"012345678901"}]}}}`,
			map[string]string{"launchPermission.add.items.0.group": "all", "launchPermission.add.items.1.userId": "012345678901"}, 4},
		{"RDS snapshot shared (Stratus)",
			`{"attributeName":"restore","dBSnapshotIdentifier":"exfiltration","valuesToAdd":["503161813013","all"]}`,
			map[string]string{"valuesToAdd.0": "503161813013", "valuesToAdd.1": "all"}, 4},
		{"RDS snapshot shared with no one", `{"attributeName":"restore","dBSnapshotIdentifier":"x","valuesToAdd":[]}`,
			map[string]string{"valuesToAdd": "", "valuesToAdd.0": ""}, 2},
		{"replication, one rule",
			`{"bucketName":"src","ReplicationConfiguration":{"Role":"arn:aws:iam::111122223333:role/r","Rule":{"ID":"r1","Status":"Enabled","Priority":1,` +
				`"Filter":{"Prefix":""},"Destination":{"Bucket":"arn:aws:s3:::dst","Account":"444455556666","AccessControlTranslation":{"Owner":"Destination"}}}},"replication":""}`,
			map[string]string{"ReplicationConfiguration.Rule.Destination.Account": "444455556666", "ReplicationConfiguration.Rule.Destination.AccessControlTranslation.Owner": "Destination",
				"ReplicationConfiguration.Rule.Filter.Prefix": "", "bucketName": "src"}, 0},
		{"replication, rule list",
			`{"bucketName":"src","ReplicationConfiguration":{"Rule":[{"ID":"a","Destination":{"Bucket":"arn:aws:s3:::own"}},{"ID":"b","Destination":{"Bucket":"arn:aws:s3:::dst","Account":"444455556666"}}]}}`,
			map[string]string{"ReplicationConfiguration.Rule.1.Destination.Account": "444455556666", "ReplicationConfiguration.Rule.0.Destination.Bucket": "arn:aws:s3:::own"}, 0},
		{"ingress, list form (Panther)",
			`{"groupId":"sg-0d921df5d84f7270a","ipPermissions":{"items":[{"ipProtocol":"tcp","fromPort":22,"toPort":22,"groups":{},"ipRanges":{"items":[{"cidrIp":"0.0.0.0/0"}]},` +
				`"ipv6Ranges":{"items":[{"cidrIpv6":"::/0","description":"all"}]},"prefixListIds":{}}]}}`,
			map[string]string{"ipPermissions.items.0.ipRanges.items.0.cidrIp": "0.0.0.0/0", "ipPermissions.items.0.ipv6Ranges.items.0.cidrIpv6": "::/0",
				"ipPermissions.items.0.fromPort": "22", "ipPermissions.items.0.groups": "{}"}, 0},
		{"trust policy (Stratus)", `{"roleName":"r","policyDocument":` + quote(trust) + `}`,
			map[string]string{"policyDocument": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"},` +
				`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::193672423079:root"},"Action":"sts:AssumeRole"}]}`}, 2},
		{"trust policy with escapes", `{"policyDocument":` + quote(`{"Statement" : [{"Principal" : {"\u0041WS" : ["\u002a"]}, "Sid": "a\"b\\c\u0001\u00e9", "N": 1.50}]}`) + `}`,
			map[string]string{"policyDocument": `{"Statement":[{"Principal":{"AWS":["*"]},"Sid":"a\"b\\c\u0001é","N":1.50}]}`}, 1},
		{"trust policy padded", `{"roleName":"r","policyDocument":` + quote(padded) + `}`,
			map[string]string{"policyDocument": `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:root"},"Action":"sts:AssumeRole"}]}`}, 2},
		{"document not JSON, cut", `{"policy":` + quote(notJSON) + `}`, map[string]string{"policy": notJSON[:maxDocParam]}, 1},
		{"only top-level documents are long", `{"a":{"policy":` + quote(notJSON) + `}}`, map[string]string{"a.policy": notJSON[:maxParamValue]}, 1},
		{"elements per list", `{"p":{"add":{"items":[` + strings.Join(many, ",") + `]}}}`,
			map[string]string{"p.add.items.15.userId": "000000000015", "p.add.items.16.userId": ""}, maxListElems},
		{"top-level names before a long list", `{"l":[` + strings.Repeat(`{"a":1,"b":2,"c":3,"d":4,"e":5},`, 30) + `{"a":1}],"z":"kept"}`,
			map[string]string{"z": "kept", "l.0.a": "1"}, maxParams},
		{"depth", `{"a":{"b":{"c":{"d":{"e":{"f":"six","g":{"h":"seven"}}}}}}}`,
			map[string]string{"a.b.c.d.e.f": "six", "a.b.c.d.e.g.h": ""}, 1},
		{"list index is no level", `{"a":[{"b":{"c":[{"d":{"e":{"f":"six","g":{"h":"seven"}}}},{"d":{"e":[{"f":"six"},{"g":{"h":"seven"}}]}}]}}]}`,
			map[string]string{"a.0.b.c.0.d.e.f": "six", "a.0.b.c.0.d.e.g.h": "", "a.0.b.c.1.d.e.0.f": "six", "a.0.b.c.1.d.e.1.g.h": ""}, 2},
		{"list of lists and nulls skipped", `{"a":[[1,2],null,{},"x"]}`, map[string]string{"a.3": "x"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d CloudTrailDecoder
			evs, _, err := decodeAll(d.Decode, ctEvent(t, map[string]any{"requestParameters": json.RawMessage(tt.params)}))
			if err != nil || len(evs) != 1 {
				t.Fatalf("%d events, %v", len(evs), err)
			}
			got := evs[0].CloudTrail.RequestParameters
			for k, want := range tt.want {
				if v, ok := got[k]; v != want || ok != (want != "" || strings.HasSuffix(k, "Prefix")) {
					t.Errorf("%s = %q (%v), want %q", k, v, ok, want)
				}
			}
			if tt.count != 0 && len(got) != tt.count {
				t.Errorf("%d parameters, want %d: %q", len(got), tt.count, got)
			}
		})
	}
}

// TestCloudTrailParamKeyBound: a path longer than maxParamKeyLen is not
// kept, at any level, nor is anything below it.
func TestCloudTrailParamKeyBound(t *testing.T) {
	long := strings.Repeat("k", maxParamKeyLen-4)
	params := `{"` + long + `":{"ab":1,"abcd":2,"l":[{"x":1}]},"` + long + `xyz":[1]}`
	var d CloudTrailDecoder
	evs, _, err := decodeAll(d.Decode, ctEvent(t, map[string]any{"requestParameters": json.RawMessage(params)}))
	if err != nil {
		t.Fatal(err)
	}
	got := evs[0].CloudTrail.RequestParameters
	if len(got) != 1 || got[long+".ab"] != "1" {
		t.Errorf("kept %q", got)
	}
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
