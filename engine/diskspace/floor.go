package diskspace

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/dustin/go-humanize"
)

// Floor is a minimum of free bytes or inodes, given as a percentage of
// the filesystem's total, an absolute amount, or both, in which case the
// smaller applies: a percentage alone is too much on a large disk (2 % of
// 10 TB is 200 GB kept idle) and an amount alone too much on a small one.
// The zero Floor is no floor.
type Floor struct {
	// Percent of the total; 0 is unset.
	Percent float64
	// Amount in bytes or inodes; 0 is unset.
	Amount uint64
}

// Of is the floor on a filesystem of total bytes or inodes.
func (f Floor) Of(total uint64) uint64 {
	p := uint64(math.MaxUint64)
	if f.Percent > 0 {
		p = uint64(float64(total) * f.Percent / 100)
	}
	a := uint64(math.MaxUint64)
	if f.Amount > 0 {
		a = f.Amount
	}
	if p == math.MaxUint64 && a == math.MaxUint64 {
		return 0
	}
	return min(p, a)
}

// ParseBytes parses a byte floor: "2%", "1GiB", or both separated by a
// comma ("2%, 1GiB": whichever is smaller). "0" is no floor.
func ParseBytes(s string) (Floor, error) {
	return parse(s, humanize.ParseBytes)
}

// ParseCount parses an inode floor: "1%", "10000", or both ("1%, 10000").
func ParseCount(s string) (Floor, error) {
	return parse(s, func(v string) (uint64, error) { return strconv.ParseUint(v, 10, 64) })
}

func parse(s string, amount func(string) (uint64, error)) (Floor, error) {
	var f Floor
	parts := strings.Split(s, ",")
	if len(parts) > 2 {
		return f, fmt.Errorf("%q: want a percentage, an amount, or both separated by a comma", s)
	}
	seenPct, seenAmt := false, false
	for _, p := range parts {
		p = strings.TrimSpace(p)
		if v, ok := strings.CutSuffix(p, "%"); ok {
			pct, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil || pct < 0 || pct >= 100 || seenPct {
				return f, fmt.Errorf("%q: want one percentage in [0, 100)", s)
			}
			f.Percent, seenPct = pct, true
			continue
		}
		n, err := amount(p)
		if err != nil || seenAmt {
			return f, fmt.Errorf("%q: want a percentage, an amount, or both separated by a comma", s)
		}
		f.Amount, seenAmt = n, true
	}
	return f, nil
}

// String writes f in the form the parsers read.
func (f Floor) String() string { return f.format(humanize.IBytes) }

// CountString writes an inode floor in the form ParseCount reads.
func (f Floor) CountString() string {
	return f.format(func(n uint64) string { return strconv.FormatUint(n, 10) })
}

func (f Floor) format(amount func(uint64) string) string {
	var parts []string
	if f.Percent > 0 {
		parts = append(parts, strconv.FormatFloat(f.Percent, 'f', -1, 64)+"%")
	}
	if f.Amount > 0 {
		parts = append(parts, strings.ReplaceAll(amount(f.Amount), " ", ""))
	}
	if len(parts) == 0 {
		return "0"
	}
	return strings.Join(parts, ", ")
}
