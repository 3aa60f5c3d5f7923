package runtime

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/runcage/runcage/profiles/recorder"
	"github.com/runcage/runcage/profiles/seccomp"
	"github.com/runcage/runcage/runtime/spec"
)

// BenchmarkCreate measures runcage's in-process create work: Create and
// Undo of a busybox bundle under the default profile, with the real
// user-namespace setup (id-mapped mounts), with and without denial logging
// (the policy's log_denials). The node's denial agent is started by the
// first create and found running by the others, as on a host. cpu-ms/op
// is the CPU of a create and its undo; undo-cpu-ms/op the undo's share.
// The state directory is under $TMPDIR: set TMPDIR=/dev/shm to measure it
// on tmpfs, as /run is on most hosts. Run it as root:
//
//	go test -tags seccomp -run '^$' -bench Create -benchtime 50x ./runtime/
func BenchmarkCreate(b *testing.B) {
	for _, bc := range []struct {
		name string
		log  bool
	}{{"unlogged", false}, {"logged", true}} {
		b.Run(bc.name, func(b *testing.B) {
			pol, c := inProcess(b)
			pol.LogDenials = &bc.log
			prof, err := pol.Profile("default")
			if err != nil {
				b.Fatal(err)
			}
			bin, err := os.ReadFile("/usr/bin/busybox")
			if err != nil {
				b.Skipf("no busybox to put in the bundle: %v", err)
			}
			if err := os.MkdirAll(filepath.Join(c.Bundle, "rootfs", "bin"), 0o755); err != nil {
				b.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(c.Bundle, "rootfs", "bin", "busybox"), bin, 0o755); err != nil {
				b.Fatal(err)
			}
			if err := os.Symlink("busybox", filepath.Join(c.Bundle, "rootfs", "bin", "sh")); err != nil {
				b.Fatal(err)
			}
			config := filepath.Join(c.Bundle, spec.ConfigName)
			orig, err := os.ReadFile(config)
			if err != nil {
				b.Fatal(err)
			}
			var warned string
			o := CreateOptions{Policy: pol, Profile: prof, Warnf: func(f string, _ ...any) { warned = f }}
			var undoCPU time.Duration
			once := func() {
				// Each create starts from the bundle as the engine wrote it.
				b.StopTimer()
				if err := os.WriteFile(config, orig, 0o644); err != nil {
					b.Fatal(err)
				}
				if err := os.RemoveAll(config + spec.OrigSuffix); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				created, err := Create(c, o)
				if err != nil {
					b.Fatal(err)
				}
				cpu0 := cpuTime(b)
				if err := created.Undo(); err != nil {
					b.Fatal(err)
				}
				undoCPU += cpuTime(b) - cpu0
			}
			runTimed(b, once)
			// Undo is what delete does once the delegate has deleted the
			// container (afterDelete), less reading the record.
			b.ReportMetric(float64(undoCPU)/float64(b.N+1)/1e6, "undo-cpu-ms/op")
			if warned != "" {
				b.Fatalf("Create warned: %s", warned)
			}
		})
	}
}

// cpuTime returns the user and system CPU time this process used so far.
func cpuTime(b *testing.B) time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkDenials measures the part of a create that denial logging adds
// in runcage: planning the filter that hands denied syscalls to the
// node's denial agent (planDenials) and writing the container's
// configuration for it (startDenials, the agent found running), on
// runcage's default filter.
func BenchmarkDenials(b *testing.B) {
	pol, c := inProcess(b)
	f, err := seccomp.Tighten(seccomp.Default(), nil)
	if err != nil {
		b.Fatal(err)
	}
	once := func() {
		s := &specs.Spec{Linux: &specs.Linux{Seccomp: f}}
		cfg := &recorder.AgentConfig{Mode: recorder.ModeEnforce, Name: c.ID, Container: c.ID, Profile: "default", Filter: f}
		plan, err := planDenials(pol, cfg, s.Linux)
		if err != nil {
			b.Fatal(err)
		}
		var cu cleanup
		if warning, err := startDenials(&cu, plan, pol, s); err != nil || warning != nil {
			b.Fatalf("startDenials: %v, warning %v", err, warning)
		}
		if err := cu.Run(); err != nil {
			b.Fatal(err)
		}
	}
	runTimed(b, once)
}

// runTimed runs once, untimed (the first call starts the denial agent, as
// the first create on a node does), then b.N times, timed, and reports the
// CPU time of this process per call besides the wall time (the agent's is
// its own; the untimed parts of once count too, and are small).
func runTimed(b *testing.B, once func()) {
	once()
	cpu0 := cpuTime(b)
	b.ResetTimer()
	for range b.N {
		once()
	}
	b.StopTimer()
	b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(b.N)/1e6, "cpu-ms/op")
}
