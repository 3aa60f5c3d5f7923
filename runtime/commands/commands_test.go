package commands

import (
	"strings"
	"testing"
)

// TestIs: the front sends exactly these verbs here; every runc verb,
// including ones runcage hardens, must stay with the front.
func TestIs(t *testing.T) {
	for _, tc := range []struct {
		verb string
		want bool
	}{
		{"check", true},
		{"profile", true},
		{"explain", true},
		{"install", true},
		{"create", false},
		{"run", false},
		{"exec", false},
		{"features", false},
		{"help", false},
		{"", false},
	} {
		if got := Is(tc.verb); got != tc.want {
			t.Errorf("Is(%q) = %v, want %v", tc.verb, got, tc.want)
		}
	}
}

func TestUsageNamesEveryCommandAndFlag(t *testing.T) {
	u := Usage()
	for _, want := range []string{"install", "check", "profile", "explain", "--runcage-profile", "--runcage-config"} {
		if !strings.Contains(u, want) {
			t.Errorf("usage lacks %q:\n%s", want, u)
		}
	}
}

func TestNamesMatchCommands(t *testing.T) {
	if len(names) != len(all) {
		t.Fatalf("names has %d entries, all has %d commands", len(names), len(all))
	}
	for i, mk := range all {
		if got := mk(&Front{}).Name; got != names[i] {
			t.Errorf("command %d is %q, names says %q", i, got, names[i])
		}
	}
}
