package loadgen

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"
)

// api is one CloudTrail management API in the service mix.
type api struct {
	source, name string
	read         bool
	weight       float64
	// params is the requestParameters object ("" for null).
	params string
	// err is the error code this API fails with, when it fails.
	err, errMsg string
}

// The service mix of a typical organisation's management events, read
// off public trails: EC2, S3, KMS, STS, Lambda, logs and monitoring
// dominate, writes are a fifth. Weights are relative within each of the
// four groups (global or regional, read or write); cloudTrailMix scales the
// groups to the shares below.
var (
	regionalRead = []api{
		{"ec2.amazonaws.com", "DescribeInstances", true, 10, `{"instancesSet":{},"filterSet":{}}`, "Client.UnauthorizedOperation", "You are not authorized to perform this operation."},
		{"ec2.amazonaws.com", "DescribeSecurityGroups", true, 4, `{"securityGroupSet":{},"securityGroupIdSet":{},"filterSet":{}}`, "Client.UnauthorizedOperation", "You are not authorized to perform this operation."},
		{"ec2.amazonaws.com", "DescribeNetworkInterfaces", true, 4, `{"networkInterfaceIdSet":{},"filterSet":{}}`, "Client.RequestLimitExceeded", "Request limit exceeded."},
		{"ec2.amazonaws.com", "DescribeVolumes", true, 3, `{"volumeSet":{},"filterSet":{}}`, "Client.UnauthorizedOperation", "You are not authorized to perform this operation."},
		{"ec2.amazonaws.com", "DescribeRegions", true, 2, `{"regionSet":{}}`, "Client.UnauthorizedOperation", "You are not authorized to perform this operation."},
		{"s3.amazonaws.com", "ListBuckets", true, 4, `{"Host":"s3.amazonaws.com"}`, "AccessDenied", "Access Denied"},
		{"s3.amazonaws.com", "GetBucketLocation", true, 4, `{"location":"","Host":"s3.amazonaws.com"}`, "NoSuchBucket", "The specified bucket does not exist"},
		{"s3.amazonaws.com", "GetBucketPolicy", true, 2, `{"policy":"","Host":"s3.amazonaws.com"}`, "NoSuchBucketPolicy", "The bucket policy does not exist"},
		{"kms.amazonaws.com", "Decrypt", true, 12, `{"encryptionAlgorithm":"SYMMETRIC_DEFAULT"}`, "AccessDeniedException", "User is not authorized to perform: kms:Decrypt"},
		{"kms.amazonaws.com", "GenerateDataKey", true, 6, `{"keySpec":"AES_256"}`, "AccessDeniedException", "User is not authorized to perform: kms:GenerateDataKey"},
		{"lambda.amazonaws.com", "ListFunctions20150331", true, 2, "", "AccessDeniedException", "User is not authorized to perform: lambda:ListFunctions"},
		{"lambda.amazonaws.com", "GetFunction20150331v2", true, 2, `{"functionName":"orders-api"}`, "ResourceNotFoundException", "Function not found"},
		{"dynamodb.amazonaws.com", "DescribeTable", true, 4, `{"tableName":"orders"}`, "ResourceNotFoundException", "Requested resource not found"},
		{"dynamodb.amazonaws.com", "ListTables", true, 1, "", "AccessDeniedException", "User is not authorized to perform: dynamodb:ListTables"},
		{"logs.amazonaws.com", "DescribeLogGroups", true, 3, `{"limit":50}`, "ThrottlingException", "Rate exceeded"},
		{"logs.amazonaws.com", "DescribeLogStreams", true, 2, `{"orderBy":"LastEventTime","descending":true}`, "ResourceNotFoundException", "The specified log group does not exist."},
		{"monitoring.amazonaws.com", "GetMetricData", true, 6, `{"scanBy":"TimestampDescending"}`, "Throttling", "Rate exceeded"},
		{"monitoring.amazonaws.com", "DescribeAlarms", true, 3, `{"maxRecords":100}`, "Throttling", "Rate exceeded"},
		{"ssm.amazonaws.com", "GetParameter", true, 5, `{"name":"/app/config","withDecryption":true}`, "ParameterNotFound", ""},
		{"ssm.amazonaws.com", "GetParameters", true, 3, `{"withDecryption":true}`, "AccessDeniedException", "User is not authorized to perform: ssm:GetParameters"},
		{"secretsmanager.amazonaws.com", "GetSecretValue", true, 4, `{"secretId":"prod/db"}`, "AccessDeniedException", "User is not authorized to perform: secretsmanager:GetSecretValue"},
		{"ecr.amazonaws.com", "GetAuthorizationToken", true, 3, "", "AccessDeniedException", "User is not authorized to perform: ecr:GetAuthorizationToken"},
		{"ecr.amazonaws.com", "BatchCheckLayerAvailability", true, 2, `{"repositoryName":"orders"}`, "RepositoryNotFoundException", "The repository does not exist"},
		{"elasticloadbalancing.amazonaws.com", "DescribeTargetHealth", true, 3, `{"targetGroupArn":"tg"}`, "TargetGroupNotFound", "Target groups not found"},
		{"autoscaling.amazonaws.com", "DescribeAutoScalingGroups", true, 2, "", "Throttling", "Rate exceeded"},
		{"rds.amazonaws.com", "DescribeDBInstances", true, 2, "", "AccessDenied", "User is not authorized to perform: rds:DescribeDBInstances"},
		{"cloudtrail.amazonaws.com", "DescribeTrails", true, 1, `{"includeShadowTrails":true}`, "AccessDeniedException", "User is not authorized to perform: cloudtrail:DescribeTrails"},
		{"cloudtrail.amazonaws.com", "LookupEvents", true, 1, `{"maxResults":50}`, "ThrottlingException", "Rate exceeded"},
		{"sqs.amazonaws.com", "ListQueues", true, 1, "", "AccessDenied", "Access to the resource is denied."},
		{"sns.amazonaws.com", "ListTopics", true, 1, "", "AuthorizationError", "User is not authorized to perform: SNS:ListTopics"},
		{"config.amazonaws.com", "DescribeConfigRules", true, 1, "", "AccessDeniedException", "User is not authorized"},
	}
	regionalWrite = []api{
		{"ec2.amazonaws.com", "CreateTags", false, 5, `{"resourcesSet":{},"tagSet":{}}`, "Client.InvalidInstanceID.NotFound", "The instance ID does not exist"},
		{"ec2.amazonaws.com", "RunInstances", false, 2, `{"instanceType":"m6i.large","minCount":1,"maxCount":1}`, "Client.InsufficientInstanceCapacity", "Insufficient capacity."},
		{"ec2.amazonaws.com", "TerminateInstances", false, 2, `{"instancesSet":{}}`, "Client.UnauthorizedOperation", "You are not authorized to perform this operation."},
		{"ec2.amazonaws.com", "AuthorizeSecurityGroupIngress", false, 1, `{"groupId":"sg-0a1b2c3d"}`, "Client.InvalidPermission.Duplicate", "the specified rule already exists"},
		{"logs.amazonaws.com", "CreateLogStream", false, 8, `{"logGroupName":"/aws/lambda/orders-api"}`, "ResourceAlreadyExistsException", "The specified log stream already exists"},
		{"logs.amazonaws.com", "PutRetentionPolicy", false, 1, `{"retentionInDays":30}`, "ResourceNotFoundException", "The specified log group does not exist."},
		{"ssm.amazonaws.com", "UpdateInstanceInformation", false, 6, `{"agentVersion":"3.3.40.0","platformType":"Linux"}`, "AccessDeniedException", "not authorized"},
		{"ssm.amazonaws.com", "PutParameter", false, 1, `{"overwrite":true,"type":"SecureString"}`, "ParameterAlreadyExists", ""},
		{"s3.amazonaws.com", "PutBucketPolicy", false, 1, `{"Host":"s3.amazonaws.com"}`, "MalformedPolicy", "Policies must be valid JSON"},
		{"s3.amazonaws.com", "CreateBucket", false, 1, `{"Host":"s3.amazonaws.com"}`, "BucketAlreadyOwnedByYou", "Your previous request to create the named bucket succeeded"},
		{"lambda.amazonaws.com", "UpdateFunctionCode20150331v2", false, 2, `{"functionName":"orders-api","publish":true}`, "ResourceConflictException", "An update is in progress"},
		{"dynamodb.amazonaws.com", "UpdateTable", false, 1, `{"tableName":"orders"}`, "ResourceInUseException", "Attempt to change a resource which is still in use"},
		{"monitoring.amazonaws.com", "PutMetricAlarm", false, 2, `{"alarmName":"high-cpu"}`, "LimitExceeded", "Limit exceeded"},
		{"kms.amazonaws.com", "CreateGrant", false, 1, `{"operations":["Decrypt"]}`, "AccessDeniedException", "not authorized"},
		{"autoscaling.amazonaws.com", "SetDesiredCapacity", false, 1, `{"desiredCapacity":4}`, "ScalingActivityInProgress", "Scaling activity in progress"},
		{"config.amazonaws.com", "PutEvaluations", false, 3, "", "InvalidResultTokenException", "The result token is invalid"},
	}
	globalRead = []api{
		{"sts.amazonaws.com", "AssumeRole", true, 10, `{"roleSessionName":"session","durationSeconds":3600}`, "AccessDenied", "User is not authorized to perform: sts:AssumeRole"},
		{"sts.amazonaws.com", "GetCallerIdentity", true, 4, "", "", ""},
		{"iam.amazonaws.com", "GetRole", true, 3, `{"roleName":"app"}`, "NoSuchEntityException", "The role cannot be found."},
		{"iam.amazonaws.com", "ListRoles", true, 1, "", "AccessDenied", "User is not authorized to perform: iam:ListRoles"},
		{"iam.amazonaws.com", "GetUser", true, 1, "", "AccessDenied", "User is not authorized to perform: iam:GetUser"},
		{"iam.amazonaws.com", "ListAttachedRolePolicies", true, 1, `{"roleName":"app"}`, "NoSuchEntityException", "The role cannot be found."},
		{"route53.amazonaws.com", "ListHostedZones", true, 1, "", "Throttling", "Rate exceeded"},
		{"cloudfront.amazonaws.com", "ListDistributions", true, 1, "", "AccessDenied", "Access denied"},
		{"organizations.amazonaws.com", "DescribeOrganization", true, 1, "", "AWSOrganizationsNotInUseException", "Your account is not a member of an organization."},
	}
	globalWrite = []api{
		{"iam.amazonaws.com", "CreateRole", false, 1, `{"roleName":"app","path":"/"}`, "EntityAlreadyExists", "Role with name app already exists."},
		{"iam.amazonaws.com", "AttachRolePolicy", false, 1, `{"roleName":"app"}`, "NoSuchEntity", "The role cannot be found."},
		{"iam.amazonaws.com", "PutRolePolicy", false, 1, `{"roleName":"app","policyName":"inline"}`, "MalformedPolicyDocument", "Syntax errors in policy."},
		{"route53.amazonaws.com", "ChangeResourceRecordSets", false, 2, `{"hostedZoneId":"Z0123456789ABC"}`, "PriorRequestNotComplete", "The request was rejected because Route 53 was still processing a prior request."},
		{"sts.amazonaws.com", "GetSessionToken", false, 0.5, `{"durationSeconds":43200}`, "AccessDenied", "Cannot call GetSessionToken with session credentials"},
	}
)

// Shares of the four groups: global services are about a twelfth of the
// events, read-only calls about 80 %.
const (
	globalShare = 1.0 / 12
	readShare   = 0.8
	errorRate   = 0.03
)

type apiMix struct {
	apis []api
	cum  []float64
}

var cloudTrailMix = func() apiMix {
	var m apiMix
	add := func(group []api, share float64) {
		total := 0.0
		for _, a := range group {
			total += a.weight
		}
		for _, a := range group {
			if a.weight <= 0 {
				continue
			}
			m.apis = append(m.apis, a)
			prev := 0.0
			if len(m.cum) > 0 {
				prev = m.cum[len(m.cum)-1]
			}
			m.cum = append(m.cum, prev+a.weight/total*share)
		}
	}
	add(regionalRead, (1-globalShare)*readShare)
	add(regionalWrite, (1-globalShare)*(1-readShare))
	add(globalRead, globalShare*readShare)
	add(globalWrite, globalShare*(1-readShare))
	return m
}()

func (m apiMix) draw(r *rand.Rand) *api {
	x := r.Float64() * m.cum[len(m.cum)-1]
	lo, hi := 0, len(m.cum)-1
	for lo < hi {
		mid := (lo + hi) / 2
		if m.cum[mid] > x {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return &m.apis[lo]
}

// globalSources mirror sources.isGlobalSource for the services above.
var globalSources = map[string]bool{"sts.amazonaws.com": true, "iam.amazonaws.com": true, "route53.amazonaws.com": true,
	"cloudfront.amazonaws.com": true, "organizations.amazonaws.com": true, "signin.amazonaws.com": true}

// Principal kinds.
const (
	kindRole    = iota // an assumed role: workloads and SSO users
	kindUser           // an IAM user with access keys
	kindService        // an AWS service acting for the account
)

// principal is the identity of principal i, derived from i.
type principal struct {
	kind      int
	account   string
	name      string // role or user name
	session   string
	id        string // AROA/AIDA id
	key       string // access key id
	service   string // for kindService
	region    string
	ua        int // user-agent family
	uaVersion int
	ip        string
}

var (
	roleNames    = []string{"eks-node", "lambda-orders-exec", "ecs-task-payments", "github-actions-deploy", "AWSReservedSSO_AdministratorAccess", "AWSReservedSSO_ReadOnly", "batch-etl", "datadog-integration", "backup-operator", "karpenter-controller", "api-gateway-logs", "ssm-managed-instance"}
	userNames    = []string{"ci-deploy", "terraform", "jenkins", "backup-agent", "legacy-app", "monitoring", "alice.martin", "bob.chen", "carol.diaz", "dan.okafor"}
	serviceHosts = []string{"lambda.amazonaws.com", "ec2.amazonaws.com", "autoscaling.amazonaws.com", "elasticloadbalancing.amazonaws.com", "config.amazonaws.com", "ecs-tasks.amazonaws.com"}
	people       = []string{"jane.doe", "omar.haddad", "li.wei", "maria.garcia", "sam.taylor", "priya.nair"}
)

func (g *Generator) principal(i int) principal {
	h := mix(uint64(i) ^ g.cfg.Seed<<20)
	p := principal{account: g.accounts[i%len(g.accounts)], region: g.regionOf(i)}
	switch {
	case h%10 < 6:
		p.kind = kindRole
		p.name = fmt.Sprintf("%s-%d", roleNames[h>>8%uint64(len(roleNames))], i)
		p.session = fmt.Sprintf("i-0%016x", mix(h))
		if p.name[:3] == "AWS" {
			p.name = fmt.Sprintf("%s_%016x", roleNames[h>>8%uint64(len(roleNames))], h>>12)
			p.session = fmt.Sprintf("%s@example.com", people[h>>16%uint64(len(people))])
		}
		p.id = fmt.Sprintf("AROA%016X", h>>4)
		p.key = fmt.Sprintf("ASIA%016X", mix(h+1)>>4)
	case h%10 < 9:
		p.kind = kindUser
		p.name = fmt.Sprintf("%s-%d", userNames[h>>8%uint64(len(userNames))], i)
		p.id = fmt.Sprintf("AIDA%016X", h>>4)
		p.key = fmt.Sprintf("AKIA%016X", mix(h+2)>>4)
	default:
		p.kind = kindService
		p.service = serviceHosts[h>>8%uint64(len(serviceHosts))]
	}
	p.ua = int(h >> 24 % uint64(len(uaFamilies)))
	p.uaVersion = int(h >> 32 % 40)
	p.ip = publicIP(int(h>>40%2000) + 1_000_000) // NAT gateways and offices: a small pool
	return p
}

// uaFamilies are the clients principals use.
var uaFamilies = []func(b []byte, v int, a *api) []byte{
	func(b []byte, v int, a *api) []byte {
		return fmt.Appendf(b, "aws-cli/2.15.%d Python/3.11.8 Linux/5.10.215-203.850.amzn2.x86_64 exe/x86_64.amzn.2 prompt/off command/%s.%s", v, service(a.source), a.name)
	},
	func(b []byte, v int, _ *api) []byte {
		return fmt.Appendf(b, "Boto3/1.34.%d md/Botocore#1.34.%d ua/2.0 os/linux#5.10.215 md/arch#x86_64 lang/python#3.11.8 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.%d", v, v, v)
	},
	func(b []byte, v int, a *api) []byte {
		return fmt.Appendf(b, "aws-sdk-go-v2/1.26.%d os/linux lang/go#1.22.2 md/GOOS#linux md/GOARCH#amd64 api/%s#1.%d.0", v, service(a.source), 100+v)
	},
	func(b []byte, v int, _ *api) []byte {
		return fmt.Appendf(b, "aws-sdk-java/2.25.%d Linux/5.10.215 OpenJDK_64-Bit_Server_VM/17.0.10+7-LTS Java/17.0.10 vendor/Amazon.com_Inc. io/sync http/Apache cfg/retry-mode/standard", v)
	},
	func(b []byte, v int, a *api) []byte {
		return fmt.Appendf(b, "aws-sdk-js/3.5%02d.0 ua/2.0 os/linux#5.10.215 lang/js md/nodejs#20.11.1 api/%s#3.5%02d.0", v, service(a.source), v)
	},
	func(b []byte, v int, _ *api) []byte {
		return fmt.Appendf(b, "APN/1.0 HashiCorp/1.0 Terraform/1.7.%d (+https://www.terraform.io) terraform-provider-aws/5.4%d.0 (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.26.1", v%6, v%10)
	},
	func(b []byte, _ int, _ *api) []byte { return append(b, "AWS Internal"...) },
}

func service(source string) string {
	for i := range len(source) {
		if source[i] == '.' {
			return source[:i]
		}
	}
	return source
}

// cloudTrail makes one background management event.
func (g *Generator) cloudTrail() []byte {
	p := g.principal(int(g.principals.Uint64()))
	a := cloudTrailMix.draw(g.rng)
	if p.kind == kindService { // services call few APIs, and never fail
		a = &serviceAPIs[g.rng.IntN(len(serviceAPIs))]
	}
	region := p.region
	if g.rng.IntN(10) == 0 {
		region = g.region()
	}
	if globalSources[a.source] {
		region = "us-east-1" // where CloudTrail logs global services
	}
	failed := a.err != "" && p.kind != kindService && g.rng.Float64() < errorRate
	return g.appendEvent(make([]byte, 0, 1600), g.rng, &p, a, region, g.now, failed, "")
}

var serviceAPIs = []api{
	{"sts.amazonaws.com", "AssumeRole", true, 1, `{"roleSessionName":"service-session","durationSeconds":900}`, "", ""},
	{"kms.amazonaws.com", "Decrypt", true, 1, `{"encryptionAlgorithm":"SYMMETRIC_DEFAULT"}`, "", ""},
	{"logs.amazonaws.com", "CreateLogStream", false, 1, `{"logGroupName":"/aws/lambda/orders-api"}`, "", ""},
	{"ec2.amazonaws.com", "CreateNetworkInterface", false, 1, `{"subnetId":"subnet-0a1b2c3d"}`, "", ""},
}

// appendEvent appends one CloudTrail event as CloudTrail writes it. params
// overrides the API's requestParameters when set.
func (g *Generator) appendEvent(b []byte, r *rand.Rand, p *principal, a *api, region string, t time.Time, failed bool, params string) []byte {
	b = append(b, `{"eventVersion":"1.09","userIdentity":`...)
	b = appendIdentity(b, p, t)
	b = append(b, `,"eventTime":"`...)
	b = t.UTC().AppendFormat(b, "2006-01-02T15:04:05Z")
	b = append(b, `","eventSource":"`...)
	b = append(b, a.source...)
	b = append(b, `","eventName":"`...)
	b = append(b, a.name...)
	b = append(b, `","awsRegion":"`...)
	b = append(b, region...)
	b = append(b, `","sourceIPAddress":"`...)
	if p.kind == kindService {
		b = append(b, p.service...)
	} else {
		b = append(b, p.ip...)
	}
	b = append(b, `","userAgent":"`...)
	if p.kind == kindService {
		b = append(b, p.service...)
	} else {
		b = uaFamilies[p.ua](b, p.uaVersion, a)
	}
	b = append(b, '"')
	if failed {
		b = append(b, `,"errorCode":"`...)
		b = append(b, a.err...)
		b = append(b, '"')
		if a.errMsg != "" {
			b = append(b, `,"errorMessage":"`...)
			b = append(b, a.errMsg...)
			b = append(b, '"')
		}
	}
	b = append(b, `,"requestParameters":`...)
	switch {
	case params != "":
		b = append(b, params...)
	case a.params != "":
		b = append(b, a.params...)
	default:
		b = append(b, "null"...)
	}
	b = append(b, `,"responseElements":null,"requestID":"`...)
	b = uuid(b, r)
	b = append(b, `","eventID":"`...)
	b = uuid(b, r)
	b = append(b, `","readOnly":`...)
	b = strconv.AppendBool(b, a.read)
	b = append(b, `,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"`...)
	b = append(b, p.account...)
	b = append(b, `","eventCategory":"Management"`...)
	if p.kind != kindService {
		b = append(b, `,"tlsDetails":{"tlsVersion":"TLSv1.3","cipherSuite":"TLS_AES_128_GCM_SHA256","clientProvidedHostHeader":"`...)
		b = append(b, service(a.source)...)
		if !globalSources[a.source] {
			b = append(b, '.')
			b = append(b, region...)
		}
		b = append(b, `.amazonaws.com"}`...)
	}
	return append(b, '}')
}

func appendIdentity(b []byte, p *principal, t time.Time) []byte {
	switch p.kind {
	case kindService:
		b = append(b, `{"type":"AWSService","invokedBy":"`...)
		b = append(b, p.service...)
		return append(b, `"}`...)
	case kindUser:
		b = append(b, `{"type":"IAMUser","principalId":"`...)
		b = append(b, p.id...)
		b = append(b, `","arn":"arn:aws:iam::`...)
		b = append(b, p.account...)
		b = append(b, `:user/`...)
		b = append(b, p.name...)
		b = append(b, `","accountId":"`...)
		b = append(b, p.account...)
		b = append(b, `","accessKeyId":"`...)
		b = append(b, p.key...)
		b = append(b, `","userName":"`...)
		b = append(b, p.name...)
		return append(b, `"}`...)
	case kindRoot:
		b = append(b, `{"type":"Root","principalId":"`...)
		b = append(b, p.account...)
		b = append(b, `","arn":"arn:aws:iam::`...)
		b = append(b, p.account...)
		b = append(b, `:root","accountId":"`...)
		b = append(b, p.account...)
		b = append(b, `","accessKeyId":"`...)
		b = append(b, p.key...)
		return append(b, `"}`...)
	}
	b = append(b, `{"type":"AssumedRole","principalId":"`...)
	b = append(b, p.id...)
	b = append(b, ':')
	b = append(b, p.session...)
	b = append(b, `","arn":"arn:aws:sts::`...)
	b = append(b, p.account...)
	b = append(b, `:assumed-role/`...)
	b = append(b, p.name...)
	b = append(b, '/')
	b = append(b, p.session...)
	b = append(b, `","accountId":"`...)
	b = append(b, p.account...)
	b = append(b, `","accessKeyId":"`...)
	b = append(b, p.key...)
	b = append(b, `","sessionContext":{"sessionIssuer":{"type":"Role","principalId":"`...)
	b = append(b, p.id...)
	b = append(b, `","arn":"arn:aws:iam::`...)
	b = append(b, p.account...)
	b = append(b, `:role/`...)
	b = append(b, p.name...)
	b = append(b, `","accountId":"`...)
	b = append(b, p.account...)
	b = append(b, `","userName":"`...)
	b = append(b, p.name...)
	b = append(b, `"},"webIdFederationData":{},"attributes":{"creationDate":"`...)
	b = t.Add(-time.Duration(t.Unix()%3600)*time.Second).UTC().AppendFormat(b, "2006-01-02T15:04:05Z")
	return append(b, `","mfaAuthenticated":"false"}}}`...)
}

// kindRoot is only ever an attack's.
const kindRoot = 3
