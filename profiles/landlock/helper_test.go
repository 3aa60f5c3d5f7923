package landlock

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// buildHelper compiles the helper (cmd/runcage-landlock) as the Makefile does.
func buildHelper(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc is not installed: the helper is C")
	}
	out := filepath.Join(t.TempDir(), "runcage-landlock")
	if b, err := exec.Command("gcc", "-static", "-O2", "-Wall", "-Wextra", "-Werror", "-o", out, "../../cmd/runcage-landlock/main.c").CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v: %s", err, b)
	}
	return out
}

func runHelper(t *testing.T, helper string, env []string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(helper, args...)
	cmd.Env = append([]string{"HOME=/"}, env...) // never the test's own environment
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), string(out)
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0, string(out)
}

// TestHelper runs the helper on the host: its argument errors, its PATH
// lookup (runc's: absolute PATH entries only) and a Landlock rule at work.
func TestHelper(t *testing.T) {
	h := buildHelper(t)
	bb, err := exec.LookPath("busybox")
	if err != nil {
		t.Skip("busybox is not installed")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	os.Mkdir(bin, 0o755)
	data, err := os.ReadFile(bb)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bin, "busybox"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "ok"), []byte("ok\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "secret"), []byte("secret\n"), 0o644)
	os.Symlink(dir, filepath.Join(dir, "link"))
	path := []string{"PATH=relative:" + bin}
	for _, c := range []struct {
		name string
		env  []string
		args []string
		code int
		out  string
	}{
		{"no --", nil, []string{"-a", "1"}, 126, "no program after --"},
		{"bad flag", nil, []string{"-z", "--", "true"}, 126, "bad argument -z"},
		{"bad number", nil, []string{"-a", "1x", "--", "true"}, 126, "bad number"},
		{"port out of range", nil, []string{"-b", "65536", "--", "true"}, 126, "bad number"},
		{"not found", path, []string{"-a", "0", "--", "nonexistent"}, 127, "exec nonexistent"},
		{"no PATH", nil, []string{"-a", "0", "--", "busybox"}, 127, "exec busybox"},
		{"PATH lookup", path, []string{"-a", "0", "--", "busybox", "echo", "hi"}, 0, "hi"},
		{"impossible requirement", path, []string{"-R", "-a", "9", "--", "busybox", "true"}, 126, "Landlock is required"},
		{"granted file", path, []string{"-a", "3", "-f", "5", bin, "-f", "4", filepath.Join(dir, "ok"), "--", "busybox", "cat", filepath.Join(dir, "ok")}, 0, "ok"},
		{"file beside it", path, []string{"-a", "3", "-f", "5", bin, "-f", "4", filepath.Join(dir, "ok"), "--", "busybox", "cat", filepath.Join(dir, "secret")}, 1, "Permission denied"},
		{"not through a symlink", path, []string{"-a", "3", "-f", "5", bin, "-f", "4", filepath.Join(dir, "link"), "--", "busybox", "cat", filepath.Join(dir, "secret")}, 1, "Permission denied"},
		{"missing path skipped", path, []string{"-a", "3", "-f", "5", bin, "-f", "4", "/no/such", "--", "busybox", "true"}, 0, ""},
		{"exec not granted", path, []string{"-a", "3", "-f", "4", bin, "--", "busybox", "true"}, 126, "Permission denied"},
		// -x grants a regular file only: on the program it lets it run; on
		// its directory (what a bundle could name) it grants nothing.
		{"-x on a file", path, []string{"-a", "3", "-x", "5", filepath.Join(bin, "busybox"), "--", "busybox", "true"}, 0, ""},
		{"-x on a directory", path, []string{"-a", "3", "-x", "5", bin, "--", "busybox", "true"}, 126, "Permission denied"},
	} {
		code, out := runHelper(t, h, c.env, c.args...)
		if code != c.code || !strings.Contains(out, c.out) {
			t.Errorf("%s: exit %d %q, want %d %q", c.name, code, out, c.code, c.out)
		}
	}
}

// TestHelperDeniesAgain: the -S rules the helper loads before its exec
// give the program the return each names, on every path to the exec (here
// with rules the kernel cannot enforce at ABI 1, which skips Landlock),
// and nothing else changes.
func TestHelperDeniesAgain(t *testing.T) {
	h := buildHelper(t)
	probe := filepath.Join(t.TempDir(), "sysprobe")
	if b, err := exec.Command("gcc", "-static", "-O2", "-o", probe, "../../integration/landlock/testdata/sysprobe.c").CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v: %s", err, b)
	}
	const x86_64 = "3221225534" // AUDIT_ARCH_X86_64
	code, out := runHelper(t, h, nil, "-a", "1",
		"-S", x86_64, "444", "327681", // landlock_create_ruleset: ERRNO(EPERM)
		"-S", x86_64, "110", "327718", // getppid: ERRNO(ENOSYS)
		"-S", "1073741827", "110", "327681", // getppid of i386: not this process's
		"--", probe, "create=444:0:0:1", "ppid=110", "pid=39")
	if code != 0 || out != "create=errno 1\nppid=errno 38\npid=ok\n" {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	if code, out := runHelper(t, h, nil, "-a", "1", "-S", x86_64, "444", "--", probe); code != 126 || !strings.Contains(out, "bad number") {
		t.Fatalf("a short -S: exit %d: %s", code, out)
	}
}
