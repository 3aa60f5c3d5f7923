package shim

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"syscall"
	"time"

	"github.com/containerd/cgroups/v3"
	"github.com/containerd/cgroups/v3/cgroup1"
	cgroupsv2 "github.com/containerd/cgroups/v3/cgroup2"
	"github.com/containerd/containerd/mount"
	"github.com/containerd/containerd/namespaces"
	"github.com/containerd/containerd/pkg/process"
	"github.com/containerd/containerd/pkg/shutdown"
	"github.com/containerd/containerd/plugin"
	"github.com/containerd/containerd/runtime/v2/shim"
	runcC "github.com/containerd/go-runc"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/runcage/runcage/runtime"
)

// Name is the shim's runtime name.
const Name = "io.containerd.runcage.v2"

// groupLabels are the annotations whose value groups containers into one
// shim (a pod's containers share the pod sandbox's shim), in order.
var groupLabels = []string{"io.containerd.runcage.v2.group", "io.kubernetes.cri.sandbox-id"}

// Run runs the shim binary: containerd's `start` and `delete` subcommands
// and the shim server. It does not return.
func Run() {
	plugin.Register(&plugin.Registration{
		Type:     plugin.TTRPCPlugin,
		ID:       "task",
		Requires: []plugin.Type{plugin.EventPlugin, plugin.InternalPlugin},
		InitFn: func(ic *plugin.InitContext) (any, error) {
			pp, err := ic.GetByID(plugin.EventPlugin, "publisher")
			if err != nil {
				return nil, err
			}
			ss, err := ic.GetByID(plugin.InternalPlugin, "shutdown")
			if err != nil {
				return nil, err
			}
			return newService(ic.Context, pp.(shim.Publisher), ss.(shutdown.Service))
		},
	})
	shim.RunManager(context.Background(), manager{})
	os.Exit(0)
}

type manager struct{}

func (manager) Name() string { return Name }

// Start starts the shim server for task id (or finds the one of its
// group) and returns its address, which `start` prints: containerd 1.6
// and later take a bare address. The shim binary does the same before Go
// starts when it is certain to (cmd/containerd-shim-runcage-v2/start.c,
// which repeats groupLabels): a change here must be made there too, and
// its TestStartBeforeGo compares the two.
func (manager) Start(ctx context.Context, id string, opts shim.StartOpts) (_ string, retErr error) {
	ns, err := namespaces.NamespaceRequired(ctx)
	if err != nil {
		return "", err
	}
	self, err := os.Executable()
	if err != nil {
		return "", err
	}
	cwd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	grouping := id
	if ann, err := bundleAnnotations(); err == nil {
		for _, l := range groupLabels {
			if g, ok := ann[l]; ok {
				grouping = g
				break
			}
		}
	}
	in, err := readStartInput(os.Stdin)
	if err != nil {
		return "", err
	}
	shimCgroup, err := in.ShimCgroup()
	if err != nil {
		return "", err
	}
	address, err := shim.SocketAddress(ctx, opts.Address, grouping)
	if err != nil {
		return "", err
	}
	if in.SocketDir != "" {
		// containerd 2.3+'s socket_dir: the same socket name there.
		address = "unix://" + filepath.Join(in.SocketDir, filepath.Base(strings.TrimPrefix(address, "unix://")))
	}
	socket, err := shim.NewSocket(address)
	if err != nil {
		if !shim.SocketEaddrinuse(err) {
			return "", fmt.Errorf("create shim socket: %w", err)
		}
		if shim.CanConnect(address) {
			// The group's shim serves this task too.
			return address, shim.WriteAddress("address", address)
		}
		if err := shim.RemoveSocket(address); err != nil {
			return "", fmt.Errorf("remove stale shim socket: %w", err)
		}
		if socket, err = shim.NewSocket(address); err != nil {
			return "", fmt.Errorf("create shim socket: %w", err)
		}
	}
	defer func() {
		if retErr != nil {
			socket.Close()
			_ = shim.RemoveSocket(address)
		}
	}()
	if err := shim.WriteAddress("address", address); err != nil {
		return "", err
	}
	f, err := socket.File()
	if err != nil {
		return "", err
	}
	defer f.Close()
	args := []string{"-namespace", ns, "-id", id, "-address", opts.Address}
	if opts.Debug {
		args = append(args, "-debug")
	}
	cmd := exec.Command(self, args...)
	cmd.Dir = cwd
	cmd.Env = append(os.Environ(), "GOMAXPROCS=2")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.ExtraFiles = []*os.File{f}
	goruntime.LockOSThread()
	err = cmd.Start()
	goruntime.UnlockOSThread()
	if err != nil {
		return "", err
	}
	defer func() {
		if retErr != nil {
			cmd.Process.Kill()
		}
	}()
	go cmd.Wait()
	if err := joinShimCgroup(shimCgroup, cmd.Process.Pid); err != nil {
		return "", err
	}
	if err := shim.AdjustOOMScore(cmd.Process.Pid); err != nil {
		return "", fmt.Errorf("adjust the shim's OOM score: %w", err)
	}
	return address, nil
}

// joinShimCgroup moves the shim server, pid, into cgroup, the
// ShimCgroup of runc's options that containerd sent on start's standard
// input (startInput), as containerd's runc shim does; "" leaves it in
// containerd's cgroup. A cgroup that cannot be joined fails the start.
func joinShimCgroup(cgroup string, pid int) error {
	if cgroup == "" {
		return nil
	}
	var err error
	if cgroups.Mode() == cgroups.Unified {
		var cg *cgroupsv2.Manager
		if cg, err = cgroupsv2.Load(cgroup); err == nil {
			err = cg.AddProc(uint64(pid))
		}
	} else {
		var cg cgroup1.Cgroup
		if cg, err = cgroup1.Load(cgroup1.StaticPath(cgroup)); err == nil {
			err = cg.AddProc(uint64(pid))
		}
	}
	if err != nil {
		return fmt.Errorf("join the shim cgroup %s: %w", cgroup, err)
	}
	return nil
}

// Stop is the `delete` subcommand: containerd's cleanup of a task whose
// shim is gone (killed, crashed). runc force-deletes the container, the
// rootfs is unmounted, and runcage releases what its create set up.
func (manager) Stop(ctx context.Context, id string) (shim.StopStatus, error) {
	cwd, err := os.Getwd()
	if err != nil {
		return shim.StopStatus{}, err
	}
	bundle := filepath.Join(filepath.Dir(cwd), id)
	ns, err := namespaces.NamespaceRequired(ctx)
	if err != nil {
		return shim.StopStatus{}, err
	}
	if err := cleanup(ctx, ns, id, bundle); err != nil {
		logrus.WithError(err).Warn("runcage: clean up the task")
	}
	removeDeadSocket(filepath.Join(bundle, "address"))
	pid, err := runcC.ReadPidFile(filepath.Join(bundle, process.InitPidFile))
	if err != nil {
		logrus.WithError(err).Warn("read the init pid file")
	}
	return shim.StopStatus{ExitedAt: time.Now(), ExitStatus: 128 + int(unix.SIGKILL), Pid: pid}, nil
}

// removeDeadSocket removes the shim socket whose address addressFile
// holds when no server listens on it any more: a killed shim server
// leaves its socket under /run/containerd/s, and nothing else removes
// it. A live socket (the group's shim still serving other tasks, or a
// new one started on the same address) and a path that is not a socket
// are left alone.
func removeDeadSocket(addressFile string) {
	address, err := shim.ReadAddress(addressFile)
	if err != nil || shim.CanConnect(address) {
		return
	}
	st, err := os.Lstat(strings.TrimPrefix(address, "unix://"))
	if err != nil || st.Mode()&os.ModeSocket == 0 {
		return
	}
	if err := shim.RemoveSocket(address); err != nil {
		logrus.WithError(err).Warn("remove the dead shim's socket")
	}
}

// cleanup is Stop's work on the task's bundle.
func cleanup(ctx context.Context, ns, id, bundle string) error {
	st, err := readState(bundle)
	if err != nil || st == nil {
		// No state: the task never reached runc or runcage, or its
		// Delete deleted and released it.
		return err
	}
	r := process.NewRunc(st.Options.Root, bundle, ns, st.Delegate, st.Options.SystemdCgroup)
	if err := r.Delete(ctx, id, &runcC.DeleteOpts{Force: true}); err != nil {
		logrus.WithError(err).Warn("runc delete --force")
	}
	if err := mount.UnmountRecursive(filepath.Join(bundle, "rootfs"), 0); err != nil {
		logrus.WithError(err).Warn("unmount the rootfs")
	}
	pol, err := runtime.LoadPolicyFile(st.Options.Config)
	if err != nil {
		return err
	}
	c, err := runtime.NewContainer(st.Root, id, bundle)
	if err != nil {
		return err
	}
	return runtime.Release(c, pol)
}

// bundleAnnotations reads the annotations of config.json in the working
// directory (the task's bundle, where containerd runs `start`).
func bundleAnnotations() (map[string]string, error) {
	f, err := os.Open("config.json")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var s struct {
		Annotations map[string]string `json:"annotations"`
	}
	if err := json.NewDecoder(f).Decode(&s); err != nil {
		return nil, err
	}
	return s.Annotations, nil
}
