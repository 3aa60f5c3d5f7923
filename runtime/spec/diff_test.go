package spec

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestExplainDiff(t *testing.T) {
	var a, b any
	json.Unmarshal([]byte(`{"process":{"noNewPrivileges":false,"capabilities":{"bounding":["CAP_KILL"]}},"linux":{"maskedPaths":["/a"]},"mounts":[{"destination":"/sys","options":["rw"]}],"keep":1}`), &a)
	json.Unmarshal([]byte(`{"process":{"noNewPrivileges":true,"capabilities":{}},"linux":{"maskedPaths":["/a","/b"],"seccomp":{"defaultAction":"SCMP_ACT_ERRNO"}},"mounts":[{"destination":"/sys","options":["ro"]}],"keep":1}`), &b)
	var lines []string
	Diff("", a, b, &lines)
	got := strings.Join(lines, "\n")
	want := strings.Join([]string{
		`+ .linux.maskedPaths[]: "/b"`,
		`+ .linux.seccomp: {"defaultAction":"SCMP_ACT_ERRNO"}`,
		`~ .mounts[0].options[0]: "rw" -> "ro"`,
		`- .process.capabilities.bounding: ["CAP_KILL"]`,
		`~ .process.noNewPrivileges: false -> true`,
	}, "\n")
	if got != want {
		t.Fatalf("diff:\n%s\nwant:\n%s", got, want)
	}
}
