package main

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The image's fixed paths and its user.
const (
	binDir  = "usr/local/bin"
	dataDir = "var/lib/mcr"
	uid     = 65532
	gid     = 65532
	user    = "nonroot"
)

// entry is one file or directory of the layer.
type entry struct {
	name     string // relative, no leading slash
	dir      bool
	mode     int64
	uid, gid int
	body     []byte // files only
}

// rootfs lists the layer's entries, parents before children: the two
// binaries, the data directory owned by the image's user, and the
// passwd/group lines that give that user a name (so `id` and tools that
// look the user up work in the container).
func rootfs(bins map[string][]byte) []entry {
	es := []entry{
		{name: "etc", dir: true, mode: 0o755},
		{name: "etc/group", mode: 0o644, body: fmt.Appendf(nil, "root:x:0:\n%s:x:%d:\n", user, gid)},
		{name: "etc/passwd", mode: 0o644, body: fmt.Appendf(nil,
			"root:x:0:0:root:/root:/sbin/nologin\n%s:x:%d:%d:%s:/%s:/sbin/nologin\n", user, uid, gid, user, dataDir)},
		{name: "usr", dir: true, mode: 0o755},
		{name: "usr/local", dir: true, mode: 0o755},
		{name: binDir, dir: true, mode: 0o755},
	}
	for _, name := range binaryNames {
		es = append(es, entry{name: binDir + "/" + name, mode: 0o755, body: bins[name]})
	}
	return append(es,
		entry{name: "var", dir: true, mode: 0o755},
		entry{name: "var/lib", dir: true, mode: 0o755},
		entry{name: dataDir, dir: true, mode: 0o700, uid: uid, gid: gid},
	)
}

// binaryNames are the programs the image carries, in layer order.
var binaryNames = []string{"mcrctl", "mcrsrv"}

// readBinaries reads the binaries of one platform from dir.
func readBinaries(dir string) (map[string][]byte, error) {
	bins := map[string][]byte{}
	for _, name := range binaryNames {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		bins[name] = b
	}
	return bins, nil
}

// tarOf writes the entries as an uncompressed tar with every header field
// fixed: the layer's digest depends on the bytes of the binaries and on
// mtime only.
func tarOf(es []entry, mtime time.Time) ([]byte, error) {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range es {
		h := &tar.Header{
			Name: e.name, Mode: e.mode, Uid: e.uid, Gid: e.gid,
			ModTime: mtime, Typeflag: tar.TypeReg, Size: int64(len(e.body)),
		}
		if e.dir {
			h.Name += "/"
			h.Typeflag, h.Size = tar.TypeDir, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(e.body); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// layerOf is the gzip-compressed OCI layer of a tar.
func layerOf(tb []byte) (v1.Layer, error) {
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(tb)), nil
	}, tarball.WithMediaType(types.OCILayer))
}
