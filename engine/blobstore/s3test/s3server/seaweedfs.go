package s3server

import (
	"encoding/json"
	"os"
	"path/filepath"
)

// seaweedPorts are the listeners of `weed mini` (master, volume server,
// filer, S3 gateway and the admin server with its worker, each with HTTP
// and gRPC) that this package sets to free loopback ports, S3 first. Left
// to their defaults they would be fixed well-known ports, and gRPC ports
// derived by adding 10000, which parallel tests would fight over.
var seaweedPorts = []string{"s3.port", "s3.port.grpc", "master.port", "master.port.grpc",
	"volume.port", "volume.port.grpc", "filer.port", "filer.port.grpc", "admin.port", "admin.port.grpc"}

// seaweedArgs runs SeaweedFS as `weed mini` (master, volume server, filer
// and S3 gateway in one process, the single-process mode of this version)
// on loopback only, with the root account as its one S3 identity, and
// with everything the S3 tests do not need turned off: the WebDAV and
// Iceberg/Lance gateways, the admin UI and its legacy port, and the
// telemetry report (it would send traffic off the machine).
func (s *Server) seaweedArgs() ([]string, error) {
	type credential struct {
		AccessKey string `json:"accessKey"`
		SecretKey string `json:"secretKey"`
	}
	type identity struct {
		Name        string       `json:"name"`
		Credentials []credential `json:"credentials"`
		Actions     []string     `json:"actions"`
	}
	cfg, err := json.Marshal(map[string][]identity{"identities": {{
		Name:        "mcrtest",
		Credentials: []credential{{AccessKey: AccessKey, SecretKey: SecretKey}},
		Actions:     []string{"Admin", "Read", "List", "Tagging", "Write"},
	}}})
	if err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(s.dir, "s3.json")
	if err := os.WriteFile(cfgPath, cfg, 0o600); err != nil {
		return nil, err
	}
	args := []string{"mini", "-dir=" + s.dataDir(), "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
		"-s3.config=" + cfgPath, "-webdav=false", "-admin.ui=false", "-master.telemetry=false",
		"-s3.port.iceberg=0", "-s3.port.lance=0", "-admin.port.legacy=0"}
	for i, name := range seaweedPorts {
		args = append(args, "-"+name+"="+s.ports[i])
	}
	return args, nil
}
