package shim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"sync"

	taskAPI "github.com/containerd/containerd/api/runtime/task/v2"
	"github.com/containerd/containerd/mount"
	"github.com/containerd/containerd/namespaces"
	"github.com/containerd/containerd/pkg/process"
	"github.com/containerd/containerd/pkg/stdio"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"

	"github.com/runcage/runcage/profiles"
	"github.com/runcage/runcage/profiles/policy"
	"github.com/runcage/runcage/runtime"
	"github.com/runcage/runcage/runtime/spec"
)

// stateFile is the file in a task's bundle (containerd's own directory
// for the task) where the shim keeps what its cleanup (`delete`) needs
// when the shim that made the container is gone.
const stateFile = "runcage-shim.json"

// taskState is stateFile's content.
type taskState struct {
	Options  Options `json:"options"`
	Delegate string  `json:"delegate"`
	// Root is runc's --root for the task: Options.Root (or the default)
	// with the namespace appended.
	Root string `json:"root"`
}

// container is one task the shim serves: runcage's identity of it, the
// policy and profile it was created under, and its processes.
type container struct {
	id     string
	bundle string
	rc     runtime.Container
	pol    *policy.Policy
	prof   *profiles.Profile
	init   *process.Init
	// killAll: the container shares a pid namespace, so its processes
	// must be killed when its init exits.
	killAll bool

	mu    sync.Mutex
	execs map[string]process.Process
	// reserved exec ids, between Exec and the process being added.
	reserved map[string]bool
	cgroup   any

	// Guarded by the service's lifecycleMu: the execs started and not
	// yet exited, whether the init exited, and the publication of its
	// exit while execs still run.
	execsRunning int
	initExited   bool
	pendingInit  func()
}

// process returns the init process (execID "") or an exec.
func (c *container) process(execID string) (process.Process, error) {
	if execID == "" {
		return c.init, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.execs[execID]
	if !ok {
		return nil, notFound("process %s of container %s", execID, c.id)
	}
	return p, nil
}

// all returns the init process and the execs.
func (c *container) all() []process.Process {
	c.mu.Lock()
	defer c.mu.Unlock()
	ps := []process.Process{c.init}
	for _, p := range c.execs {
		ps = append(ps, p)
	}
	return ps
}

// createContainer makes the task r asks for: it mounts the rootfs, runs
// runcage's create transaction on the bundle with the policy and profile
// the options select (the policy is loaded anew for every task) and has
// runc create the container. Any failure undoes all of it.
// A panic refuses the task like an error: what the transaction set up is
// released (runtime.Release), the rootfs unmounted.
func createContainer(ctx context.Context, pf stdio.Platform, r *taskAPI.CreateTaskRequest) (_ *container, err error) {
	var undo []func()
	defer func() {
		if v := recover(); v != nil {
			err = panicError(r.ID, v)
		} else if err == nil {
			return
		}
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
	}()
	ns, err := namespaces.NamespaceRequired(ctx)
	if err != nil {
		return nil, err
	}
	opts, err := ParseOptions(r.Options)
	if err != nil {
		return nil, err
	}
	pol, err := runtime.LoadPolicyFile(opts.Config)
	if err != nil {
		return nil, err
	}
	prof, src, err := selectProfile(pol, opts)
	if err != nil {
		return nil, err
	}
	configured := pol.Runtime
	if opts.BinaryName != "" {
		configured = opts.BinaryName
	}
	delegate, err := runtime.FindDelegate(configured)
	if err != nil {
		return nil, err
	}
	st := taskState{Options: opts, Delegate: delegate, Root: runcRoot(opts.Root, ns)}
	rc, err := runtime.NewContainer(st.Root, r.ID, r.Bundle)
	if err != nil {
		return nil, err
	}
	// Written first: a shim killed from here on leaves its cleanup what
	// it needs.
	if err := writeState(r.Bundle, st); err != nil {
		return nil, err
	}

	rootfs, unmount, err := mountRootfs(r)
	if err != nil {
		return nil, err
	}
	undo = append(undo, unmount)

	c := &container{id: r.ID, bundle: r.Bundle, rc: rc, pol: pol, prof: prof,
		execs: map[string]process.Process{}, reserved: map[string]bool{}}
	rt := process.NewRunc(opts.Root, r.Bundle, ns, delegate, opts.SystemdCgroup)
	p := process.New(r.ID, rt, stdio.Stdio{Stdin: r.Stdin, Stdout: r.Stdout, Stderr: r.Stderr, Terminal: r.Terminal})
	p.Bundle, p.Platform, p.Rootfs = r.Bundle, pf, rootfs
	p.WorkDir = filepath.Join(r.Bundle, "work")
	p.IoUID, p.IoGID = int(opts.IoUID), int(opts.IoGID)
	p.NoPivotRoot, p.NoNewKeyring = opts.NoPivotRoot, opts.NoNewKeyring
	p.CriuWorkPath = p.WorkDir
	c.init = p

	cfg := &process.CreateConfig{ID: r.ID, Bundle: r.Bundle, Runtime: delegate, Terminal: r.Terminal,
		Stdin: r.Stdin, Stdout: r.Stdout, Stderr: r.Stderr,
		Checkpoint: r.Checkpoint, ParentCheckpoint: r.ParentCheckpoint, Options: r.Options}
	// harden undoes the transaction on an error; after a panic in it,
	// Release finds what it set up from its record or mount directory
	// (and keeps everything if runc made the container).
	panicked := true
	undo = append(undo, func() {
		if panicked && !prof.Passthrough {
			if err := runtime.Release(rc, pol); err != nil {
				logrus.WithError(err).WithField("id", r.ID).Error("runcage: release after a panic")
			}
		}
	})
	err = harden(ctx, c, cfg, delegate, src)
	panicked = false
	if err != nil {
		return nil, err
	}
	c.killAll = sharesPidNamespace(r.Bundle)
	return c, nil
}

// harden runs runcage's create transaction on c's bundle, holding the
// container id's lock until runc has created (or restored) the container,
// and undoes the transaction when runc fails. A passthrough profile
// forwards the bundle unchanged.
func harden(ctx context.Context, c *container, cfg *process.CreateConfig, delegate string, src policy.Source) error {
	if c.prof.Passthrough {
		return c.init.Create(ctx, cfg)
	}
	unlock, err := runtime.LockContainer(c.pol.StateDir, c.id)
	if err != nil {
		return err
	}
	defer unlock()
	lg := logrus.WithField("id", c.id)
	created, err := runtime.Create(c.rc, runtime.CreateOptions{Policy: c.pol, Profile: c.prof, Delegate: delegate,
		Debugf: func(format string, args ...any) {
			lg.Debugf("runcage: profile %q (from %s): "+format, append([]any{c.prof.Name, src}, args...)...)
		},
		Warnf: func(format string, args ...any) { lg.Warnf("runcage: "+format, args...) }})
	if err != nil {
		return err
	}
	if err := c.init.Create(ctx, cfg); err != nil {
		return errors.Join(err, created.Undo())
	}
	return nil
}

// panicError logs a panic of Create, with its stack, and returns the
// refusal the task gets.
func panicError(id string, v any) error {
	buf := make([]byte, 16<<10)
	buf = buf[:goruntime.Stack(buf, false)]
	logrus.WithField("id", id).Errorf("runcage: create panicked: %v\n%s", v, buf)
	return fmt.Errorf("create refused: internal error: %v", v)
}

// selectProfile picks the task's profile: the options file's profile,
// else the one runc options' BinaryName names (runcage-PROFILE), else the
// policy's default. Annotations tighten it later, in the transaction.
func selectProfile(pol *policy.Policy, opts Options) (*profiles.Profile, policy.Source, error) {
	if opts.Profile == "" {
		return pol.Select("", opts.Argv0)
	}
	const src = policy.Source("shim options")
	prof, err := pol.Profile(opts.Profile)
	if err != nil {
		return nil, src, fmt.Errorf("select profile from %s: %w", src, err)
	}
	return prof, src, nil
}

// runcRoot is runc's --root for a task of namespace ns: root (default
// /run/containerd/runc) with ns appended, as containerd's runc shim makes it.
func runcRoot(root, ns string) string {
	if root == "" {
		root = process.RuncRoot
	}
	return filepath.Join(root, ns)
}

// mountRootfs mounts the task's rootfs mounts on <bundle>/rootfs and
// returns that path ("" when there are none) and the unmount.
func mountRootfs(r *taskAPI.CreateTaskRequest) (string, func(), error) {
	if len(r.Rootfs) == 0 {
		return "", func() {}, nil
	}
	rootfs := filepath.Join(r.Bundle, "rootfs")
	if err := os.Mkdir(rootfs, 0o711); err != nil && !os.IsExist(err) {
		return "", nil, err
	}
	mounts := make([]mount.Mount, len(r.Rootfs))
	for i, m := range r.Rootfs {
		mounts[i] = mount.Mount{Type: m.Type, Source: m.Source, Target: m.Target, Options: m.Options}
	}
	unmount := func() {
		if err := mount.UnmountMounts(mounts, rootfs, 0); err != nil {
			logrus.WithError(err).Warn("unmount rootfs")
		}
	}
	if err := mount.All(mounts, rootfs); err != nil {
		return "", nil, fmt.Errorf("mount rootfs: %w", err)
	}
	return rootfs, unmount, nil
}

// sharesPidNamespace reports whether the bundle's container has no pid
// namespace of its own (or its config cannot be read): then its processes
// outlive its init and must be killed with it.
func sharesPidNamespace(bundle string) bool {
	data, _, err := spec.ReadFile(filepath.Join(bundle, "config.json"))
	if err != nil {
		return true
	}
	var s struct {
		Linux *struct {
			Namespaces []specs.LinuxNamespace `json:"namespaces"`
		} `json:"linux"`
	}
	if json.Unmarshal(data, &s) != nil || s.Linux == nil {
		return true
	}
	for _, n := range s.Linux.Namespaces {
		if n.Type == specs.PIDNamespace && n.Path == "" {
			return false
		}
	}
	return true
}

func writeState(bundle string, st taskState) error {
	data, err := json.Marshal(st)
	if err != nil {
		return err
	}
	if err := spec.WriteFileAtomic(filepath.Join(bundle, stateFile), data, 0o600); err != nil {
		return fmt.Errorf("write shim state: %w", err)
	}
	return nil
}

// removeState removes a bundle's stateFile once runc has deleted the
// container and runcage released it: the cleanup containerd 1.6 and 1.7
// run when the shim disconnects (`delete`, after every task) then finds
// nothing to do, instead of a `runc delete --force` and a release of a
// container that is already gone.
func removeState(bundle string) error {
	if err := os.Remove(filepath.Join(bundle, stateFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove shim state: %w", err)
	}
	return nil
}

// readState reads a bundle's stateFile; it returns nil when there is none
// (the task never reached runcage's transaction, or its Delete completed:
// removeState).
func readState(bundle string) (*taskState, error) {
	data, _, err := spec.ReadFile(filepath.Join(bundle, stateFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read shim state: %w", err)
	}
	var st taskState
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("read shim state: %w", err)
	}
	return &st, nil
}
