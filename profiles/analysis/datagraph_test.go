package analysis

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// libdata: function pointers reached through data. Every object starts
// with a pointer to itself, so that each starts a data block, and ends
// with padding longer than dataSlack, so that a reference to one does not
// reach the next through the slack: what is kept or dropped then depends
// on the rule under test, not on how the compiler laid the objects out.
const (
	libdataSource = `
#define _GNU_SOURCE
#include <unistd.h>
#include <sys/stat.h>
#include <sys/file.h>
#define PAD char pad[512]
#define LAUNDER(p) __asm__("" : "+r"(p))
struct ops { const struct ops *self; int (*fn)(int); PAD; };
struct tab { const struct tab *self; const struct ops *ops; PAD; };
struct big { const struct big *self; char head[200]; int (*fn)(int); PAD; };

__attribute__((noinline)) static int cb_kept(int fd) { return fdatasync(fd); }
__attribute__((noinline)) static int cb_dropped(int fd) { return syncfs(fd); }
__attribute__((noinline)) static int cb_chain(int fd) { return fchmod(fd, 0600); }
__attribute__((noinline)) static int cb_interior(int fd) { return flock(fd, LOCK_EX); }
__attribute__((noinline)) static int cb_exported(int fd) { return fchdir(fd); }
__attribute__((noinline)) static int cb_before(int fd) { return dup(fd); }
__attribute__((noinline)) static void ctor(void) { (void)getpgid(0); }

static const struct ops kept_ops = { &kept_ops, cb_kept };
static const struct ops dropped_ops = { &dropped_ops, cb_dropped };
static const struct ops chain_ops = { &chain_ops, cb_chain };
static const struct tab chain_tab = { &chain_tab, &chain_ops };
static const struct big interior = { &interior, "", cb_interior };
static const struct ops before_ops = { &before_ops, cb_before };
const struct ops exported_ops = { &exported_ops, cb_exported };
static void (*const init[])(void) __attribute__((section(".init_array"), used)) = { ctor };

int use_kept(int fd) { const struct ops *p = &kept_ops; LAUNDER(p); return p->fn(fd); }
int use_dropped(int fd) { const struct ops *p = &dropped_ops; LAUNDER(p); return p->fn(fd); }
int use_chain(int fd) { const struct tab *t = &chain_tab; LAUNDER(t); return t->ops->fn(fd); }
int use_interior(int fd) { int (*const *pp)(int) = &interior.fn; LAUNDER(pp); return (*pp)(fd); }
int use_before(int fd) { const char *p = (const char *)&before_ops - 16; LAUNDER(p); return ((const struct ops *)(p + 16))->fn(fd); }
`
	// Classes whose vtables are not exported (anonymous namespace): reached
	// only because code that can run stores their address in an object.
	// Dropped is in a library of its own, since the compiler places
	// vtables next to each other without anything pointing between them.
	libvtSource = `
#include <unistd.h>
#include <sys/stat.h>
namespace {
struct Base { virtual int run(int fd) = 0; virtual ~Base() {} };
struct CLASS : Base { int run(int fd) override { return CALL; } };
}
extern "C" int FUNC(int fd) {
	CLASS c;
	Base *b = &c;
	__asm__("" : "+r"(b) : : "memory");
	return b->run(fd);
}
`
	progDataSource = `
int use_kept(int), use_chain(int), use_interior(int), use_before(int), vt_kept(int);
int main(void) { return use_kept(1) + use_chain(1) + use_interior(1) + use_before(1) + vt_kept(1); }
`
)

// TestReachableFollowsData: a function pointer in data counts when code
// that can run refers to the data holding it (directly, inside it, or
// through another object of data), when the data is a constructor array,
// an exported object or a vtable code that can run stores; one in data
// only unreachable code refers to does not count.
func TestReachableFollowsData(t *testing.T) {
	dir := t.TempDir()
	vt := func(class, call, fn string) string {
		return strings.NewReplacer("CLASS", class, "CALL", call, "FUNC", fn).Replace(libvtSource)
	}
	for name, src := range map[string]string{
		"data.c": libdataSource, "main.c": progDataSource,
		"vt.cc": vt("Kept", "fchown(fd, 0, 0)", "vt_kept"), "vt2.cc": vt("Dropped", "umask(fd)", "vt_dropped"),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	build(t, dir, nil, "cc", "-O2", "-fPIC", "-shared", "-Wl,-soname,libdata.so", "-o", "libdata.so", "data.c")
	build(t, dir, nil, "c++", "-O2", "-fno-devirtualize", "-fno-devirtualize-speculatively", "-fPIC", "-shared", "-Wl,-soname,libvt.so", "-o", "libvt.so", "vt.cc")
	build(t, dir, nil, "c++", "-O2", "-fno-devirtualize", "-fno-devirtualize-speculatively", "-fPIC", "-shared", "-Wl,-soname,libvt2.so", "-o", "libvt2.so", "vt2.cc")
	build(t, dir, nil, "cc", "-O2", "-pie", "-fPIE", "-o", "prog", "main.c", "-L.", "-ldata", "-lvt", "-Wl,--no-as-needed", "-lvt2")

	files := []string{"prog", "libdata.so", "libvt.so", "libvt2.so"}
	imports, _ := Reachable(inspectGraphed(t, dir, files))
	checkReach(t, files, imports, []reachCase{
		{1, "fdatasync", true, "use_kept refers to kept_ops, which holds cb_kept"},
		{1, "fchmod", true, "use_chain refers to chain_tab, which points to chain_ops, which holds cb_chain"},
		{1, "flock", true, "use_interior refers into interior, which holds cb_interior"},
		{1, "dup", true, "use_before refers to 16 bytes before before_ops (dataSlack)"},
		{1, "fchdir", true, "exported_ops is exported: any object may read it"},
		{1, "getpgid", true, "ctor is in .init_array"},
		{1, "syncfs", false, "only use_dropped, which nothing calls, refers to dropped_ops"},
		{2, "fchown", true, "vt_kept stores Kept's vtable, which holds Kept::run"},
		{3, "umask", false, "only vt_dropped, which nothing calls, stores Dropped's vtable"},
	})
}
