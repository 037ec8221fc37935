package intel

import (
	"encoding/csv"
	"errors"
	"io"
	"strings"
)

// eachCSVRecord calls fn with every record of the CSV file br, its fields
// trimmed, and wraps fn's error as a *ParseError of the record's line.
// Lines beginning with '#' are comments.
func eachCSVRecord(br *boundedReader, fn func(rec []string) error) error {
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	cr.Comment = '#'
	cr.ReuseRecord = true
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			var pe *ParseError
			if errors.As(err, &pe) {
				return pe
			}
			var ce *csv.ParseError
			if errors.As(err, &ce) {
				return &ParseError{Line: ce.Line, Reason: ce.Err.Error()}
			}
			return err
		}
		for i := range rec {
			rec[i] = strings.TrimSpace(rec[i])
		}
		if err := fn(rec); err != nil {
			line, _ := cr.FieldPos(0)
			return &ParseError{Line: line, Reason: err.Error()}
		}
	}
}

// column returns the index of the header field named name, in any case,
// or -1.
func column(header []string, name string) int {
	for i, h := range header {
		if strings.EqualFold(h, name) {
			return i
		}
	}
	return -1
}
