package scenario

import "testing"

func TestIsTagName(t *testing.T) {
	for _, i := range []int{0, 1, 9, 10, 99, 12345, 99999, 100000, 999999} {
		if !isTagName(tagName(i), i) {
			t.Errorf("isTagName(%q, %d) = false", tagName(i), i)
		}
		for _, j := range []int{i + 1, i - 1, i + 10, i * 10} {
			if j != i && isTagName(tagName(i), j) {
				t.Errorf("isTagName(%q, %d) = true", tagName(i), j)
			}
		}
	}
	for _, bad := range []string{"", "t", "t00000", "t0000000", "x000001", "t00000a"} {
		if isTagName(bad, 1) {
			t.Errorf("isTagName(%q, 1) = true", bad)
		}
	}
	if isTagName(tagName(1000000), 1000000) {
		t.Error("a 7-digit index cannot be a 6-digit tag name")
	}
}
