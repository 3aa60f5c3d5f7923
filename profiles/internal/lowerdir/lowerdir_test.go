package lowerdir

import (
	"slices"
	"testing"
)

func TestSplit(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"/a", []string{"/a"}},
		{"/a:/b:/c", []string{"/a", "/b", "/c"}},
		{`/a\:b:/c`, []string{"/a:b", "/c"}},
		{`/a\\:/b`, []string{`/a\`, "/b"}},
		{`/a\`, []string{`/a\`}},
		{"/a::/b", []string{"/a", "", "/b"}},
		{"/a:", []string{"/a", ""}},
		{"", []string{""}},
	} {
		if got := Split(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("Split(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
