//go:build integration

// Command enginebench measures what runcage adds to a container's start
// under containerd, in one run with the configurations interleaved:
//
//   - ctr cycle: `ctr run --rm` of a busybox `/bin/true` (create, start,
//     wait, delete, through containerd and a shim), with
//     1. stock: containerd's runc shim (io.containerd.runc.v2) with bin/runc;
//     2. shim: runcage's shim (io.containerd.runcage.v2, found by name as
//     `runcage install containerd` registers it on containerd 1.6)
//     driving the same bin/runc;
//     3. binary: containerd's runc shim with bin/runcage as its runc
//     binary (the registration for engines that cannot run another shim);
//     and, when -protections, the same ctr cycle from a spec file (`ctr
//     run --config`, a plain rootfs directory, no snapshot) with
//     4. stock spec: bin/runc on the spec containerd generates;
//     5. protections: bin/runc on the spec runcage rewrote it to (captured
//     once from a container started through row 3, its rootfs replaced by
//     the same plain directory: no id-mapped rootfs), which is what the
//     protections alone cost runc.
//   - CRI cycle (-cri): RunPodSandbox, CreateContainer and StartContainer
//     of a busybox `sleep`, StopPodSandbox, RemovePodSandbox, with the
//     handlers runc (stock: runc shim, bin/runc), runcage (runcage's shim,
//     registered by `runcage install containerd`) and bin-runcage (runc
//     shim with bin/runcage as its runc).
//   - With -base-shim PATH, one more row in each cycle: that build of
//     runcage's shim (say, the one before a change) with the same options,
//     as runtime io.containerd.runcagebase.v2 and CRI handler runcage-base,
//     so that two builds of the shim are compared in one interleaved run.
//
// It prints the median and p90 wall time and the median CPU time per row,
// and the ratios of medians to the stock row (row 5 to row 4). CPU time is
// that of a cpuacct cgroup (v1) holding the benchmark, containerd, the
// shims, runc, runcage and the containers, so other load on the machine
// does not count in it: on a shared machine it is the steadier figure.
// One containerd serves every row, on a private root, state directory and
// socket under a temporary directory; the pods use a macvlan CNI network
// as in the CRI suite. With -tmpfs (the default) what a host keeps under
// /run, a tmpfs there, is on a private tmpfs for every row: containerd's
// state directory (the task bundles), runc's root and runcage's state_dir
// (this machine's /run is ext4, where each fsync'd write costs 0.5 to 6
// ms); -tmpfs=false leaves them on the temporary directory's disk. Run it
// as root from the repository after `make build`:
//
//	go run -tags integration ./integration/bench/enginebench -n 30
//
// The binaries come from $RUNCAGE, $RUNC and $RUNCAGE_SHIM, as in the
// integration tests.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
	cri "k8s.io/cri-api/pkg/apis/runtime/v1"

	it "github.com/runcage/runcage/integration"
)

const (
	ctrNS        = "enginebench"
	criNS        = "k8s.io"
	busyboxImage = "docker.io/runcage/busybox:bench"
	pauseImage   = "docker.io/runcage/pause:bench"
)

func main() {
	n := flag.Int("n", 30, "cycles per row")
	withCRI := flag.Bool("cri", true, "measure the CRI cycle")
	protections := flag.Bool("protections", true, "measure the protections-only rows (runc on runcage's spec)")
	tmpfs := flag.Bool("tmpfs", true, "put what lives under /run on a host (containerd's state, runc's root, runcage's state_dir) on a private tmpfs, for every row")
	baseShim := flag.String("base-shim", "", "another build of runcage's shim to measure in a row of its own (e.g. the build before a change)")
	flag.Parse()
	if err := run(*n, *withCRI, *protections, *tmpfs, *baseShim); err != nil {
		fmt.Fprintln(os.Stderr, "enginebench:", err)
		os.Exit(1)
	}
}

// bench is the containerd the rows run on, and what they share.
type bench struct {
	eng          it.Engine
	daemon       *it.Containerd
	shim, policy string
	// baseShim is -base-shim, "" when absent.
	baseShim string
	// runcage is the copy of runcage install registered, in binDir.
	runcage, binDir string
	// rootfs is the busybox image's tree, the plain root of the spec rows.
	rootfs string
	client *it.CRIClient
	cgroup string
	seq    int
	// tmpfs: the /run directories are on a tmpfs mounted at runDir.
	tmpfs  bool
	runDir string
}

// row is one configuration: once runs one cycle and returns its wall time.
type row struct {
	name string
	once func() (time.Duration, error)
}

// sample is one cycle's wall and CPU time.
type sample struct{ wall, cpu time.Duration }

// cpuacctRoot is the cgroup v1 cpuacct hierarchy.
const cpuacctRoot = "/sys/fs/cgroup/cpuacct"

// cpuUsage returns the CPU time charged to the cpuacct cgroup group
// (its cpuacct.usage, nanoseconds, which includes removed children).
func cpuUsage(group string) (time.Duration, error) {
	b, err := os.ReadFile(filepath.Join(cpuacctRoot, group, "cpuacct.usage"))
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	return time.Duration(n), err
}

func run(n int, withCRI, protections, tmpfs bool, baseShim string) (err error) {
	b := &bench{tmpfs: tmpfs, baseShim: baseShim}
	if b.eng.Bins, err = it.FindBinaries(); err != nil {
		return err
	}
	if b.shim, err = it.FindShim(); err != nil {
		return err
	}
	if b.eng.WorkDir, err = os.MkdirTemp("", "runcage-enginebench-"); err != nil {
		return err
	}
	if err := os.Chmod(b.eng.WorkDir, 0o711); err != nil {
		return err
	}
	b.eng.StateDir = filepath.Join(b.eng.WorkDir, "runcage-state")
	// This process, and so containerd and all it starts, in a cpuacct
	// group that is also the pods' and containers' cgroup parent.
	b.cgroup = fmt.Sprintf("/runcage-enginebench-%d", os.Getpid())
	defer func() { err = errors.Join(err, b.close()) }()
	if err := os.Mkdir(filepath.Join(cpuacctRoot, b.cgroup), 0o755); err != nil {
		return fmt.Errorf("cpuacct cgroup: %w", err)
	}
	if err := os.WriteFile(filepath.Join(cpuacctRoot, b.cgroup, "cgroup.procs"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return fmt.Errorf("cpuacct cgroup: %w", err)
	}
	if err := b.start(); err != nil {
		return err
	}

	ctrRows := []row{
		{"stock (runc shim, bin/runc)", b.ctr("--runtime", "io.containerd.runc.v2", "--runc-binary", b.eng.Bins.Runc, "--runc-root", b.daemon.RuncRoot)},
		{"runcage shim (bin/runc)", b.ctr("--runtime", "io.containerd.runcage.v2", "--runtime-config-path", filepath.Join(b.eng.WorkDir, "shim-options", "bench.toml"))},
		{"runc shim, bin/runcage as runc", b.ctr("--runtime", "io.containerd.runc.v2", "--runc-binary", b.runcage, "--runc-root", b.daemon.RuncRoot)},
	}
	if protections {
		plain, hardened, err := b.captureSpecs()
		if err != nil {
			return fmt.Errorf("protections rows: %w", err)
		}
		ctrRows = append(ctrRows,
			row{"spec file: stock spec (bin/runc)", b.ctrSpec(plain)},
			row{"spec file: runcage's spec (bin/runc)", b.ctrSpec(hardened)})
	}
	if b.baseShim != "" {
		ctrRows = append(ctrRows, row{"runcage shim, -base-shim build (bin/runc)", b.ctr("--runtime", baseRuntime, "--runtime-config-path", filepath.Join(b.eng.WorkDir, "shim-options", "bench.toml"))})
	}
	var criRows []row
	if withCRI {
		for _, h := range []struct{ name, handler string }{
			{"stock (runc shim, bin/runc)", "runc"},
			{"runcage shim (bin/runc)", "runcage"},
			{"runc shim, bin/runcage as runc", "bin-runcage"},
		} {
			criRows = append(criRows, row{h.name, b.criCycle(h.handler)})
		}
		if b.baseShim != "" {
			criRows = append(criRows, row{"runcage shim, -base-shim build", b.criCycle("runcage-base")})
		}
	}
	load0 := loadavg()
	ctrTimes, err := b.measure(ctrRows, n)
	if err != nil {
		return fmt.Errorf("ctr cycle: %w", err)
	}
	criTimes, err := b.measure(criRows, n)
	if err != nil {
		return fmt.Errorf("CRI cycle: %w", err)
	}
	fmt.Printf("containerd %s, %d cycles per row, interleaved; load average %s at the start, %s at the end\n\n",
		containerdVersion(), n, load0, loadavg())
	report("ctr run --rm of busybox /bin/true", ctrRows, ctrTimes, map[int]int{3: 0, 4: 3})
	if withCRI {
		report("CRI: RunPodSandbox, CreateContainer, StartContainer, StopPodSandbox, RemovePodSandbox", criRows, criTimes, nil)
	}
	return nil
}

// start writes the images, the policy and containerd's config, registers
// runcage with `runcage install containerd` (shim handlers) plus the
// runc-binary handler bin-runcage, and starts containerd.
func (b *bench) start() error {
	bb, err := it.BuildImageArchive(b.eng.WorkDir, it.OCIImage{Name: busyboxImage, Cmd: []string{"/bin/sh"}, Env: []string{it.HostPATH}}, it.RootfsOptions{})
	if err != nil {
		return err
	}
	b.rootfs = strings.TrimSuffix(bb, ".tar") + ".rootfs"
	pause, err := b.eng.PauseArchive(pauseImage)
	if err != nil {
		return err
	}
	if b.daemon, b.policy, err = b.eng.ContainerdEngine(""); err != nil {
		return err
	}
	if b.tmpfs {
		if err := b.runOnTmpfs(); err != nil {
			return err
		}
	}
	subnet := fmt.Sprintf("10.214.%d.0/24", os.Getpid()%250+1)
	if err := b.daemon.WriteConfig(it.ContainerdConfig{CRI: true, SandboxImage: pauseImage, Runc: b.eng.Bins.Runc, Subnet: subnet}); err != nil {
		return err
	}
	// Copies of runcage and the shim, so that install's links stay here.
	b.binDir = filepath.Join(b.eng.WorkDir, "bin")
	if err := os.Mkdir(b.binDir, 0o755); err != nil {
		return err
	}
	b.runcage = filepath.Join(b.binDir, "runcage")
	shim := filepath.Join(b.binDir, "containerd-shim-runcage-v2")
	for src, dst := range map[string]string{b.eng.Bins.Runcage: b.runcage, b.shim: shim} {
		data, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		if err := os.WriteFile(dst, data, 0o755); err != nil {
			return err
		}
	}
	if err := it.AddRuncHandlers(b.daemon.Config, map[string]string{"bin-runcage": b.runcage}); err != nil {
		return err
	}
	opts := filepath.Join(b.eng.WorkDir, "shim-options")
	cmd := exec.Command(b.eng.Bins.Runcage, "--runcage-config", b.policy, "install", "containerd",
		"--config", b.daemon.Config, "--dropin", filepath.Join(b.daemon.Dir, "conf.d", "runcage.toml"),
		"--binary", b.runcage, "--shim-binary", shim, "--shim-link-dir", b.binDir, "--options-dir", opts, "--profiles", "default")
	cmd.Env = []string{it.HostPATH}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("runcage install containerd: %w\n%s", err, out)
	}
	// The ctr rows' shim options: install's, plus the suite's runc root.
	base, err := os.ReadFile(filepath.Join(opts, "runcage.toml"))
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(opts, "bench.toml"), append(base, "root = "+strconv.Quote(b.daemon.RuncRoot)+"\n"...), 0o644); err != nil {
		return err
	}
	if b.baseShim != "" {
		if err := b.addBaseShim(opts); err != nil {
			return err
		}
	}
	if err := b.daemon.Start([]string{"RUNCAGE_CONFIG=" + b.policy, "PATH=" + b.binDir + ":" + strings.TrimPrefix(it.HostPATH, "PATH=")}); err != nil {
		return err
	}
	if err := b.daemon.Import(ctrNS, bb); err != nil {
		return err
	}
	if err := b.daemon.Import(criNS, pause, bb); err != nil {
		return err
	}
	if b.client, err = it.DialCRI(b.daemon.Address); err != nil {
		return err
	}
	return b.client.WaitImages(pauseImage, busyboxImage)
}

// baseRuntime is the runtime name -base-shim's build is registered as:
// containerd 1.6 runs it as containerd-shim-runcagebase-v2 from PATH.
const baseRuntime = "io.containerd.runcagebase.v2"

// addBaseShim copies -base-shim's build into binDir under baseRuntime's
// binary name and adds the CRI handler runcage-base for it, with the
// options file of install's runcage handler, to install's drop-in.
func (b *bench) addBaseShim(opts string) error {
	data, err := os.ReadFile(b.baseShim)
	if err != nil {
		return fmt.Errorf("-base-shim: %w", err)
	}
	if err := os.WriteFile(filepath.Join(b.binDir, "containerd-shim-runcagebase-v2"), data, 0o755); err != nil {
		return err
	}
	table := `plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runcage-base`
	handler := fmt.Sprintf("\n[%s]\n  runtime_type = %q\n  pod_annotations = [\"runcage.dev/*\"]\n  [%s.options]\n    ConfigPath = %q\n",
		table, baseRuntime, table, filepath.Join(opts, "runcage.toml"))
	f, err := os.OpenFile(filepath.Join(b.daemon.Dir, "conf.d", "runcage.toml"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return fmt.Errorf("add the runcage-base handler: %w", err)
	}
	_, werr := f.WriteString(handler)
	return errors.Join(werr, f.Close())
}

// runOnTmpfs mounts a tmpfs on WorkDir/run and moves there what a host
// keeps under /run, which is tmpfs on a normal host (this machine's /run is
// ext4): containerd's state directory (the task bundles, where runcage
// rewrites config.json), runc's root and runcage's state_dir. Every row
// gets the same directories, so the stock rows pay what runcage's do. The
// policy is written again for the moved directories.
func (b *bench) runOnTmpfs() error {
	b.runDir = filepath.Join(b.eng.WorkDir, "run")
	if err := os.Mkdir(b.runDir, 0o711); err != nil {
		return err
	}
	if err := unix.Mount("tmpfs", b.runDir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0711"); err != nil {
		return fmt.Errorf("mount a tmpfs on %s: %w", b.runDir, err)
	}
	b.daemon.State = filepath.Join(b.runDir, "containerd")
	b.daemon.RuncRoot = filepath.Join(b.runDir, "runc")
	b.eng.StateDir = filepath.Join(b.runDir, "runcage")
	var err error
	b.policy, err = b.eng.WritePolicy([]string{b.daemon.Root, b.daemon.State}, "")
	return err
}

func (b *bench) close() error {
	var errs []error
	if b.client != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		if resp, err := b.client.Runtime.ListPodSandbox(ctx, &cri.ListPodSandboxRequest{}); err == nil {
			for _, p := range resp.Items {
				b.client.Runtime.StopPodSandbox(ctx, &cri.StopPodSandboxRequest{PodSandboxId: p.Id})
				b.client.Runtime.RemovePodSandbox(ctx, &cri.RemovePodSandboxRequest{PodSandboxId: p.Id})
			}
		}
		cancel()
		b.client.Conn.Close()
	}
	if b.daemon != nil {
		errs = append(errs, b.daemon.Purge(ctrNS), b.daemon.Shutdown(criNS))
	}
	if b.eng.WorkDir != "" {
		errs = append(errs, it.StopDenialAgent(b.eng.StateDir), it.UnmountUnder(b.eng.WorkDir), os.RemoveAll(b.eng.WorkDir))
	}
	if b.cgroup != "" {
		// Out of the group (empty now: the denial agent, started by
		// runcage, has stopped), then remove it in every hierarchy (runc
		// made it in the others as the containers' parent).
		errs = append(errs, os.WriteFile(filepath.Join(cpuacctRoot, "cgroup.procs"), []byte(strconv.Itoa(os.Getpid())), 0o644))
		dirs, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", b.cgroup))
		for _, d := range dirs {
			if err := os.Remove(d); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// ctr returns a row running `ctr run --rm` of busybox /bin/true with the
// runtime flags.
func (b *bench) ctr(flags ...string) func() (time.Duration, error) {
	return func() (time.Duration, error) {
		b.seq++
		id := fmt.Sprintf("eb%d", b.seq)
		argv := append(append([]string{"run", "--rm", "--cgroup", b.cgroup + "/" + id}, flags...), busyboxImage, id, "/bin/true")
		res := b.daemon.Ctr(ctrNS, argv...)
		if res.Exit != 0 {
			return 0, fmt.Errorf("%s", res)
		}
		return res.Elapsed, nil
	}
}

// ctrSpec returns a row running `ctr run --rm --config spec` with
// containerd's runc shim and bin/runc.
func (b *bench) ctrSpec(spec string) func() (time.Duration, error) {
	return func() (time.Duration, error) {
		b.seq++
		res := b.daemon.Ctr(ctrNS, "run", "--rm", "--runtime", "io.containerd.runc.v2", "--runc-binary", b.eng.Bins.Runc,
			"--runc-root", b.daemon.RuncRoot, "--config", spec, fmt.Sprintf("eb%d", b.seq))
		if res.Exit != 0 {
			return 0, fmt.Errorf("%s", res)
		}
		return res.Elapsed, nil
	}
}

// captureSpecs starts a sleeping container through the stock row and one
// through runcage as the runc binary, copies the config.json of each
// bundle (the second as runcage rewrote it), and writes both as spec files
// for /bin/true on the plain busybox tree, read-only, in a cgroup under
// the benchmark's. It returns their paths.
func (b *bench) captureSpecs() (plain, hardened string, err error) {
	for _, c := range []struct {
		bin string
		out *string
	}{{b.eng.Bins.Runc, &plain}, {b.runcage, &hardened}} {
		b.seq++
		id := fmt.Sprintf("capture%d", b.seq)
		res := b.daemon.Ctr(ctrNS, "run", "-d", "--runtime", "io.containerd.runc.v2", "--runc-binary", c.bin,
			"--runc-root", b.daemon.RuncRoot, busyboxImage, id, "/bin/sleep", "600")
		if res.Exit != 0 {
			return "", "", fmt.Errorf("capture: %s", res)
		}
		data, rerr := os.ReadFile(filepath.Join(b.daemon.State, "io.containerd.runtime.v2.task", ctrNS, id, "config.json"))
		b.daemon.Ctr(ctrNS, "task", "kill", "-s", "SIGKILL", id)
		for deadline := time.Now().Add(20 * time.Second); b.daemon.Ctr(ctrNS, "task", "delete", id).Exit != 0 && time.Now().Before(deadline); {
			time.Sleep(100 * time.Millisecond)
		}
		b.daemon.Ctr(ctrNS, "container", "delete", id)
		if rerr != nil {
			return "", "", fmt.Errorf("capture: %w", rerr)
		}
		var s map[string]any
		if err := json.Unmarshal(data, &s); err != nil {
			return "", "", fmt.Errorf("capture: %w", err)
		}
		s["root"] = map[string]any{"path": b.rootfs, "readonly": true}
		proc, _ := s["process"].(map[string]any)
		if proc == nil {
			return "", "", errors.New("capture: spec without process")
		}
		proc["args"], proc["terminal"] = []string{"/bin/true"}, false
		if linux, ok := s["linux"].(map[string]any); ok {
			linux["cgroupsPath"] = b.cgroup + "/spec"
		}
		out, err := json.MarshalIndent(s, "", "  ")
		if err != nil {
			return "", "", err
		}
		*c.out = filepath.Join(b.eng.WorkDir, filepath.Base(c.bin)+"-spec.json")
		if err := os.WriteFile(*c.out, out, 0o644); err != nil {
			return "", "", err
		}
	}
	return plain, hardened, nil
}

// criCycle returns a row running one pod through the CRI with handler:
// RunPodSandbox, CreateContainer and StartContainer of busybox `sleep`,
// StopPodSandbox, RemovePodSandbox.
func (b *bench) criCycle(handler string) func() (time.Duration, error) {
	return func() (time.Duration, error) {
		b.seq++
		name := fmt.Sprintf("eb%d", b.seq)
		ns := &cri.NamespaceOption{Network: cri.NamespaceMode_POD, Pid: cri.NamespaceMode_CONTAINER, Ipc: cri.NamespaceMode_POD}
		cfg := &cri.PodSandboxConfig{
			Metadata: &cri.PodSandboxMetadata{Name: name, Namespace: "enginebench", Uid: fmt.Sprintf("%s-%d", name, os.Getpid())},
			Hostname: name,
			Linux: &cri.LinuxPodSandboxConfig{CgroupParent: b.cgroup,
				SecurityContext: &cri.LinuxSandboxSecurityContext{NamespaceOptions: ns}},
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		rt := b.client.Runtime
		t0 := time.Now()
		pod, err := rt.RunPodSandbox(ctx, &cri.RunPodSandboxRequest{Config: cfg, RuntimeHandler: handler})
		if err != nil {
			return 0, fmt.Errorf("RunPodSandbox: %w", err)
		}
		c, err := rt.CreateContainer(ctx, &cri.CreateContainerRequest{PodSandboxId: pod.PodSandboxId, SandboxConfig: cfg,
			Config: &cri.ContainerConfig{Metadata: &cri.ContainerMetadata{Name: "app"}, Image: &cri.ImageSpec{Image: busyboxImage},
				Command: []string{"/bin/sleep", "600"},
				Linux:   &cri.LinuxContainerConfig{SecurityContext: &cri.LinuxContainerSecurityContext{NamespaceOptions: ns}}}})
		if err == nil {
			_, err = rt.StartContainer(ctx, &cri.StartContainerRequest{ContainerId: c.ContainerId})
		}
		_, serr := rt.StopPodSandbox(ctx, &cri.StopPodSandboxRequest{PodSandboxId: pod.PodSandboxId})
		_, rerr := rt.RemovePodSandbox(ctx, &cri.RemovePodSandboxRequest{PodSandboxId: pod.PodSandboxId})
		d := time.Since(t0)
		if err := errors.Join(err, serr, rerr); err != nil {
			return 0, err
		}
		return d, nil
	}
}

// measure runs every row n times after one warm-up round, rotating the
// order each round, and returns the samples per row.
func (b *bench) measure(rows []row, n int) ([][]sample, error) {
	times := make([][]sample, len(rows))
	for round := 0; round <= n && len(rows) > 0; round++ {
		for i := range rows {
			k := (i + round) % len(rows)
			c0, err := cpuUsage(b.cgroup)
			if err != nil {
				return nil, err
			}
			d, err := rows[k].once()
			if err != nil {
				return nil, fmt.Errorf("%s: %w", rows[k].name, err)
			}
			c1, err := cpuUsage(b.cgroup)
			if err != nil {
				return nil, err
			}
			if round > 0 {
				times[k] = append(times[k], sample{d, c1 - c0})
			}
		}
	}
	return times, nil
}

// report prints a table of the rows' wall median and p90 and CPU median,
// and the ratios of each median to that of row base[i] (row 0 when
// absent).
func report(title string, rows []row, samples [][]sample, base map[int]int) {
	fmt.Printf("%s\n\n| configuration | wall median | wall p90 | ratio | CPU median | ratio |\n|---|---:|---:|---:|---:|---:|\n", title)
	for i, r := range rows {
		wall := func(k int) []time.Duration { return field(samples[k], func(s sample) time.Duration { return s.wall }) }
		cpu := func(k int) []time.Duration { return field(samples[k], func(s sample) time.Duration { return s.cpu }) }
		bi := base[i]
		wr, cr := "1", "1"
		if bi != i {
			wr = fmt.Sprintf("%.3f (to %d)", float64(quantile(wall(i), 0.5))/float64(quantile(wall(bi), 0.5)), bi+1)
			cr = fmt.Sprintf("%.3f (to %d)", float64(quantile(cpu(i), 0.5))/float64(quantile(cpu(bi), 0.5)), bi+1)
		}
		fmt.Printf("| %d. %s | %.1f ms | %.1f ms | %s | %.1f ms | %s |\n", i+1, r.name,
			ms(quantile(wall(i), 0.5)), ms(quantile(wall(i), 0.9)), wr, ms(quantile(cpu(i), 0.5)), cr)
	}
	fmt.Println()
}

func field(ss []sample, f func(sample) time.Duration) []time.Duration {
	out := make([]time.Duration, len(ss))
	for i, s := range ss {
		out[i] = f(s)
	}
	return out
}

func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[int(q*float64(len(s)-1)+0.5)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "?"
}

func containerdVersion() string {
	out, err := exec.Command("containerd", "--version").Output()
	if f := strings.Fields(string(out)); err == nil && len(f) >= 3 {
		return f[2]
	}
	return "?"
}
