package eval

import (
	"errors"
	"fmt"

	"github.com/vigil-sec/vigil/detect/dga"
)

// DGA evaluates the DGA model on the held-back split of the labelled
// domain lists under dir (Corpus.DGADir; see dga.EvaluateDir). When the
// lists are absent, or dir is empty, it returns no report and why.
func DGA(dir string) (r *dga.Report, absent string, err error) {
	if dir == "" {
		return nil, "no dga directory under the data sets given", nil
	}
	r, err = dga.EvaluateDir(dir)
	if errors.Is(err, dga.ErrNoData) {
		return nil, err.Error(), nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("eval: %w", err)
	}
	return r, "", nil
}
