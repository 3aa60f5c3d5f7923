package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	taskAPI "github.com/containerd/containerd/api/runtime/task/v2"
	"google.golang.org/protobuf/proto"
)

// TestLinksOnlyTheFront checks what the shim links, as the Makefile
// builds it: runcage's front and create transaction, not runcage's own
// commands and what they bring (the engine installers, a command-line
// framework), nor Go's plugin loader (containerd's, left out by
// no_dynamic_plugins), each of which the shim never runs and each shim
// process would load and initialize.
func TestLinksOnlyTheFront(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-tags", "seccomp no_dynamic_plugins", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	deps := strings.Fields(string(out))
	if !slices.Contains(deps, "github.com/runcage/runcage/runtime") {
		t.Fatalf("go list printed no runcage packages:\n%s", out)
	}
	for _, p := range []string{
		"github.com/runcage/runcage/runtime/commands",
		"github.com/runcage/runcage/runtime/engines",
		"github.com/urfave/cli/v2",
		"plugin",
	} {
		if slices.Contains(deps, p) {
			t.Errorf("the shim links %s", p)
		}
	}
}

// TestServesAgents runs the shim binary with the command line the create
// transaction starts the node's denial agent with (runcage[denials]
// --runcage-agent CONFIG, through /proc/self/exe, which in the shim is
// the shim): the shim must run the agent, which reports on its readiness
// pipe (fd 3), here that its configuration is missing, rather than parse
// the line as shim flags.
func TestServesAgents(t *testing.T) {
	dir := t.TempDir()
	bin := buildShim(t)
	rd, wr, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	cfg := filepath.Join(dir, "missing.json")
	cmd := &exec.Cmd{Path: bin, Args: []string{"runcage[denials]", "--runcage-agent", cfg}, ExtraFiles: []*os.File{wr}}
	out := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	wr.Close()
	line, _ := bufio.NewReader(rd).ReadString('\n')
	err = cmd.Wait()
	if want := "error: read denial agent config: open " + cfg; !strings.HasPrefix(line, want) {
		t.Fatalf("readiness pipe got %q, want %q...; exit %v, output:\n%s", line, want, err, out)
	}
	if cmd.ProcessState.ExitCode() != 1 {
		t.Errorf("exit code %d, want 1", cmd.ProcessState.ExitCode())
	}
}

var built struct {
	sync.Once
	bin string
	err error
}

// buildShim builds the shim binary once for the tests, as the Makefile
// does (cgo, so with cleanup.c's constructor), and returns its path.
func buildShim(t *testing.T) string {
	t.Helper()
	built.Do(func() {
		dir, err := os.MkdirTemp("", "runcage-shim-test-")
		if err != nil {
			built.err = err
			return
		}
		built.bin = filepath.Join(dir, "containerd-shim-runcage-v2")
		build := exec.Command("go", "build", "-tags", "seccomp no_dynamic_plugins", "-o", built.bin, ".")
		build.Env = append(os.Environ(), "CGO_ENABLED=1")
		if out, err := build.CombinedOutput(); err != nil {
			built.err = fmt.Errorf("build the shim: %w\n%s", err, out)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.bin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.bin != "" {
		os.RemoveAll(filepath.Dir(built.bin))
	}
	os.Exit(code)
}

// TestDeleteBeforeGo runs the shim's `delete` (containerd's cleanup after
// a task) the way containerd does, in a task bundle, and checks that
// cleanup.c answers it before Go starts exactly when Go would find nothing
// to clean up, with the response Go prints: the init's pid, exit status
// 137 and the time.
func TestDeleteBeforeGo(t *testing.T) {
	bin := buildShim(t)
	const answered = "runcage shim: delete answered before Go started"
	flags := []string{"-namespace", "default", "-address", "/run/containerd/containerd.sock", "-publish-binary", "/usr/bin/containerd", "-id", "task-1"}
	for _, tc := range []struct {
		name   string
		setup  func(t *testing.T, bundle string)
		args   []string
		before bool // answered by cleanup.c
	}{
		{"nothing left", nil, nil, true},
		{"debug flag", nil, []string{"-debug"}, true},
		{"flags with =", nil, []string{"--bundle=/elsewhere"}, true},
		{"state file left", func(t *testing.T, bundle string) {
			writeFile(t, filepath.Join(bundle, "runcage-shim.json"), "{}")
		}, nil, false},
		{"live socket", func(t *testing.T, bundle string) {
			sock := filepath.Join(t.TempDir(), "s")
			listenUnix(t, sock, true)
			writeFile(t, filepath.Join(bundle, "address"), "unix://"+sock)
		}, nil, true},
		{"dead socket left", func(t *testing.T, bundle string) {
			sock := filepath.Join(t.TempDir(), "s")
			listenUnix(t, sock, false)
			writeFile(t, filepath.Join(bundle, "address"), "unix://"+sock)
		}, nil, false},
		{"symlink to a live socket", func(t *testing.T, bundle string) {
			dir := t.TempDir()
			listenUnix(t, filepath.Join(dir, "s"), true)
			if err := os.Symlink("s", filepath.Join(dir, "link")); err != nil {
				t.Fatal(err)
			}
			writeFile(t, filepath.Join(bundle, "address"), "unix://"+filepath.Join(dir, "link"))
		}, nil, false},
		{"socket gone", func(t *testing.T, bundle string) {
			writeFile(t, filepath.Join(bundle, "address"), "unix://"+filepath.Join(t.TempDir(), "gone"))
		}, nil, true},
		{"init.pid unparsable", func(t *testing.T, bundle string) {
			writeFile(t, filepath.Join(bundle, "init.pid"), "42\n")
		}, nil, false},
		{"unknown flag", nil, []string{"-socket-dir", "/x"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bundle := filepath.Join(t.TempDir(), "task-1")
			if err := os.Mkdir(bundle, 0o700); err != nil {
				t.Fatal(err)
			}
			writeFile(t, filepath.Join(bundle, "init.pid"), "4242")
			if tc.setup != nil {
				tc.setup(t, bundle)
			}
			args := append(append(slices.Clone(flags), tc.args...), "delete")
			run := func(env string) (*taskAPI.DeleteResponse, string, error) {
				cmd := exec.Command(bin, args...)
				cmd.Dir = bundle
				cmd.Env = []string{"PATH=/usr/bin:/bin", "RUNCAGE_SHIM_FASTPATH_TRACE=1", env}
				var stdout, stderr strings.Builder
				cmd.Stdout, cmd.Stderr = &stdout, &stderr
				err := cmd.Run()
				var r taskAPI.DeleteResponse
				if err == nil {
					err = proto.Unmarshal([]byte(stdout.String()), &r)
				}
				return &r, stderr.String(), err
			}
			t0 := time.Now()
			fast, stderr, err := run("RUNCAGE_SHIM_NO_FASTPATH=0")
			if got := strings.Contains(stderr, answered); got != tc.before {
				t.Fatalf("answered before Go: %v, want %v; stderr:\n%s", got, tc.before, stderr)
			}
			if !tc.before {
				return
			}
			if err != nil {
				t.Fatalf("delete: %v\n%s", err, stderr)
			}
			goResp, goErr, err := run("RUNCAGE_SHIM_NO_FASTPATH=1")
			if err != nil || strings.Contains(goErr, answered) {
				t.Fatalf("delete in Go: %v\n%s", err, goErr)
			}
			if fast.Pid != 4242 || fast.Pid != goResp.Pid || fast.ExitStatus != 137 || fast.ExitStatus != goResp.ExitStatus {
				t.Errorf("response %v, Go's %v; want pid 4242, exit status 137", fast, goResp)
			}
			if at := fast.ExitedAt.AsTime(); at.Before(t0.Add(-time.Second)) || at.After(time.Now()) {
				t.Errorf("exited at %v, want between %v and now", at, t0)
			}
		})
	}
}

// listenUnix makes a unix socket at path: listening until the test ends
// when live, else closed at once and left in place (a dead server's).
func listenUnix(t *testing.T, path string, live bool) {
	t.Helper()
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	if live {
		t.Cleanup(func() { l.Close() })
		return
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}
