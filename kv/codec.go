package kv

import (
	"encoding/binary"
	"errors"
)

// ErrCorrupt is returned when a stored record cannot be decoded.
var ErrCorrupt = errors.New("kv: corrupt record")

// Records are encoded as a version byte followed by fields in a fixed order:
// integers as varints, strings and byte slices as uvarint length + bytes,
// string lists as a varint count + strings, booleans as 0 or 1. A new field
// is appended at the end and older records decode with its zero value, so
// adding one needs no migration.
const recordVersion = 1

// record is a stored record: fields names its fields, in their stored
// order, to a codec that either writes or reads them. Each record lists its
// layout once, for both directions, so that its encoder and its decoder
// cannot drift apart.
type record interface{ fields(*codec) }

// encode serializes r; size is a hint of its encoded length.
func encode(r record, size int) []byte {
	c := &codec{b: append(make([]byte, 0, size+1), recordVersion)}
	r.fields(c)
	return c.b
}

// decode parses a record of type T out of b.
func decode[T any, P interface {
	*T
	record
}](b []byte) (T, error) {
	var r T
	if len(b) == 0 || b[0] != recordVersion {
		return r, ErrCorrupt
	}
	c := &codec{b: b[1:], reading: true}
	P(&r).fields(c)
	if c.err != nil {
		var zero T
		return zero, c.err
	}
	return r, nil
}

// codec writes fields onto b, or with reading set consumes them from b.
// Reading, a field missing at the end of b is one appended after the
// record was written: it reads as its zero value. An empty byte slice or
// list reads as nil, as one never written does.
type codec struct {
	b       []byte
	reading bool
	err     error
}

func (c *codec) int(v *int64) {
	if !c.reading {
		c.b = binary.AppendVarint(c.b, *v)
		return
	}
	if c.err != nil || len(c.b) == 0 {
		return
	}
	n, l := binary.Varint(c.b)
	if l <= 0 {
		c.err = ErrCorrupt
		return
	}
	c.b = c.b[l:]
	*v = n
}

func (c *codec) bytes(v *[]byte) {
	if !c.reading {
		c.b = binary.AppendUvarint(c.b, uint64(len(*v)))
		c.b = append(c.b, *v...)
		return
	}
	*v = c.chunk()
	if len(*v) > 0 {
		*v = append([]byte(nil), *v...) // b belongs to the store
	} else {
		*v = nil
	}
}

func (c *codec) string(v *string) {
	if !c.reading {
		c.b = binary.AppendUvarint(c.b, uint64(len(*v)))
		c.b = append(c.b, *v...)
		return
	}
	*v = string(c.chunk())
}

// chunk reads a length-prefixed run of bytes, still inside b.
func (c *codec) chunk() []byte {
	if c.err != nil || len(c.b) == 0 {
		return nil
	}
	l, n := binary.Uvarint(c.b)
	if n <= 0 || uint64(len(c.b)-n) < l {
		c.err = ErrCorrupt
		return nil
	}
	v := c.b[n : n+int(l)]
	c.b = c.b[n+int(l):]
	return v
}

func (c *codec) strings(v *[]string) {
	n := int64(len(*v))
	c.int(&n)
	if !c.reading {
		for i := range *v {
			c.string(&(*v)[i])
		}
		return
	}
	if n < 0 || n > int64(len(c.b)) { // every element takes at least one byte
		c.err = ErrCorrupt
	}
	if c.err != nil || n == 0 {
		*v = nil
		return
	}
	*v = make([]string, n)
	for i := range *v {
		c.string(&(*v)[i])
	}
}

func (c *codec) bool(v *bool) {
	n := int64(0)
	if *v {
		n = 1
	}
	c.int(&n)
	*v = n != 0
}
