package userns

import (
	"os"
	"path/filepath"

	"github.com/runcage/runcage/profiles"
)

// Reachable returns nil if a container's root can reach stateDir: every
// directory above it, up to /, must be searchable by others (o+x). The
// container's root is an unprivileged host id from the pool, and runc's
// init resolves the rootfs runcage mounts below <stateDir>/mnt as that id,
// so one 0700 ancestor (state_dir under /root, say) makes every container
// fail inside runc ("remount-propagation ... permission denied").
//
// runcage makes stateDir and its mnt directory searchable itself, since it
// owns them, but it never changes an ancestor: those belong to the host,
// and opening a private directory to every user is the administrator's
// decision. The error satisfies errors.Is(err, profiles.ErrRefused), names
// the first such directory and says how to fix it. A directory that does
// not exist yet is skipped (runcage creates it searchable).
func Reachable(stateDir string) error {
	dir := filepath.Clean(stateDir)
	if !filepath.IsAbs(dir) {
		return profiles.Refusef("state_dir %q refused: not an absolute path", stateDir)
	}
	for d := filepath.Dir(dir); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err == nil && fi.Mode().Perm()&0o001 == 0 {
			return profiles.Refusef("state_dir %q refused: %s (mode %04o) is not searchable by others, so a container's root, an unprivileged host id, cannot reach the rootfs runcage mounts below it; run `chmod o+x %s` or move state_dir below a searchable directory",
				stateDir, d, fi.Mode().Perm(), d)
		}
		if d == "/" {
			return nil
		}
	}
}
