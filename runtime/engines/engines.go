// Package engines registers runcage with container engines (`runcage
// install docker|containerd`). Each engine is one implementation of Engine
// over the engine's own config files; the command line only picks one.
//
// Every implementation keeps the same promises: it merges runcage's
// runtimes into the engine's config, keeping every other byte; it refuses,
// with no file touched, a config it cannot merge safely (malformed, a
// symlink, or holding a different runcage entry without Force); it backs a
// file up before replacing it and replaces it atomically; it changes
// nothing when runcage is already installed; and it never restarts or
// signals the engine, but says how to make the engine reload.
package engines

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/runcage/runcage/profiles/policy"
	"github.com/runcage/runcage/runtime/spec"
)

// Engine is a container engine runcage registers with: Docker (dockerd's
// daemon.json) or Containerd (a drop-in imported by config.toml).
//
// Install is the whole transaction, not a sequence of steps (add a runtime,
// save): containerd's install writes two files and profile links, proves
// the result with `containerd config dump` and puts both files back when
// that fails, so the engine keeps the order and the rollback to itself.
// Neither engine's default runtime is ever changed.
type Engine interface {
	// Install registers runcage with the engine as the package promises,
	// reporting each step to w. Refusals wrap errInstall.
	Install(w io.Writer) error
}

var (
	_ Engine = (*Docker)(nil)
	_ Engine = (*Containerd)(nil)
)

// errInstall classifies refusals of `runcage install`: a config file that
// is malformed, a symlink, or holds a different runcage entry. The file is
// never touched when this is returned.
var errInstall = errors.New("install refused")

// Request is what every engine's install shares.
type Request struct {
	// Binary is the absolute, clean path of the runcage binary.
	Binary string
	// Profiles are the profiles registered as runcage-<profile>, in order.
	Profiles []string
	// Force replaces runcage entries that differ from what install writes.
	Force bool
	// PolicyPath is the file the policy was loaded from ("" for the
	// built-in one). containerd's shim handlers name it in their options
	// when it is not policy.DefaultPath, which the shim reads by default.
	PolicyPath string
	// Now stamps backup names; tests replace it.
	Now func() time.Time
}

// NewRequest checks binary (empty: this executable), which must be an
// absolute path of an executable file, then loads the policy with load and
// resolves profiles (a comma-separated list; see installProfiles) against it.
func NewRequest(binary, profiles string, force bool, load func() (*policy.Policy, error)) (Request, error) {
	req := Request{Force: force, Now: time.Now}
	bin := binary
	if bin == "" {
		exe, err := os.Executable()
		if err != nil {
			return req, fmt.Errorf("find runcage binary: %w", err)
		}
		bin = exe
	}
	if !filepath.IsAbs(bin) {
		return req, fmt.Errorf("%w: --binary %q is not an absolute path", errInstall, bin)
	}
	req.Binary = filepath.Clean(bin)
	if st, err := os.Stat(req.Binary); err != nil || !st.Mode().IsRegular() || st.Mode()&0o111 == 0 {
		return req, fmt.Errorf("%w: runcage binary %s is not an executable file", errInstall, req.Binary)
	}
	pol, err := load()
	if err != nil {
		return req, err
	}
	req.PolicyPath = pol.Path
	if req.Profiles, err = installProfiles(pol, profiles); err != nil {
		return req, err
	}
	return req, checkLandlockHelper(pol, req.Binary, req.Profiles)
}

// installProfiles resolves the --profiles list: each named profile must exist in
// pol. Without a list it is every profile pol can select except
// passthrough, which would let anyone who can pick a runtime turn runcage
// off; it is registered only when named.
func installProfiles(pol *policy.Policy, list string) ([]string, error) {
	var names []string
	if list == "" {
		for _, n := range pol.Names() {
			if n != "passthrough" {
				names = append(names, n)
			}
		}
		return names, nil
	}
	seen := map[string]bool{}
	for _, n := range strings.Split(list, ",") {
		n = strings.TrimSpace(n)
		if n == "" || seen[n] {
			continue
		}
		seen[n] = true
		if _, err := pol.Profile(n); err != nil {
			return nil, fmt.Errorf("--profiles: %w", err)
		}
		names = append(names, n)
	}
	return names, nil
}

// readConfig reads an engine config file that install may rewrite. A
// missing file is (nil, 0644, false, nil). A symlink is refused: the
// atomic rename would replace the link with a regular file and silently
// detach the engine from the file the link pointed at.
func readConfig(path string) (data []byte, perm fs.FileMode, exists bool, err error) {
	st, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0o644, false, nil
	}
	if err != nil {
		return nil, 0, false, fmt.Errorf("read %s: %w", path, err)
	}
	if st.Mode()&fs.ModeSymlink != 0 {
		return nil, 0, false, fmt.Errorf("%w: %s is a symlink; pass the file it points at", errInstall, path)
	}
	data, perm, err = spec.ReadFile(path)
	if err != nil {
		return nil, 0, false, fmt.Errorf("read %s: %w", path, err)
	}
	return data, perm, true, nil
}

// backupName is the name of the backup of path taken at t.
func backupName(path string, t time.Time) string {
	return path + ".runcage-bak." + t.UTC().Format("20060102T150405.000000000Z")
}

// writeWithBackup replaces path with data atomically. When old is non-nil
// (the file existed) it first writes old, byte for byte, to a new backup
// file beside path, which must not exist yet. It returns the backup's name.
func writeWithBackup(path string, old, data []byte, perm fs.FileMode, existed bool, now time.Time) (string, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", fmt.Errorf("create %s: %w", filepath.Dir(path), err)
	}
	var bak string
	if existed {
		bak = backupName(path, now)
		f, err := os.OpenFile(bak, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_SYNC|unix.O_NOFOLLOW, perm)
		if err != nil {
			return "", fmt.Errorf("back up %s: %w", path, err)
		}
		_, werr := f.Write(old)
		cerr := f.Close()
		if err := errors.Join(werr, cerr); err != nil {
			return "", fmt.Errorf("back up %s: %w", path, err)
		}
	}
	if err := spec.WriteFileAtomic(path, data, perm); err != nil {
		return bak, fmt.Errorf("write %s: %w", path, err)
	}
	return bak, nil
}

// say prints one line of install's report.
func say(w io.Writer, format string, args ...any) {
	fmt.Fprintf(w, format+"\n", args...)
}
