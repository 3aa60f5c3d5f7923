package hooks

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// exeFunc resolves /proc/<pid>/exe to the path of the running executable.
type exeFunc func(pid int) (string, error)

func procExe(pid int) (string, error) {
	return os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe")
}

// dockerSetKey reports whether h, in stage, is the hook dockerd adds to
// every container with its own network namespace (moby's withLibnetwork):
//
//	{"path": "/proc/<dockerd pid>/exe",
//	 "args": ["libnetwork-setkey", "-exec-root=<dir>", "<64-hex container id>", "<12-hex controller id>"]}
//
// runc runs it on the host to tell dockerd's network controller where the
// container's network namespace is: the executable is dockerd itself and
// argv[0] selects its setkey re-exec entry point, which reads the container
// state from stdin and talks to dockerd's own socket under the exec root.
//
// Hooks are not something a container author controls: Docker's API has no
// way to add one; only whoever writes the bundle (the engine, as root) does.
// This exact form is allowed in every enforcing profile because refusing it
// would refuse every Docker container with a network namespace, and what it
// runs is the engine that is already trusted with the host. To keep the
// allowance from being a general "/proc/*/exe" escape, every part is
// checked: the stage (prestart, or createRuntime where newer moby puts it),
// the path (/proc/<pid>/exe, nothing else), the argument count and shape,
// no environment, and that /proc/<pid>/exe is, at the time of the check, a
// binary called dockerd. (runc executes the hook later; if dockerd died in
// between and its pid were reused, the hook would run another process's
// binary. That window is the engine's own design and exists with plain
// runc too.)
func dockerSetKey(stage string, h specs.Hook, exe exeFunc) bool {
	if stage != "prestart" && stage != "createRuntime" {
		return false
	}
	rest, ok := strings.CutPrefix(h.Path, "/proc/")
	if !ok {
		return false
	}
	pidText, ok := strings.CutSuffix(rest, "/exe")
	if !ok || !decimal(pidText) {
		return false
	}
	pid, err := strconv.Atoi(pidText)
	if err != nil || pid <= 1 {
		return false
	}
	if len(h.Args) != 4 || h.Args[0] != "libnetwork-setkey" || len(h.Env) != 0 {
		return false
	}
	root, ok := strings.CutPrefix(h.Args[1], "-exec-root=")
	if !ok || !filepath.IsAbs(root) || filepath.Clean(root) != root {
		return false
	}
	if !hex(h.Args[2], 64) || !hex(h.Args[3], 12) {
		return false
	}
	target, err := exe(pid)
	if err != nil {
		return false
	}
	target = strings.TrimSuffix(target, " (deleted)")
	return filepath.IsAbs(target) && filepath.Base(target) == "dockerd"
}

// decimal reports whether s is a decimal number without a leading zero.
func decimal(s string) bool {
	if s == "" || s[0] == '0' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// hex reports whether s is n lowercase hexadecimal digits.
func hex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
