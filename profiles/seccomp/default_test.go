package seccomp

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runcage/runcage/profiles"
)

// forbidden are the syscalls runtime/default must not allow for any
// arguments. personality, clone and clone3 are checked separately.
var forbidden = []string{
	"_sysctl", "acct", "add_key", "adjtimex", "bpf", "chroot", "clock_adjtime",
	"clock_adjtime64", "clock_settime", "clock_settime64", "create_module",
	"delete_module", "finit_module", "fsconfig", "fsmount", "fsopen", "fspick",
	"get_kernel_syms", "init_module", "io_uring_enter", "io_uring_register",
	"io_uring_setup", "ioperm", "iopl", "kexec_file_load", "kexec_load",
	"keyctl", "lookup_dcookie", "modify_ldt", "mount", "mount_setattr",
	"move_mount", "name_to_handle_at", "nfsservctl", "open_by_handle_at",
	"open_tree", "perf_event_open", "pivot_root", "process_vm_readv",
	"process_vm_writev", "ptrace", "query_module", "quotactl", "quotactl_fd",
	"reboot", "request_key", "setns", "settimeofday", "stime", "swapoff",
	"swapon", "syslog", "sysfs", "umount", "umount2", "unshare", "uselib",
	"userfaultfd", "ustat", "vm86", "vm86old",
}

func TestDefaultForbidden(t *testing.T) {
	d := Default()
	ix := index(d)
	for _, n := range forbidden {
		t.Run(n, func(t *testing.T) {
			if v := ix.loose(n); v.kind != deny {
				t.Errorf("Default() may allow %q: %s %v", n, v.kind, v.rules)
			}
			if slices.Contains(AllowedSyscalls(d), n) {
				t.Errorf("AllowedSyscalls(Default()) lists %q", n)
			}
		})
	}
}

func TestDefaultConditional(t *testing.T) {
	v := view(t, Default())
	want := map[string][]string{
		"personality": {
			"SCMP_ACT_ALLOW[0 SCMP_CMP_EQ 0 0]",
			"SCMP_ACT_ALLOW[0 SCMP_CMP_EQ 131072 0]",
			"SCMP_ACT_ALLOW[0 SCMP_CMP_EQ 131080 0]",
			"SCMP_ACT_ALLOW[0 SCMP_CMP_EQ 4294967295 0]",
			"SCMP_ACT_ALLOW[0 SCMP_CMP_EQ 8 0]",
		},
		"clone":    {"SCMP_ACT_ALLOW[0 SCMP_CMP_MASKED_EQ 2114060288 0]"},
		"clone3":   {"SCMP_ACT_ERRNO(38)[]"},
		"openat2":  {"SCMP_ACT_ERRNO(38)[]"},
		"chmod":    {"SCMP_ACT_ALLOW[1 SCMP_CMP_MASKED_EQ 3072 0]"},
		"fchmod":   {"SCMP_ACT_ALLOW[1 SCMP_CMP_MASKED_EQ 3072 0]"},
		"creat":    {"SCMP_ACT_ALLOW[1 SCMP_CMP_MASKED_EQ 3072 0]"},
		"mknod":    {"SCMP_ACT_ALLOW[1 SCMP_CMP_MASKED_EQ 3072 0]"},
		"fchmodat": {"SCMP_ACT_ALLOW[2 SCMP_CMP_MASKED_EQ 3072 0]"},
		"mknodat":  {"SCMP_ACT_ALLOW[2 SCMP_CMP_MASKED_EQ 3072 0]"},
		"open":     {"SCMP_ACT_ALLOW[1 SCMP_CMP_MASKED_EQ 4194368 0]", "SCMP_ACT_ALLOW[2 SCMP_CMP_MASKED_EQ 3072 0]"},
		"openat":   {"SCMP_ACT_ALLOW[2 SCMP_CMP_MASKED_EQ 4194368 0]", "SCMP_ACT_ALLOW[3 SCMP_CMP_MASKED_EQ 3072 0]"},
	}
	// socket and socketpair: see TestDefaultSocketFamilies.
	want["socket"], want["socketpair"] = v["socket"], v["socketpair"]
	for n, w := range want {
		if !slices.Equal(v[n], w) {
			t.Errorf("%s: rules %q, want %q", n, v[n], w)
		}
	}
	// No other rule has conditions or a non-allow action.
	for n, keys := range v {
		if _, ok := want[n]; ok || n == "<default>" {
			continue
		}
		if !slices.Equal(keys, []string{"SCMP_ACT_ALLOW[]"}) {
			t.Errorf("%s: rules %q, want an unconditional allow", n, keys)
		}
	}
	if got := v["<default>"]; !slices.Equal(got, []string{"SCMP_ACT_ERRNO(1)"}) {
		t.Errorf("default action %q, want SCMP_ACT_ERRNO(1)", got)
	}
	wantArch := []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32, specs.ArchAARCH64, specs.ArchARM}
	if got := defaultFilter().Architectures; !slices.Equal(got, wantArch) {
		t.Errorf("default.json architectures %v, want %v", got, wantArch)
	}
	if native := NativeArches(); native != nil {
		if got := Default().Architectures; !slices.Equal(got, native) {
			t.Errorf("Default() architectures %v, want this host's family %v", got, native)
		}
	}
}

// TestDefaultKeeps checks the syscalls runc calls after it loads the filter
// and those ordinary servers (redis, nginx on Debian) need.
func TestDefaultKeeps(t *testing.T) {
	need := []string{
		// runc >= 1.2 after the filter is loaded, and the Go runtime
		"close", "close_range", "execve", "execveat", "exit_group", "fcntl",
		"fstat", "futex", "getdents64", "getpid", "getppid", "gettid",
		"madvise", "mmap", "munmap", "nanosleep", "newfstatat", "openat",
		"prctl", "read", "readlinkat", "rt_sigaction",
		"rt_sigprocmask", "rt_sigreturn", "sched_yield", "sigaltstack",
		"statx", "tgkill", "write", "arch_prctl", "set_tid_address",
		"set_robust_list", "rseq", "prlimit64", "getrandom",
		// servers
		"accept4", "bind", "connect", "epoll_create1", "epoll_ctl",
		"epoll_pwait", "epoll_wait", "eventfd2", "faccessat2", "fsync",
		"getsockopt", "listen", "memfd_create", "pidfd_open",
		"pidfd_send_signal", "pipe2", "pread64", "pwrite64", "recvfrom",
		"recvmsg", "sendfile", "sendmsg", "sendto", "setgid", "setgroups",
		"setsockopt", "setuid", "shutdown", "timerfd_create",
		"uname", "wait4", "writev", "io_setup", "io_submit", "getcwd",
		"clock_gettime", "clock_nanosleep", "sysinfo", "umask", "chown",
		"fchown", "unlink", "rename", "ftruncate", "fdatasync",
		// conditionally
		"clone", "socket", "socketpair", "personality", "chmod", "fchmod",
		"fchmodat", "open", "openat", "creat", "mknod", "mknodat",
	}
	allowed := AllowedSyscalls(Default())
	for _, n := range need {
		if !slices.Contains(allowed, n) {
			t.Errorf("Default() denies %q", n)
		}
	}
}

func TestDefaultSubsetOfDocker(t *testing.T) {
	docker := dockerDefault(t)
	d := Default()
	dix, kix := index(d), index(docker)
	for _, n := range dix.names() {
		mine := dix.loose(n)
		if mine.kind == deny {
			continue
		}
		theirs := kix.strict(n)
		if !covered(theirs, mine) {
			t.Errorf("Default() allows %q (%s %v) beyond Docker's default without capabilities (%s %v)",
				n, mine.kind, mine.rules, theirs.kind, theirs.rules)
		}
	}
	if err := Covers(docker, d); err != nil {
		t.Errorf("Covers(docker, Default()) = %v", err)
	}

	// Strictly tighter: Docker allows these without any capability.
	stricter := []string{
		"io_uring_setup", "io_uring_enter", "io_uring_register",
		"name_to_handle_at", "adjtimex", "clock_adjtime", "ptrace",
		"process_vm_readv", "process_vm_writev", "modify_ldt",
	}
	dockerAllowed := AllowedSyscalls(docker)
	for _, n := range stricter {
		if !slices.Contains(dockerAllowed, n) {
			t.Errorf("Docker's default does not allow %q; update the test", n)
		}
		if slices.Contains(AllowedSyscalls(d), n) {
			t.Errorf("Default() allows %q", n)
		}
	}
	err := Covers(d, docker)
	if !errors.Is(err, profiles.ErrRefused) {
		t.Fatalf("Covers(Default(), docker) = %v, want a refusal", err)
	}
	for _, n := range []string{"adjtimex", "clock_adjtime"} {
		if !strings.Contains(err.Error(), `"`+n+`"`) {
			t.Errorf("Covers error %q does not name %q", err, n)
		}
	}
	t.Logf("Default() allows %d syscalls; Docker's default without capabilities on x86 and arm allows %d",
		len(AllowedSyscalls(d)), len(dockerAllowed))
}

func TestDefaultIsFreshCopy(t *testing.T) {
	a := Default()
	want := Default()
	a.DefaultAction = specs.ActAllow
	*a.DefaultErrnoRet = 99
	a.Architectures[0] = specs.ArchMIPS
	a.Syscalls[0].Names[0] = "mutated"
	for i := range a.Syscalls {
		if a.Syscalls[i].ErrnoRet != nil {
			*a.Syscalls[i].ErrnoRet = 99
		}
		for j := range a.Syscalls[i].Args {
			a.Syscalls[i].Args[j].Value = 99
		}
	}
	if got := Default(); !reflect.DeepEqual(got, want) {
		t.Error("mutating one Default() changed the next")
	}
}

func TestDefaultJSONIsCanonical(t *testing.T) {
	// default.json parses strictly, and every rule in it is one runc keeps.
	d, err := Parse(defaultJSON)
	if err != nil {
		t.Fatal(err)
	}
	ix := index(d)
	n := 0
	for _, s := range d.Syscalls {
		n += len(s.Names)
	}
	total := 0
	for _, rules := range ix.byName {
		total += len(rules)
	}
	if total != n {
		t.Errorf("default.json has %d name rules, %d after runc's skipping and deduplication", n, total)
	}
}

// evalRules returns what the rules of one syscall do with args, as
// libseccomp would: the action of the matching rule, or the default. It
// fails the test if rules with different actions match (libseccomp would
// then decide by its tree layout).
func evalRules(t *testing.T, f *specs.LinuxSeccomp, name string, args [6]uint64) string {
	t.Helper()
	ix := index(f)
	var got []string
	for _, r := range ix.byName[name] {
		if repeatsIndex(r.args) {
			t.Fatalf("%s: rule %s repeats an argument", name, r.key())
		}
		match := true
		for _, c := range r.args {
			match = match && holds(c, args[c.Index])
		}
		if match {
			got = append(got, r.actionKey())
		}
	}
	slices.Sort(got)
	got = slices.Compact(got)
	switch len(got) {
	case 0:
		return ix.defRule.actionKey()
	case 1:
		return got[0]
	}
	t.Fatalf("%s%v: rules with different actions match: %v", name, args, got)
	return ""
}

func TestDefaultSocketFamilies(t *testing.T) {
	const (
		allowed  = "SCMP_ACT_ALLOW"
		noFamily = "SCMP_ACT_ERRNO(97)" // EAFNOSUPPORT
		noProto  = "SCMP_ACT_ERRNO(93)" // EPROTONOSUPPORT
		eperm    = "SCMP_ACT_ERRNO(1)"  // the default action
	)
	d := Default()
	for _, name := range []string{"socket", "socketpair"} {
		for fam := uint64(0); fam < 46; fam++ {
			want := noFamily
			switch fam {
			case 1, 2, 10: // AF_UNIX, AF_INET, AF_INET6
				want = allowed
			case 16: // AF_NETLINK: by protocol, below
				continue
			}
			if got := evalRules(t, d, name, [6]uint64{fam, 1, 0}); got != want {
				t.Errorf("%s(%d, ...): %s, want %s", name, fam, got, want)
			}
		}
		for proto := uint64(0); proto < 40; proto++ {
			want := noProto
			switch {
			case proto == 0 || proto == 4 || proto == 15: // ROUTE, SOCK_DIAG, KOBJECT_UEVENT
				want = allowed
			case proto >= 32:
				want = eperm
			}
			if got := evalRules(t, d, name, [6]uint64{16, 3, proto}); got != want {
				t.Errorf("%s(AF_NETLINK, SOCK_RAW, %d): %s, want %s", name, proto, got, want)
			}
		}
		// Bits above the int the kernel reads never match an allowing rule.
		for _, fam := range []uint64{1<<32 | 38, 1<<32 | 1, 1 << 63} {
			if got := evalRules(t, d, name, [6]uint64{fam}); got == allowed {
				t.Errorf("%s(%#x): allowed", name, fam)
			}
		}
	}
}

func TestDefaultSetIDModes(t *testing.T) {
	const (
		oCreat   = 0o100
		oTmpfile = 0o20000000 | 0o200000
		allowed  = "SCMP_ACT_ALLOW"
		eperm    = "SCMP_ACT_ERRNO(1)"
	)
	d := Default()
	for _, tc := range []struct {
		name string
		args [6]uint64
		want string
	}{
		{"chmod", [6]uint64{0, 0o755}, allowed},
		{"chmod", [6]uint64{0, 0o1777}, allowed},
		{"chmod", [6]uint64{0, 0o4755}, eperm},
		{"chmod", [6]uint64{0, 0o2755}, eperm},
		{"fchmod", [6]uint64{3, 0o6755}, eperm},
		{"fchmod", [6]uint64{3, 0o644}, allowed},
		{"fchmodat", [6]uint64{3, 0, 0o4755}, eperm},
		{"fchmodat", [6]uint64{3, 0, 0o755}, allowed},
		{"creat", [6]uint64{0, 0o4755}, eperm},
		{"creat", [6]uint64{0, 0o644}, allowed},
		{"mknod", [6]uint64{0, 0o10000 | 0o4644}, eperm},
		{"mknodat", [6]uint64{3, 0, 0o100000 | 0o2644}, eperm},
		{"mknodat", [6]uint64{3, 0, 0o100000 | 0o644}, allowed},
		// open: the mode counts only with O_CREAT or O_TMPFILE.
		{"open", [6]uint64{0, 0, 0o4755}, allowed},
		{"open", [6]uint64{0, oCreat, 0o4755}, eperm},
		{"open", [6]uint64{0, oCreat, 0o644}, allowed},
		{"open", [6]uint64{0, oTmpfile, 0o2755}, eperm},
		{"openat", [6]uint64{3, 0, 0, 0o6777}, allowed},
		{"openat", [6]uint64{3, 0, oCreat | 1, 0o4755}, eperm},
		{"openat", [6]uint64{3, 0, oTmpfile, 0o4700}, eperm},
		{"openat", [6]uint64{3, 0, oCreat, 0o1777}, allowed},
		{"openat2", [6]uint64{3, 0, 0, 24}, "SCMP_ACT_ERRNO(38)"},
	} {
		if got := evalRules(t, d, tc.name, tc.args); got != tc.want {
			t.Errorf("%s%o: %s, want %s", tc.name, tc.args, got, tc.want)
		}
	}
}
