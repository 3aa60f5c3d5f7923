// Package landlock turns the [landlock] table of a profile into the
// command line of runcage-landlock, runcage's static helper that a
// container's process runs first: it restricts itself with Landlock and
// then execs the container's program (see cmd/runcage-landlock and
// docs/landlock.md). The package validates the rules, computes what a
// kernel must offer to enforce them, binds the helper into the container
// and rewrites process.args to run it.
package landlock

import (
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/runcage/runcage/profiles"
)

// Landlock's access rights (include/uapi/linux/landlock.h).
const (
	fsExecute    uint64 = 1 << 0
	fsWriteFile  uint64 = 1 << 1
	fsReadFile   uint64 = 1 << 2
	fsReadDir    uint64 = 1 << 3
	fsRemoveDir  uint64 = 1 << 4
	fsRemoveFile uint64 = 1 << 5
	fsMakeChar   uint64 = 1 << 6
	fsMakeDir    uint64 = 1 << 7
	fsMakeReg    uint64 = 1 << 8
	fsMakeSock   uint64 = 1 << 9
	fsMakeFifo   uint64 = 1 << 10
	fsMakeBlock  uint64 = 1 << 11
	fsMakeSym    uint64 = 1 << 12
	fsRefer      uint64 = 1 << 13 // ABI 2
	fsTruncate   uint64 = 1 << 14 // ABI 3
	fsIoctlDev   uint64 = 1 << 15 // ABI 5

	netBindTCP    uint64 = 1 << 0 // ABI 4
	netConnectTCP uint64 = 1 << 1 // ABI 4

	scopeAbstractUnix uint64 = 1 << 0 // ABI 6
	scopeSignal       uint64 = 1 << 1 // ABI 6
)

// The ABI versions that introduced what runcage uses.
const (
	abiFS       = 1
	abiRefer    = 2
	abiTruncate = 3
	abiNet      = 4
	abiIoctlDev = 5
	abiScopes   = 6
)

// accessNames maps each access name a rule may use to its rights. The
// group names are what a person (and profile generation) writes; the
// single-right names exist for narrower rules.
var accessNames = map[string]uint64{
	// Groups.
	"read":    fsReadFile,
	"write":   fsWriteFile | fsTruncate,
	"execute": fsExecute | fsReadFile, // execve opens the file for reading too
	"list":    fsReadDir,
	"readdir": fsReadDir,
	"create":  fsMakeReg | fsMakeDir | fsMakeSym | fsMakeSock | fsMakeFifo,
	"remove":  fsRemoveFile | fsRemoveDir,
	// Single rights.
	"write-file":  fsWriteFile,
	"exec-file":   fsExecute,
	"truncate":    fsTruncate,
	"remove-file": fsRemoveFile,
	"remove-dir":  fsRemoveDir,
	"make-reg":    fsMakeReg,
	"make-dir":    fsMakeDir,
	"make-sym":    fsMakeSym,
	"make-sock":   fsMakeSock,
	"make-fifo":   fsMakeFifo,
	"make-char":   fsMakeChar,
	"make-block":  fsMakeBlock,
	"refer":       fsRefer,
	"ioctl-dev":   fsIoctlDev,
}

// scopeNames maps the names of Scopes to Landlock's scope bits.
var scopeNames = map[string]uint64{
	"abstract-unix-socket": scopeAbstractUnix,
	"signal":               scopeSignal,
}

// Limits on a rule set, so that the helper's command line stays far below
// ARG_MAX (a quarter of the stack limit, 2 MiB by default) whatever the
// workload's own arguments need, and each argument below MAX_ARG_STRLEN.
const (
	maxRules    = 4096
	maxPathLen  = 4095
	maxArgBytes = 256 << 10
)

// Check validates l: paths absolute and clean (container paths, which the
// helper resolves inside the container), known access and scope names,
// no path twice, ports 1 to 65535, a known requirement. A nil l is valid.
func Check(l *profiles.Landlock) error {
	if l == nil {
		return nil
	}
	switch l.Require {
	case "", profiles.Required, profiles.IfAvailable:
	default:
		return fmt.Errorf("landlock.require %q: want required or if-available", l.Require)
	}
	if len(l.FS) > maxRules {
		return fmt.Errorf("landlock.fs: %d rules, at most %d", len(l.FS), maxRules)
	}
	seen := map[string]bool{}
	for _, r := range l.FS {
		if !path.IsAbs(r.Path) || path.Clean(r.Path) != r.Path {
			return fmt.Errorf("landlock.fs: path %q: want an absolute clean container path", r.Path)
		}
		if len(r.Path) > maxPathLen || strings.IndexByte(r.Path, 0) >= 0 {
			return fmt.Errorf("landlock.fs: path %q: too long or holds a NUL byte", r.Path)
		}
		if seen[r.Path] {
			return fmt.Errorf("landlock.fs: path %q appears twice: merge its access lists", r.Path)
		}
		seen[r.Path] = true
		if len(r.Access) == 0 {
			return fmt.Errorf("landlock.fs: path %q: access is empty (leave the path out to deny it)", r.Path)
		}
		for _, a := range r.Access {
			if _, ok := accessNames[a]; !ok {
				return fmt.Errorf("landlock.fs: path %q: unknown access %q (want one of %s)", r.Path, a, strings.Join(sortedKeys(accessNames), ", "))
			}
		}
	}
	for _, p := range []struct {
		what  string
		ports []int
	}{{"bind", l.Bind}, {"connect", l.Connect}} {
		if len(p.ports) > maxRules {
			return fmt.Errorf("landlock.%s: %d ports, at most %d", p.what, len(p.ports), maxRules)
		}
		for _, port := range p.ports {
			if port < 1 || port > 65535 {
				return fmt.Errorf("landlock.%s: port %d out of range 1-65535", p.what, port)
			}
		}
	}
	for _, s := range l.Scopes {
		if _, ok := scopeNames[s]; !ok {
			return fmt.Errorf("landlock.scopes: unknown scope %q (want %s)", s, strings.Join(sortedKeys(scopeNames), ", "))
		}
	}
	return nil
}

func sortedKeys(m map[string]uint64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Active reports whether l restricts anything, that is whether a container
// of its profile runs the helper.
func Active(l *profiles.Landlock) bool {
	return l != nil && (len(l.FS) > 0 || l.Bind != nil || l.Connect != nil || len(l.Scopes) > 0)
}

// Required reports whether l says require = "required".
func Required(l *profiles.Landlock) bool {
	return l != nil && l.Require == profiles.Required
}

func accessMask(names []string) uint64 {
	var m uint64
	for _, a := range names {
		m |= accessNames[a]
	}
	return m
}

// Need returns the lowest Landlock ABI that enforces everything l asks for,
// and what needs it: restricting files needs ABI 3 (below it, truncate(2)
// of any file is not checked), a rule naming refer 2, ioctl-dev 5, ports 4
// and scopes 6. It returns 0 for inactive rules. A require = "required"
// profile is refused on kernels below Need.
func Need(l *profiles.Landlock) (int, string) {
	abi, why := 0, ""
	raise := func(v int, w string) {
		if v > abi {
			abi, why = v, w
		}
	}
	if !Active(l) {
		return 0, ""
	}
	var fs uint64
	for _, r := range l.FS {
		fs |= accessMask(r.Access)
	}
	if len(l.FS) > 0 {
		raise(abiTruncate, "file rules (truncate is checked from ABI 3)")
	}
	if fs&fsIoctlDev != 0 {
		raise(abiIoctlDev, "access ioctl-dev")
	}
	if l.Bind != nil || l.Connect != nil {
		raise(abiNet, "TCP port rules")
	}
	if len(l.Scopes) > 0 {
		raise(abiScopes, "scopes")
	}
	return abi, why
}

// HelperArgs returns the arguments runcage-landlock takes for l, without
// the helper's path and the "--" that ends them:
//
//	-R            require: exit 126 unless the kernel's ABI is at least -a's
//	-a N          the ABI Need computed
//	-f MASK PATH  a file rule: the LANDLOCK_ACCESS_FS_* bits on PATH
//	-n MASK       the LANDLOCK_ACCESS_NET_* rights restricted
//	-b PORT       a TCP port that may be bound
//	-c PORT       a TCP port that may be connected to
//	-s MASK       the LANDLOCK_SCOPE_* bits
//
// Numbers are decimal. Rules reach the helper as arguments rather than as a
// file: nothing to write, bind or remove per container, an exec reuses
// the ones its container was created with (Exec), and Check's limits keep them below maxArgBytes.
// l must have passed Check.
func HelperArgs(l *profiles.Landlock) ([]string, error) {
	var out []string
	if Required(l) {
		out = append(out, "-R")
	}
	abi, _ := Need(l)
	out = append(out, "-a", strconv.Itoa(abi))
	for _, r := range l.FS {
		out = append(out, "-f", strconv.FormatUint(accessMask(r.Access), 10), r.Path)
	}
	var net uint64
	if l.Bind != nil {
		net |= netBindTCP
	}
	if l.Connect != nil {
		net |= netConnectTCP
	}
	if net != 0 {
		out = append(out, "-n", strconv.FormatUint(net, 10))
	}
	for _, p := range l.Bind {
		out = append(out, "-b", strconv.Itoa(p))
	}
	for _, p := range l.Connect {
		out = append(out, "-c", strconv.Itoa(p))
	}
	var scopes uint64
	for _, s := range l.Scopes {
		scopes |= scopeNames[s]
	}
	if scopes != 0 {
		out = append(out, "-s", strconv.FormatUint(scopes, 10))
	}
	n := 0
	for _, a := range out {
		n += len(a) + 1
	}
	if n > maxArgBytes {
		return nil, fmt.Errorf("landlock rules take %d bytes of arguments, at most %d", n, maxArgBytes)
	}
	return out, nil
}
