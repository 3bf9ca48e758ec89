package diskspace

import "testing"

func TestFloorOf(t *testing.T) {
	const gib = 1 << 30
	for _, c := range []struct {
		name  string
		f     Floor
		total uint64
		want  uint64
	}{
		{"none", Floor{}, 100 * gib, 0},
		{"percent", Floor{Percent: 2}, 100 * gib, 2 * gib},
		{"amount", Floor{Amount: gib}, 10 * gib, gib},
		// the default: 2 % or 1 GiB, whichever is smaller
		{"small disk takes the percentage", Floor{Percent: 2, Amount: gib}, 10 * gib, 10 * gib / 50},
		{"large disk takes the amount", Floor{Percent: 2, Amount: gib}, 1000 * gib, gib},
		{"inodes", Floor{Percent: 1, Amount: 10000}, 65536, 655},
		{"amount over total", Floor{Amount: 2 * gib}, gib, 2 * gib},
	} {
		if got := c.f.Of(c.total); got != c.want {
			t.Errorf("%s: %+v of %d = %d, want %d", c.name, c.f, c.total, got, c.want)
		}
	}
}

func TestParseFloor(t *testing.T) {
	for _, c := range []struct {
		in    string
		count bool
		want  Floor
		str   string
	}{
		{"2%, 1GiB", false, Floor{Percent: 2, Amount: 1 << 30}, "2%, 1.0GiB"},
		{"1GiB,2%", false, Floor{Percent: 2, Amount: 1 << 30}, "2%, 1.0GiB"},
		{"512MiB", false, Floor{Amount: 512 << 20}, "512MiB"},
		{"0.5%", false, Floor{Percent: 0.5}, "0.5%"},
		{"0", false, Floor{}, "0"},
		{"1%, 10000", true, Floor{Percent: 1, Amount: 10000}, "1%, 10000"},
		{"5000", true, Floor{Amount: 5000}, "5000"},
	} {
		parse, format := ParseBytes, Floor.String
		if c.count {
			parse, format = ParseCount, Floor.CountString
		}
		got, err := parse(c.in)
		if err != nil || got != c.want {
			t.Errorf("parse %q = %+v, %v; want %+v", c.in, got, err, c.want)
			continue
		}
		if s := format(got); s != c.str {
			t.Errorf("format %+v = %q, want %q", got, s, c.str)
		}
		if back, err := parse(format(got)); err != nil || back.Of(1<<40) != got.Of(1<<40) {
			t.Errorf("%q does not read back: %+v, %v", format(got), back, err)
		}
	}
	for _, bad := range []string{"", "x", "2%,3%", "1GiB,2GiB", "100%", "-1%", "1,2,3"} {
		if _, err := ParseBytes(bad); err == nil {
			t.Errorf("ParseBytes(%q) accepted", bad)
		}
	}
	for _, bad := range []string{"1GiB", "10k"} {
		if _, err := ParseCount(bad); err == nil {
			t.Errorf("ParseCount(%q) accepted", bad)
		}
	}
}
