package detect

import (
	"net/netip"
	"strconv"
	"strings"
	"unicode"

	"github.com/vigil-sec/vigil/event"
	"github.com/vigil-sec/vigil/findings"
	"github.com/vigil-sec/vigil/geoip"
	"github.com/vigil-sec/vigil/profiles"
)

// Helpers shared by the CloudTrail detectors: the AccessKey resource and
// the AWS_API_CALL action of a finding (spec §3.7).

// callFinding starts the finding of one call by the principal of profile
// p, as GuardDuty writes every CloudTrail finding (spec §1.2): the
// AccessKey resource, the AWS_API_CALL action with affected resources,
// TARGET role and the user agent. Its aggregation key is (account, region,
// type, principal, key...).
func callFinding(typ string, severity float64, p *profiles.Principal, ev *event.Event, affected map[string]string, key ...string) findings.Finding {
	ct := ev.CloudTrail
	account, region := placement(&p.Header, ev)
	f := findings.New(typ, severity, account, region, ev.Time, append([]string{entityKey(&p.Header, ev)}, key...)...)
	f.Resource = accessKeyResource(ct)
	f.Service.Action = apiCallAction(ct, affected)
	f.Service.ResourceRole = findings.RoleTarget
	f.Service.AdditionalInfo = userAgentInfo(ct)
	return f
}

// succeeded reports whether the call worked: GuardDuty's rule findings on
// configuration changes are about changes made, not attempts.
func succeeded(ct *event.CloudTrail) bool { return ct.ErrorCode == "" }

// accessKeyResource describes the credentials that made a call.
func accessKeyResource(ct *event.CloudTrail) findings.Resource {
	id := &ct.Identity
	name := id.UserName
	if name == "" {
		name = id.SessionIssuerUserName
	}
	return findings.Resource{
		ResourceType: findings.ResourceAccessKey,
		AccessKeyDetails: &findings.AccessKeyDetails{
			AccessKeyID: id.AccessKeyID,
			PrincipalID: id.PrincipalID,
			UserName:    name,
			UserType:    id.Type,
		},
	}
}

// apiCallAction describes the call. A sourceIPAddress with letters in it
// is the host name of an AWS service calling for the principal ("Domain"
// caller, e.g. "cloudformation.amazonaws.com", "AWS Internal"); anything
// else is the caller's address, kept as logged when it does not parse
// (anonymised logs write addresses such as "08.1.250.216").
func apiCallAction(ct *event.CloudTrail, affected map[string]string) findings.Action {
	if affected == nil {
		affected = map[string]string{}
	}
	a := &findings.AwsAPICallAction{
		API:               ct.EventName,
		ServiceName:       ct.EventSource,
		ErrorCode:         ct.ErrorCode,
		UserAgent:         ct.UserAgent,
		AffectedResources: affected,
	}
	switch ip, err := netip.ParseAddr(ct.SourceIP); {
	case err == nil:
		a.CallerType = "Remote IP"
		a.RemoteIPDetails = remoteIP(ip)
	case ct.SourceIP == "":
	case strings.IndexFunc(ct.SourceIP, unicode.IsLetter) >= 0:
		a.CallerType = "Domain"
		a.DomainDetails = &findings.DomainDetails{Domain: ct.SourceIP}
	case strings.Contains(ct.SourceIP, ":"):
		a.CallerType = "Remote IP"
		a.RemoteIPDetails = &findings.RemoteIPDetails{IPAddressV6: ct.SourceIP}
	default:
		a.CallerType = "Remote IP"
		a.RemoteIPDetails = &findings.RemoteIPDetails{IPAddressV4: ct.SourceIP}
	}
	return findings.Action{ActionType: findings.ActionAWSAPICall, AwsAPICallAction: a}
}

// userAgentInfo is additionalInfo.userAgent (spec §3.7).
func userAgentInfo(ct *event.CloudTrail) findings.AdditionalInfo {
	if ct.UserAgent == "" {
		return nil
	}
	return findings.AdditionalInfo{"userAgent": map[string]string{"fullUserAgent": ct.UserAgent}}
}

// remoteIP is the remoteIpDetails of an address.
func remoteIP(a netip.Addr) *findings.RemoteIPDetails {
	a = a.Unmap()
	if a.Is4() {
		return &findings.RemoteIPDetails{IPAddressV4: a.String()}
	}
	return &findings.RemoteIPDetails{IPAddressV6: a.String()}
}

// enrich fills the remoteIpDetails of the occurrences an event raised
// with what the GeoIP databases (Config.Geo) know of each address: the
// organisation (the autonomous system's number and registered name; the
// free databases have no separate ISP or organisation, so the AS name
// stands for both, as it usually is the ISP), the country, the city and
// the location. Without databases, or for an address they do not know,
// the details keep the address alone. It runs once per event on its
// occurrences, so every detector's findings get it without knowing of
// it; Lookup is cached and allocates nothing for a known address.
func (e *Engine) enrich(occ []findings.Finding) {
	if e.cfg.Geo == nil {
		return
	}
	for i := range occ {
		a := &occ[i].Service.Action
		if c := a.AwsAPICallAction; c != nil {
			e.enrichIP(c.RemoteIPDetails)
		}
		if c := a.NetworkConnectionAction; c != nil {
			e.enrichIP(c.RemoteIPDetails)
		}
		if c := a.PortProbeAction; c != nil {
			for j := range c.PortProbeDetails {
				e.enrichIP(c.PortProbeDetails[j].RemoteIPDetails)
			}
		}
	}
}

// enrichIP fills d from the GeoIP databases, unless a detector already
// did.
func (e *Engine) enrichIP(d *findings.RemoteIPDetails) {
	if d == nil || d.Organization != nil || d.Country != nil || d.City != nil || d.GeoLocation != nil {
		return
	}
	s := d.IPAddressV4
	if s == "" {
		s = d.IPAddressV6
	}
	addr, err := netip.ParseAddr(s)
	if err != nil {
		return
	}
	info, ok := e.cfg.Geo.Lookup(addr)
	if !ok {
		return
	}
	geoDetails(d, info)
}

// geoDetails writes info into d.
func geoDetails(d *findings.RemoteIPDetails, info geoip.Info) {
	if info.ASN != 0 || info.Org != "" {
		d.Organization = &findings.Organization{Org: info.Org, AsnOrg: info.Org, Isp: info.Org}
		if info.ASN != 0 {
			d.Organization.Asn = strconv.FormatUint(uint64(info.ASN), 10)
		}
	}
	if info.Country != "" {
		d.Country = &findings.Country{CountryCode: info.Country, CountryName: info.CountryName}
	}
	if info.City != "" {
		d.City = &findings.City{CityName: info.City}
	}
	if info.HasLocation {
		d.GeoLocation = &findings.GeoLocation{Lat: info.Lat, Lon: info.Lon}
	}
}

// principalLabel names the caller in titles: "<userType> <userName>".
func principalLabel(id *event.Identity) string {
	name := id.UserName
	if name == "" {
		name = id.SessionIssuerUserName
	}
	if name == "" {
		name = id.ARN
	}
	return strings.TrimSpace(id.Type + " " + name)
}
