//go:build integration

// Command recordbench measures what runcage's recorder and seccomp profiles
// cost a real server: redis-server in a Debian container, driven by the
// host's redis-benchmark inside the container's network namespace. It runs,
// in one process and interleaved over several rounds (best round kept):
//
//   - unconfined: the passthrough profile (plain runc, no seccomp filter);
//   - default: runcage's default profile;
//   - record: the record profile (every syscall goes to the agent);
//   - strace: unconfined, with `strace -f` attached to redis-server;
//   - generated: the profile `runcage profile generate` makes from the
//     recording;
//   - complain: the generated allowlist in complain mode (no unknown
//     syscalls, so nothing reaches the agent);
//
// and prints requests per second and each configuration's cost, the extra
// time per request relative to unconfined (rps_unconfined/rps - 1).
//
//	go run -tags integration ./integration/bench/recordbench -n 20000 -rounds 3
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/runcage/runcage/integration"
)

func main() {
	n := flag.Int("n", 20000, "requests per redis-benchmark test")
	rounds := flag.Int("rounds", 3, "rounds (the best of each configuration is kept)")
	tests := flag.String("t", "set,get,incr,lpush,lrange", "redis-benchmark tests")
	flag.Parse()
	if err := run(*n, *rounds, *tests); err != nil {
		fmt.Fprintln(os.Stderr, "recordbench:", err)
		os.Exit(1)
	}
}

type bench struct {
	bin    integration.Binaries
	debian string
	dir    string
	policy string
	seq    int
}

func run(n, rounds int, tests string) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("must run as root")
	}
	db, err := integration.NewDebianBench("runcage-recbench-")
	if err != nil {
		return err
	}
	defer db.Close()
	bin, dir := db.Bin, db.Dir
	b := &bench{bin: bin, debian: db.Rootfs, dir: dir, policy: filepath.Join(dir, "policy.toml")}
	pol := fmt.Sprintf("runtime = %q\nstate_dir = %q\nrecordings_dir = %q\naudit_log = %q\nprofiles_dir = %q\n"+
		"[profiles.gen-complain]\nmode = \"complain\"\nseccomp = %q\n",
		bin.Runc, filepath.Join(dir, "state"), filepath.Join(dir, "rec"), filepath.Join(dir, "audit.log"),
		filepath.Join(dir, "profiles"), filepath.Join(dir, "profiles", "gen", "seccomp.json"))
	if err := os.WriteFile(b.policy, []byte(pol), 0o644); err != nil {
		return err
	}
	// Record once (not timed) to have a profile to generate.
	if _, err := b.measure("record", n, tests, false); err != nil {
		return err
	}
	if _, err := integration.WaitTrace(filepath.Join(dir, "rec", "bench.json"), 20*time.Second); err != nil {
		return err
	}
	gen := exec.Command(bin.Runcage, "profile", "generate", "--name", "gen", "--profiles-dir", filepath.Join(dir, "profiles"), filepath.Join(dir, "rec", "bench.json"))
	gen.Env = append(os.Environ(), "RUNCAGE_CONFIG="+b.policy)
	if out, err := gen.CombinedOutput(); err != nil {
		return fmt.Errorf("generate: %v: %s", err, out)
	}
	configs := []string{"passthrough", "default", "gen", "gen-complain", "record", "strace"}
	best := map[string]float64{}
	for r := range rounds {
		for _, c := range configs {
			rps, err := b.measure(c, n, tests, c == "strace")
			if err != nil {
				return fmt.Errorf("round %d %s: %w", r+1, c, err)
			}
			best[c] = max(best[c], rps)
			fmt.Fprintf(os.Stderr, "round %d %-13s %9.0f req/s\n", r+1, c, rps)
		}
	}
	base := best["passthrough"]
	cost := func(c string) float64 { return base/best[c] - 1 }
	fmt.Printf("redis-benchmark -t %s -n %d, best of %d rounds (requests/s, mean over tests)\n", tests, n, rounds)
	fmt.Printf("%-26s %10s %8s\n", "configuration", "req/s", "cost")
	for _, c := range []struct{ key, label string }{
		{"passthrough", "unconfined (passthrough)"}, {"default", "runcage default"}, {"gen", "generated (enforce)"},
		{"gen-complain", "generated (complain)"}, {"record", "recording"}, {"strace", "strace -f (unconfined)"},
	} {
		fmt.Printf("%-26s %10.0f %7.1f%%\n", c.label, best[c.key], 100*cost(c.key))
	}
	// Costs within noise of zero make a ratio of costs meaningless; the
	// throughput ratio says the same thing without dividing by noise.
	fmt.Printf("generated rps / default rps:     %.3f (target >= 1 within noise: no more costly)\n", best["gen"]/best["default"])
	fmt.Printf("recording cost / strace cost:    %.2f (target < 0.33)\n", safeRatio(cost("record"), cost("strace")))
	fmt.Printf("complain rps / enforce rps:      %.3f (target ~ 1)\n", best["gen-complain"]/best["gen"])
	return nil
}

func safeRatio(a, b float64) float64 {
	if b <= 0 {
		b = 1e-9
	}
	return a / b
}

// measure starts redis-server under profile (strace: passthrough with
// strace -f attached), runs redis-benchmark and returns the mean
// requests/s over the tests.
func (b *bench) measure(profile string, n int, tests string, strace bool) (float64, error) {
	if strace {
		profile = "passthrough"
	}
	b.seq++
	name := fmt.Sprintf("b%d", b.seq)
	bdir := filepath.Join(b.dir, name)
	merged, undo, err := integration.Overlay(b.debian, filepath.Join(bdir, "ovl"))
	if err != nil {
		return 0, err
	}
	defer undo()
	s := integration.BaseSpec(nil, integration.RedisArgs()...)
	s.Root.Path = merged
	s.Annotations = map[string]string{"runcage.dev/recording-name": "bench"}
	data, err := integration.MarshalSpec(s)
	if err != nil {
		return 0, err
	}
	if err := integration.WriteConfig(bdir, data); err != nil {
		return 0, err
	}
	rt := integration.Runtime{Path: b.bin.Runcage, Pre: []string{"--runcage-profile", profile},
		Env: []string{"RUNCAGE_CONFIG=" + b.policy}, Root: filepath.Join(b.dir, "root")}
	id := fmt.Sprintf("rb-%d-%s", os.Getpid(), name)
	defer rt.Exec(time.Minute, "delete", "--force", id)
	if res := rt.Exec(time.Minute, "run", "-d", "--bundle", bdir, id); res.Exit != 0 {
		return 0, fmt.Errorf("run: %s", res)
	}
	st, err := rt.State(id)
	if err != nil {
		return 0, err
	}
	if err := integration.WaitFor(20*time.Second, func() error {
		out, err := integration.InNetns(st.Pid, "redis-cli", "ping").CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != "PONG" {
			return fmt.Errorf("ping: %v %s", err, out)
		}
		return nil
	}); err != nil {
		return 0, err
	}
	if strace {
		tr := exec.Command("strace", "-f", "-qq", "-o", filepath.Join(bdir, "strace.log"), "-p", strconv.Itoa(st.Pid))
		if err := tr.Start(); err != nil {
			return 0, err
		}
		defer func() {
			// strace can hang detaching from a killed, traced process
			// (a zombie whose threads it still follows): give it a few
			// seconds, then kill it, so the benchmark never hangs.
			done := make(chan struct{})
			go func() { tr.Wait(); close(done) }()
			tr.Process.Signal(os.Interrupt)
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				tr.Process.Kill()
				<-done
			}
		}()
		time.Sleep(500 * time.Millisecond)
	}
	out, err := integration.InNetns(st.Pid, "redis-benchmark", "-t", tests, "-n", strconv.Itoa(n), "-q").CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("redis-benchmark: %v: %s", err, out)
	}
	res := integration.ParseRedisBench(string(out))
	if len(res) == 0 {
		return 0, fmt.Errorf("no results in %s", out)
	}
	keys := make([]string, 0, len(res))
	for k := range res {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	sum := 0.0
	for _, k := range keys {
		sum += res[k]
	}
	rt.Exec(time.Minute, "kill", id, "KILL")
	return sum / float64(len(res)), nil
}
