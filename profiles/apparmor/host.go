package apparmor

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Host is everything the AppArmor modifier needs from the machine it runs
// on. SystemHost is the real one; tests use fakes.
type Host interface {
	// Enabled reports whether the kernel has AppArmor enabled, so that
	// profiles can be loaded and applied.
	Enabled() bool
	// Loaded reports whether a profile named name is loaded in the kernel.
	Loaded(name string) (bool, error)
	// Load compiles the profile text and loads it into the kernel, replacing
	// a loaded profile of the same name.
	Load(ctx context.Context, text []byte) error
}

// SystemHost is the Host of the running machine. Its zero value is ready to
// use. It reads the kernel's state under /sys and runs apparmor_parser to
// load profiles, never through a shell, with a fixed minimal environment
// and a timeout (see Validate).
//
// Loading needs AppArmor in the kernel and root (CAP_MAC_ADMIN). The
// machine runcage is developed on has no AppArmor: there, Enabled is false,
// NewModifier never calls Load, and the test of Load is skipped. Load is
// only exercised where Enabled is true.
type SystemHost struct {
	// Root is prepended to every /sys path. Empty means "/". Tests point it
	// at a fake tree.
	Root string
	// Parser is the absolute path of apparmor_parser. Empty means the
	// first one found in /usr/sbin, /usr/bin, /sbin and /bin.
	Parser string
}

var _ Host = SystemHost{}

const (
	enabledParam    = "/sys/module/apparmor/parameters/enabled"
	securityfsDir   = "/sys/kernel/security/apparmor"
	loadedProfiles  = "/sys/kernel/security/apparmor/profiles"
	maxProfilesLine = 64 << 10
)

func (h SystemHost) path(p string) string {
	if h.Root == "" {
		return p
	}
	return filepath.Join(h.Root, p)
}

// Enabled reports whether /sys/module/apparmor/parameters/enabled is "Y"
// and /sys/kernel/security/apparmor exists, the test runc makes too.
func (h SystemHost) Enabled() bool {
	ok, _ := h.enabled()
	return ok
}

// enabled is Enabled plus a one-line reason.
func (h SystemHost) enabled() (bool, string) {
	b, err := os.ReadFile(h.path(enabledParam))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return false, "AppArmor is not enabled in this kernel: " + enabledParam + " does not exist"
		}
		return false, "AppArmor is not usable: " + err.Error()
	}
	if v := strings.TrimSpace(string(b)); !strings.HasPrefix(v, "Y") {
		return false, fmt.Sprintf("AppArmor is disabled in this kernel: %s is %q", enabledParam, v)
	}
	if _, err := os.Stat(h.path(securityfsDir)); err != nil {
		return false, "AppArmor is enabled in this kernel but its interface is missing: " + err.Error()
	}
	return true, "AppArmor is enabled in this kernel"
}

// Loaded reports whether /sys/kernel/security/apparmor/profiles lists a
// profile called name, in any mode: a line "name (enforce)" or
// "name (complain)".
func (h SystemHost) Loaded(name string) (bool, error) {
	if name == "" || strings.ContainsAny(name, " \t\r\n") {
		return false, fmt.Errorf("check loaded apparmor profile: invalid name %q", name)
	}
	f, err := os.Open(h.path(loadedProfiles))
	if err != nil {
		return false, fmt.Errorf("check loaded apparmor profile: %w", err)
	}
	defer f.Close()
	prefix := name + " ("
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 4096), maxProfilesLine)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), prefix) {
			return true, nil
		}
	}
	if err := sc.Err(); err != nil {
		return false, fmt.Errorf("check loaded apparmor profile: %w", err)
	}
	return false, nil
}

// Load compiles text and loads it into the kernel with `apparmor_parser
// --replace --skip-cache` (-r -K), reading it from stdin. A loaded profile
// of the same name is replaced atomically by the kernel. The error includes
// the parser's stderr, and wraps ErrParserMissing if apparmor_parser is not
// installed.
func (h SystemHost) Load(ctx context.Context, text []byte) error {
	if err := runParser(ctx, h.Parser, text, loadArgs); err != nil {
		return fmt.Errorf("load apparmor profile: %w", err)
	}
	return nil
}

// Available reports whether runcage can confine containers with AppArmor on
// this host (the kernel has it enabled and apparmor_parser is installed),
// with a one-line reason for `runcage check`.
func Available() (bool, string) { return SystemHost{}.available() }

func (h SystemHost) available() (bool, string) {
	ok, reason := h.enabled()
	if !ok {
		return false, reason
	}
	bin, err := findParser(h.Parser)
	if err != nil {
		return false, reason + ", but " + err.Error()
	}
	return true, reason + " and profiles are loaded with " + bin
}
