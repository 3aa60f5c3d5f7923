package record

import (
	"strings"
	"testing"
)

// TestFileRulesSkipProcRelative: paths a recorder rendered relative to
// runc's private procfs become no AppArmor rule, with a warning; real
// /proc paths and ordinary ones are kept.
func TestFileRulesSkipProcRelative(t *testing.T) {
	rules, warnings := fileRules([]FileAccess{
		{Path: "/1/task/1/fd/4", Access: "r"},
		{Path: "/1/task/1/fd", Access: "s"},
		{Path: "/self/fd/7", Access: "w"},
		{Path: "/thread-self/attr/current", Access: "w"},
		{Path: "/etc/passwd", Access: "r"},
		{Path: "/srv/1x", Access: "r"},
	})
	var text []string
	for _, r := range rules {
		text = append(text, r.Path)
	}
	all := strings.Join(text, " ")
	for _, bad := range []string{"/1/", "/self/", "/thread-self/"} {
		if strings.Contains(" "+all, " "+bad) {
			t.Errorf("rule for a proc-relative path: %s", all)
		}
	}
	for _, keep := range []string{"/etc/passwd", "/srv/1x"} {
		if !strings.Contains(all, keep) {
			t.Errorf("rule for %s missing: %s", keep, all)
		}
	}
	if n := strings.Count(strings.Join(warnings, "\n"), "detached procfs"); n != 3 {
		t.Errorf("%d warnings about detached procfs paths, want 3: %q", n, warnings)
	}
}
