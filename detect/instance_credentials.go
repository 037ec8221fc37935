package detect

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/vigil-sec/vigil/awsranges"
	"github.com/vigil-sec/vigil/event"
	"github.com/vigil-sec/vigil/findings"
	"github.com/vigil-sec/vigil/profiles"
)

// UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS
// and .InsideAWS (High; InsideAWS Medium from an affiliated account): the
// temporary credentials EC2 gives an instance through its instance
// profile were used from somewhere that is not the instance.
//
// Instance-profile credentials are an AssumedRole session of the role
// whose session name is the instance id (the ARN ends in "/i-...", and
// newer logs set sessionContext.ec2RoleDelivery). The role's profile
// aggregates its sessions, and keeps per instance what it learned
// (profiles.Credentials): the instances its sessions are named for, those
// it launched (RunInstances response: private addresses, and a public one
// when the response has it), gave an instance profile
// (AssociateIamInstanceProfile) or an address (AssociateAddress with
// publicIp), and the private addresses its calls came from through a VPC
// endpoint of the instance's own account.
//
// For a call made with an instance's credentials from an address (not an
// AWS service acting for the role: sourceIPAddress a service host name,
// or invokedBy set, never fires):
//
//   - OutsideAWS: no VPC endpoint, the address is public, not one of the
//     instance's known addresses, and outside AWS: not in AWS's published
//     ip-ranges.json (--aws-ip-ranges) and not announced by one of
//     Amazon's autonomous systems (when the ASN database knows it). With
//     only the bundled subset of the ranges and no ASN for the address,
//     vigil cannot tell an address outside AWS from one the subset lacks,
//     and stays silent.
//   - InsideAWS: the call came through a VPC endpoint owned by another
//     account (vpcEndpointAccountId): remoteAccountDetails names it, and
//     the finding is Medium when that account is affiliated
//     (--affiliated-accounts). Or, without a VPC endpoint, the address is
//     inside AWS and the instance has known public addresses, none of
//     which it is: the remote account is then unknown (CloudTrail does
//     not say who holds an AWS address).
//
// What vigil cannot see: CloudTrail does not tell an instance's public or
// NAT address unless a call of the role's own sessions or one of its
// launches or associations does (a launching instance has no public
// address yet, and AssociateAddress names an allocation id, not the
// address, in a VPC). The calls of other principals (the user who
// launched the instance) reach their own profiles, not the role's. And a
// thief's calls carry the same session name and ec2RoleDelivery as the
// instance's, so a public address the credentials were used from is never
// taken as the instance's own. So InsideAWS by address fires only when
// the instance's public address is known; otherwise vigil stays silent
// rather than guess. GuardDuty learns which remote sources keep appearing
// and stops alerting on them (spec §2.6); vigil raises every source, one
// finding per (role, instance, source) whose count grows.
//
// Aggregation key: (account, region, type, role, instance, caller address
// or remote account).

// amazonASNs are the autonomous systems AWS announces its address space
// from: AMAZON-02 and AMAZON-AES.
var amazonASNs = []uint32{16509, 14618}

func (e *Engine) instanceCredentials(p *profiles.Principal, ev *event.Event, out []findings.Finding) []findings.Finding {
	ct := ev.CloudTrail
	e.learnInstances(p, ct, ev.Time)
	id := &ct.Identity
	instance := instanceSession(id)
	if instance == "" || id.InvokedBy != "" || serviceCaller(ct.SourceIP) {
		return out
	}
	addr, err := netip.ParseAddr(ct.SourceIP)
	if err != nil {
		return out
	}
	addr = addr.Unmap()
	account := id.AccountID
	if account == "" {
		account = ev.Account
	}
	remote := ""
	if ct.VPCEndpointID != "" {
		remote = ct.RequestParameters[event.ParamVPCEndpointAccount]
		if remote == account {
			remote = ""
		}
	}
	// Through a VPC endpoint of its own account the caller is in the
	// instance's own network: its private address is the instance's.
	own := ""
	if ct.VPCEndpointID != "" && remote == "" && !publicAddr(addr) {
		own = addr.String()
	}
	p.Credentials.ObserveInstance(instance, profiles.ViaSession, ev.Time, own, profiles.ViaVPCEndpoint)
	known := p.Credentials.Instance(instance)
	if remote != "" {
		affiliated := slices.Contains(e.cfg.AffiliatedAccounts, remote)
		why := "the call came through VPC endpoint " + ct.VPCEndpointID + " owned by account " + remote +
			", not the instance's account " + account
		return append(out, e.instanceFinding(TypeInstanceCredsInsideAWS, p, ev, instance, known, addr, remote, &affiliated, why))
	}
	if ct.VPCEndpointID != "" || !publicAddr(addr) || knownAddr(known, addr) {
		return out
	}
	ranges := e.cfg.AWSRanges
	if ranges == nil {
		ranges = awsranges.Fallback()
	}
	inAWS, why := e.insideAWS(ranges, addr)
	switch {
	case inAWS:
		if publicKnown(known) == 0 {
			return out // the instance's own public address is unknown: cannot tell
		}
		why = addr.String() + " is inside AWS (" + why + ") but is none of the instance's known public addresses; which account holds it is unknown"
		return append(out, e.instanceFinding(TypeInstanceCredsInsideAWS, p, ev, instance, known, addr, "", nil, why))
	case why == "":
		return out // cannot tell whether the address is outside AWS
	}
	why = addr.String() + " is outside AWS (" + why + ") and " + knownClause(known)
	return append(out, e.instanceFinding(TypeInstanceCredsOutsideAWS, p, ev, instance, known, addr, "", nil, why))
}

// knownClause says which addresses of the instance the caller is not.
func knownClause(in *profiles.Instance) string {
	if in == nil || len(in.Addrs) == 0 {
		return "no address of the instance is known"
	}
	addrs := make([]string, len(in.Addrs))
	for i, a := range in.Addrs {
		addrs[i] = a.Addr
	}
	return "is none of the instance's known addresses (" + strings.Join(addrs, ", ") + ")"
}

// insideAWS tells whether addr is AWS's, and why. An address that is not
// AWS's as far as vigil can tell gives false and the reason; one vigil
// cannot place gives false and "".
func (e *Engine) insideAWS(ranges *awsranges.Ranges, addr netip.Addr) (bool, string) {
	if r, ok := ranges.Lookup(addr); ok {
		return true, "in " + r.Prefix.String() + " " + r.Region + " " + strings.Join(r.Services, "/") + " of " + ranges.String()
	}
	info, geo := e.cfg.Geo.Lookup(addr)
	if geo && slices.Contains(amazonASNs, info.ASN) {
		return true, "announced by Amazon's AS" + strconv.FormatUint(uint64(info.ASN), 10)
	}
	asn := ""
	if geo && info.ASN != 0 {
		asn = "AS" + strconv.FormatUint(uint64(info.ASN), 10)
		if info.Org != "" {
			asn += " (" + info.Org + ")"
		}
	}
	switch {
	case ranges.Complete() && asn != "":
		return false, "announced by " + asn + ", not by Amazon, and not in AWS's ranges, " + ranges.String()
	case ranges.Complete():
		return false, "not in AWS's ranges, " + ranges.String()
	case asn != "":
		return false, "announced by " + asn + ", not by Amazon, and not in " + ranges.String()
	}
	return false, ""
}

// learnInstances records what ct tells of instances the principal
// launched or gave an instance profile or an address. Only a role's
// sessions can be an instance's, so only roles keep it.
func (e *Engine) learnInstances(p *profiles.Principal, ct *event.CloudTrail, t time.Time) {
	if ct.EventSource != "ec2.amazonaws.com" || ct.Identity.Type != "AssumedRole" || !succeeded(ct) {
		return
	}
	params := ct.RequestParameters
	switch ct.EventName {
	case "RunInstances":
		for _, inst := range strings.Split(params[event.ParamInstances], ";") {
			f := strings.Fields(inst)
			if len(f) == 0 {
				continue
			}
			p.Credentials.ObserveInstance(f[0], profiles.ViaRunInstances, t, "", 0)
			for _, a := range f[1:] {
				if addr, err := netip.ParseAddr(a); err == nil {
					p.Credentials.ObserveInstance(f[0], profiles.ViaRunInstances, t, addr.Unmap().String(), profiles.ViaRunInstances)
				}
			}
		}
	case "AssociateIamInstanceProfile":
		if id := params["instanceId"]; strings.HasPrefix(id, "i-") {
			p.Credentials.ObserveInstance(id, profiles.ViaInstanceProfile, t, "", 0)
		}
	case "AssociateAddress":
		id := params["instanceId"]
		addr, err := netip.ParseAddr(params["publicIp"])
		if strings.HasPrefix(id, "i-") && err == nil {
			p.Credentials.ObserveInstance(id, profiles.ViaAssociateAddress, t, addr.Unmap().String(), profiles.ViaAssociateAddress)
		}
	}
}

// instanceSession returns the instance id an instance-profile session is
// named for, or "".
func instanceSession(id *event.Identity) string {
	if id.Type != "AssumedRole" || (id.SessionIssuerType != "" && id.SessionIssuerType != "Role") {
		return ""
	}
	name := id.ARN
	if i := strings.LastIndexByte(name, '/'); i >= 0 && strings.Contains(name, ":assumed-role/") {
		name = name[i+1:]
	} else if _, s, ok := strings.Cut(id.PrincipalID, ":"); ok {
		name = s
	} else {
		return ""
	}
	if !isInstanceID(name) {
		return ""
	}
	return name
}

// isInstanceID reports whether s is "i-" and 8 or 17 hexadecimal digits
// (either case: anonymised logs change it).
func isInstanceID(s string) bool {
	h, ok := strings.CutPrefix(s, "i-")
	if !ok || (len(h) != 8 && len(h) != 17) {
		return false
	}
	for _, c := range h {
		if !unicode.Is(unicode.ASCII_Hex_Digit, c) {
			return false
		}
	}
	return true
}

// serviceCaller reports whether sourceIPAddress is an AWS service's host
// name ("ec2.amazonaws.com", "AWS Internal") rather than an address.
func serviceCaller(src string) bool {
	return src == "" || strings.IndexFunc(src, unicode.IsLetter) >= 0 && !strings.Contains(src, ":")
}

// publicAddr reports whether a is an address on the internet: not
// private, shared (100.64.0.0/10), loopback, link-local or multicast.
func publicAddr(a netip.Addr) bool {
	return a.IsGlobalUnicast() && !a.IsPrivate() && !sharedSpace.Contains(a)
}

var sharedSpace = netip.MustParsePrefix("100.64.0.0/10")

// knownAddr reports whether addr is one of the instance's known
// addresses.
func knownAddr(in *profiles.Instance, addr netip.Addr) bool {
	if in == nil {
		return false
	}
	s := addr.String()
	for _, a := range in.Addrs {
		if a.Addr == s {
			return true
		}
	}
	return false
}

// publicKnown counts the instance's known public addresses.
func publicKnown(in *profiles.Instance) int {
	n := 0
	if in != nil {
		for _, a := range in.Addrs {
			if addr, err := netip.ParseAddr(a.Addr); err == nil && publicAddr(addr) {
				n++
			}
		}
	}
	return n
}

// instanceFinding builds an InstanceCredentialExfiltration finding: the
// AccessKey resource, the call, the remote account when known, and the
// evidence (the instance, its known addresses and where they were
// learned, the caller and why it is not the instance).
func (e *Engine) instanceFinding(typ string, p *profiles.Principal, ev *event.Event, instance string, known *profiles.Instance,
	addr netip.Addr, remote string, affiliated *bool, why string) findings.Finding {
	ct := ev.CloudTrail
	severity := findings.SeverityHigh
	if affiliated != nil && *affiliated {
		severity = findings.SeverityMedium
	}
	source := addr.String()
	if remote != "" {
		source = "account:" + remote
	}
	f := callFinding(typ, severity, p, ev, map[string]string{"AWS::EC2::Instance": instance}, instance, source)
	if remote != "" {
		f.Service.Action.AwsAPICallAction.RemoteAccountDetails = &findings.RemoteAccountDetails{AccountID: remote, Affiliated: *affiliated}
	}
	where := "from outside AWS"
	if typ == TypeInstanceCredsInsideAWS {
		where = "from inside AWS, not from the instance"
		if remote != "" {
			where = "from another AWS account (" + remote + ")"
		}
	}
	f.Title = "Credentials for instance " + instance + " were used " + where + "."
	f.Description = "The EC2 instance-profile credentials of instance " + instance + " (role " + roleName(&ct.Identity) +
		") were used to call " + ct.EventName + ": " + why + ". They may have been stolen from the instance."
	known2 := []map[string]any{}
	if known != nil {
		for _, a := range known.Addrs {
			known2 = append(known2, map[string]any{
				"address": a.Addr, "learnedFrom": profiles.ViaNames(a.Via),
				"firstSeen": findings.Stamp(a.FirstSeen), "lastSeen": findings.Stamp(a.LastSeen),
			})
		}
	}
	info := map[string]any{
		"instanceId":     instance,
		"sessionArn":     ct.Identity.ARN,
		"callerAddress":  addr.String(),
		"why":            why,
		"knownAddresses": known2,
	}
	if ct.Identity.EC2RoleDelivery != "" {
		info["ec2RoleDelivery"] = ct.Identity.EC2RoleDelivery
	}
	if known != nil {
		info["instanceLearnedFrom"] = profiles.ViaNames(known.Via)
	}
	if ct.VPCEndpointID != "" {
		info["vpcEndpointId"] = ct.VPCEndpointID
	}
	if f.Service.AdditionalInfo == nil {
		f.Service.AdditionalInfo = findings.AdditionalInfo{}
	}
	f.Service.AdditionalInfo["instanceCredentials"] = info
	return f
}

// roleName is the role of a session.
func roleName(id *event.Identity) string {
	if id.SessionIssuerUserName != "" {
		return id.SessionIssuerUserName
	}
	return id.SessionIssuerARN
}
