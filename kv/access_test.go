package kv

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// TestAccessPatterns: Read returns what its closure read, Load (from a
// snapshot) and GetRecord (in a transaction) decode one record or say
// ErrNotFound, LoadAll decodes every record under a prefix
// in key order or fails on the first it cannot, and DeleteWhere deletes
// exactly the matching keys under its prefix.
func TestAccessPatterns(t *testing.T) {
	ctx := context.Background()
	s := openBadger(t, Options{InMemory: true})
	for _, tag := range []string{"a", "b", "c"} {
		d := "sha256:keep"
		if tag != "b" {
			d = "sha256:drop"
		}
		if err := s.Update(ctx, func(tx Txn) error { return tx.Set(TagKey("r", tag), []byte(d)) }); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Update(ctx, func(tx Txn) error { return tx.Set(TagKey("other", "a"), []byte("sha256:drop")) }); err != nil {
		t.Fatal(err)
	}

	has, err := Read(ctx, s, func(r Reader) (bool, error) { return r.Has(TagKey("r", "b")) })
	if err != nil || !has {
		t.Fatalf("Read(Has r:b) = %v, %v; want true", has, err)
	}
	d, err := Load(ctx, s, TagKey("r", "a"), func(b []byte) (string, error) { return strings.ToUpper(string(b)), nil })
	if err != nil || d != "SHA256:DROP" {
		t.Fatalf("Load(r:a) = %q, %v", d, err)
	}
	if _, err := Load(ctx, s, TagKey("r", "zzz"), DecodeUpload); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Load of a missing key: %v, want ErrNotFound", err)
	}
	got, err := Read(ctx, s, func(r Reader) ([]string, error) {
		c, err := GetRecord(r, TagKey("r", "c"), func(b []byte) (string, error) { return strings.ToUpper(string(b)), nil })
		if err != nil {
			return nil, err
		}
		up, err := GetRecord(r, UploadKey("none"), DecodeUpload)
		if !errors.Is(err, ErrNotFound) || up.Repo != "" || up.Offset != 0 {
			return nil, fmt.Errorf("GetRecord of a missing key = %+v, %v; want the zero record and ErrNotFound", up, err)
		}
		return []string{c}, nil
	})
	if err != nil || len(got) != 1 || got[0] != "SHA256:DROP" {
		t.Fatalf("GetRecord(r:c) = %q, %v", got, err)
	}

	all, err := LoadAll(ctx, s, TagPrefix("r"), func(b []byte) (string, error) { return string(b), nil })
	if err != nil || strings.Join(all, " ") != "sha256:drop sha256:keep sha256:drop" {
		t.Fatalf("LoadAll(r tags) = %q, %v; want them in key order", all, err)
	}
	if _, err := LoadAll(ctx, s, TagPrefix("r"), DecodeUpload); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("LoadAll with the wrong codec: %v, want ErrCorrupt", err)
	}

	var n int
	err = s.Update(ctx, func(tx Txn) error {
		n, err = DeleteWhere(tx, TagPrefix("r"), func(_, v []byte) bool { return string(v) == "sha256:drop" })
		return err
	})
	if err != nil || n != 2 {
		t.Fatalf("DeleteWhere = %d, %v; want 2 deleted", n, err)
	}
	left, err := Read(ctx, s, func(r Reader) ([]string, error) {
		var keys []string
		for _, p := range [][]byte{TagPrefix("r"), TagPrefix("other")} {
			err := r.ScanKeys(p, nil, func(k []byte) error {
				keys = append(keys, string(k))
				return nil
			})
			if err != nil {
				return nil, err
			}
		}
		return keys, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{string(TagKey("r", "b")), string(TagKey("other", "a"))}
	if strings.Join(left, " ") != strings.Join(want, " ") {
		t.Errorf("keys left %q, want %q", left, want)
	}
}
