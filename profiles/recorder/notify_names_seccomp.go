//go:build cgo && seccomp

package recorder

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"

	"github.com/runcage/runcage/profiles/seccomp"
)

// maxSyscallNr bounds the syscall numbers KnownSyscalls asks libseccomp
// about on each architecture (Linux numbers stay well below it).
const maxSyscallNr = 1024

// x32Bit is __X32_SYSCALL_BIT: x32 syscalls are x86_64 ones with it set.
const x32Bit = 0x40000000

// KnownSyscalls returns, sorted, the name of every syscall libseccomp knows
// on any of arches (the native architecture if arches is empty). Asking
// libseccomp costs a lookup per syscall number (milliseconds on each create),
// so an architecture's names come from knownTableNames, generated from
// libseccomp (TestKnownTable), when the libseccomp runcage runs with is the
// version the table was generated from, and else from libseccomp once per
// process. The caller may modify the slice.
func KnownSyscalls(arches []specs.Arch) ([]string, error) {
	if len(arches) == 0 {
		arches = seccomp.NativeArches()
	}
	key := fmt.Sprint(arches)
	if names, ok := knownUnion.Load(key); ok {
		return slices.Clone(names.([]string)), nil
	}
	set := map[string]bool{}
	for _, a := range arches {
		names, err := archSyscalls(a)
		if err != nil {
			return nil, err
		}
		for _, n := range names {
			set[n] = true
		}
	}
	if len(set) == 0 {
		return nil, fmt.Errorf("list syscalls: libseccomp knows none for %v", arches)
	}
	names := make([]string, 0, len(set))
	for n := range set {
		names = append(names, n)
	}
	slices.Sort(names)
	knownUnion.Store(key, names)
	return slices.Clone(names), nil
}

// knownUnion memoizes KnownSyscalls' answers by the architectures asked
// about (a create asks about the same few every time).
var knownUnion sync.Map // fmt.Sprint(arches) -> []string

// archSyscalls returns the names libseccomp knows on architecture a, none
// for an architecture runcage does not know. The result is shared: it must
// not be modified.
func archSyscalls(a specs.Arch) ([]string, error) {
	v, _ := knownByArch.LoadOrStore(a, sync.OnceValues(func() ([]string, error) {
		if libseccompVersion() == knownTableVersion {
			if names := knownTableNames(a); names != "" {
				return strings.Fields(names), nil
			}
		}
		return libseccompSyscalls(a)
	}))
	return v.(func() ([]string, error))()
}

// knownByArch memoizes archSyscalls.
var knownByArch sync.Map // specs.Arch -> func() ([]string, error)

// libseccompVersion is the version of the libseccomp runcage runs with,
// "major.minor.micro".
var libseccompVersion = sync.OnceValue(func() string {
	major, minor, micro := libseccomp.GetLibraryVersion()
	return fmt.Sprintf("%d.%d.%d", major, minor, micro)
})

// libseccompSyscalls asks libseccomp for the name of every syscall number
// of architecture a and returns them sorted: none for an architecture
// runcage does not know, an error for one libseccomp does not.
func libseccompSyscalls(a specs.Arch) ([]string, error) {
	ls, ok := seccomp.LibseccompArch(a)
	if !ok {
		return nil, nil
	}
	arch, err := libseccomp.GetArchFromString(ls)
	if err != nil {
		return nil, fmt.Errorf("list syscalls: %w", err)
	}
	base := 0
	if a == specs.ArchX32 {
		base = x32Bit
	}
	var names []string
	for nr := range maxSyscallNr {
		if n, err := libseccomp.ScmpSyscall(base + nr).GetNameByArch(arch); err == nil && n != "" {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}

// libNames resolves syscall numbers with libseccomp, caching each answer.
// It is safe for concurrent use.
type libNames struct {
	mu    sync.Mutex
	cache map[uint64]archName
}

type archName struct{ arch, name string }

// newNameResolver returns the nameResolver the agent uses on this host.
func newNameResolver() nameResolver { return &libNames{cache: map[uint64]archName{}} }

// Name implements nameResolver.
func (l *libNames) Name(auditArch uint32, nr int32) (arch, name string, ok bool) {
	key := uint64(auditArch)<<32 | uint64(uint32(nr))
	l.mu.Lock()
	defer l.mu.Unlock()
	if an, hit := l.cache[key]; hit {
		return an.arch, an.name, an.name != ""
	}
	an := resolveLib(auditArch, nr)
	l.cache[key] = an
	return an.arch, an.name, an.name != ""
}

func resolveLib(auditArch uint32, nr int32) archName {
	oci := ociArch(auditArch, nr)
	n, err := seccomp.SyscallName(oci, int(nr))
	if err != nil {
		return archName{arch: string(oci)}
	}
	return archName{arch: string(oci), name: n}
}
