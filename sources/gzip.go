package sources

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"strings"
)

func isGzip(b []byte) bool { return len(b) >= 2 && b[0] == 0x1f && b[1] == 0x8b }

// recordReader opens records for decoding. It reuses its gzip reader and
// its window between records, keeping the window only while it is small.
type recordReader struct {
	zr  *gzip.Reader
	src bytes.Reader
	lr  limitReader
	win []byte
	in  input
}

// open returns rec as an input: rec itself, or a stream decompressing it
// into a window, bounded by lim. The input is valid until close.
func (r *recordReader) open(rec []byte, lim Limits) (*input, error) {
	in := &r.in
	*in = input{mark: -1, max: lim.MaxElement}
	if !isGzip(rec) {
		in.buf, in.n, in.err = rec, len(rec), io.EOF
		return in, nil
	}
	r.src.Reset(rec)
	if r.zr == nil {
		zr, err := gzip.NewReader(&r.src)
		if err != nil {
			return nil, gzipErr(err)
		}
		r.zr = zr
	} else if err := r.zr.Reset(&r.src); err != nil {
		return nil, gzipErr(err)
	}
	r.lr = limitReader{r: r.zr, left: lim.MaxDecompressed, limit: lim.MaxDecompressed}
	if r.win == nil {
		r.win = make([]byte, minWindow)
	}
	in.buf, in.r = r.win, &r.lr
	return in, nil
}

// close ends the record: the input lets go of it, and a window grown past
// keepBuffer by a large element is dropped.
func (r *recordReader) close() {
	if r.in.r != nil {
		if cap(r.in.buf) <= keepBuffer {
			r.win = r.in.buf[:cap(r.in.buf)]
		} else {
			r.win = nil
		}
	}
	r.in = input{}
	r.src.Reset(nil)
	r.lr = limitReader{}
}

// limitReader reads at most limit bytes from r; past them it fails with
// errDecompressed rather than io.EOF, so a truncated read is never taken
// for the end of the record.
type limitReader struct {
	r     io.Reader
	left  int64
	limit int64
	probe [1]byte
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.left <= 0 {
		// At the limit: the record is within it only if nothing follows.
		n, err := io.ReadFull(l.r, l.probe[:])
		switch {
		case n > 0:
			return 0, errDecompressed(l.limit)
		case err == io.EOF:
			return 0, io.EOF
		}
		return 0, gzipErr(err)
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	return n, gzipErr(err)
}

// gzipErr names gzip in a read error, once; io.EOF passes unchanged.
func gzipErr(err error) error {
	if err == nil || err == io.EOF || strings.HasPrefix(err.Error(), "gzip: ") {
		return err
	}
	return fmt.Errorf("gzip: %w", err)
}

// gunzipHead returns up to n bytes of the decompressed b, tolerating a
// truncated stream (b may be only the head of a file).
func gunzipHead(b []byte, n int) []byte {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil
	}
	out := make([]byte, n)
	m, _ := io.ReadFull(zr, out) // keep what decompressed before any error
	return out[:m]
}
