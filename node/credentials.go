package node

import (
	"log/slog"
	"os"

	"github.com/vigil-sec/vigil/awsranges"
	"github.com/vigil-sec/vigil/detect"
)

// DefaultAWSIPRanges is where `make aws-ip-ranges` puts AWS's
// ip-ranges.json; a node given no --aws-ip-ranges uses it when it exists,
// relative to its working directory.
const DefaultAWSIPRanges = "data/ip-ranges.json"

// credentialInputs loads what the credential detectors need beyond the
// events: AWS's address space, the affiliated accounts and the leaked
// keys. A file that does not load stops the node: running without it
// would silently miss what the operator asked for.
func credentialInputs(dc *detect.Config, cfg Config, log *slog.Logger) error {
	dc.AffiliatedAccounts = cfg.AffiliatedAccounts
	path := cfg.AWSIPRanges
	if path == "" {
		if fi, err := os.Stat(DefaultAWSIPRanges); err == nil && fi.Mode().IsRegular() {
			path = DefaultAWSIPRanges
		}
	}
	if path != "" {
		r, err := awsranges.Load(path)
		if err != nil {
			return err
		}
		dc.AWSRanges = r
		log.Info("AWS ip ranges loaded", "ranges", r.String())
	} else {
		dc.AWSRanges = awsranges.Fallback()
		log.Warn("no AWS ip-ranges.json (run make aws-ip-ranges, or set --aws-ip-ranges): using the bundled subset of AWS's ranges; InstanceCredentialExfiltration.OutsideAWS fires only for addresses the ASN database places outside Amazon",
			"ranges", dc.AWSRanges.String())
	}
	if cfg.LeakedKeys != "" {
		l, err := detect.LoadLeakedKeys(cfg.LeakedKeys)
		if err != nil {
			return err
		}
		dc.LeakedKeys = l
		log.Info("leaked access keys loaded", "keys", l.Len(), "file", cfg.LeakedKeys)
	}
	return nil
}
