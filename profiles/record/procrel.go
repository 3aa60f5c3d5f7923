package record

import "strings"

// procRelative reports whether p, a recorded path, is one the recorder
// rendered relative to a detached procfs mount rather than to the
// container's root: its first component is a pid, "self" or
// "thread-self" ("/1/task/1/fd/4", "/self/fd"). runc 1.2+ works below a
// private procfs it never attaches, and recorders before the fix in
// recorder.inMountTree wrote such paths into traces; no container has
// such top-level directories, so generate leaves them out.
func procRelative(p string) bool {
	first, _, _ := strings.Cut(strings.TrimPrefix(p, "/"), "/")
	if first == "self" || first == "thread-self" {
		return true
	}
	if first == "" {
		return false
	}
	for i := 0; i < len(first); i++ {
		if first[i] < '0' || first[i] > '9' {
			return false
		}
	}
	return true
}
