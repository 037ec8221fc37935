package sources

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/vigil-sec/vigil/event"
)

// maxLine bounds a line of a DNS or flow-log file, and a CloudTrail event,
// for ReadFiles. (A CloudTrail file is split as it is read, so a delivery
// file holding its whole {"Records":[...]} on one line is fine.)
const maxLine = 16 << 20

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
	// Line is the 1-based line the record starts on.
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
// CloudTrail files are split into one JSON event per record (S3 delivery
// files, arrays and JSON lines alike), pretty-printed events compacted,
// and read as a stream: a large delivery file costs the memory of its
// largest event. DNS and VPC flow files are split into one record per
// line, flow header lines passed on as FileRecord.Header. Blank lines are
// skipped. A line that does not parse is passed on as is, and malformed
// JSON past which a file cannot be split as one record holding its start,
// for the decoder to reject. ReadFiles stops at the first error, from
// reading or from fn; an event or line longer than 16 MiB is an error.
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

// cloudTrail splits a CloudTrail file with the decoder's JSON stream.
func (r *fileReader) cloudTrail() error {
	in := input{r: r.br, buf: make([]byte, minWindow), mark: -1, max: maxLine}
	var err error // from fn, or an element too large to pass on
	st := jsonStream{in: &in, wrapper: "Records", emit: func(e *elem) {
		switch {
		case err != nil: // stopped; the stream runs out
		case e.err == nil:
			err = r.emit(compactJSON(e.b), "", e.line)
		case errors.Is(e.err, ErrElementLimit):
			err = fmt.Errorf("line %d: %w", e.line, e.err)
		default: // a bad line: for the decoder to reject
			err = r.emit(bytes.Clone(e.raw), "", e.line)
		}
	}}
	serr := st.run()
	switch {
	case err != nil:
		return err
	case in.readErr() != nil:
		return in.readErr()
	case serr != nil:
		// The rest cannot be split: pass on the start of the value at
		// fault (or of what follows the fault), which does not parse.
		from := in.pos
		if in.mark >= 0 {
			from = in.mark
		}
		return r.emit(bytes.Clone(in.buf[from:min(in.n, from+4<<10)]), "", in.line+1)
	}
	return nil
}

// compactJSON returns a copy of the element b, compacted if it spans
// lines; as it is if that fails.
func compactJSON(b []byte) []byte {
	if bytes.IndexByte(b, '\n') < 0 {
		return bytes.Clone(b)
	}
	var out bytes.Buffer
	out.Grow(len(b))
	if json.Compact(&out, b) != nil {
		return bytes.Clone(b)
	}
	return out.Bytes()
}
