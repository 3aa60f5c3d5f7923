// Package seccomp holds runcage's seccomp allowlist and the operations that
// keep a container's filter at least as strict as both the profile and the
// bundle ask.
//
// # The runtime/default allowlist
//
// default.json is runcage's built-in filter, profiles.SeccompRuntimeDefault.
// It is data in the OCI format (specs.LinuxSeccomp), embedded in the binary
// and returned by Default. It was derived from Docker's default profile
// (github.com/moby/moby, profiles/seccomp/default.json at commit
// 00f3d189e420d485e42d15fe494f96d272284e0e, Apache-2.0; a copy is kept in
// testdata/docker-default.json and the tests prove the subset relation) and
// is strictly tighter than it:
//
//   - No rule depends on a capability. runcage containers keep none, so every
//     rule Docker gates on a capability (mount, unshare, setns, bpf, ptrace,
//     chroot, reboot, the module, clock and quota calls, ...) is left out.
//   - Docker's unconditional allowances of io_uring_setup, io_uring_enter,
//     io_uring_register, name_to_handle_at, adjtimex, clock_adjtime and
//     clock_adjtime64 are left out, as are ptrace, process_vm_readv and
//     process_vm_writev (Docker allows these on kernels from 4.8) and
//     modify_ldt (Docker allows it on x86).
//   - personality is allowed only for the values 0x0, 0x8, 0x20000, 0x20008
//     and 0xffffffff, one SCMP_CMP_EQ rule each, as in Docker.
//   - clone is allowed only when (flags & 0x7E020000) == 0, so it cannot
//     create namespaces; clone3 fails with ENOSYS (38), because its flags are
//     behind a pointer that seccomp cannot inspect, and libc falls back to
//     clone.
//   - socket and socketpair are allowed only for AF_UNIX, AF_INET, AF_INET6
//     and, of AF_NETLINK, NETLINK_ROUTE (0), NETLINK_SOCK_DIAG (4, ss) and
//     NETLINK_KOBJECT_UEVENT (15, udev monitors), each an SCMP_CMP_EQ rule
//     on all 64 bits of the argument. Every other family below AF_MAX (46)
//     fails with EAFNOSUPPORT (97), every other netlink protocol below
//     MAX_LINKS (32) with EPROTONOSUPPORT (93): the errors libc, libaudit
//     and shadow's tools treat as "not in this kernel" and carry on (with
//     EPERM, useradd aborts when it cannot open NETLINK_AUDIT). Docker
//     allows every family but AF_VSOCK, including AF_ALG and NETLINK_AUDIT.
//     A profile widens this rule by name with socket_families
//     (AllowSocketFamilies).
//   - chmod, fchmod, fchmodat, creat, mknod and mknodat are allowed only
//     when the mode has neither S_ISUID nor S_ISGID ((mode & 06000) == 0),
//     and open and openat only when the mode has neither or the flags have
//     neither O_CREAT nor __O_TMPFILE: a container cannot make a set-ID
//     file, which through an id-mapped volume could be owned by host root.
//     fchmodat2 is not listed (Docker does not list it either), so it is
//     denied. openat2 fails with ENOSYS (38): its mode is behind a pointer;
//     glibc and musl do not use it for open, and runc's pathrs-lite and
//     systemd fall back to openat.
//
// Everything else Docker allows without a capability stays allowed, including
// what runc itself calls after it loads the filter (openat, statx,
// newfstatat, fstat, fcntl, close_range, getpid, execve, execveat, and the Go
// runtime's futex, mmap, clone for threads, signals and epoll), and what
// ordinary servers need (epoll, accept4, sendfile, futex, rseq, getrandom,
// memfd_create, pidfd_open, ...). Syscalls newer than those the filter names
// are denied; runc answers them with ENOSYS, so libc falls back.
//
// default.json lists SCMP_ARCH_X86_64, SCMP_ARCH_X86, SCMP_ARCH_X32,
// SCMP_ARCH_AARCH64 and SCMP_ARCH_ARM, but Default keeps only the host's
// native ABI (NativeArches): SCMP_ARCH_X86_64 on amd64, SCMP_ARCH_AARCH64 on
// arm64. Syscalls of any other architecture, including the 32-bit i386 and
// x32 ABIs of an x86_64 host, are killed by libseccomp. Docker's arch map
// also lists the 32-bit ABIs; runcage does not, because each listed
// architecture adds a copy of the rule set (x86_64 alone: 391 BPF
// instructions; with x86 and x32: 1184) that runc compiles with libseccomp
// on every container start (about 15 ms more here), and because the compat
// ABIs are attack surface few images need. A profile whose images run 32-bit
// binaries names an OCI seccomp file that lists those architectures.
//
// # Rule semantics
//
// The package interprets a filter the way runc and libseccomp execute it: a
// rule whose action equals the default action is skipped; an unconditional
// rule for a syscall overrides every conditional rule for it; conditional
// rules with different actions whose conditions overlap are resolved by
// libseccomp's tree layout, not by strictness. Tighten therefore never mixes
// allowing and denying rules for one syscall where libseccomp could let the
// allowing one win. SCMP_ACT_LOG counts as allowing; SCMP_ACT_TRACE and
// SCMP_ACT_NOTIFY hand the decision to a tracer or a listener, so they count
// as allowing wherever a result must not allow more than an input.
package seccomp
