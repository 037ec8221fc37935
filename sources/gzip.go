package sources

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
)

// maxDecompressed caps what one gzip-compressed record may expand to, so a
// small compression bomb on the topic cannot exhaust memory.
const maxDecompressed = 64 << 20

// keepBuffer is the largest decompression buffer a decoder keeps between
// records; a larger one is dropped after use.
const keepBuffer = 4 << 20

func isGzip(b []byte) bool { return len(b) >= 2 && b[0] == 0x1f && b[1] == 0x8b }

// gunzipper decompresses records, reusing its reader and buffer.
type gunzipper struct {
	zr  *gzip.Reader
	src bytes.Reader
	out bytes.Buffer
}

// gunzip returns the decompressed b. The result is valid until the next
// call.
func (g *gunzipper) gunzip(b []byte) ([]byte, error) {
	if g.out.Cap() > keepBuffer {
		g.out = bytes.Buffer{}
	}
	g.out.Reset()
	g.src.Reset(b)
	if g.zr == nil {
		zr, err := gzip.NewReader(&g.src)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		g.zr = zr
	} else if err := g.zr.Reset(&g.src); err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	if g.out.Cap() == 0 {
		g.out.Grow(min(4*len(b), keepBuffer))
	}
	n, err := g.out.ReadFrom(io.LimitReader(g.zr, maxDecompressed+1))
	if err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	if n > maxDecompressed {
		return nil, fmt.Errorf("gzip: decompressed size exceeds %d MiB", maxDecompressed>>20)
	}
	return g.out.Bytes(), nil
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
