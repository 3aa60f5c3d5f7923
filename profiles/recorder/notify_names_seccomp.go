//go:build cgo && seccomp

package recorder

import (
	"fmt"
	"slices"
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
// on any of arches (the native architecture if arches is empty).
func KnownSyscalls(arches []specs.Arch) ([]string, error) {
	if len(arches) == 0 {
		arches = seccomp.NativeArches()
	}
	set := map[string]bool{}
	for _, a := range arches {
		ls, ok := seccomp.LibseccompArch(a)
		if !ok {
			continue
		}
		arch, err := libseccomp.GetArchFromString(ls)
		if err != nil {
			return nil, fmt.Errorf("list syscalls: %w", err)
		}
		base := 0
		if a == specs.ArchX32 {
			base = x32Bit
		}
		for nr := range maxSyscallNr {
			if n, err := libseccomp.ScmpSyscall(base + nr).GetNameByArch(arch); err == nil && n != "" {
				set[n] = true
			}
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
	return names, nil
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
