package sources

import (
	"fmt"
	"strings"
)

// flowField identifies a VPC Flow Logs field.
type flowField uint8

const (
	fVersion flowField = iota
	fAccountID
	fInterfaceID
	fSrcAddr
	fDstAddr
	fSrcPort
	fDstPort
	fProtocol
	fPackets
	fBytes
	fStart
	fEnd
	fAction
	fLogStatus
	fVPCID
	fSubnetID
	fInstanceID
	fTCPFlags
	fType
	fPktSrcAddr
	fPktDstAddr
	fRegion
	fAZID
	fSublocationType
	fSublocationID
	fPktSrcAWSService
	fPktDstAWSService
	fFlowDirection
	fTrafficPath
	fECSClusterARN
	fECSClusterName
	fECSContainerInstanceARN
	fECSContainerInstanceID
	fECSContainerID
	fECSSecondContainerID
	fECSServiceName
	fECSTaskDefinitionARN
	fECSTaskARN
	fECSTaskID
	fRejectReason
	numFlowFields
)

// flowFieldInfo gives each field's name, exactly as AWS spells it, and the
// flow-log version that introduced it.
func flowFieldInfo(f flowField) (name string, version uint8) {
	switch f {
	case fVersion:
		return "version", 2
	case fAccountID:
		return "account-id", 2
	case fInterfaceID:
		return "interface-id", 2
	case fSrcAddr:
		return "srcaddr", 2
	case fDstAddr:
		return "dstaddr", 2
	case fSrcPort:
		return "srcport", 2
	case fDstPort:
		return "dstport", 2
	case fProtocol:
		return "protocol", 2
	case fPackets:
		return "packets", 2
	case fBytes:
		return "bytes", 2
	case fStart:
		return "start", 2
	case fEnd:
		return "end", 2
	case fAction:
		return "action", 2
	case fLogStatus:
		return "log-status", 2
	case fVPCID:
		return "vpc-id", 3
	case fSubnetID:
		return "subnet-id", 3
	case fInstanceID:
		return "instance-id", 3
	case fTCPFlags:
		return "tcp-flags", 3
	case fType:
		return "type", 3
	case fPktSrcAddr:
		return "pkt-srcaddr", 3
	case fPktDstAddr:
		return "pkt-dstaddr", 3
	case fRegion:
		return "region", 4
	case fAZID:
		return "az-id", 4
	case fSublocationType:
		return "sublocation-type", 4
	case fSublocationID:
		return "sublocation-id", 4
	case fPktSrcAWSService:
		return "pkt-src-aws-service", 5
	case fPktDstAWSService:
		return "pkt-dst-aws-service", 5
	case fFlowDirection:
		return "flow-direction", 5
	case fTrafficPath:
		return "traffic-path", 5
	case fECSClusterARN:
		return "ecs-cluster-arn", 7
	case fECSClusterName:
		return "ecs-cluster-name", 7
	case fECSContainerInstanceARN:
		return "ecs-container-instance-arn", 7
	case fECSContainerInstanceID:
		return "ecs-container-instance-id", 7
	case fECSContainerID:
		return "ecs-container-id", 7
	case fECSSecondContainerID:
		return "ecs-second-container-id", 7
	case fECSServiceName:
		return "ecs-service-name", 7
	case fECSTaskDefinitionARN:
		return "ecs-task-definition-arn", 7
	case fECSTaskARN:
		return "ecs-task-arn", 7
	case fECSTaskID:
		return "ecs-task-id", 7
	case fRejectReason:
		return "reject-reason", 8
	}
	return "", 0
}

// lookupFlowField finds a field by name, with or without ${...}.
func lookupFlowField(tok string) (flowField, bool) {
	if strings.HasPrefix(tok, "${") && strings.HasSuffix(tok, "}") {
		tok = tok[2 : len(tok)-1]
	}
	for f := range numFlowFields {
		if name, _ := flowFieldInfo(f); name == tok {
			return f, true
		}
	}
	return 0, false
}

// flowFormat is a parsed log format: the fields of a line, in order.
type flowFormat struct {
	fields []flowField
	// version is the highest version among the fields, used when the
	// format has no version field.
	version uint8
}

// defaultFlowFormat is the version 2 default format.
const defaultFlowFormat = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status"

// parseFlowFormat parses a space-separated list of field names, as given to
// --log-format or found in a header line. Errors name the field at fault
// and leave the "vpcflow: " prefix to the caller.
func parseFlowFormat(s string) (*flowFormat, error) {
	toks := strings.Fields(s)
	if len(toks) == 0 {
		return nil, fmt.Errorf("empty format")
	}
	if len(toks) > int(numFlowFields) {
		return nil, fmt.Errorf("format has %d fields, at most %d exist", len(toks), numFlowFields)
	}
	ff := &flowFormat{fields: make([]flowField, 0, len(toks))}
	var seen [numFlowFields]bool
	// Errors name a field by its place, not its text: a format may come
	// from a record's header line, and reasons never quote records.
	for i, t := range toks {
		f, ok := lookupFlowField(t)
		if !ok {
			return nil, fmt.Errorf("unknown field (field %d of the format)", i+1)
		}
		if seen[f] {
			return nil, fmt.Errorf("duplicate field (field %d of the format)", i+1)
		}
		seen[f] = true
		ff.fields = append(ff.fields, f)
		if _, v := flowFieldInfo(f); v > ff.version {
			ff.version = v
		}
	}
	if !seen[fInterfaceID] && !seen[fInstanceID] {
		return nil, fmt.Errorf("format has neither interface-id nor instance-id")
	}
	return ff, nil
}
