package analysis

import (
	"debug/elf"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// A program that calls a_used in liba, which needs libb; libd is loaded by
// no one (as if dlopen'ed). Each function makes one distinctive libc call,
// so that the reachable imports say which code was followed.
const (
	libbSource = `
#include <unistd.h>
int b_used(int fd) { return fsync(fd); }
int b_unused(int fd) { return ftruncate(fd, 0); }
`
	libaSource = `
#include <stdlib.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/sendfile.h>
int b_used(int);
__attribute__((noinline)) static int by_table(int fd) { return flock(fd, LOCK_EX); }
__attribute__((noinline)) static void at_exit(void) { sync(); }
int (*const table[])(int) = { by_table };
__attribute__((constructor)) static void init(void) { (void)getppid(); }
int a_used(int fd) { atexit(at_exit); return b_used(fd); }
int a_unused(int fd) { return (int)sendfile(fd, fd, 0, 1); }
`
	libdSource = `
#include <unistd.h>
int d_fn(int fd) { return fchown(fd, 0, 0); }
`
	progSource = `
int a_used(int);
int main(void) { return a_used(1); }
`
)

// TestReachableFollowsCalls builds the libraries with the C compiler and
// checks what Reachable keeps of each one's imports.
func TestReachableFollowsCalls(t *testing.T) {
	dir := t.TempDir()
	for name, src := range map[string]string{"b.c": libbSource, "a.c": libaSource, "d.c": libdSource, "main.c": progSource} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	build(t, dir, nil, "cc", "-O2", "-fPIC", "-shared", "-Wl,-soname,libb.so", "-o", "libb.so", "b.c")
	build(t, dir, nil, "cc", "-O2", "-fPIC", "-shared", "-Wl,-soname,liba.so", "-o", "liba.so", "a.c", "-L.", "-lb")
	build(t, dir, nil, "cc", "-O2", "-fPIC", "-shared", "-Wl,-soname,libd.so", "-o", "libd.so", "d.c")
	build(t, dir, nil, "cc", "-O2", "-pie", "-fPIE", "-o", "prog", "main.c", "-L.", "-la", "-lb")

	files := []string{"prog", "liba.so", "libb.so", "libd.so"}
	objs := inspectGraphed(t, dir, files)
	if !objs[0].Graph.Program || objs[1].Graph.Program {
		t.Fatalf("Program: prog %v, liba.so %v; want true, false", objs[0].Graph.Program, objs[1].Graph.Program)
	}
	imports, narrowed := Reachable(objs)
	if narrowed[0] || !slices.Equal(imports[0], objs[0].Imports) {
		t.Errorf("prog: narrowed %v to %v; a program keeps all its imports", narrowed[0], imports[0])
	}
	checkReach(t, files, imports, []reachCase{
		{2, "fsync", true, "prog -> a_used -> b_used"},
		{2, "ftruncate", false, "b_unused: nothing calls it"},
		{1, "sendfile", false, "a_unused: nothing calls it"},
		{1, "flock", true, "by_table: its address is in data"},
		{1, "sync", true, "at_exit: a_used takes its address"},
		{1, "getppid", true, "init: a constructor"},
		{3, "fchown", true, "libd.so: needed by no one, so dlopen'ed: all its exports"},
	})
	for i := 1; i < len(files); i++ {
		if !narrowed[i] {
			t.Errorf("%s: not narrowed", files[i])
		}
	}

	// A library whose .eh_frame does not parse keeps all its imports, and
	// its note says so.
	b, err := os.ReadFile(filepath.Join(dir, "libd.so"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.Open(filepath.Join(dir, "libd.so"))
	if err != nil {
		t.Fatal(err)
	}
	eh := f.Section(".eh_frame")
	f.Close()
	if eh == nil {
		t.Fatal("libd.so: no .eh_frame")
	}
	copy(b[eh.Offset:], []byte{0xf0, 0xff, 0xff, 0x0f}) // first record overruns
	bad := filepath.Join(dir, "libbad.so")
	if err := os.WriteFile(bad, b, 0o644); err != nil {
		t.Fatal(err)
	}
	info := inspectFile(t, bad)
	if info.Graph != nil || !GraphFailed(info.Note) || len(info.Imports) == 0 {
		t.Errorf("corrupt .eh_frame: graph %v, note %q, imports %v; want no graph, a note, the imports", info.Graph != nil, info.Note, info.Imports)
	}
}

// inspectGraphed inspects the files of dir, each of which must have
// imports and a call graph.
func inspectGraphed(t *testing.T, dir string, files []string) []Mapped {
	t.Helper()
	var objs []Mapped
	for _, name := range files {
		info := inspectFile(t, filepath.Join(dir, name))
		if info.Kind != KindImports || info.Graph == nil {
			t.Fatalf("%s: kind %s, graph %v, note %q: want imports and a call graph", name, info.Kind, info.Graph != nil, info.Note)
		}
		objs = append(objs, Mapped{Kind: info.Kind, Imports: info.Imports, Graph: info.Graph})
	}
	return objs
}

// reachCase says whether object obj's import of fn must be reachable,
// and why.
type reachCase struct {
	obj  int
	fn   string
	want bool
	why  string
}

// checkReach checks what Reachable kept of the imports of files against
// cases.
func checkReach(t *testing.T, files []string, imports [][]string, cases []reachCase) {
	t.Helper()
	for _, c := range cases {
		got := slices.ContainsFunc(imports[c.obj], func(im string) bool { return strings.Split(im, "@")[0] == c.fn })
		if got != c.want {
			t.Errorf("%s: %s reachable = %v, want %v (%s); reachable: %v", files[c.obj], c.fn, got, c.want, c.why, imports[c.obj])
		}
	}
}

// TestReachableWithoutGraph: an object without a call graph keeps all its
// imports, and they are roots.
func TestReachableWithoutGraph(t *testing.T) {
	objs := []Mapped{
		{Kind: KindImports, Imports: []string{"fsync@GLIBC_2.2.5", "x_fn"}},
		{Kind: KindLibc},
	}
	imports, narrowed := Reachable(objs)
	if narrowed[0] || !slices.Equal(imports[0], objs[0].Imports) || len(imports[1]) != 0 {
		t.Errorf("got %v %v, want the imports unchanged", imports, narrowed)
	}
}

// TestParseEHFrameMalformed: truncated or inconsistent records are errors,
// not panics or wrong bounds.
func TestParseEHFrameMalformed(t *testing.T) {
	for name, d := range map[string][]byte{
		"overrun":      {0x10, 0, 0, 0, 0, 0, 0, 0},
		"no CIE":       {0x0c, 0, 0, 0, 0x08, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8},
		"short length": {0x02, 0, 0, 0, 0, 0},
	} {
		if _, err := parseEHFrame(d, 0x1000); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// TestReachableDebianRedis analyses redis-server and the libraries it
// links in the cached Debian rootfs: libsystemd pulls in libgcrypt,
// libcap and compression libraries, of which redis's one call
// (sd_notify) reaches little. The narrowed imports must make fewer
// syscalls than all imports.
func TestReachableDebianRedis(t *testing.T) {
	prog := filepath.Join(debianRootfs, "usr/bin/redis-check-rdb")
	if _, err := os.Stat(prog); err != nil {
		t.Skipf("no Debian rootfs with redis at %s (integration/rootfs/debian.sh builds it): %v", debianRootfs, err)
	}
	files := []string{prog}
	seen := map[string]bool{}
	for i := 0; i < len(files); i++ {
		f, err := elf.Open(files[i])
		if err != nil {
			t.Fatal(err)
		}
		needed, _ := f.DynString(elf.DT_NEEDED)
		f.Close()
		for _, n := range needed {
			if !seen[n] && !strings.HasPrefix(n, "ld-linux") {
				seen[n] = true
				files = append(files, filepath.Join(debianRootfs, "usr/lib/x86_64-linux-gnu", n))
			}
		}
	}
	var objs []Mapped
	for _, p := range files {
		info := inspectFile(t, p)
		if info.Kind == KindImports && info.Graph == nil {
			t.Errorf("%s: no call graph: %s", p, info.Note)
		}
		objs = append(objs, Mapped{Kind: info.Kind, Imports: info.Imports, Graph: info.Graph})
	}
	imports, _ := Reachable(objs)
	all, kept := map[string]bool{}, map[string]bool{}
	for i, o := range objs {
		for _, h := range Reach("SCMP_ARCH_X86_64", o.Kind, o.Imports, nil) {
			all[h.Syscall] = true
		}
		for _, h := range Reach("SCMP_ARCH_X86_64", o.Kind, imports[i], nil) {
			kept[h.Syscall] = true
		}
		if strings.Contains(files[i], "libsystemd") && len(imports[i]) >= len(o.Imports) {
			t.Errorf("libsystemd: %d of %d imports reachable; want fewer", len(imports[i]), len(o.Imports))
		}
	}
	t.Logf("redis and %d libraries: %d syscalls from all imports, %d from the reachable ones", len(files)-1, len(all), len(kept))
	if len(kept) >= len(all) {
		t.Errorf("the call graph removed no syscall")
	}
	for s := range kept {
		if !all[s] {
			t.Errorf("%s: reachable but in no import", s)
		}
	}
}
