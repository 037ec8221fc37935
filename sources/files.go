package sources

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/valyala/fastjson"
	"github.com/vigil-sec/vigil/event"
)

// Line limits for ReadFiles. CloudTrail S3 delivery files hold a whole
// {"Records":[...]} document on one line, so their limit is larger.
const (
	maxLine           = 16 << 20
	maxCloudTrailLine = 256 << 20
)

// FileRecord is one record read from a file for replay, as it would arrive
// on the raw topic.
type FileRecord struct {
	Source event.Source
	// Value is the record, in a slice of its own that the callee may keep.
	Value []byte
	// Header is the VPC flow-log format from the file's last header line
	// before this record ("" if none): pass it to DecodeWithFormat.
	Header string
	Path   string
	// Line is the 1-based line the record starts on (for events split out
	// of one document, the line the document starts on).
	Line int
}

// ErrUnknownSource says a file's content is none of the three log formats.
// ReadFiles returns it for a file named in paths and skips such files found
// in a directory.
var ErrUnknownSource = errors.New("cannot tell the log source from the content")

// ReadFiles reads the files at paths, which may be files or directories
// (walked recursively, hidden entries skipped), and calls fn for each
// record. Files ending in .gz or starting with the gzip magic are
// decompressed. With src SourceUnknown each file's source is sniffed; a
// named file that cannot be sniffed is an error naming it (except an empty
// one), and such a file inside a directory is skipped.
//
// CloudTrail files are split into one compact JSON event per record (S3
// delivery files, arrays and JSON lines alike); DNS and VPC flow files into
// one record per line, flow header lines passed on as FileRecord.Header.
// Blank lines are skipped. A line or document that does not parse is
// passed on as is, for the decoder to reject. ReadFiles stops at the first
// error, from reading or from fn.
func ReadFiles(paths []string, src event.Source, fn func(r FileRecord) error) error {
	for _, root := range paths {
		info, err := os.Stat(root)
		if err != nil {
			return fmt.Errorf("replay: %w", err)
		}
		if !info.IsDir() {
			if err := readFile(root, src, fn); err != nil {
				return err
			}
			continue
		}
		err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return fmt.Errorf("replay: %w", err)
			}
			if path != root && strings.HasPrefix(d.Name(), ".") {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if d.IsDir() {
				return nil
			}
			if !d.Type().IsRegular() {
				// Follow symlinks to regular files; skip devices, sockets
				// and links to directories.
				if fi, err := os.Stat(path); err != nil || !fi.Mode().IsRegular() {
					return nil
				}
			}
			// A directory may hold notes beside the logs (a README, a
			// licence): files that are no log are skipped, not an error.
			if err := readFile(path, src, fn); err != nil && !errors.Is(err, ErrUnknownSource) {
				return err
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// readFile reads one file.
func readFile(path string, src event.Source, fn func(FileRecord) error) (err error) {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	defer f.Close()

	br := bufio.NewReaderSize(f, 1<<20)
	if magic, _ := br.Peek(2); isGzip(magic) || strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("replay: %s: %w", path, err)
		}
		defer zr.Close()
		br = bufio.NewReaderSize(zr, 1<<20)
	}
	if src == event.SourceUnknown {
		head, err := br.Peek(sniffHead)
		if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
			return fmt.Errorf("replay: %s: %w", path, err)
		}
		if len(bytes.TrimSpace(head)) == 0 {
			return nil // empty file
		}
		if src = Sniff(head); src == event.SourceUnknown {
			return fmt.Errorf("replay: %s: %w", path, ErrUnknownSource)
		}
	}
	r := fileReader{br: br, path: path, src: src, fn: fn}
	switch src {
	case event.SourceCloudTrail:
		err = r.cloudTrail()
	case event.SourceVPCFlow, event.SourceDNS:
		err = r.lines()
	default:
		return fmt.Errorf("replay: %s: unsupported source %v", path, src)
	}
	if err != nil {
		return fmt.Errorf("replay: %s: %w", path, err)
	}
	return nil
}

// fileReader splits one (decompressed) file into records.
type fileReader struct {
	br   *bufio.Reader
	path string
	src  event.Source
	fn   func(FileRecord) error
	buf  []byte
	line int
	p    fastjson.Parser
}

func (r *fileReader) emit(value []byte, header string, line int) error {
	return r.fn(FileRecord{Source: r.src, Value: value, Header: header, Path: r.path, Line: line})
}

// readLine returns the next line with its newline, or io.EOF after the last.
func (r *fileReader) readLine(limit int) ([]byte, error) {
	r.buf = r.buf[:0]
	for {
		chunk, err := r.br.ReadSlice('\n')
		r.buf = append(r.buf, chunk...)
		if len(r.buf) > limit {
			return nil, fmt.Errorf("line %d longer than %d MiB", r.line+1, limit>>20)
		}
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			if len(r.buf) == 0 {
				return nil, io.EOF
			}
		case err != nil:
			return nil, err
		}
		r.line++
		return r.buf, nil
	}
}

// lines splits a DNS or flow-log file into one record per line.
func (r *fileReader) lines() error {
	header := ""
	for {
		line, err := r.readLine(maxLine)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		line = bytes.TrimSpace(line)
		switch {
		case len(line) == 0:
		case r.src == event.SourceVPCFlow && isFlowHeader(line):
			header = string(line)
		default:
			if err := r.emit(bytes.Clone(line), header, r.line); err != nil {
				return err
			}
		}
	}
}

// cloudTrail splits a CloudTrail file. Each line is parsed on its own (S3
// delivery files are one line; JSON lines are one event a line); if the
// first line does not parse, the file is read whole as one pretty-printed
// document.
func (r *fileReader) cloudTrail() error {
	first := true
	for {
		line, err := r.readLine(maxCloudTrailLine)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		trimmed := bytes.TrimSpace(line)
		if len(trimmed) == 0 {
			continue
		}
		if first {
			first = false
			if _, err := r.p.ParseBytes(trimmed); err != nil {
				return r.cloudTrailDocument(line, r.line)
			}
		}
		if err := r.splitCloudTrail(trimmed, r.line); err != nil {
			return err
		}
	}
}

// cloudTrailDocument reads the rest of the file after its first line and
// splits it as one document; if that fails too, it falls back to lines.
func (r *fileReader) cloudTrailDocument(firstLine []byte, lineNo int) error {
	doc := bytes.Clone(firstLine)
	rest, err := io.ReadAll(io.LimitReader(r.br, int64(maxCloudTrailLine-len(doc)+1)))
	if err != nil {
		return err
	}
	doc = append(doc, rest...)
	if len(doc) > maxCloudTrailLine {
		return fmt.Errorf("document larger than %d MiB", maxCloudTrailLine>>20)
	}
	if _, err := r.p.ParseBytes(doc); err == nil {
		return r.splitCloudTrail(doc, lineNo)
	}
	// Not one document: JSON lines whose first line is bad.
	n := lineNo - 1
	for data := doc; ; {
		line, next, skipped := nextLine(data)
		data, n = next, n+skipped
		if line == nil {
			return nil
		}
		if err := r.splitCloudTrail(line, n); err != nil {
			return err
		}
	}
}

// splitCloudTrail emits the events of one JSON value: each element of a
// Records wrapper or an array, compacted, or the value itself. A value that
// does not parse is emitted as is.
func (r *fileReader) splitCloudTrail(b []byte, lineNo int) error {
	v, err := r.p.ParseBytes(b)
	if err != nil {
		return r.emit(bytes.Clone(b), "", lineNo)
	}
	var elems []*fastjson.Value
	switch v.Type() {
	case fastjson.TypeArray:
		elems, _ = v.Array()
	case fastjson.TypeObject:
		recs := v.Get("Records")
		if recs == nil || recs.Type() != fastjson.TypeArray {
			if bytes.IndexByte(b, '\n') >= 0 { // pretty-printed: compact it
				return r.emit(v.MarshalTo(nil), "", lineNo)
			}
			return r.emit(bytes.Clone(b), "", lineNo)
		}
		elems, _ = recs.Array()
	default:
		return r.emit(bytes.Clone(b), "", lineNo)
	}
	for _, e := range elems {
		if err := r.emit(e.MarshalTo(nil), "", lineNo); err != nil {
			return err
		}
	}
	return nil
}
