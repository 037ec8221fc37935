package actors

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/vigil-sec/vigil/event"
	"github.com/vigil-sec/vigil/kafka"
	"github.com/vigil-sec/vigil/sources"
)

// runInstances is a successful RunInstances record, trimmed to what
// matters (the shape of CloudTrail's; ids made up).
const runInstances = `{"Records":[{"eventVersion":"1.10","userIdentity":{"type":"IAMUser","principalId":"AIDAEXAMPLE",` +
	`"arn":"arn:aws:iam::111122223333:user/ops","accountId":"111122223333","userName":"ops"},"eventTime":"2026-03-08T20:50:00Z",` +
	`"eventSource":"ec2.amazonaws.com","eventName":"RunInstances","awsRegion":"us-east-1","sourceIPAddress":"198.51.100.20",` +
	`"requestParameters":{"instanceType":"t3.micro"},"responseElements":{"instancesSet":{"items":[{"instanceId":"i-0c8d2f1b58e4f3a6b",` +
	`"privateIpAddress":"10.0.1.5","vpcId":"vpc-0b6d2e3f4a5c6d7e8","subnetId":"subnet-0a1b2c3d4e5f60718","networkInterfaceSet":{"items":[` +
	`{"networkInterfaceId":"eni-0e8e8f1d3b4f6a2c1","privateIpAddress":"10.0.1.5","vpcId":"vpc-0b6d2e3f4a5c6d7e8","subnetId":"subnet-0a1b2c3d4e5f60718"}]}}]}},` +
	`"eventID":"3c1e0f5a-1111-4c5e-9b2a-5d6e7f8a9b0c","eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"111122223333"}]}`

// TestIngestInventory: beside the caller's event, ingest produces one
// event per network entity a RunInstances response names, keyed like
// their flow records, and counts them.
func TestIngestInventory(t *testing.T) {
	a := &ingestActor{
		cfg:    &IngestConfig{Topics: kafka.Topics{Shards: 4}, DefaultRegion: "us-east-1", MaxEventBytes: 1 << 20},
		poison: &poisonSet{},
		source: event.SourceCloudTrail,
		ct:     sources.NewCloudTrailDecoder(sources.Limits{}),
	}
	var recs []*kgo.Record
	var st ingestStats
	a.ingestRecord(&kgo.Record{Topic: "cloudtrail", Value: []byte(runInstances)}, &st, func(r *kgo.Record) { recs = append(recs, r) })
	if st.events != 3 || st.deadLetters != 0 || len(recs) != 3 {
		t.Fatalf("%d events counted, %d dead letters, %d records", st.events, st.deadLetters, len(recs))
	}
	keys := map[string]*event.Event{}
	for _, r := range recs {
		env, err := parseEnvelope(r.Value)
		if err != nil {
			t.Fatal(err)
		}
		var ev event.Event
		if err := ev.UnmarshalBinary(env.event); err != nil {
			t.Fatal(err)
		}
		if string(r.Key) != ev.Key() {
			t.Errorf("record key %s, event key %s", r.Key, ev.Key())
		}
		keys[ev.Key()] = &ev
	}
	caller := keys["111122223333/us-east-1/principal/arn:aws:iam::111122223333:user/ops"]
	if caller == nil || caller.CloudTrail == nil || caller.Inventory != nil {
		t.Fatalf("caller's event %+v (keys %v)", caller, keys)
	}
	for _, k := range []string{"111122223333/us-east-1/network/i-0c8d2f1b58e4f3a6b", "111122223333/us-east-1/network/eni-0e8e8f1d3b4f6a2c1"} {
		ev := keys[k]
		if ev == nil || ev.Inventory == nil || ev.CloudTrail != nil || ev.Source != event.SourceCloudTrail ||
			ev.Inventory.Interfaces[0].Private[0].String() != "10.0.1.5" {
			t.Errorf("%s: %+v", k, ev)
		}
	}
}
