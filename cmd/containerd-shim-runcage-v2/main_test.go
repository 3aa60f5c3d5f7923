package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
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
	bin := filepath.Join(dir, "containerd-shim-runcage-v2")
	build := exec.Command("go", "build", "-tags", "seccomp", "-o", bin, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		t.Fatalf("build the shim: %v", err)
	}
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
