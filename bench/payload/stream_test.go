package payload

import (
	"bytes"
	"io"
	"testing"
)

func TestStreamIsIndependentOfReadSizes(t *testing.T) {
	const size = 100_003
	whole := make([]byte, size)
	Fill(7, whole)
	for _, chunk := range []int{1, 3, 7, 8, 13, 4096, size + 10} {
		var got bytes.Buffer
		s := New(7, size)
		buf := make([]byte, chunk)
		for {
			n, err := s.Read(buf)
			got.Write(buf[:n])
			if err == io.EOF {
				break
			}
		}
		if !bytes.Equal(got.Bytes(), whole) {
			t.Fatalf("read in chunks of %d: bytes differ", chunk)
		}
	}
	var viaWriteTo bytes.Buffer
	if n, err := New(7, size).WriteTo(&viaWriteTo); err != nil || n != size || !bytes.Equal(viaWriteTo.Bytes(), whole) {
		t.Fatalf("WriteTo: n=%d err=%v, equal=%v", n, err, bytes.Equal(viaWriteTo.Bytes(), whole))
	}
	if Digest(7, size) != DigestOf(whole) {
		t.Fatal("Digest disagrees with DigestOf")
	}
	if Digest(8, size) == Digest(7, size) {
		t.Fatal("different seeds gave the same stream")
	}
}

func BenchmarkStream(b *testing.B) {
	buf := make([]byte, 1<<20)
	b.SetBytes(int64(len(buf)))
	for i := 0; b.Loop(); i++ {
		fillAt(1, int64(i)*int64(len(buf)), buf)
	}
}
