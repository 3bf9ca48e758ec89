package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// clientSpec says how one client performs each step of TestClients. The
// functions only build argument lists (without the binary) or parse output;
// clients_test.go runs them and verifies the outcome over plain HTTP.
type clientSpec struct {
	name string
	// setup commands run once before the steps (e.g. plain HTTP for regctl).
	setup func(host string) [][]string
	// push copies an OCI layout's tagged manifest to dst (host/repo:tag);
	// index is set when that manifest is an image index.
	push func(layoutDir, tag, dst string, index bool) []string
	// pull copies src (and, for an index, all its platforms) into an OCI
	// layout under the given tag.
	pull func(src, layoutDir, tag string, index bool) []string
	// tag adds newTag to src (host/repo:tag), in the same repository.
	tag       func(src, repo, newTag string) []string
	listTags  func(repo string) []string // repo is host/name
	parseTags func(stdout string) ([]string, error)
	// catalog lists the registry's repositories, one per line; nil when the
	// client has none.
	catalog func(host string) []string
	// copy copies src to dst with HTTP-level logging; mounts reads the cross
	// repository mount attempts from that log (stdout and stderr).
	copy   func(src, dst string) []string
	mounts func(log string) []mountAttempt
	// del deletes a manifest by digest (host/repo@digest).
	del func(ref string) []string
	// artifact is nil when the client cannot push artifacts.
	artifact *artifactSpec
}

// artifactSpec are the artifact commands; they run in the directory that
// holds the artifact files, which are named relative to it.
type artifactSpec struct {
	push   func(ref, artifactType string, files []artifactFile) []string  // stdout: manifest digest
	pull   func(ref, outDir string) []string                              // files written by name
	attach func(subject, artifactType string, file artifactFile) []string // stdout: manifest digest
	list   func(subject, artifactType string) []string
	// parseList reads the referrers listed by list.
	parseList func(stdout string) ([]descriptor, error)
}

// mountAttempt is one POST /v2/<name>/blobs/uploads/?mount=<digest>&from=<repo>
// seen in a client's log, with the status the registry answered (0 when the
// client logs only that it failed). digest is "" when the client redacts it.
type mountAttempt struct {
	digest string
	status int
}

var clientSpecs = []clientSpec{craneSpec, orasSpec, regctlSpec, skopeoSpec}

var craneSpec = clientSpec{
	name: "crane",
	push: func(layoutDir, _, dst string, _ bool) []string {
		// crane push takes the layout's single entry, image or index.
		return []string{"push", "--insecure", layoutDir, dst}
	},
	pull: func(src, layoutDir, _ string, _ bool) []string {
		return []string{"pull", "--insecure", "--format", "oci", src, layoutDir}
	},
	tag:       func(src, _, newTag string) []string { return []string{"tag", "--insecure", src, newTag} },
	listTags:  func(repo string) []string { return []string{"ls", "--insecure", repo} },
	parseTags: parseLines,
	catalog:   func(host string) []string { return []string{"catalog", "--insecure", host} },
	copy:      func(src, dst string) []string { return []string{"copy", "-v", "--insecure", src, dst} },
	mounts:    craneMounts,
	del:       func(ref string) []string { return []string{"delete", "--insecure", ref} },
}

var orasSpec = clientSpec{
	name: "oras",
	push: func(layoutDir, tag, dst string, _ bool) []string {
		return []string{"cp", "--no-tty", "--from-oci-layout", "--to-plain-http", layoutDir + ":" + tag, dst}
	},
	pull: func(src, layoutDir, tag string, _ bool) []string {
		return []string{"cp", "--no-tty", "--from-plain-http", "--to-oci-layout", src, layoutDir + ":" + tag}
	},
	tag:       func(src, _, newTag string) []string { return []string{"tag", "--plain-http", src, newTag} },
	listTags:  func(repo string) []string { return []string{"repo", "tags", "--plain-http", repo} },
	parseTags: parseLines,
	catalog:   func(host string) []string { return []string{"repo", "ls", "--plain-http", host} },
	copy: func(src, dst string) []string {
		return []string{"cp", "--no-tty", "--debug", "--from-plain-http", "--to-plain-http", src, dst}
	},
	mounts: orasMounts,
	del:    func(ref string) []string { return []string{"manifest", "delete", "--plain-http", "--force", ref} },
	artifact: &artifactSpec{
		push: func(ref, artifactType string, files []artifactFile) []string {
			args := []string{"push", "--plain-http", "--no-tty", "--artifact-type", artifactType, "--format", "go-template={{.digest}}", ref}
			for _, f := range files {
				args = append(args, f.name+":"+f.mediaType)
			}
			return args
		},
		pull: func(ref, outDir string) []string {
			return []string{"pull", "--plain-http", "--no-tty", "-o", outDir, ref}
		},
		attach: func(subject, artifactType string, f artifactFile) []string {
			return []string{"attach", "--plain-http", "--no-tty", "--artifact-type", artifactType,
				"--format", "go-template={{.digest}}", subject, f.name + ":" + f.mediaType}
		},
		list: func(subject, artifactType string) []string {
			return []string{"discover", "--plain-http", "--format", "json", "--artifact-type", artifactType, subject}
		},
		parseList: func(stdout string) ([]descriptor, error) {
			var v struct {
				Referrers []descriptor `json:"referrers"`
				Manifests []descriptor `json:"manifests"` // oras < 1.3
			}
			if err := json.Unmarshal([]byte(stdout), &v); err != nil {
				return nil, fmt.Errorf("oras discover output: %w", err)
			}
			return append(v.Referrers, v.Manifests...), nil
		},
	},
}

var regctlSpec = clientSpec{
	name: "regctl",
	setup: func(host string) [][]string {
		return [][]string{{"registry", "set", "--tls", "disabled", host}}
	},
	push: func(layoutDir, tag, dst string, _ bool) []string {
		return []string{"image", "copy", "ocidir://" + layoutDir + ":" + tag, dst}
	},
	pull: func(src, layoutDir, tag string, _ bool) []string {
		return []string{"image", "copy", src, "ocidir://" + layoutDir + ":" + tag}
	},
	// regctl has no tag command: a copy within the repository is one.
	tag:       func(src, repo, newTag string) []string { return []string{"image", "copy", src, repo + ":" + newTag} },
	listTags:  func(repo string) []string { return []string{"tag", "ls", repo} },
	parseTags: parseLines,
	catalog:   func(host string) []string { return []string{"repo", "ls", host} },
	copy: func(src, dst string) []string {
		return []string{"--verbosity", "trace", "image", "copy", src, dst}
	},
	mounts: regctlMounts,
	del:    func(ref string) []string { return []string{"manifest", "delete", ref} },
	artifact: &artifactSpec{
		push: func(ref, artifactType string, files []artifactFile) []string {
			args := []string{"artifact", "put", "--artifact-type", artifactType, "--file-title",
				"--format", "{{println .Manifest.GetDescriptor.Digest}}"}
			for _, f := range files {
				args = append(args, "-f", f.name, "-m", f.mediaType)
			}
			return append(args, ref)
		},
		pull: func(ref, outDir string) []string {
			return []string{"artifact", "get", "--output", outDir, ref}
		},
		attach: func(subject, artifactType string, f artifactFile) []string {
			return []string{"artifact", "put", "--subject", subject, "--artifact-type", artifactType,
				"-f", f.name, "-m", f.mediaType, "--format", "{{println .Manifest.GetDescriptor.Digest}}"}
		},
		list: func(subject, artifactType string) []string {
			return []string{"artifact", "list", "--filter-artifact-type", artifactType, "--format", "{{json .}}", subject}
		},
		parseList: func(stdout string) ([]descriptor, error) {
			var v struct {
				Descriptors []descriptor `json:"descriptors"`
			}
			if err := json.Unmarshal([]byte(stdout), &v); err != nil {
				return nil, fmt.Errorf("regctl artifact list output: %w", err)
			}
			return v.Descriptors, nil
		},
	},
}

// skopeo runs with --insecure-policy (no /etc/containers/policy.json needed)
// and --*-tls-verify=false, which also allows plain HTTP.
var skopeoSpec = clientSpec{
	name: "skopeo",
	push: func(layoutDir, tag, dst string, index bool) []string {
		return skopeoCopy(index, "--dest-tls-verify=false", "oci:"+layoutDir+":"+tag, "docker://"+dst)
	},
	pull: func(src, layoutDir, tag string, index bool) []string {
		return skopeoCopy(index, "--src-tls-verify=false", "docker://"+src, "oci:"+layoutDir+":"+tag)
	},
	tag: func(src, repo, newTag string) []string {
		return skopeoCopy(false, "--src-tls-verify=false", "--dest-tls-verify=false", "docker://"+src, "docker://"+repo+":"+newTag)
	},
	listTags: func(repo string) []string {
		return []string{"--insecure-policy", "list-tags", "--tls-verify=false", "docker://" + repo}
	},
	parseTags: func(stdout string) ([]string, error) {
		var v struct {
			Tags []string `json:"Tags"`
		}
		if err := json.Unmarshal([]byte(stdout), &v); err != nil {
			return nil, fmt.Errorf("skopeo list-tags output: %w", err)
		}
		return v.Tags, nil
	},
	// no catalog command
	copy: func(src, dst string) []string {
		return append([]string{"--debug"}, skopeoCopy(false, "--src-tls-verify=false", "--dest-tls-verify=false", "docker://"+src, "docker://"+dst)...)
	},
	mounts: skopeoMounts,
	del: func(ref string) []string {
		return []string{"--insecure-policy", "delete", "--tls-verify=false", "docker://" + ref}
	},
}

func skopeoCopy(all bool, args ...string) []string {
	cmd := []string{"--insecure-policy", "copy", "--preserve-digests"}
	if all {
		cmd = append(cmd, "--all")
	}
	return append(cmd, args...)
}

func parseLines(stdout string) ([]string, error) {
	var out []string
	for _, l := range strings.Split(stdout, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out, nil
}

// mountDigest extracts the mount= parameter of an upload URL or path.
func mountDigest(rawURL string) (string, bool) {
	u, err := url.Parse(rawURL)
	if err != nil || !strings.Contains(u.Path, "/blobs/uploads") {
		return "", false
	}
	d, ok := u.Query()["mount"]
	if !ok || len(d) == 0 {
		return "", false
	}
	if d[0] == "REDACTED" {
		return "", true
	}
	return d[0], true
}

// crane -v logs "<-- 201 http://host/v2/<name>/blobs/uploads/?from=..&mount=.. (1ms)".
var craneResponse = regexp.MustCompile(`<-- (\d{3}) (\S+)`)

func craneMounts(log string) []mountAttempt { return lineMounts(log, craneResponse, 2, 1) }

// lineMounts reads the mount attempts of a client that logs a request's
// URL and its answer's status on one line: groups url and status of re.
func lineMounts(log string, re *regexp.Regexp, url, status int) []mountAttempt {
	var out []mountAttempt
	for _, m := range re.FindAllStringSubmatch(log, -1) {
		if d, ok := mountDigest(m[url]); ok {
			code, _ := strconv.Atoi(m[status])
			out = append(out, mountAttempt{digest: d, status: code})
		}
	}
	return out
}

// oras --debug logs numbered requests and responses:
//
//	--> Request #4
//	> Request URL: "http://host/v2/<name>/blobs/uploads/?from=REDACTED&mount=REDACTED"
//	<-- Response #4
//	< Response Status: "201 Created"
var (
	orasRequest  = regexp.MustCompile(`--> Request #(\d+)`)
	orasURL      = regexp.MustCompile(`> Request URL: "([^"]*)"`)
	orasResponse = regexp.MustCompile(`<-- Response #(\d+)`)
	orasStatus   = regexp.MustCompile(`< Response Status: "(\d{3})`)
)

func orasMounts(log string) []mountAttempt {
	mountReq := map[string]string{} // request number -> digest
	var order []string
	status := map[string]int{}
	var req, resp string
	for _, l := range strings.Split(log, "\n") {
		if m := orasRequest.FindStringSubmatch(l); m != nil {
			req = m[1]
		} else if m := orasURL.FindStringSubmatch(l); m != nil {
			if d, ok := mountDigest(m[1]); ok {
				mountReq[req] = d
				order = append(order, req)
			}
		} else if m := orasResponse.FindStringSubmatch(l); m != nil {
			resp = m[1]
		} else if m := orasStatus.FindStringSubmatch(l); m != nil {
			if _, ok := mountReq[resp]; ok {
				status[resp], _ = strconv.Atoi(m[1])
			}
		}
	}
	var out []mountAttempt
	for _, r := range order {
		out = append(out, mountAttempt{digest: mountReq[r], status: status[r]})
	}
	return out
}

// regctl --verbosity trace logs every request on one line:
//
//	msg="reg http request" req-method=POST req-url="http://..?from=..&mount=.." ... resp-status="201 Created"
var regctlRequest = regexp.MustCompile(`req-url="([^"]*)".*?resp-status="(\d{3})`)

func regctlMounts(log string) []mountAttempt { return lineMounts(log, regctlRequest, 1, 2) }

// skopeo --debug (containers/image docker_image_dest.go mountBlob) logs
// "Trying to mount /v2/..?mount=..&from=..", then "... mount OK" on 201,
// "... started an upload instead of mounting" on 202, or "Error mounting".
// Blobs are copied concurrently, so results cannot be paired with attempts;
// digests are kept only when every attempt succeeded.
func skopeoMounts(log string) []mountAttempt {
	const marker = "Trying to mount "
	var tried []string
	var results []int
	for _, l := range strings.Split(log, "\n") {
		switch {
		case strings.Contains(l, marker):
			d := ""
			if f := strings.Fields(l[strings.Index(l, marker)+len(marker):]); len(f) > 0 {
				d, _ = mountDigest(strings.TrimSuffix(f[0], `"`))
			}
			tried = append(tried, d)
		case strings.Contains(l, "mount OK"):
			results = append(results, http.StatusCreated)
		case strings.Contains(l, "started an upload instead of mounting"):
			results = append(results, http.StatusAccepted)
		case strings.Contains(l, "Error mounting"):
			results = append(results, 0)
		}
	}
	var out []mountAttempt
	if len(results) == len(tried) && !slices.ContainsFunc(results, func(s int) bool { return s != http.StatusCreated }) {
		for _, d := range tried {
			out = append(out, mountAttempt{digest: d, status: http.StatusCreated})
		}
		return out
	}
	for i := range max(len(tried), len(results)) {
		a := mountAttempt{}
		if i < len(results) {
			a.status = results[i]
		}
		out = append(out, a)
	}
	return out
}
