//go:build integration

// Package adversarial runs hostile bundles against runcage's default profile
// with real runc. Every case carries a control: the same bundle under plain
// runc (or runcage's passthrough profile) must let the attack through, so
// that runcage's refusal, or the attack failing under runcage, means
// something. A case without a discriminating control must say why in
// NoControl.
package adversarial

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runcage/runcage/integration"
)

// invokeTimeout bounds every runtime invocation.
const invokeTimeout = 60 * time.Second

// Pwned is what a case's script prints when the attack worked.
const Pwned = "PWNED"

var (
	// probe is /bin/probe, built once per test binary.
	probe     = integration.ProbeOnce()
	idCounter atomic.Int64
)

func TestMain(m *testing.M) {
	os.Exit(integration.Suite{Name: "adversarial", Needs: "it starts real containers", Teardown: func() error {
		probe.Remove()
		return nil
	}}.Run(m))
}

// Env is one test's binaries and private directory (mode 0755, outside any
// volume root and outside /tmp's test names, so refusal messages cannot
// match the test's own name by accident).
type Env struct {
	T   *testing.T
	Bin integration.Binaries
	Dir string
	// Policy is the runcage policy every runcage invocation of this Env
	// uses (RUNCAGE_CONFIG). Its state directory is private to the Env.
	Policy string
	// StateDir is the policy's state_dir.
	StateDir string
}

// NewEnv makes an Env with a private policy whose text is extra appended to
// runcage's settings for this Env (delegate, state directory).
func NewEnv(t *testing.T, extra string) *Env {
	t.Helper()
	bin, err := integration.FindBinaries()
	if err != nil {
		t.Fatal(err)
	}
	dir := integration.TempDir(t, "runcage-adv-")
	e := &Env{T: t, Bin: bin, Dir: dir, StateDir: filepath.Join(dir, "state")}
	e.Policy = e.WritePolicy(extra)
	return e
}

// WritePolicy writes a policy naming this Env's delegate and state
// directory, followed by extra, and returns its path.
func (e *Env) WritePolicy(extra string) string {
	e.T.Helper()
	return integration.PolicyFile(e.T, e.Dir, "runtime = "+strconv.Quote(e.Bin.Runc)+"\nstate_dir = "+strconv.Quote(e.StateDir)+"\n"+extra)
}

// Runc is plain runc with its own root and log.
func (e *Env) Runc() integration.Runtime {
	return e.Bin.RuncIn(e.Dir)
}

// Runcage is runcage with profile (empty: the policy's default), the Env's
// policy, its own root and a log file named after the profile.
func (e *Env) Runcage(profile string) integration.Runtime {
	return e.Bin.RuncageIn(e.Dir, profile, []string{"RUNCAGE_CONFIG=" + e.Policy})
}

// Spec returns integration.BaseSpec running `sh -c script` with the
// capabilities Docker grants by default (the engine default: runcage drops
// them silently) and no_new_privs off, as Docker writes it.
func Spec(script string) *specs.Spec {
	s := integration.BaseSpec(integration.DockerDefaultCaps, "sh", "-c", script)
	s.Process.NoNewPrivileges = false
	return s
}

// Bundle makes a fresh bundle directory named name: a busybox rootfs with
// /bin/probe, and config.json from raw (if not nil) or s.
func (e *Env) Bundle(name string, s *specs.Spec, raw []byte, opt integration.RootfsOptions) string {
	e.T.Helper()
	if raw == nil {
		var err error
		if raw, err = integration.MarshalSpec(s); err != nil {
			e.T.Fatal(err)
		}
	}
	dir := filepath.Join(e.Dir, name)
	extra := map[string]string{"/bin/probe": probe.Path(e.T)}
	for k, v := range opt.Extra {
		extra[k] = v
	}
	opt.Extra = extra
	if err := integration.BuildRootfs(filepath.Join(dir, "rootfs"), opt); err != nil {
		e.T.Fatal(err)
	}
	if err := integration.WriteConfig(dir, raw); err != nil {
		e.T.Fatal(err)
	}
	return dir
}

// NewID returns a container id unique in this test process.
func NewID() string {
	return fmt.Sprintf("adv-%d-%d", os.Getpid(), idCounter.Add(1))
}

// Start builds the bundle name running s and starts it detached with rt
// (`run -d`); the container is force-deleted when the test ends. It
// returns the container's id.
func (e *Env) Start(rt integration.Runtime, name string, s *specs.Spec) string {
	e.T.Helper()
	id := NewID()
	b := e.Bundle(name, s, nil, integration.RootfsOptions{})
	if res := rt.Exec(invokeTimeout, "run", "-d", "--bundle", b, id); res.Exit != 0 {
		e.T.Fatalf("start %s: %s\nlog: %s", name, res, readFile(rt.Log))
	}
	rt.DeleteLater(e.T, id)
	return id
}

// Run runs bundle to completion with rt (`run`, no terminal) and
// force-deletes the container afterwards.
func (e *Env) Run(rt integration.Runtime, bundle string) integration.Result {
	e.T.Helper()
	id := NewID()
	defer func() {
		rt.Log = ""
		rt.Exec(invokeTimeout, "delete", "--force", id)
	}()
	res := rt.Exec(invokeTimeout, "run", "--bundle", bundle, id)
	if res.Err != nil {
		e.T.Fatalf("%s: %v\n%s", rt.Name, res.Err, res)
	}
	return res
}

// LastError returns the msg of the last error line in rt's log file.
func LastError(rt integration.Runtime) string {
	_, lines, _ := integration.ReadLogLines(rt.Log)
	for i := len(lines) - 1; i >= 0; i-- {
		if lines[i].Level == "error" {
			return lines[i].Msg
		}
	}
	return ""
}

// Expect is what runcage's default profile must do with a hostile bundle.
type Expect int

const (
	// Refused: runcage exits non-zero before runc starts anything, and its
	// log's last error line contains every string of Case.Want.
	Refused Expect = iota
	// Contained: the container runs, but the attack fails (its output
	// lacks Pwned).
	Contained
)

// Case is one hostile bundle.
type Case struct {
	Name string
	// Class is the number of the class in the review this case belongs to
	// (0: one of our own that fits no class).
	Class int
	// Script is run by `sh -c` in the container; it prints Pwned when the
	// attack worked.
	Script string
	// Mutate changes the spec (made by Spec(Script)); it may prepare host
	// files under e.Dir. Raw, when set, replaces the config.json entirely.
	Mutate func(e *Env, s *specs.Spec)
	Raw    func(e *Env) []byte
	Rootfs integration.RootfsOptions
	Expect Expect
	// Want are substrings of the refusal message (Refused only).
	Want []string
	// Control is the runtime that must let the attack through: "runc"
	// (default) or "passthrough" (runcage's passthrough profile, for
	// attacks on runcage's own state).
	Control string
	// Proof reports whether the attack worked, from the control's or
	// runcage's result. Default: exit 0 and Pwned in stdout.
	Proof func(e *Env, res integration.Result) bool
	// NoControl, when set, says why this case has no discriminating
	// control (the control is then not run).
	NoControl string
	// Policy, when set, returns extra policy text for this case's Env
	// (after the delegate and state directory).
	Policy func(e *Env) string
}

func defaultProof(_ *Env, res integration.Result) bool {
	return res.Exit == 0 && strings.Contains(res.Stdout, Pwned)
}

// RunCases runs each case as a subtest: first the control, which must show
// the attack working, then runcage's default profile, which must refuse or
// contain it. Policy extra text, if any, is added to every Env.
func RunCases(t *testing.T, cases []Case) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			RunCase(t, c)
		})
	}
}

// RunCase runs one case; see RunCases.
func RunCase(t *testing.T, c Case) {
	t.Helper()
	e := NewEnv(t, "")
	if c.Policy != nil {
		e.Policy = e.WritePolicy(c.Policy(e))
	}
	proof := c.Proof
	if proof == nil {
		proof = defaultProof
	}
	build := func(name string) string {
		if c.Raw != nil {
			return e.Bundle(name, nil, c.Raw(e), c.Rootfs)
		}
		s := Spec(c.Script)
		if c.Mutate != nil {
			c.Mutate(e, s)
		}
		return e.Bundle(name, s, nil, c.Rootfs)
	}
	if c.NoControl == "" {
		ctl := e.Runc()
		if c.Control == "passthrough" {
			ctl = e.Runcage("passthrough")
		}
		res := e.Run(ctl, build("control"))
		if !proof(e, res) {
			t.Fatalf("control %s did not let the attack through, so the case proves nothing:\n%s\nlog: %s", ctl.Name, res, readFile(ctl.Log))
		}
	} else {
		t.Logf("no control: %s", c.NoControl)
	}
	rt := e.Runcage("")
	res := e.Run(rt, build("hardened"))
	switch c.Expect {
	case Refused:
		msg := LastError(rt)
		if res.Exit == 0 || msg == "" {
			t.Fatalf("runcage did not refuse:\n%s\nlog: %s", res, readFile(rt.Log))
		}
		if proof(e, res) {
			t.Fatalf("runcage exited non-zero but the attack worked:\n%s", res)
		}
		for _, w := range c.Want {
			if !strings.Contains(msg, w) {
				t.Errorf("refusal %q does not contain %q", msg, w)
			}
		}
		if !strings.HasPrefix(msg, "runcage: ") {
			t.Errorf("refusal %q is not runcage's", msg)
		}
	case Contained:
		if proof(e, res) {
			t.Fatalf("attack worked under runcage:\n%s\nlog: %s", res, readFile(rt.Log))
		}
		if res.Exit != 0 && LastError(rt) != "" && strings.HasPrefix(LastError(rt), "runcage: ") {
			t.Fatalf("expected the container to run contained, runcage refused it: %s", LastError(rt))
		}
	}
}

// readFile is integration.FileText, for failure messages.
var readFile = integration.FileText

// Bind returns a read-write bind mount of src at dst.
func Bind(src, dst string) specs.Mount {
	return specs.Mount{Destination: dst, Type: "bind", Source: src, Options: []string{"rbind", "rw"}}
}
