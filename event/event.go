// Package event holds the fields vigil extracts from one raw log record.
//
// A decoder in package sources turns a CloudTrail event, a VPC flow-log
// line or a Route 53 Resolver query-log line into an Event; ingest routes
// it, encoded with Marshal, through the internal topic to the shard that
// owns its entity; the entity actor decodes it with Unmarshal and hands it
// to the detectors. Only these fields are kept: the raw record is never
// stored.
package event

import (
	"net/netip"
	"time"
)

// Source names the log a record came from.
type Source uint8

const (
	SourceUnknown Source = iota
	SourceCloudTrail
	SourceVPCFlow
	SourceDNS
)

// String returns the name used in topics, metrics and the CLI.
func (s Source) String() string {
	switch s {
	case SourceCloudTrail:
		return "cloudtrail"
	case SourceVPCFlow:
		return "vpcflow"
	case SourceDNS:
		return "dns"
	}
	return "unknown"
}

// ParseSource is the inverse of Source.String.
func ParseSource(s string) (Source, bool) {
	switch s {
	case "cloudtrail":
		return SourceCloudTrail, true
	case "vpcflow":
		return SourceVPCFlow, true
	case "dns":
		return SourceDNS, true
	}
	return SourceUnknown, false
}

// EntityKind is the kind of actor an event is routed to.
type EntityKind uint8

const (
	KindUnknown EntityKind = iota
	// KindPrincipal is an IAM user, an IAM role (sessions aggregate under
	// the role) or the root user of an account.
	KindPrincipal
	// KindNetwork is an EC2 instance when the record names it, and the
	// network interface (or, for DNS, the source address) otherwise.
	KindNetwork
)

// String returns the kind's name as used by the admin endpoint.
func (k EntityKind) String() string {
	switch k {
	case KindPrincipal:
		return "principal"
	case KindNetwork:
		return "network"
	}
	return "unknown"
}

// ParseEntityKind is the inverse of EntityKind.String.
func ParseEntityKind(s string) (EntityKind, bool) {
	switch s {
	case "principal":
		return KindPrincipal, true
	case "network":
		return KindNetwork, true
	}
	return KindUnknown, false
}

// Event is one decoded record. Exactly one of CloudTrail, Flow, DNS and
// Inventory is set, matching Source (see Inventory).
type Event struct {
	Source Source
	// Time is the record's own timestamp (eventTime, flow start,
	// query_timestamp). Detection windows use it, never the wall clock.
	Time time.Time
	// Account and Region place the entity. For a global-service CloudTrail
	// event ingest rewrites Region once per enabled region.
	Account string
	Region  string
	Kind    EntityKind
	// Entity identifies the actor within (Account, Region, Kind): a
	// principal ARN, an instance id, an ENI id, or "ip:<addr>" for DNS
	// queries from an unnamed source.
	Entity string

	CloudTrail *CloudTrail
	Flow       *Flow
	DNS        *DNS
	// Inventory is set on a network entity's event derived from a
	// CloudTrail record (inventory.go; Source is then SourceCloudTrail and
	// the other payloads are nil), and, by the CloudTrail decoder, beside
	// CloudTrail on the record it derives from, for ingest to split off.
	Inventory *Inventory
}

// Key is the routing key of the event's entity in the internal topic.
func (e *Event) Key() string {
	return e.Account + "/" + e.Region + "/" + e.Kind.String() + "/" + e.Entity
}

// CloudTrail holds the fields of one CloudTrail management event.
type CloudTrail struct {
	EventID     string
	EventName   string
	EventSource string // e.g. "cloudtrail.amazonaws.com"
	EventType   string // AwsApiCall, AwsConsoleSignIn, AwsServiceEvent, ...
	// AWSRegion is the region the event was logged in (us-east-1 for
	// global services), before any broadcast.
	AWSRegion        string
	SourceIP         string // an IP, or a service host name ("Domain" caller)
	UserAgent        string
	ErrorCode        string
	ErrorMessage     string
	ReadOnly         bool
	RecipientAccount string
	VPCEndpointID    string
	Identity         Identity
	// RequestParameters holds the scalar request parameters (strings,
	// numbers and booleans as text), nested ones under dotted paths with
	// list indices ("createVolumePermission.add.items.0.group"), bounded
	// in count, depth and size (sources/cloudtrail.go),
	// and, under the Param* keys below (which start with '@', as no
	// CloudTrail parameter does), the few values some detectors need from
	// elsewhere in the record.
	RequestParameters map[string]string
	// ConsoleLogin is responseElements.ConsoleLogin ("Success"/"Failure").
	ConsoleLogin string
	// MFAUsed is additionalEventData.MFAUsed ("Yes"/"No").
	MFAUsed string
	// Global is set when the event belongs to a global service and was
	// broadcast to every enabled region.
	Global bool
}

// Keys of RequestParameters the decoder fills from elsewhere in the
// record, each bounded (sources/cloudtrail.go). Only what a detector
// evaluates is kept, never the rest of the record.
const (
	// ParamVPCEndpointAccount is vpcEndpointAccountId: the account that
	// owns the VPC endpoint the call came through.
	ParamVPCEndpointAccount = "@vpcEndpointAccountId"
	// ParamBucketPolicy is the policy document of PutBucketPolicy, as
	// compact JSON text.
	ParamBucketPolicy = "@bucketPolicy"
	// ParamAccessControlPolicy is the AccessControlPolicy of PutBucketAcl
	// or CreateBucket (the grants), as compact JSON text.
	ParamAccessControlPolicy = "@AccessControlPolicy"
	// ParamCannedACL is the x-amz-acl header of PutBucketAcl or
	// CreateBucket ("public-read"); ParamGrantPrefix+header the
	// x-amz-grant-* headers ("uri=http://acs.amazonaws.com/...").
	ParamCannedACL   = "@x-amz-acl"
	ParamGrantPrefix = "@"
	// ParamInstances lists the instances a RunInstances response
	// launched: "<id> <addr> <addr>..." per instance, joined by ';'.
	ParamInstances = "@instances"
)

// Identity is CloudTrail's userIdentity.
type Identity struct {
	Type        string // Root, IAMUser, AssumedRole, FederatedUser, AWSService, AWSAccount
	PrincipalID string
	ARN         string
	AccountID   string
	AccessKeyID string
	UserName    string
	InvokedBy   string
	// SessionIssuer* come from sessionContext.sessionIssuer.
	SessionIssuerType     string
	SessionIssuerARN      string
	SessionIssuerUserName string
	MFAAuthenticated      bool
	EC2RoleDelivery       string
	// AssumedRoot is set for sessions issued by sts:AssumeRoot.
	AssumedRoot bool
}

// FlowAction is a flow record's action field.
type FlowAction uint8

const (
	ActionNone FlowAction = iota // "-" (NODATA, SKIPDATA)
	ActionAccept
	ActionReject
)

// LogStatus is a flow record's log-status field.
type LogStatus uint8

const (
	StatusOK LogStatus = iota
	StatusNoData
	StatusSkipData
)

// Direction is a flow record's flow-direction field (version 5).
type Direction uint8

const (
	DirectionUnknown Direction = iota
	DirectionIngress
	DirectionEgress
)

// Flow holds the fields of one VPC flow-log record. Fields absent from the
// log format are zero.
type Flow struct {
	Version     uint8
	AccountID   string
	InterfaceID string
	InstanceID  string
	VPCID       string
	SubnetID    string
	Src, Dst    netip.Addr // invalid for NODATA/SKIPDATA
	SrcPort     uint16
	DstPort     uint16
	Protocol    uint8
	Packets     uint64
	Bytes       uint64
	Start, End  int64 // Unix seconds
	Action      FlowAction
	LogStatus   LogStatus
	TCPFlags    uint16
	Direction   Direction
	Region      string
	PktSrc      netip.Addr
	PktDst      netip.Addr
}

// DNS holds the fields of one Route 53 Resolver query-log record.
type DNS struct {
	AccountID string
	Region    string
	VPCID     string
	// QueryName is lower-cased, without the trailing dot.
	QueryName        string
	QueryType        string
	QueryClass       string
	RCode            string
	Answers          []Answer
	SrcAddr          netip.Addr
	SrcPort          uint16
	Transport        string
	InstanceID       string
	ResolverEndpoint string
	FirewallAction   string
}

// Answer is one entry of a query-log record's answers.
type Answer struct {
	Rdata string
	Type  string
}
