// Package findings is the GuardDuty finding model: the JSON shape of a
// finding in its EventBridge `detail` form (spec §3.1–3.4), its
// deterministic id, and how occurrences of the same finding aggregate.
//
// A detector returns occurrences: one Finding per detection, with count 1
// (or the number of occurrences it stands for, 0 for an update of one
// already counted) and its "seen" times set from event time. Whoever
// stores findings merges an occurrence into the stored finding with the
// same id (Merge, merge.go), which is how GuardDuty updates a finding
// instead of duplicating it (spec §4.2). Merge is a join: merging the same
// occurrences in any order or grouping gives the same finding, so findings
// do not depend on the order in which events arrive. Every timestamp comes
// from event time, never from the wall clock, so replaying the same input
// yields byte-identical findings.
package findings

import (
	"time"
)

// SchemaVersion is the finding schema version GuardDuty emits.
const SchemaVersion = "2.0"

// ServiceName is service.serviceName of every finding.
const ServiceName = "guardduty"

// Resource types used by the detectors (resource.resourceType).
const (
	ResourceAccessKey = "AccessKey"
	ResourceInstance  = "Instance"
)

// Action types (service.action.actionType).
const (
	ActionAWSAPICall        = "AWS_API_CALL"
	ActionNetworkConnection = "NETWORK_CONNECTION"
	ActionPortProbe         = "PORT_PROBE"
	ActionDNSRequest        = "DNS_REQUEST"
)

// Resource roles (service.resourceRole). ACTOR means the resource did it;
// TARGET means the resource was acted upon.
const (
	RoleActor  = "ACTOR"
	RoleTarget = "TARGET"
)

// Connection directions (networkConnectionAction.connectionDirection).
const (
	DirectionInbound  = "INBOUND"
	DirectionOutbound = "OUTBOUND"
	DirectionUnknown  = "UNKNOWN"
)

// Finding is one GuardDuty finding in the EventBridge `detail` form. Field
// order follows spec §3.2, so encoding/json writes keys in GuardDuty's
// order.
type Finding struct {
	SchemaVersion string   `json:"schemaVersion"`
	AccountID     string   `json:"accountId"`
	Region        string   `json:"region"`
	Partition     string   `json:"partition"`
	ID            string   `json:"id"`
	Arn           string   `json:"arn"`
	Type          string   `json:"type"`
	Resource      Resource `json:"resource"`
	Service       Service  `json:"service"`
	// Severity is a number: 2, 5, 8 (Low, Medium, High) by default.
	Severity    float64   `json:"severity"`
	CreatedAt   Timestamp `json:"createdAt"`
	UpdatedAt   Timestamp `json:"updatedAt"`
	Title       string    `json:"title"`
	Description string    `json:"description"`

	// Rank orders occurrences with the same eventLastSeen: of two, the
	// details of the one with the greater Rank win (see Merge). A window
	// detector sets it to the window's event count, so a later state of a
	// window outranks an earlier one with the same last event. It is not
	// part of GuardDuty's JSON; MarshalStored keeps it.
	Rank uint64 `json:"-"`
}

// Resource is the affected resource (spec §3.3); only the members the
// foundational sources fill are modelled.
type Resource struct {
	ResourceType     string            `json:"resourceType"`
	AccessKeyDetails *AccessKeyDetails `json:"accessKeyDetails,omitempty"`
	InstanceDetails  *InstanceDetails  `json:"instanceDetails,omitempty"`
	// S3BucketDetails names the buckets of an S3 finding (spec §1.3).
	S3BucketDetails []S3BucketDetail `json:"s3BucketDetails,omitempty"`
}

// S3BucketDetail is one bucket of an S3 finding; vigil knows its name
// from the request, and its ARN from the name.
type S3BucketDetail struct {
	Name string `json:"name"`
	Arn  string `json:"arn"`
	Type string `json:"type"` // "Destination"
}

// AccessKeyDetails describes the credentials of a CloudTrail finding.
type AccessKeyDetails struct {
	AccessKeyID string `json:"accessKeyId"`
	PrincipalID string `json:"principalId"`
	UserName    string `json:"userName"`
	// UserType is CloudTrail's userIdentity.type (IAMUser, AssumedRole,
	// Root, ...).
	UserType string `json:"userType"`
}

// InstanceDetails describes the EC2 instance of a network or DNS finding.
// vigil has no EC2 inventory, so detectors fill only the id and the network
// interfaces they saw; the inventory members exist so that findings from an
// enricher, or from GuardDuty itself, round-trip.
type InstanceDetails struct {
	InstanceID         string              `json:"instanceId,omitempty"`
	InstanceType       string              `json:"instanceType,omitempty"`
	LaunchTime         string              `json:"launchTime,omitempty"`
	Platform           *string             `json:"platform,omitempty"`
	ProductCodes       []ProductCode       `json:"productCodes,omitempty"`
	IamInstanceProfile *IamInstanceProfile `json:"iamInstanceProfile,omitempty"`
	NetworkInterfaces  []NetworkInterface  `json:"networkInterfaces,omitempty"`
	Tags               []Tag               `json:"tags,omitempty"`
	InstanceState      string              `json:"instanceState,omitempty"`
	AvailabilityZone   string              `json:"availabilityZone,omitempty"`
	ImageID            string              `json:"imageId,omitempty"`
	ImageDescription   string              `json:"imageDescription,omitempty"`
}

// ProductCode is one instanceDetails.productCodes entry.
type ProductCode struct {
	ProductCodeID   string `json:"productCodeId,omitempty"`
	ProductCodeType string `json:"productCodeType,omitempty"`
}

// IamInstanceProfile is instanceDetails.iamInstanceProfile.
type IamInstanceProfile struct {
	Arn string `json:"arn,omitempty"`
	ID  string `json:"id,omitempty"`
}

// Tag is one resource tag.
type Tag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// NetworkInterface is one instanceDetails.networkInterfaces entry.
type NetworkInterface struct {
	NetworkInterfaceID string             `json:"networkInterfaceId,omitempty"`
	PrivateIPAddress   string             `json:"privateIpAddress,omitempty"`
	PrivateIPAddresses []PrivateIPAddress `json:"privateIpAddresses,omitempty"`
	PrivateDNSName     string             `json:"privateDnsName,omitempty"`
	PublicIP           string             `json:"publicIp,omitempty"`
	PublicDNSName      string             `json:"publicDnsName,omitempty"`
	Ipv6Addresses      []string           `json:"ipv6Addresses,omitempty"`
	SubnetID           string             `json:"subnetId,omitempty"`
	VpcID              string             `json:"vpcId,omitempty"`
	SecurityGroups     []SecurityGroup    `json:"securityGroups,omitempty"`
}

// PrivateIPAddress is one networkInterfaces[].privateIpAddresses entry.
type PrivateIPAddress struct {
	PrivateDNSName   string `json:"privateDnsName,omitempty"`
	PrivateIPAddress string `json:"privateIpAddress,omitempty"`
}

// SecurityGroup is one networkInterfaces[].securityGroups entry.
type SecurityGroup struct {
	GroupName string `json:"groupName,omitempty"`
	GroupID   string `json:"groupId,omitempty"`
}

// Service is the GuardDuty-specific part of a finding (spec §3.4).
type Service struct {
	ServiceName    string         `json:"serviceName"`
	DetectorID     string         `json:"detectorId"`
	Action         Action         `json:"action"`
	ResourceRole   string         `json:"resourceRole"`
	AdditionalInfo AdditionalInfo `json:"additionalInfo"`
	// Evidence is null unless a threat list matched, as in GuardDuty's
	// samples.
	Evidence       *Evidence `json:"evidence"`
	EventFirstSeen Timestamp `json:"eventFirstSeen"`
	EventLastSeen  Timestamp `json:"eventLastSeen"`
	Archived       bool      `json:"archived"`
	Count          int       `json:"count"`
}

// Action is service.action; ActionType says which member is set.
type Action struct {
	ActionType              string                   `json:"actionType"`
	AwsAPICallAction        *AwsAPICallAction        `json:"awsApiCallAction,omitempty"`
	NetworkConnectionAction *NetworkConnectionAction `json:"networkConnectionAction,omitempty"`
	PortProbeAction         *PortProbeAction         `json:"portProbeAction,omitempty"`
	DNSRequestAction        *DNSRequestAction        `json:"dnsRequestAction,omitempty"`
}

// AwsAPICallAction describes the CloudTrail call behind a finding.
type AwsAPICallAction struct {
	API         string `json:"api"`
	ServiceName string `json:"serviceName"`
	// CallerType is "Remote IP" or "Domain" (sourceIPAddress was an AWS
	// service host name).
	CallerType           string                `json:"callerType"`
	DomainDetails        *DomainDetails        `json:"domainDetails,omitempty"`
	RemoteIPDetails      *RemoteIPDetails      `json:"remoteIpDetails,omitempty"`
	ErrorCode            string                `json:"errorCode,omitempty"`
	UserAgent            string                `json:"userAgent,omitempty"`
	RemoteAccountDetails *RemoteAccountDetails `json:"remoteAccountDetails,omitempty"`
	// AffectedResources is {} when none, as GuardDuty writes it.
	AffectedResources map[string]string `json:"affectedResources"`
}

// DomainDetails names the AWS service host that made a call.
type DomainDetails struct {
	Domain string `json:"domain"`
}

// RemoteAccountDetails is the foreign account of an InsideAWS finding.
type RemoteAccountDetails struct {
	AccountID  string `json:"accountId"`
	Affiliated bool   `json:"affiliated"`
}

// NetworkConnectionAction describes the connection behind a flow finding.
type NetworkConnectionAction struct {
	ConnectionDirection   string           `json:"connectionDirection"`
	RemoteIPDetails       *RemoteIPDetails `json:"remoteIpDetails,omitempty"`
	RemotePortDetails     *PortDetails     `json:"remotePortDetails,omitempty"`
	LocalPortDetails      *PortDetails     `json:"localPortDetails,omitempty"`
	LocalIPDetails        *LocalIPDetails  `json:"localIpDetails,omitempty"`
	Protocol              string           `json:"protocol"`
	Blocked               bool             `json:"blocked"`
	LocalNetworkInterface string           `json:"localNetworkInterface,omitempty"`
}

// PortProbeAction describes probes of an instance's ports.
type PortProbeAction struct {
	Blocked          bool              `json:"blocked"`
	PortProbeDetails []PortProbeDetail `json:"portProbeDetails"`
}

// PortProbeDetail is one probed local port.
type PortProbeDetail struct {
	LocalPortDetails *PortDetails     `json:"localPortDetails,omitempty"`
	LocalIPDetails   *LocalIPDetails  `json:"localIpDetails,omitempty"`
	RemoteIPDetails  *RemoteIPDetails `json:"remoteIpDetails,omitempty"`
}

// DNSRequestAction describes the DNS query behind a finding.
type DNSRequestAction struct {
	Domain   string `json:"domain"`
	Protocol string `json:"protocol"`
	Blocked  bool   `json:"blocked"`
	// DomainWithSuffix is the registrable domain (eTLD+1) of Domain.
	DomainWithSuffix  string `json:"domainWithSuffix,omitempty"`
	VpcOwnerAccountID string `json:"vpcOwnerAccountId,omitempty"`
}

// PortDetails is a port and its service name ("SSH", "HTTP", "Unknown").
type PortDetails struct {
	Port     int    `json:"port"`
	PortName string `json:"portName"`
}

// LocalIPDetails is the instance-side address.
type LocalIPDetails struct {
	IPAddressV4 string `json:"ipAddressV4,omitempty"`
	IPAddressV6 string `json:"ipAddressV6,omitempty"`
}

// RemoteIPDetails is the remote address and, when an enricher knows them,
// its network and location.
type RemoteIPDetails struct {
	IPAddressV4  string        `json:"ipAddressV4,omitempty"`
	IPAddressV6  string        `json:"ipAddressV6,omitempty"`
	Organization *Organization `json:"organization,omitempty"`
	Country      *Country      `json:"country,omitempty"`
	City         *City         `json:"city,omitempty"`
	GeoLocation  *GeoLocation  `json:"geoLocation,omitempty"`
}

// Organization is the remote address's network owner. Asn is a string in
// GuardDuty's JSON.
type Organization struct {
	Asn    string `json:"asn,omitempty"`
	AsnOrg string `json:"asnOrg,omitempty"`
	Isp    string `json:"isp,omitempty"`
	Org    string `json:"org,omitempty"`
}

// Country of a remote address.
type Country struct {
	CountryName string `json:"countryName,omitempty"`
	CountryCode string `json:"countryCode,omitempty"`
}

// City of a remote address.
type City struct {
	CityName string `json:"cityName,omitempty"`
}

// GeoLocation of a remote address.
type GeoLocation struct {
	Lat float64 `json:"lat"`
	Lon float64 `json:"lon"`
}

// Evidence carries the threat-intelligence matches behind a finding.
type Evidence struct {
	ThreatIntelligenceDetails []ThreatIntelligenceDetail `json:"threatIntelligenceDetails"`
}

// ThreatIntelligenceDetail is one threat-list match.
type ThreatIntelligenceDetail struct {
	ThreatListName   string   `json:"threatListName"`
	ThreatNames      []string `json:"threatNames,omitempty"`
	ThreatFileSha256 string   `json:"threatFileSha256,omitempty"`
}

// New returns an occurrence of finding type typ against account and region,
// seen once at event time at: count 1, rank 1, both "seen" times,
// createdAt and updatedAt set to at (cut to milliseconds, the precision of
// the JSON form, so that a stored finding compares like a fresh one), and
// the id derived from typ, account, region and the rest of the aggregation
// key. The caller fills resource, action, role, title and description.
func New(typ string, severity float64, account, region string, at time.Time, key ...string) Finding {
	parts := make([]string, 0, 2+len(key))
	parts = append(parts, account, region)
	parts = append(parts, key...)
	id := ID(typ, parts...)
	detector := DetectorID(account, region)
	ts := Stamp(at)
	return Finding{
		SchemaVersion: SchemaVersion,
		AccountID:     account,
		Region:        region,
		Partition:     Partition(region),
		ID:            id,
		Arn:           Arn(region, account, detector, id),
		Type:          typ,
		Service: Service{
			ServiceName:    ServiceName,
			DetectorID:     detector,
			EventFirstSeen: ts,
			EventLastSeen:  ts,
			Count:          1,
		},
		Severity:  severity,
		CreatedAt: ts,
		UpdatedAt: ts,
		Rank:      1,
	}
}
