package payload

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"io"
	"math/bits"
)

const (
	gamma = 0xa0761d6478bd642f
	mix   = 0xe7037ed1a0b428db
)

// word returns 8-byte word i of the stream for seed.
func word(seed, i uint64) uint64 {
	x := seed + (i+1)*gamma
	hi, lo := bits.Mul64(x, x^mix)
	return hi ^ lo
}

// Stream is a reader of size pseudo-random bytes determined by seed.
type Stream struct {
	seed uint64
	size int64
	off  int64
}

// New returns the stream of size bytes for seed.
func New(seed uint64, size int64) *Stream { return &Stream{seed: seed, size: size} }

// Len is the number of bytes left to read.
func (s *Stream) Len() int64 { return s.size - s.off }

// Read fills p with the next bytes of the stream.
func (s *Stream) Read(p []byte) (int, error) {
	if s.off >= s.size {
		return 0, io.EOF
	}
	if rem := s.size - s.off; int64(len(p)) > rem {
		p = p[:rem]
	}
	fillAt(s.seed, s.off, p)
	s.off += int64(len(p))
	return len(p), nil
}

// WriteTo writes the rest of the stream to w in large chunks, so io.Copy
// makes few, big writes.
func (s *Stream) WriteTo(w io.Writer) (int64, error) {
	buf := make([]byte, min(1<<20, max(s.Len(), 0)))
	var total int64
	for s.off < s.size {
		n, _ := s.Read(buf)
		m, err := w.Write(buf[:n])
		total += int64(m)
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// fillAt writes the stream bytes at offsets [off, off+len(p)) into p.
func fillAt(seed uint64, off int64, p []byte) {
	i := uint64(off) / 8
	var tmp [8]byte
	if skip := int(off % 8); skip != 0 {
		binary.LittleEndian.PutUint64(tmp[:], word(seed, i))
		n := copy(p, tmp[skip:])
		p = p[n:]
		i++
	}
	for len(p) >= 8 {
		binary.LittleEndian.PutUint64(p, word(seed, i))
		p = p[8:]
		i++
	}
	if len(p) > 0 {
		binary.LittleEndian.PutUint64(tmp[:], word(seed, i))
		copy(p, tmp[:])
	}
}

// FillAt writes the bytes at offsets [off, off+len(p)) of the stream for
// seed into p.
func FillAt(seed uint64, off int64, p []byte) { fillAt(seed, off, p) }

// Fill writes the first len(p) bytes of the stream for seed into p.
func Fill(seed uint64, p []byte) { fillAt(seed, 0, p) }

// Digest is the OCI digest ("sha256:<hex>") of the stream (seed, size),
// computed by streaming it through the hash.
func Digest(seed uint64, size int64) string {
	h := sha256.New()
	_, _ = New(seed, size).WriteTo(h)
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// DigestOf is the OCI digest of b.
func DigestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}
