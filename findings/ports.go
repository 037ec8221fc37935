package findings

import "strconv"

// PortName returns the service name GuardDuty shows for a port in
// localPortDetails/remotePortDetails, or "Unknown".
func PortName(port int) string {
	switch port {
	case 20, 21:
		return "FTP"
	case 22:
		return "SSH"
	case 23:
		return "TELNET"
	case 25:
		return "SMTP"
	case 53:
		return "DNS"
	case 80:
		return "HTTP"
	case 110:
		return "POP3"
	case 123:
		return "NTP"
	case 143:
		return "IMAP"
	case 389:
		return "LDAP"
	case 443:
		return "HTTPS"
	case 445:
		return "SMB"
	case 853:
		return "DNS over TLS"
	case 1433:
		return "MSSQL"
	case 3306:
		return "MYSQL"
	case 3389:
		return "RDP"
	case 5432:
		return "POSTGRESQL"
	case 5985, 5986:
		return "WinRM"
	case 9200, 9300:
		return "Elasticsearch"
	}
	return "Unknown"
}

// ProtocolName returns the name GuardDuty shows for an IP protocol number
// ("TCP", "UDP", ...), or the number itself for protocols it has no name
// for.
func ProtocolName(proto uint8) string {
	switch proto {
	case 1:
		return "ICMP"
	case 2:
		return "IGMP"
	case 6:
		return "TCP"
	case 17:
		return "UDP"
	case 58:
		return "ICMPV6"
	}
	return strconv.Itoa(int(proto))
}
