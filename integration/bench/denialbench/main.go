//go:build integration

// Command denialbench measures what logging denied syscalls costs: the same
// profile (runcage's default) with the denial agent (the policy's default)
// and without it (log_denials = false), in the same run, interleaved.
//
// Workloads, each in a fresh container on the cached Debian rootfs
// (integration/rootfs/debian.sh), read-only:
//
//   - start: /bin/true, so the figure is create + start + delete;
//   - syscalls: dd with 1-byte blocks, 2 syscalls per byte, all allowed;
//   - fork: a shell loop of /bin/true, clone (a rule with argument
//     conditions), execve, wait4 each;
//   - denied: a loop of getcwd in a profile that denies it, every call a
//     denial (the agent's worst case).
//
// It prints the median wall time and CPU time of `runcage run` per
// configuration and workload and the ratios logged/unlogged. On a shared
// machine the CPU figure is the steadier one. Run it as root from the
// repository after `make build`:
//
//	go run -tags integration ./integration/bench/denialbench -n 10
//
// The binaries come from $RUNCAGE and $RUNC, as in the integration tests.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/runcage/runcage/integration"
)

func main() {
	n := flag.Int("n", 10, "runs per configuration and workload")
	bytes := flag.Int("bytes", 200000, "bytes dd copies one at a time (syscalls workload)")
	forks := flag.Int("forks", 300, "processes the fork workload starts")
	flag.Parse()
	if err := run(*n, *bytes, *forks); err != nil {
		fmt.Fprintln(os.Stderr, "denialbench:", err)
		os.Exit(1)
	}
}

type config struct{ name, policy string }

func run(n, nbytes, forks int) error {
	db, err := integration.NewDebianBench("runcage-denialbench-")
	if err != nil {
		return err
	}
	defer db.Close()
	bin, rootfs, dir := db.Bin, db.Rootfs, db.Dir
	var cfgs []config
	for _, c := range []struct{ name, extra string }{{"unlogged", "log_denials = false\n"}, {"logged", ""}} {
		p := filepath.Join(dir, c.name+".toml")
		text := fmt.Sprintf("runtime = %q\nstate_dir = %q\naudit_log = %q\nprofiles_dir = %q\n%s", bin.Runc,
			filepath.Join(dir, c.name, "state"), filepath.Join(dir, c.name, "log", "audit.log"), filepath.Join(dir, "profiles"), c.extra)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			return err
		}
		cfgs = append(cfgs, config{c.name, p})
	}
	// A profile that denies getcwd, for the denied workload.
	merge := integration.Runtime{Path: bin.Runcage, Env: []string{"RUNCAGE_CONFIG=" + cfgs[0].policy}}
	if res := merge.Exec(time.Minute, "profile", "merge", "--name", "nogetcwd", "default"); res.Exit != 0 {
		return fmt.Errorf("make profile: %s", res)
	}
	if err := integration.DropSyscall(filepath.Join(dir, "profiles", "nogetcwd", "seccomp.json"), "getcwd"); err != nil {
		return err
	}
	workloads := []struct {
		name, profile, script string
	}{
		{"start", "default", "true"},
		{"syscalls", "default", fmt.Sprintf("dd if=/dev/zero of=/dev/null bs=1 count=%d 2>/dev/null", nbytes)},
		{"fork", "default", fmt.Sprintf("i=0; while [ $i -lt %d ]; do /bin/true; i=$((i+1)); done", forks)},
		{"denied", "nogetcwd", "i=0; while [ $i -lt 2000 ]; do pwd >/dev/null 2>&1; cd .; i=$((i+1)); done; /bin/pwd >/dev/null 2>&1; true"},
	}
	times, cpus := map[string][]time.Duration{}, map[string][]time.Duration{}
	seq := 0
	for round := 0; round < n+1; round++ { // round 0 warms up
		for _, w := range workloads {
			for i := range cfgs {
				c := cfgs[(i+round)%len(cfgs)]
				seq++
				d, cpu, err := once(dir, rootfs, bin.Runcage, c, w.profile, w.script, seq)
				if err != nil {
					return fmt.Errorf("%s/%s: %w", c.name, w.name, err)
				}
				if round > 0 {
					times[c.name+"/"+w.name] = append(times[c.name+"/"+w.name], d)
					cpus[c.name+"/"+w.name] = append(cpus[c.name+"/"+w.name], cpu)
				}
			}
		}
	}
	fmt.Printf("| workload | wall unlogged | wall logged | ratio | CPU unlogged | CPU logged | ratio |\n|---|---:|---:|---:|---:|---:|---:|\n")
	for _, w := range workloads {
		u, l := integration.Median(times["unlogged/"+w.name]), integration.Median(times["logged/"+w.name])
		cu, cl := integration.Median(cpus["unlogged/"+w.name]), integration.Median(cpus["logged/"+w.name])
		fmt.Printf("| %s | %.1f ms | %.1f ms | %.3f | %.1f ms | %.1f ms | %.3f |\n", w.name, ms(u), ms(l), float64(l)/float64(u), ms(cu), ms(cl), float64(cl)/float64(cu))
	}
	fmt.Printf("\nCPU is user+system time of runcage, runc and the container (wait4), without the denial agent's own.\n")
	fmt.Printf("\n%d runs each, median; load average %s\n", n, loadavg())
	return nil
}

// once runs script in a new container of profile under configuration c and
// returns the wall time of `runcage run` (create, start, wait, delete) and
// the CPU time of it and its descendants.
func once(dir, rootfs, runcage string, c config, profile, script string, seq int) (time.Duration, time.Duration, error) {
	bundle := filepath.Join(dir, fmt.Sprintf("b%d", seq))
	s := integration.BaseSpec(nil, "/bin/sh", "-c", script)
	s.Root.Path, s.Root.Readonly = rootfs, true
	b, err := integration.MarshalSpec(s)
	if err != nil {
		return 0, 0, err
	}
	if err := integration.WriteConfig(bundle, b); err != nil {
		return 0, 0, err
	}
	defer os.RemoveAll(bundle)
	rt := integration.Runtime{Path: runcage, Pre: []string{"--runcage-profile", profile},
		Env: []string{"RUNCAGE_CONFIG=" + c.policy}, Root: filepath.Join(dir, c.name, "root")}
	id := fmt.Sprintf("db%d", seq)
	res := rt.Exec(5*time.Minute, "run", "--bundle", bundle, id)
	rt.Exec(time.Minute, "delete", "-f", id)
	if res.Exit != 0 {
		return 0, 0, fmt.Errorf("run: %s", res)
	}
	var cpu time.Duration
	if ru := res.Rusage; ru != nil {
		cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	return res.Elapsed, cpu, nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	return strings.Join(strings.Fields(string(b))[:3], " ")
}
