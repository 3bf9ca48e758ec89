package main

import (
	"fmt"
	"strings"

	"git.wntrmute.dev/kyle/mcr/bench/server"
)

// backendTable is one comparison beyond mcr against the reference on
// local files: the two registries on S3, and mcr on S3 against mcr on
// local files (what the S3 path costs).
type backendTable struct {
	Title string `json:"title"`
	MCR   string `json:"mcr"`       // the left registry's name in Raw
	Ref   string `json:"reference"` // the right registry's name in Raw
	Rows  []row  `json:"rows"`
}

// buildBackendRows lays out the tables of the s3 backend, those of the
// registries the run measured.
func buildBackendRows(rep *Report) []backendTable {
	mcrS3, refS3 := server.Name(server.MCR, server.S3), server.Name(server.Reference, server.S3)
	var out []backendTable
	for _, t := range []backendTable{
		{Title: "mcr on S3 + PostgreSQL against the reference on S3 (same versitygw)", MCR: mcrS3, Ref: refS3},
		{Title: "what S3 + PostgreSQL costs mcr: mcr on S3 + PostgreSQL against mcr on local files + Badger", MCR: mcrS3, Ref: string(server.MCR)},
	} {
		var ts []target
		if t.Ref == refS3 {
			ts = s3Targets()
		}
		if t.Rows = pairRows(rep, t.MCR, t.Ref, ts); len(t.Rows) > 0 {
			out = append(out, t)
		}
	}
	return out
}

// s3Targets are issue 16's targets: mcr on S3 and PostgreSQL against the
// reference on its s3 driver, same run, same S3 server.
func s3Targets() []target {
	return []target{
		{"push-image c=16 repos=8 throughput", "≥ 3× ref", func(m, r float64) bool { return m >= 3*r }},
		{"pull-manifest GET c=64 throughput", "≥ 3× ref", func(m, r float64) bool { return m >= 3*r }},
		{"tag-list full list of 10000 p50", "≤ ref / 20", func(m, r float64) bool { return m > 0 && m <= r/20 }},
		{"catalog page n=100 at the middle of 10000 p50", "< 5 ms", func(m, _ float64) bool { return m > 0 && m < 5 }},
	}
}

// renderBackends writes the backend tables after the main one.
func renderBackends(b *strings.Builder, rep *Report) {
	for _, t := range rep.Backends {
		fmt.Fprintf(b, "\n**%s**\n\n", t.Title)
		renderTable(b, t.Rows, rep.Rounds, t.MCR, t.Ref)
	}
	renderRequests(b, rep.Requests)
}
