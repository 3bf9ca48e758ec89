package blobstore_test

import (
	"testing"

	"git.wntrmute.dev/kyle/mcr/engine/blobstore"
	"git.wntrmute.dev/kyle/mcr/engine/blobstore/blobtest"
)

func TestFSSuite(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blobstore.Store {
		s, err := blobstore.Open(t.TempDir(), nil)
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}
