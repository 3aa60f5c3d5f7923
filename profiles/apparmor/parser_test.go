package apparmor

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// requireParser skips t, saying why, when apparmor_parser is not installed.
func requireParser(t *testing.T) {
	t.Helper()
	if _, err := findParser(""); err != nil {
		t.Skipf("skipping: needs apparmor_parser: %v", err)
	}
}

func TestValidateGenerated(t *testing.T) {
	requireParser(t)
	for name, o := range map[string]Options{
		"default":  {Name: "default"},
		"complain": {Name: "default", Complain: true},
		"record":   {Name: "record"},
		"paths": {
			Name:       "rec.v1_x-y",
			ReadPaths:  []string{"/", "/etc/", "/etc/passwd", "/a+b:c~d%e=f_g-h.i", "/a..b", "/.hidden"},
			WritePaths: []string{"/tmp/out", "/dev/null"},
			ExecPaths:  []string{"/usr/bin/app", "/lib/x86_64-linux-gnu/libc.so.6"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			text, err := Generate(o)
			if err != nil {
				t.Fatal(err)
			}
			if err := Validate(context.Background(), text); err != nil {
				t.Fatalf("generated profile does not compile: %v\n%s", err, text)
			}
		})
	}
}

func TestValidateBroken(t *testing.T) {
	requireParser(t)
	good, err := Generate(Options{Name: "default"})
	if err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{
		"unknown rule":     "profile x {\n  bogus,\n}\n",
		"no closing brace": "profile x {\n  /a r,\n",
		"conflicting exec": "profile x {\n  /a ix,\n  /a px,\n}\n",
		"missing include":  "#include <runcage/does/not/exist>\nprofile x {\n}\n",
		"truncated":        string(good[:len(good)/2]),
		"bad permission":   "profile x {\n  /a zq,\n}\n",
	} {
		t.Run(name, func(t *testing.T) {
			err := Validate(context.Background(), []byte(text))
			if err == nil {
				t.Fatalf("Validate accepted:\n%s", text)
			}
			if errors.Is(err, ErrParserMissing) {
				t.Fatalf("error claims the parser is missing: %v", err)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "validate apparmor profile: ") || !strings.Contains(msg, "apparmor_parser --skip-kernel-load --skip-cache") {
				t.Errorf("error does not say what failed: %v", err)
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("error is not one line: %q", msg)
			}
			t.Log(msg)
		})
	}
	// The parser's own diagnosis reaches the error.
	err = Validate(context.Background(), []byte("profile x {\n  bogus,\n}\n"))
	if err == nil || !strings.Contains(err.Error(), "syntax error") {
		t.Errorf("error lacks the parser's stderr: %v", err)
	}
}

func TestValidateEmpty(t *testing.T) {
	for _, text := range [][]byte{nil, {}, []byte(" \n\t\n")} {
		if err := Validate(context.Background(), text); err == nil {
			t.Errorf("Validate(%q) = nil, want an error", text)
		}
	}
}

func TestValidateParserMissing(t *testing.T) {
	saved := parserDirs
	parserDirs = []string{t.TempDir()}
	t.Cleanup(func() { parserDirs = saved })

	err := Validate(context.Background(), []byte("profile x {\n}\n"))
	if !errors.Is(err, ErrParserMissing) {
		t.Fatalf("Validate without a parser = %v, want ErrParserMissing", err)
	}
	err = SystemHost{Parser: filepath.Join(t.TempDir(), "apparmor_parser")}.Load(context.Background(), []byte("profile x {\n}\n"))
	if !errors.Is(err, ErrParserMissing) {
		t.Fatalf("Load without a parser = %v, want ErrParserMissing", err)
	}
	// A file that is not executable is not a parser either.
	plain := filepath.Join(t.TempDir(), "apparmor_parser")
	if err := os.WriteFile(plain, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := findParser(plain); !errors.Is(err, ErrParserMissing) {
		t.Fatalf("findParser(non-executable) = %v, want ErrParserMissing", err)
	}
}

// fakeParser writes a shell script that records how it was run into dir
// and then runs body. The script cannot learn dir from its environment,
// which runParser replaces, so dir is written into it.
func fakeParser(t *testing.T, body string) (parser, dir string) {
	t.Helper()
	dir = t.TempDir()
	parser = filepath.Join(dir, "apparmor_parser")
	script := "#!/bin/sh\n" +
		"d='" + dir + "'\n" +
		`for a in "$@"; do printf '%s\n' "$a"; done > "$d/args"` + "\n" +
		`env > "$d/env"` + "\n" +
		`pwd > "$d/cwd"` + "\n" +
		`cat > "$d/stdin"` + "\n" +
		body + "\n"
	if err := os.WriteFile(parser, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return parser, dir
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRunParserHygiene(t *testing.T) {
	t.Setenv("RUNCAGE_LEAK_CHECK", "leaked")
	t.Setenv("LD_PRELOAD", "/nonexistent/leak.so")
	t.Chdir(t.TempDir())
	parser, dir := fakeParser(t, "exit 0")
	text := []byte("profile x {\n  /a r,\n}\n")

	for name, tc := range map[string]struct {
		run  func() error
		args string
	}{
		"validate": {func() error { return runParser(context.Background(), parser, text, validateArgs) }, "--skip-kernel-load\n--skip-cache\n"},
		"load":     {func() error { return SystemHost{Parser: parser}.Load(context.Background(), text) }, "--replace\n--skip-cache\n"},
	} {
		t.Run(name, func(t *testing.T) {
			if err := tc.run(); err != nil {
				t.Fatal(err)
			}
			if got := readFile(t, filepath.Join(dir, "args")); got != tc.args {
				t.Errorf("args = %q, want %q", got, tc.args)
			}
			if got := readFile(t, filepath.Join(dir, "stdin")); got != string(text) {
				t.Errorf("stdin = %q, want the profile text", got)
			}
			if got := strings.TrimSpace(readFile(t, filepath.Join(dir, "cwd"))); got != "/" {
				t.Errorf("working directory = %q, want /", got)
			}
			env := readFile(t, filepath.Join(dir, "env"))
			if !strings.Contains(env, "PATH=/usr/sbin:/usr/bin:/sbin:/bin\n") {
				t.Errorf("PATH is not the fixed one:\n%s", env)
			}
			for _, leak := range []string{"RUNCAGE_LEAK_CHECK", "LD_PRELOAD", "HOME=", "GOPATH"} {
				if strings.Contains(env, leak) {
					t.Errorf("environment leaked %s:\n%s", leak, env)
				}
			}
		})
	}
}

func TestRunParserFailure(t *testing.T) {
	parser, _ := fakeParser(t, `echo "line one" >&2; echo >&2; echo "line two" >&2; exit 3`)
	err := runParser(context.Background(), parser, []byte("profile x {}\n"), validateArgs)
	if err == nil {
		t.Fatal("runParser succeeded, want the exit status")
	}
	want := parser + " --skip-kernel-load --skip-cache: exit status 3: line one; line two"
	if err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}
}

func TestRunParserStderrIsBounded(t *testing.T) {
	parser, _ := fakeParser(t, `i=0; while [ $i -lt 2000 ]; do echo "noise noise noise noise" >&2; i=$((i+1)); done; exit 1`)
	err := runParser(context.Background(), parser, []byte("profile x {}\n"), validateArgs)
	if err == nil {
		t.Fatal("runParser succeeded")
	}
	if n := len(err.Error()); n > maxStderr+512 {
		t.Errorf("error is %d bytes long", n)
	}
	if !strings.HasSuffix(err.Error(), "...") {
		t.Errorf("truncated error does not say so: ...%s", err.Error()[len(err.Error())-40:])
	}
}

func TestRunParserTimeout(t *testing.T) {
	parser, _ := fakeParser(t, "exec sleep 30")
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := runParser(ctx, parser, []byte("profile x {}\n"), validateArgs)
	if err == nil {
		t.Fatal("runParser succeeded, want a timeout")
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error does not wrap the deadline: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("runParser took %v after its deadline", d)
	}
}

func TestFindParserRelative(t *testing.T) {
	if _, err := findParser("apparmor_parser"); err == nil {
		t.Error("findParser accepted a relative path")
	}
}
