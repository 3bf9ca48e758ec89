// Package plot draws small line charts as standalone SVG with no
// dependencies: one or more panels side by side, each with a log₂ x axis
// (concurrency), a linear y axis from zero and one line per series.
package plot
