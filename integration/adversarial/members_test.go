//go:build integration

package adversarial

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/runcage/runcage/integration"
)

var closedVethCounter atomic.Int64

// closedVeth creates a veth pair on the host and returns the name of one
// end, which a bundle can ask runc to move into its container. The pair is
// deleted when the test ends (runc destroys it with the container's network
// namespace when it moved one end).
func closedVeth(e *Env) string {
	e.T.Helper()
	n := closedVethCounter.Add(1)
	a, b := fmt.Sprintf("clv%d", n), fmt.Sprintf("clvp%d", n)
	if out, err := exec.Command("ip", "link", "add", a, "type", "veth", "peer", "name", b).CombinedOutput(); err != nil {
		e.T.Fatalf("create veth pair: %v: %s", err, out)
	}
	e.T.Cleanup(func() { _ = exec.Command("ip", "link", "del", a).Run() })
	return a
}

// closedNoCapControl returns "" when this process has capability c in its
// effective set, and otherwise the reason a control cannot run here.
func closedNoCapControl(c int, name, why string) string {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "cannot read /proc/self/status: " + err.Error()
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			eff, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err == nil && eff&(1<<c) != 0 {
				return ""
			}
		}
	}
	return "this machine's root lacks " + name + ", so " + why + "; the profiles/process unit test covers the rewrite"
}

// closedRaw returns the bytes of Spec(script) with member added at the
// top-level object key section ("" for the top level) under name.
func closedRaw(e *Env, script, section, name string, value any) []byte {
	e.T.Helper()
	raw, err := integration.MarshalSpec(Spec(script))
	if err != nil {
		e.T.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		e.T.Fatal(err)
	}
	obj := doc
	if section != "" {
		obj = doc[section].(map[string]any)
	}
	obj[name] = value
	out, err := json.MarshalIndent(doc, "", "\t")
	if err != nil {
		e.T.Fatal(err)
	}
	return out
}

// TestClosedWorld: issue 9 classes 1 and 2. Every config.json member runc
// acts on is decided; members nobody decided are refused by name.
func TestClosedWorld(t *testing.T) {
	RunCases(t, []Case{
		{
			Name: "netDevices-moves-host-interface", Class: 2,
			Script: `grep -q eth9 /proc/net/dev && echo ` + Pwned,
			Mutate: func(e *Env, s *specs.Spec) {
				s.Linux.NetDevices = map[string]specs.LinuxNetDevice{closedVeth(e): {Name: "eth9"}}
			},
			Expect: Refused, Want: []string{`"linux.netDevices" refused`, "host network interface"},
		},
		{
			Name: "negative-oomScoreAdj", Class: 1,
			Script:    `[ "$(cat /proc/self/oom_score_adj)" -lt 0 ] && echo ` + Pwned + `; true`,
			Mutate:    func(_ *Env, s *specs.Spec) { v := -1000; s.Process.OOMScoreAdj = &v },
			NoControl: closedNoCapControl(unix.CAP_SYS_RESOURCE, "CAP_SYS_RESOURCE", "runc cannot lower oom_score_adj below this process's own"),
			Expect:    Contained,
		},
		{
			Name: "personality-linux32", Class: 2,
			Script: `case "$(uname -m)" in i?86) echo ` + Pwned + `;; esac; true`,
			Mutate: func(_ *Env, s *specs.Spec) {
				s.Linux.Personality = &specs.LinuxPersonality{Domain: specs.PerLinux32}
			},
			Expect: Refused, Want: []string{`"linux.personality.domain" refused`, `"LINUX32"`},
		},
		{
			Name: "realtime-scheduler", Class: 2,
			// Field 41 of /proc/<pid>/stat is the scheduling policy; 1 is SCHED_FIFO.
			Script: `[ "$(cut -d' ' -f41 /proc/self/stat)" = 1 ] && echo ` + Pwned + `; true`,
			Mutate: func(_ *Env, s *specs.Spec) {
				s.Process.Scheduler = &specs.Scheduler{Policy: specs.SchedFIFO, Priority: 1}
				// With RT group scheduling a cgroup needs a realtime budget
				// before a task in it may take SCHED_FIFO.
				rt, period := int64(10000), uint64(1000000)
				s.Linux.Resources.CPU = &specs.LinuxCPU{RealtimeRuntime: &rt, RealtimePeriod: &period}
			},
			Expect: Refused, Want: []string{`"process.scheduler.policy" refused`, `"SCHED_FIFO"`},
		},
		{
			Name: "rootfsPropagation-shared", Class: 2,
			Script:    `echo ` + Pwned,
			Mutate:    func(_ *Env, s *specs.Spec) { s.Linux.RootfsPropagation = "rshared" },
			NoControl: "a discriminating control needs a mount made inside the container (CAP_SYS_ADMIN) to appear on the host through a shared peer group; runc makes the rootfs's parent mount private, so this only proves the refusal",
			Expect:    Refused, Want: []string{`"linux.rootfsPropagation" refused`, `"rshared"`},
		},
		{
			Name: "unknown-member", Class: 2,
			Raw: func(e *Env) []byte {
				return closedRaw(e, `echo `+Pwned, "linux", "fooBar", map[string]any{"x": 1})
			},
			NoControl: "runc ignores members it does not know; a newer delegate might not, so runcage refuses what it has not decided",
			Expect:    Refused, Want: []string{`config.json member "linux.fooBar" refused`, "no decision"},
		},
		{
			Name: "unknown-member-case-folded", Class: 2,
			Raw: func(e *Env) []byte {
				// encoding/json, and so runc, matches "netDeviceſ" to netDevices.
				return closedRaw(e, `echo `+Pwned, "linux", "netDevice\u017f", map[string]any{})
			},
			NoControl: "an empty map moves nothing; this proves that case-folded spellings of a refused member are refused",
			Expect:    Refused, Want: []string{`refused: runc would move a host network interface`},
		},
		{
			Name: "criu-config-annotation", Class: 2,
			Script: `echo ` + Pwned,
			Mutate: func(_ *Env, s *specs.Spec) {
				s.Annotations = map[string]string{"org.criu.config": "/tmp/evil-criu.conf"}
			},
			NoControl: "runc reads org.criu.config only on checkpoint and restore, which need CRIU; the refusal is what is proved",
			Expect:    Refused, Want: []string{`"annotations.org.criu.config" refused`, "CRIU"},
		},
	})
}
