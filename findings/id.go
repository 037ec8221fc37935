package findings

import (
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"strings"
)

// ID returns the 32-lowercase-hex id of the finding of type findingType
// with aggregation key key: the MD5 of the type and the key parts, each
// length-prefixed so that ("ab", "c") and ("a", "bc") differ. Occurrences
// with the same type and key share an id and aggregate (spec §4.2). MD5 is
// used for its 32-hex shape, not for security: ids are not secrets.
func ID(findingType string, key ...string) string {
	var buf [256]byte // most keys fit: no allocation but the id
	b := appendPart(buf[:0], findingType)
	for _, k := range key {
		b = appendPart(b, k)
	}
	sum := md5.Sum(b)
	return hex.EncodeToString(sum[:])
}

// DetectorID returns the deterministic 32-hex detector id of an account
// and region: GuardDuty has one detector per account and region, and vigil
// derives its id instead of storing one so every node agrees on it.
func DetectorID(account, region string) string {
	var buf [128]byte
	b := appendPart(buf[:0], "vigil-detector")
	b = appendPart(b, account)
	b = appendPart(b, region)
	sum := md5.Sum(b)
	return hex.EncodeToString(sum[:])
}

// appendPart appends s to b preceded by its length as a uvarint.
func appendPart(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// Arn returns a finding's ARN:
// arn:<partition>:guardduty:<region>:<account>:detector/<detectorID>/finding/<id>.
func Arn(region, account, detectorID, id string) string {
	return "arn:" + Partition(region) + ":guardduty:" + region + ":" + account +
		":detector/" + detectorID + "/finding/" + id
}

// Partition returns the AWS partition of a region: aws-cn for cn-*,
// aws-us-gov for us-gov-*, aws otherwise.
func Partition(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	}
	return "aws"
}
