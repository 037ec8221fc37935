package loadgen

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// popularDomains are the names instances resolve, most popular first (the
// draw is Zipf-like over this order). "{r}" stands for the instance's
// region.
var popularDomains = []string{
	"s3.{r}.amazonaws.com", "sts.{r}.amazonaws.com", "dynamodb.{r}.amazonaws.com", "api.github.com",
	"sqs.{r}.amazonaws.com", "logs.{r}.amazonaws.com", "ec2.{r}.amazonaws.com", "kms.{r}.amazonaws.com",
	"monitoring.{r}.amazonaws.com", "ssm.{r}.amazonaws.com", "secretsmanager.{r}.amazonaws.com",
	"www.google.com", "registry-1.docker.io", "auth.docker.io", "production.cloudflare.docker.com",
	"api.ecr.{r}.amazonaws.com", "ecs.{r}.amazonaws.com", "sns.{r}.amazonaws.com", "ec2messages.{r}.amazonaws.com",
	"ssmmessages.{r}.amazonaws.com", "github.com", "objects.githubusercontent.com", "registry.npmjs.org",
	"pypi.org", "files.pythonhosted.org", "proxy.golang.org", "sum.golang.org", "deb.debian.org",
	"security.debian.org", "archive.ubuntu.com", "security.ubuntu.com", "ntp.ubuntu.com", "time.aws.com",
	"amazonlinux-2-repos-{r}.s3.dualstack.{r}.amazonaws.com", "al2023-repos-{r}-de612dc2.s3.dualstack.{r}.amazonaws.com",
	"login.microsoftonline.com", "graph.microsoft.com", "slack.com", "hooks.slack.com", "api.stripe.com",
	"sentry.io", "o123456.ingest.sentry.io", "http-intake.logs.datadoghq.com", "app.datadoghq.com",
	"api.datadoghq.com", "ocsp.digicert.com", "ocsp.r2m03.amazontrust.com", "crl.r2m03.amazontrust.com",
	"fonts.googleapis.com", "oauth2.googleapis.com", "storage.googleapis.com", "api.openai.com",
	"api.segment.io", "cdn.segment.com", "api.mixpanel.com", "api.sendgrid.com", "api.twilio.com",
	"orders-db.cluster-c9akciq32ab1.{r}.rds.amazonaws.com", "payments-db.cluster-ro-c9akciq32ab1.{r}.rds.amazonaws.com",
	"sessions.abcdef.ng.0001.{r}.cache.amazonaws.com", "search-logs-x7k2m4.{r}.es.amazonaws.com",
	"internal-orders-alb-1234567890.{r}.elb.amazonaws.com", "orders.internal.example.com", "payments.internal.example.com",
	"auth.internal.example.com", "kafka-1.internal.example.com", "kafka-2.internal.example.com", "kafka-3.internal.example.com",
	"vault.internal.example.com", "consul.service.consul", "grafana.internal.example.com", "prometheus.internal.example.com",
	"d1a2b3c4d5e6f7.cloudfront.net", "cdn.jsdelivr.net", "unpkg.com", "api.pagerduty.com", "events.pagerduty.com",
	"hub.docker.com", "quay.io", "gcr.io", "ghcr.io", "k8s.gcr.io", "public.ecr.aws",
}

// nxNames are names that do not resolve: search-domain expansions,
// stale service names and typos.
var nxNames = []string{
	"orders.internal.example.com.{r}.compute.internal", "wpad.{r}.compute.internal", "metadata.google.internal",
	"old-payments.internal.example.com", "kafka-4.internal.example.com", "api.githib.com", "_ldap._tcp.dc._msdcs.corp.example.com",
	"localhost.{r}.compute.internal", "isatap.ec2.internal", "orders-staging.internal.example.com",
}

var queryTypes = []string{"A", "A", "A", "A", "A", "A", "A", "A", "A", "A", "A", "A", "AAAA", "AAAA", "AAAA", "AAAA", "AAAA", "PTR", "TXT", "SRV"}

// dns makes one background query-log record.
func (g *Generator) dns() []byte {
	i := int(g.instances.Uint64())
	in := g.instance(i)
	rcode := "NOERROR"
	name := popularDomains[g.domains.Uint64()]
	switch x := g.rng.IntN(1000); {
	case x < 30:
		rcode, name = "NXDOMAIN", nxNames[g.rng.IntN(len(nxNames))]
	case x < 33:
		rcode = "SERVFAIL"
	}
	qtype := queryTypes[g.rng.IntN(len(queryTypes))]
	b := make([]byte, 0, 512)
	return g.appendQuery(b, &in, expand(name, in.region), qtype, rcode, g.now, 32768+g.rng.IntN(28232), g.rng.IntN(50) == 0)
}

func expand(name, region string) string { return strings.ReplaceAll(name, "{r}", region) }

// appendQuery appends one Route 53 Resolver query-log line.
func (g *Generator) appendQuery(b []byte, in *instance, name, qtype, rcode string, t time.Time, port int, tcp bool) []byte {
	b = append(b, `{"version":"1.100000","account_id":"`...)
	b = append(b, in.account...)
	b = append(b, `","region":"`...)
	b = append(b, in.region...)
	b = append(b, `","vpc_id":"`...)
	b = append(b, in.vpc...)
	b = append(b, `","query_timestamp":"`...)
	b = t.UTC().AppendFormat(b, "2006-01-02T15:04:05Z")
	b = append(b, `","query_name":"`...)
	b = append(b, name...)
	b = append(b, `.","query_type":"`...)
	b = append(b, qtype...)
	b = append(b, `","query_class":"IN","rcode":"`...)
	b = append(b, rcode...)
	b = append(b, `","answers":[`...)
	if rcode == "NOERROR" {
		h := mix(uint64(len(name))*131 + uint64(name[0])<<8 + uint64(name[len(name)-1]))
		n := 1 + int(h%3)
		for k := range n {
			if k > 0 {
				b = append(b, ',')
			}
			switch qtype {
			case "AAAA":
				b = fmt.Appendf(b, `{"Rdata":"2600:1f18:%x:%x::%x","Type":"AAAA","Class":"IN"}`, h>>8&0xffff, h>>24&0xffff, k+1)
			case "PTR":
				b = append(b, `{"Rdata":"ip-10-1-2-3.ec2.internal.","Type":"PTR","Class":"IN"}`...)
			case "TXT":
				b = append(b, `{"Rdata":"\"v=spf1 include:amazonses.com ~all\"","Type":"TXT","Class":"IN"}`...)
			case "SRV":
				b = append(b, `{"Rdata":"0 5 389 dc1.corp.example.com.","Type":"SRV","Class":"IN"}`...)
			default:
				b = append(b, `{"Rdata":"`...)
				b = append(b, publicIP(int(h>>32%50000)+k*7)...)
				b = append(b, `","Type":"A","Class":"IN"}`...)
			}
		}
	}
	b = append(b, `],"srcaddr":"`...)
	b = append(b, in.ip...)
	b = append(b, `","srcport":"`...)
	b = strconv.AppendInt(b, int64(port), 10)
	b = append(b, `","transport":"`...)
	if tcp {
		b = append(b, "TCP"...)
	} else {
		b = append(b, "UDP"...)
	}
	b = append(b, `","srcids":{"instance":"`...)
	b = append(b, in.id...)
	return append(b, `"}}`...)
}
