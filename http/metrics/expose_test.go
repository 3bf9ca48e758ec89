package metrics

import (
	"bytes"
	"testing"
)

func TestWithHelp(t *testing.T) {
	in := "# HELP mcr_actors\n# TYPE mcr_actors gauge\nmcr_actors 1\n" +
		"# HELP mcr_actors\n# TYPE mcr_actors gauge\nmcr_actors{x=\"y\"} 2\n" +
		"# HELP go_goroutines\n# TYPE go_goroutines gauge\ngo_goroutines 7\n"
	want := "# HELP mcr_actors " + help["mcr_actors"] + "\n# TYPE mcr_actors gauge\nmcr_actors 1\nmcr_actors{x=\"y\"} 2\n" +
		"# HELP go_goroutines " + helpText("go_goroutines") + "\n# TYPE go_goroutines gauge\ngo_goroutines 7\n"
	var b bytes.Buffer
	if err := withHelp(&b, []byte(in)); err != nil {
		t.Fatal(err)
	}
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}
