package hooks

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/runcage/runcage/profiles"
)

// engineFunc returns the path of the host's dockerd binary that process
// pid runs, resolved and checked as resolveHostExec does, or an error
// saying why pid is not the host's dockerd.
type engineFunc func(pid int) (string, error)

// hostDockerd is the engineFunc of the real host. Process pid is the
// host's dockerd only when all of these hold:
//   - it is in runcage's own mount namespace (a container's process never
//     is: every container has its own, which the profiles require);
//   - it is in runcage's own pid namespace, the runtime's (a process of a
//     container that shares the host's pid namespace still fails the
//     mount namespace test);
//   - its real, effective and saved uids are 0;
//   - its /proc/<pid>/exe, opened, is the same file (device and inode) as
//     the host path it names, and that path is called dockerd and passes
//     resolveHostExec (root-owned, not group/other-writable, through
//     root-owned directories).
//
// The hook's path is left as /proc/<pid>/exe (a rewritten bundle must pass
// the same check again); if dockerd died and its pid were reused by another
// process before runc runs the hook, runc would run that process's binary.
// That window is the engine's own design, exists with plain runc, and is
// milliseconds long while dockerd waits for the container it is starting.
func hostDockerd(pid int) (string, error) {
	proc := "/proc/" + strconv.Itoa(pid)
	same := func(a, b string) (bool, error) {
		var sa, sb unix.Stat_t
		if err := unix.Stat(a, &sa); err != nil {
			return false, err
		}
		if err := unix.Stat(b, &sb); err != nil {
			return false, err
		}
		return sa.Dev == sb.Dev && sa.Ino == sb.Ino, nil
	}
	if ok, err := same(proc+"/ns/mnt", "/proc/self/ns/mnt"); err != nil || !ok {
		return "", profiles.Refusef("process %d is not in the host's mount namespace (err: %v)", pid, err)
	}
	if ok, err := same(proc+"/ns/pid", "/proc/self/ns/pid"); err != nil || !ok {
		return "", profiles.Refusef("process %d is not in the host's pid namespace (err: %v)", pid, err)
	}
	status, err := os.ReadFile(proc + "/status")
	if err != nil {
		return "", profiles.Refusef("process %d: %v", pid, err)
	}
	if !rootUIDs(string(status)) {
		return "", profiles.Refusef("process %d does not run as host root", pid)
	}
	target, err := os.Readlink(proc + "/exe")
	if err != nil {
		return "", profiles.Refusef("process %d: %v", pid, err)
	}
	if !filepath.IsAbs(target) || filepath.Base(target) != "dockerd" {
		return "", profiles.Refusef("process %d runs %q, not dockerd", pid, target)
	}
	f, err := os.Open(proc + "/exe")
	if err != nil {
		return "", profiles.Refusef("process %d: %v", pid, err)
	}
	defer f.Close()
	var exe, onHost unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &exe); err != nil {
		return "", fmt.Errorf("stat executable of process %d: %w", pid, err)
	}
	resolved, err := resolveHostExec(target)
	if err != nil {
		return "", profiles.Refusef("process %d runs %q: %v", pid, target, err)
	}
	if err := unix.Stat(resolved, &onHost); err != nil || onHost.Dev != exe.Dev || onHost.Ino != exe.Ino {
		return "", profiles.Refusef("process %d runs a binary that is no longer %q on the host", pid, target)
	}
	return resolved, nil
}

// rootUIDs reports whether the Uid line of a /proc/<pid>/status text has
// real, effective, saved and filesystem uid 0.
func rootUIDs(status string) bool {
	for _, l := range strings.Split(status, "\n") {
		if rest, ok := strings.CutPrefix(l, "Uid:"); ok {
			f := strings.Fields(rest)
			if len(f) != 4 {
				return false
			}
			for _, u := range f {
				if u != "0" {
					return false
				}
			}
			return true
		}
	}
	return false
}

// dockerSetKey reports whether h, in stage, is the hook dockerd adds to
// every container with its own network namespace (moby's withLibnetwork):
//
//	{"path": "/proc/<dockerd pid>/exe",
//	 "args": ["libnetwork-setkey", "-exec-root=<dir>", "<64-hex container id>", "<12-hex controller id>"]}
//
// and if so returns the host path of the dockerd binary it runs.
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
// no environment, and, through engine, that pid is the host's dockerd and
// not a process of some container whose binary is called dockerd. The error
// is nil and ok false when h is not in that form at all; a hook in that
// form whose process is not the host's dockerd is refused with the reason.
func dockerSetKey(stage string, h specs.Hook, engine engineFunc) (string, bool, error) {
	if stage != "prestart" && stage != "createRuntime" {
		return "", false, nil
	}
	rest, ok := strings.CutPrefix(h.Path, "/proc/")
	if !ok {
		return "", false, nil
	}
	pidText, ok := strings.CutSuffix(rest, "/exe")
	if !ok || !decimal(pidText) {
		return "", false, nil
	}
	pid, err := strconv.Atoi(pidText)
	if err != nil || pid <= 1 {
		return "", false, nil
	}
	if len(h.Args) != 4 || h.Args[0] != "libnetwork-setkey" || len(h.Env) != 0 {
		return "", false, nil
	}
	root, ok := strings.CutPrefix(h.Args[1], "-exec-root=")
	if !ok || !filepath.IsAbs(root) || filepath.Clean(root) != root {
		return "", false, nil
	}
	if !hex(h.Args[2], 64) || !hex(h.Args[3], 12) {
		return "", false, nil
	}
	exe, err := engine(pid)
	if err != nil {
		return "", false, err
	}
	return exe, true, nil
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
