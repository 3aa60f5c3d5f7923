package analysis

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// debianRootfs is the rootfs integration/rootfs/debian.sh caches.
const debianRootfs = "/var/tmp/runcage-debian/rootfs"

// reached returns the syscalls Reach finds in info, and the functions
// that reach each.
func reached(info *Info) map[string][]string {
	out := map[string][]string{}
	for _, h := range Reach("SCMP_ARCH_X86_64", info.Kind, info.Imports, info.Functions) {
		out[h.Syscall] = append(out[h.Syscall], h.Function)
	}
	return out
}

func inspectFile(t *testing.T, path string) *Info {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	info, err := Inspect(f)
	if err != nil {
		t.Fatalf("inspect %s: %v", path, err)
	}
	return info
}

// build runs a build command in dir and skips the test if the tool is
// missing.
func build(t *testing.T, dir string, env []string, name string, args ...string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Skipf("%s not installed: cannot build the test program", name)
	}
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}

const goProgram = `package main

import (
	"os"
	"syscall"
)

func main() {
	f, _ := os.CreateTemp("", "x")
	syscall.Ftruncate(int(f.Fd()), 10)
	syscall.Sendfile(1, int(f.Fd()), nil, 1)
	syscall.Fsync(int(f.Fd()))
}
`

const cProgram = `#include <sys/sendfile.h>
#include <fcntl.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
int main(int argc, char **argv) {
	int fd = open(argv[0], O_RDONLY);
	char *p = malloc(argc * 4096);
	p[0] = (char)argc;
	p = realloc(p, argc * 65536);
	fd += p[0] - argc;
	free(p);
	struct timespec ts = {0, 1};
	nanosleep(&ts, NULL);
	return sendfile(1, fd, NULL, 1) < 0;
}
`

// TestInspectReal inspects real ELF files: Go and C programs built here,
// busybox, and redis-server with its libraries from the Debian rootfs.
func TestInspectReal(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{}
	t.Run("build", func(t *testing.T) {
		if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(goProgram), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module tiny\n\ngo 1.22\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		env := []string{"CGO_ENABLED=0", "GOFLAGS=-mod=mod", "GOWORK=off"}
		build(t, dir, env, "go", "build", "-o", "gostatic", ".")
		build(t, dir, env, "go", "build", "-ldflags=-s -w", "-o", "gostripped", ".")
		files["gostatic"], files["gostripped"] = filepath.Join(dir, "gostatic"), filepath.Join(dir, "gostripped")
		if err := os.WriteFile(filepath.Join(dir, "sf.c"), []byte(cProgram), 0o644); err != nil {
			t.Fatal(err)
		}
		build(t, dir, nil, "gcc", "-O2", "-o", "cdyn", "sf.c")
		files["cdyn"] = filepath.Join(dir, "cdyn")
		// A static glibc program needs libc.a (libc6-dev); without it
		// the case is skipped below.
		cmd := exec.Command("gcc", "-O2", "-static", "-o", "cstatic", "sf.c")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err == nil {
			files["cstatic"] = filepath.Join(dir, "cstatic")
		} else {
			t.Logf("no static C program (%v): %s", err, out)
		}
	})

	cases := []struct {
		name, file string
		kind       Kind
		want       []string // syscalls Reach must find
		via        map[string]string
		notWant    []string
		noteHas    string
	}{
		{name: "static Go", file: "gostatic", kind: KindGo,
			want: []string{"ftruncate", "sendfile", "fsync", "futex", "openat", "clone"},
			via:  map[string]string{"sendfile": "syscall.sendfile", "ftruncate": "syscall.Ftruncate"}},
		{name: "stripped Go", file: "gostripped", kind: KindGo,
			want: []string{"ftruncate", "sendfile", "fsync", "futex"}, noteHas: "pclntab"},
		{name: "dynamic C", file: "cdyn", kind: KindImports,
			want:    []string{"sendfile", "openat", "brk", "mmap", "munmap", "mremap", "madvise", "clock_nanosleep"},
			via:     map[string]string{"sendfile": "sendfile", "mremap": "free"},
			notWant: []string{"socket", "ftruncate", "execve"}},
		{name: "static C with symbols", file: "cstatic", kind: KindSymbols,
			want: []string{"sendfile", "openat", "clock_nanosleep"}},
		{name: "busybox (static, stripped)", file: "/bin/busybox", kind: KindNone, noteHas: "cannot be seen"},
		{name: "redis-server", file: debianRootfs + "/usr/bin/redis-server", kind: KindImports,
			want: []string{"sync_file_range", "ftruncate", "fdatasync", "accept4", "epoll_wait", "getrusage", "clock_nanosleep", "mremap", "clone3"},
			via:  map[string]string{"sync_file_range": "sync_file_range"}},
		{name: "nginx", file: debianRootfs + "/usr/sbin/nginx", kind: KindImports,
			want: []string{"sendfile", "pwrite64", "accept4", "epoll_wait", "setsockopt"},
			via:  map[string]string{"sendfile": "sendfile64"}},
		{name: "glibc", file: debianRootfs + "/usr/lib/x86_64-linux-gnu/libc.so.6", kind: KindLibc},
		{name: "libcrypto", file: debianRootfs + "/usr/lib/x86_64-linux-gnu/libcrypto.so.3", kind: KindImports,
			want: []string{"getrandom", "openat"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := c.file
			if p, ok := files[c.file]; ok {
				path = p
			} else if !strings.HasPrefix(path, "/") {
				t.Skipf("%s was not built (see the build subtest)", c.file)
			}
			if _, err := os.Stat(path); err != nil {
				t.Skipf("%s: %v (the Debian rootfs is built by integration/rootfs/debian.sh)", path, err)
			}
			info := inspectFile(t, path)
			if info.Kind != c.kind {
				t.Fatalf("kind %q, want %q (note %q)", info.Kind, c.kind, info.Note)
			}
			got := reached(info)
			for _, s := range c.want {
				if _, ok := got[s]; !ok {
					t.Errorf("%s not reached; reached %v", s, slices.Sorted(func(yield func(string) bool) {
						for k := range got {
							if !yield(k) {
								return
							}
						}
					}))
				}
			}
			for s, fn := range c.via {
				if !slices.Contains(got[s], fn) {
					t.Errorf("%s reached through %v, want through %s", s, got[s], fn)
				}
			}
			for _, s := range c.notWant {
				if _, ok := got[s]; ok {
					t.Errorf("%s reached through %v; the program does not call it", s, got[s])
				}
			}
			if c.kind == KindLibc && len(got) != 0 {
				t.Errorf("libc itself reaches %d syscalls, want none (only imports count)", len(got))
			}
			if !strings.Contains(info.Note, c.noteHas) {
				t.Errorf("note %q, want it to mention %q", info.Note, c.noteHas)
			}
		})
	}
}

// TestInspectHostile feeds Inspect what is not a good ELF file: it must
// return a kind or an error, never panic.
func TestInspectHostile(t *testing.T) {
	self, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Skip("no /bin/busybox to truncate")
	}
	for name, data := range map[string][]byte{
		"empty":       nil,
		"text":        []byte("#!/bin/sh\necho hi\n"),
		"magic only":  []byte("\x7fELF"),
		"truncated":   self[:4096],
		"header only": self[:64],
	} {
		t.Run(name, func(t *testing.T) {
			info, err := Inspect(bytes.NewReader(data))
			if err == nil && info == nil {
				t.Fatal("no info and no error")
			}
			if err == nil && len(Reach("", info.Kind, info.Imports, info.Functions)) != 0 {
				t.Errorf("garbage reaches syscalls: %+v", info)
			}
		})
	}
}

func TestLibcSyscalls(t *testing.T) {
	const x86, arm = "SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64"
	for _, c := range []struct {
		fn, arch string
		want     []string
		ok       bool
	}{
		{"sendfile64@GLIBC_2.3", x86, []string{"sendfile"}, true},
		{"__read_chk@GLIBC_2.4", x86, []string{"read"}, true},
		{"__open64_2@GLIBC_2.7", x86, []string{"openat"}, true},
		{"__open64_2", x86, []string{"open", "openat"}, true}, // musl: SYS_open
		{"open", arm, []string{"openat"}, true},
		{"dup2@GLIBC_2.2.5", x86, []string{"dup2"}, true},
		{"dup2@GLIBC_2.17", arm, []string{"dup3"}, true},
		{"dup2", "", []string{"dup2", "dup3"}, true},
		{"usleep@GLIBC_2.2.5", x86, []string{"clock_nanosleep"}, true},
		{"nanosleep", x86, []string{"clock_nanosleep", "nanosleep"}, true},
		{"getrlimit@GLIBC_2.2.5", x86, []string{"prlimit64"}, true},
		// Checked with strace -f and objdump of Debian 12's glibc 2.36:
		// select is pselect6 (0x10e), pause is pause (0x22), mlock is
		// mlock (0x95) and only mlock2 falls back to mlock.
		{"select@GLIBC_2.2.5", x86, []string{"pselect6"}, true},
		{"select", x86, []string{"pselect6", "select"}, true}, // musl: SYS_select
		{"select@GLIBC_2.17", arm, []string{"pselect6"}, true},
		{"pause@GLIBC_2.2.5", x86, []string{"pause"}, true},
		{"pause@GLIBC_2.17", arm, []string{"rt_sigsuspend"}, true},
		{"mlock@GLIBC_2.2.5", x86, []string{"mlock"}, true},
		{"mlock2@GLIBC_2.27", x86, []string{"mlock", "mlock2"}, true},
		{"mkstemp64@GLIBC_2.2.5", x86, []string{"clock_gettime", "getrandom", "openat"}, true},
		{"mkdtemp@GLIBC_2.2.5", x86, []string{"clock_gettime", "getrandom", "mkdir"}, true},
		{"pthread_kill@GLIBC_2.34", x86, []string{"getpid", "gettid", "rt_sigprocmask", "tgkill"}, true},
		{"pthread_kill", x86, []string{"getpid", "gettid", "rt_sigprocmask", "tgkill", "tkill"}, true},
		// One syscall each (glibc's wrappers; libaio 0.3.113 calls
		// syscall() with the function's own number).
		{"fgetxattr@GLIBC_2.3", x86, []string{"fgetxattr"}, true},
		{"lsetxattr@GLIBC_2.3", x86, []string{"lsetxattr"}, true},
		{"io_submit@LIBAIO_0.1", x86, []string{"io_submit"}, true},
		{"fopen64@GLIBC_2.2.5", x86, nil, true},
		{"strlen@GLIBC_2.2.5", x86, nil, false},
		{"syscall@GLIBC_2.2.5", x86, nil, false},
	} {
		got, ok := LibcSyscalls(c.fn, c.arch)
		if ok != c.ok || c.want != nil && !slices.Equal(got, c.want) {
			t.Errorf("LibcSyscalls(%q, %q) = %v, %v; want %v, %v", c.fn, c.arch, got, ok, c.want, c.ok)
		}
	}
	got, _ := LibcSyscalls("fopen@GLIBC_2.2.5", x86)
	for _, n := range []string{"openat", "mmap", "newfstatat", "brk"} {
		if !slices.Contains(got, n) {
			t.Errorf("fopen reaches %v: want %s (directly, through stdio or malloc)", got, n)
		}
	}
	if slices.Contains(got, "open") || slices.Contains(got, "fcntl") {
		t.Errorf("glibc's fopen reaches %v: open and fcntl are musl's", got)
	}
	for _, c := range []struct {
		fn        string
		has, lack []string
	}{
		// glob and scandir never change directory; GLOB_TILDE asks
		// nscd, then the passwd file.
		{"glob64@GLIBC_2.27", []string{"getdents64", "socket", "connect"}, []string{"fchdir"}},
		{"scandir64@GLIBC_2.2.5", []string{"getdents64", "newfstatat"}, []string{"fchdir"}},
		{"fts_read@GLIBC_2.2.5", []string{"fchdir"}, nil},
		// AT_SYMLINK_NOFOLLOW chmods /proc/self/fd/N.
		{"fchmodat@GLIBC_2.4", []string{"chmod", "fchmodat"}, nil},
		// Only pthread_sigqueue queues a signal with data.
		{"pthread_cancel@GLIBC_2.34", []string{"tgkill", "rt_sigaction", "futex", "exit", "openat"}, []string{"rt_tgsigqueueinfo"}},
		{"pthread_sigqueue@GLIBC_2.34", []string{"rt_tgsigqueueinfo"}, nil},
	} {
		got, _ := LibcSyscalls(c.fn, x86)
		for _, n := range c.has {
			if !slices.Contains(got, n) {
				t.Errorf("%s reaches %v: want %s", c.fn, got, n)
			}
		}
		for _, n := range c.lack {
			if slices.Contains(got, n) {
				t.Errorf("%s reaches %v: glibc's never makes %s", c.fn, got, n)
			}
		}
	}
}

func TestGoSyscalls(t *testing.T) {
	for _, c := range []struct {
		sym  string
		want []string
	}{
		{"syscall.sendfile", []string{"sendfile"}},
		{"syscall.Ftruncate", []string{"ftruncate"}},
		{"golang.org/x/sys/unix.SyncFileRange", []string{"sync_file_range"}},
		{"github.com/x/y/vendor/golang.org/x/sys/unix.EpollCreate1", []string{"epoll_create1"}},
		{"golang.org/x/sys/unix.Stat", []string{"newfstatat"}},
		{"runtime.futex.abi0", []string{"futex"}},
		{"internal/runtime/syscall/linux.EpollWait", []string{"epoll_pwait", "epoll_wait"}},
		{"syscall.Syscall6", nil},
		{"syscall.(*Errno).Error", nil},
		{"runtime.mallocgc", nil},
		{"main.Sendfile", nil},
		{"syscall.ByteSliceFromString", nil},
	} {
		got, _ := GoSyscalls(c.sym)
		if !slices.Equal(got, c.want) {
			t.Errorf("GoSyscalls(%q) = %v, want %v", c.sym, got, c.want)
		}
	}
}

func TestParseLibcTableErrors(t *testing.T) {
	for name, text := range map[string]string{
		"no colon":      "read read\n",
		"twice":         "read: read\nread: pread64\n",
		"unknown entry": "fopen: openat @stdio\n",
		"cycle":         "a: @b\nb: @a\n",
		"bad call":      "a: |b\n",
	} {
		if _, err := parseLibcTable(text); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	tab, err := parseLibcTable("# c\nmalloc: mmap brk\nstrdup x: @malloc musl:open|openat\nfoo:\n")
	if err != nil {
		t.Fatal(err)
	}
	want := []libcCall{{name: "brk"}, {name: "mmap"}, {name: "open", alt: "openat", musl: true}}
	if !slices.Equal(tab["x"], want) || tab["foo"] == nil || len(tab["foo"]) != 0 {
		t.Errorf("table %+v", tab)
	}
}
