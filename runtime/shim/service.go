package shim

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/containerd/cgroups/v3"
	"github.com/containerd/cgroups/v3/cgroup1"
	cgroupsv2 "github.com/containerd/cgroups/v3/cgroup2"
	"github.com/containerd/console"
	eventstypes "github.com/containerd/containerd/api/events"
	taskAPI "github.com/containerd/containerd/api/runtime/task/v2"
	"github.com/containerd/containerd/api/types/runc/options"
	"github.com/containerd/containerd/api/types/task"
	"github.com/containerd/containerd/errdefs"
	"github.com/containerd/containerd/namespaces"
	"github.com/containerd/containerd/pkg/oom"
	oomv1 "github.com/containerd/containerd/pkg/oom/v1"
	oomv2 "github.com/containerd/containerd/pkg/oom/v2"
	"github.com/containerd/containerd/pkg/process"
	"github.com/containerd/containerd/pkg/shutdown"
	"github.com/containerd/containerd/protobuf"
	ptypes "github.com/containerd/containerd/protobuf/types"
	cdruntime "github.com/containerd/containerd/runtime"
	"github.com/containerd/containerd/runtime/v2/shim"
	"github.com/containerd/containerd/sys/reaper"
	runcC "github.com/containerd/go-runc"
	"github.com/containerd/ttrpc"
	"github.com/containerd/typeurl/v2"
	"github.com/sirupsen/logrus"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/runcage/runcage/profiles"
	"github.com/runcage/runcage/runtime"
)

var empty = &ptypes.Empty{}

// service is the task API v2 of the runcage shim.
type service struct {
	ctx      context.Context
	events   chan any
	platform *platform
	oom      oom.Watcher
	shutdown shutdown.Service

	mu         sync.Mutex
	containers map[string]*container

	// lifecycleMu guards running and watches: the processes whose exit
	// the reaper reports, by pid, and the exits seen while a process is
	// being created or started (its pid not known yet).
	lifecycleMu sync.Mutex
	running     map[int][]running
	watches     map[*startWatch]bool
}

type running struct {
	c *container
	p process.Process
}

// startWatch collects the exits reported while one process starts.
type startWatch struct{ exits map[int]runcC.Exit }

// newService starts the task service: the reaper's exits are matched to
// processes, events go to publisher, OOM kills are watched.
func newService(ctx context.Context, publisher shim.Publisher, sd shutdown.Service) (*service, error) {
	var ep oom.Watcher
	var err error
	if cgroups.Mode() == cgroups.Unified {
		ep, err = oomv2.New(publisher)
	} else {
		ep, err = oomv1.New(publisher)
	}
	if err != nil {
		return nil, err
	}
	pf, err := newPlatform()
	if err != nil {
		return nil, err
	}
	go ep.Run(ctx)
	s := &service{ctx: ctx, events: make(chan any, 128), platform: pf, oom: ep, shutdown: sd,
		containers: map[string]*container{}, running: map[int][]running{}, watches: map[*startWatch]bool{}}
	ec := reaper.Default.Subscribe()
	runcC.Monitor = reaper.Default
	go s.processExits(ec)
	go s.forward(ctx, publisher)
	sd.RegisterCallback(func(context.Context) error { close(s.events); return nil })
	sd.RegisterCallback(func(context.Context) error { return pf.Close() })
	if address, err := shim.ReadAddress("address"); err == nil {
		sd.RegisterCallback(func(context.Context) error { return shim.RemoveSocket(address) })
	}
	return s, nil
}

// RegisterTTRPC implements the shim's ttrpc service.
func (s *service) RegisterTTRPC(server *ttrpc.Server) error {
	taskAPI.RegisterTaskService(server, s)
	return nil
}

// toGRPC returns err for containerd: a refusal of runcage's, with its
// reason and the "runcage: " prefix, as FailedPrecondition; an error of
// the task API as its code; anything else as Unknown, with its text.
func toGRPC(id string, err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	if errors.Is(err, profiles.ErrRefused) {
		return status.Errorf(codes.FailedPrecondition, "runcage: %q: %v", id, err)
	}
	if errdefs.IsNotFound(err) || errdefs.IsAlreadyExists(err) || errdefs.IsFailedPrecondition(err) || errdefs.IsInvalidArgument(err) {
		return errdefs.ToGRPC(err)
	}
	return status.Errorf(codes.Unknown, "runcage: %q: %v", id, err)
}

func notFound(format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), errdefs.ErrNotFound)
}

func (s *service) get(id string) (*container, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.containers[id]
	if c == nil {
		return nil, errdefs.ToGRPC(notFound("container %s not created", id))
	}
	return c, nil
}

// lookup returns container id and its process execID ("" is the init).
func (s *service) lookup(id, execID string) (*container, process.Process, error) {
	c, err := s.get(id)
	if err != nil {
		return nil, nil, err
	}
	p, err := c.process(execID)
	if err != nil {
		return nil, nil, toGRPC(id, err)
	}
	return c, p, nil
}

// watch starts collecting exits for a process about to be created or
// started. For the init of c being started, its earlier registration is
// dropped, so that its exit is published after its start.
func (s *service) watch(c *container) *startWatch {
	w := &startWatch{exits: map[int]runcC.Exit{}}
	s.lifecycleMu.Lock()
	defer s.lifecycleMu.Unlock()
	s.watches[w] = true
	if c != nil {
		pid := c.init.Pid()
		rs := s.running[pid][:0]
		for _, r := range s.running[pid] {
			if r.c != c {
				rs = append(rs, r)
			}
		}
		if len(rs) == 0 {
			delete(s.running, pid)
		} else {
			s.running[pid] = rs
		}
	}
	return w
}

// started ends w: p (nil if none was made) is registered for its exit,
// or, when it exited already, its exit is handled now. It reports whether
// p had a pid, and so will be (or was) handled by exited.
func (s *service) started(w *startWatch, c *container, p process.Process) bool {
	s.lifecycleMu.Lock()
	delete(s.watches, w)
	if p == nil || p.Pid() == 0 {
		s.lifecycleMu.Unlock()
		return false
	}
	e, exited := w.exits[p.Pid()]
	if !exited {
		s.running[p.Pid()] = append(s.running[p.Pid()], running{c, p})
	}
	s.lifecycleMu.Unlock()
	if exited {
		s.exited(e, c, p)
	}
	return true
}

func (s *service) processExits(ec chan runcC.Exit) {
	for e := range ec {
		s.lifecycleMu.Lock()
		for w := range s.watches {
			w.exits[e.Pid] = e
		}
		rs := s.running[e.Pid]
		delete(s.running, e.Pid)
		s.lifecycleMu.Unlock()
		for _, r := range rs {
			s.exited(e, r.c, r.p)
		}
	}
}

// exited records a process's exit and publishes it. An init's exit is
// published last, once the container's execs have exited (and, when the
// container shares a pid namespace, after they were killed), as
// containerd's runc shim does: containerd may tear the task down on it.
func (s *service) exited(e runcC.Exit, c *container, p process.Process) {
	if p != c.init {
		s.publishExit(e, c, p)
		s.execDone(c)
		return
	}
	if c.killAll {
		if err := c.init.KillAll(s.ctx); err != nil {
			logrus.WithError(err).WithField("id", c.id).Error("kill the processes of an exited init")
		}
	}
	s.lifecycleMu.Lock()
	c.initExited = true
	if c.execsRunning > 0 {
		c.pendingInit = func() { s.publishExit(e, c, p) }
		s.lifecycleMu.Unlock()
		return
	}
	s.lifecycleMu.Unlock()
	s.publishExit(e, c, p)
}

// execDone counts an exec of c as ended (exited, or failed to start) and
// publishes the init's exit if it was waiting for the last one.
func (s *service) execDone(c *container) {
	s.lifecycleMu.Lock()
	c.execsRunning--
	pending := c.pendingInit
	if c.execsRunning > 0 {
		pending = nil
	} else {
		c.pendingInit = nil
	}
	s.lifecycleMu.Unlock()
	if pending != nil {
		pending()
	}
}

func (s *service) publishExit(e runcC.Exit, c *container, p process.Process) {
	p.SetExited(e.Status)
	s.send(&eventstypes.TaskExit{ContainerID: c.id, ID: p.ID(), Pid: uint32(e.Pid),
		ExitStatus: uint32(e.Status), ExitedAt: protobuf.ToTimestamp(p.ExitedAt())})
}

// Create runs runcage's create transaction and has runc create the
// container. A panic in it is a refusal, never the end of the shim.
func (s *service) Create(ctx context.Context, r *taskAPI.CreateTaskRequest) (_ *taskAPI.CreateTaskResponse, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = toGRPC(r.ID, panicError(r.ID, v))
		}
	}()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.containers[r.ID] != nil {
		return nil, errdefs.ToGRPCf(errdefs.ErrAlreadyExists, "container %s", r.ID)
	}
	w := s.watch(nil)
	c, err := createContainer(ctx, s.platform, r)
	if err != nil {
		s.started(w, nil, nil)
		return nil, toGRPC(r.ID, err)
	}
	s.containers[r.ID] = c
	s.send(&eventstypes.TaskCreate{ContainerID: r.ID, Bundle: r.Bundle, Rootfs: r.Rootfs,
		IO:         &eventstypes.TaskIO{Stdin: r.Stdin, Stdout: r.Stdout, Stderr: r.Stderr, Terminal: r.Terminal},
		Checkpoint: r.Checkpoint, Pid: uint32(c.init.Pid())})
	s.started(w, c, c.init)
	// No forced collection here: debug.FreeOSMemory after each Create
	// cost 5-8 ms of CPU and left the shim 0.3 MB smaller; the transaction
	// allocates about 1.3 MB, which the runtime's own collector and
	// scavenger take back.
	return &taskAPI.CreateTaskResponse{Pid: uint32(c.init.Pid())}, nil
}

// Start starts the init process or an exec.
func (s *service) Start(ctx context.Context, r *taskAPI.StartRequest) (*taskAPI.StartResponse, error) {
	c, p, err := s.lookup(r.ID, r.ExecID)
	if err != nil {
		return nil, err
	}
	var w *startWatch
	if r.ExecID == "" {
		w = s.watch(c)
	} else {
		s.lifecycleMu.Lock()
		if c.initExited {
			s.lifecycleMu.Unlock()
			return nil, errdefs.ToGRPCf(errdefs.ErrFailedPrecondition, "container %s init process is not running", c.id)
		}
		c.execsRunning++
		s.lifecycleMu.Unlock()
		w = s.watch(nil)
	}
	if err := p.Start(ctx); err != nil {
		if !s.started(w, c, p) && r.ExecID != "" {
			s.execDone(c)
		}
		return nil, toGRPC(r.ID, err)
	}
	if r.ExecID == "" {
		s.watchOOM(c)
		s.send(&eventstypes.TaskStart{ContainerID: c.id, Pid: uint32(p.Pid())})
	} else {
		s.send(&eventstypes.TaskExecStarted{ContainerID: c.id, ExecID: r.ExecID, Pid: uint32(p.Pid())})
	}
	s.started(w, c, p)
	return &taskAPI.StartResponse{Pid: uint32(p.Pid())}, nil
}

// watchOOM loads the cgroup of c's init and watches it for OOM kills.
func (s *service) watchOOM(c *container) {
	pid := c.init.Pid()
	var cg any
	var err error
	if cgroups.Mode() == cgroups.Unified {
		var g string
		if g, err = cgroupsv2.PidGroupPath(pid); err == nil {
			cg, err = cgroupsv2.Load(g)
		}
	} else {
		cg, err = cgroup1.Load(cgroup1.PidPath(pid))
	}
	if err != nil {
		logrus.WithError(err).WithField("id", c.id).Warn("load the container's cgroup")
		return
	}
	c.mu.Lock()
	c.cgroup = cg
	c.mu.Unlock()
	if err := s.oom.Add(c.id, cg); err != nil {
		logrus.WithError(err).WithField("id", c.id).Warn("watch the container for OOM kills")
	}
}

// Delete deletes an exec, or the container: runc deletes it, then
// runcage releases what its create set up.
func (s *service) Delete(ctx context.Context, r *taskAPI.DeleteRequest) (*taskAPI.DeleteResponse, error) {
	c, p, err := s.lookup(r.ID, r.ExecID)
	if err != nil {
		return nil, err
	}
	if err := p.Delete(ctx); err != nil {
		return nil, toGRPC(r.ID, err)
	}
	if r.ExecID != "" {
		c.mu.Lock()
		delete(c.execs, r.ExecID)
		c.mu.Unlock()
	} else {
		// runc deleted the container: it is gone whatever Release says.
		released := runtime.Release(c.rc, c.pol)
		if released == nil {
			// A leftover state file costs only a redundant cleanup.
			if err := removeState(c.bundle); err != nil {
				logrus.WithError(err).WithField("id", r.ID).Warn("runcage: after delete")
			}
		}
		s.mu.Lock()
		delete(s.containers, r.ID)
		s.mu.Unlock()
		s.send(&eventstypes.TaskDelete{ContainerID: c.id, Pid: uint32(p.Pid()),
			ExitStatus: uint32(p.ExitStatus()), ExitedAt: protobuf.ToTimestamp(p.ExitedAt())})
		if released != nil {
			return nil, toGRPC(r.ID, fmt.Errorf("delete: release what create set up: %w", released))
		}
	}
	return &taskAPI.DeleteResponse{ExitStatus: uint32(p.ExitStatus()),
		ExitedAt: protobuf.ToTimestamp(p.ExitedAt()), Pid: uint32(p.Pid())}, nil
}

// Exec adds a process to the container, after runcage's exec checks on
// its spec.
func (s *service) Exec(ctx context.Context, r *taskAPI.ExecProcessRequest) (*ptypes.Empty, error) {
	c, err := s.get(r.ID)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.execs[r.ExecID] != nil || c.reserved[r.ExecID] {
		c.mu.Unlock()
		return nil, errdefs.ToGRPCf(errdefs.ErrAlreadyExists, "id %s", r.ExecID)
	}
	c.reserved[r.ExecID] = true
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.reserved, r.ExecID)
		c.mu.Unlock()
	}()
	if r.Spec == nil {
		return nil, errdefs.ToGRPCf(errdefs.ErrInvalidArgument, "exec %s: no process spec", r.ExecID)
	}
	hardened, err := runtime.HardenExecProcess(c.rc, c.pol, c.prof, r.Spec.GetValue())
	if err != nil {
		return nil, toGRPC(r.ID, fmt.Errorf("exec %q: %w", r.ExecID, err))
	}
	p, err := c.init.Exec(ctx, c.bundle, &process.ExecConfig{ID: r.ExecID, Terminal: r.Terminal,
		Stdin: r.Stdin, Stdout: r.Stdout, Stderr: r.Stderr,
		Spec: &ptypes.Any{TypeUrl: r.Spec.GetTypeUrl(), Value: hardened}})
	if err != nil {
		return nil, toGRPC(r.ID, err)
	}
	c.mu.Lock()
	c.execs[r.ExecID] = p
	c.mu.Unlock()
	s.send(&eventstypes.TaskExecAdded{ContainerID: c.id, ExecID: r.ExecID})
	return empty, nil
}

// ResizePty resizes a process's terminal.
func (s *service) ResizePty(ctx context.Context, r *taskAPI.ResizePtyRequest) (*ptypes.Empty, error) {
	_, p, err := s.lookup(r.ID, r.ExecID)
	if err != nil {
		return nil, err
	}
	if err := p.Resize(console.WinSize{Width: uint16(r.Width), Height: uint16(r.Height)}); err != nil {
		return nil, toGRPC(r.ID, err)
	}
	return empty, nil
}

// State reports a process's state.
func (s *service) State(ctx context.Context, r *taskAPI.StateRequest) (*taskAPI.StateResponse, error) {
	c, p, err := s.lookup(r.ID, r.ExecID)
	if err != nil {
		return nil, err
	}
	st, err := p.Status(ctx)
	if err != nil {
		return nil, toGRPC(r.ID, err)
	}
	statuses := map[string]task.Status{"created": task.Status_CREATED, "running": task.Status_RUNNING,
		"stopped": task.Status_STOPPED, "paused": task.Status_PAUSED, "pausing": task.Status_PAUSING}
	sio := p.Stdio()
	return &taskAPI.StateResponse{ID: p.ID(), Bundle: c.bundle, Pid: uint32(p.Pid()), Status: statuses[st],
		Stdin: sio.Stdin, Stdout: sio.Stdout, Stderr: sio.Stderr, Terminal: sio.Terminal,
		ExitStatus: uint32(p.ExitStatus()), ExitedAt: protobuf.ToTimestamp(p.ExitedAt())}, nil
}

// Pause freezes the container.
func (s *service) Pause(ctx context.Context, r *taskAPI.PauseRequest) (*ptypes.Empty, error) {
	return s.setPaused(ctx, r.ID, true)
}

// Resume thaws the container.
func (s *service) Resume(ctx context.Context, r *taskAPI.ResumeRequest) (*ptypes.Empty, error) {
	return s.setPaused(ctx, r.ID, false)
}

// setPaused freezes or thaws container id and publishes the change.
func (s *service) setPaused(ctx context.Context, id string, pause bool) (*ptypes.Empty, error) {
	c, err := s.get(id)
	if err != nil {
		return nil, err
	}
	op, event := c.init.Resume, any(&eventstypes.TaskResumed{ContainerID: c.id})
	if pause {
		op, event = c.init.Pause, &eventstypes.TaskPaused{ContainerID: c.id}
	}
	if err := op(ctx); err != nil {
		return nil, toGRPC(id, err)
	}
	s.send(event)
	return empty, nil
}

// Kill signals a process (all of the container's with r.All).
func (s *service) Kill(ctx context.Context, r *taskAPI.KillRequest) (*ptypes.Empty, error) {
	_, p, err := s.lookup(r.ID, r.ExecID)
	if err != nil {
		return nil, err
	}
	if err := p.Kill(ctx, r.Signal, r.All); err != nil {
		return nil, toGRPC(r.ID, err)
	}
	return empty, nil
}

// Pids lists the container's processes, with the exec id of each exec.
func (s *service) Pids(ctx context.Context, r *taskAPI.PidsRequest) (*taskAPI.PidsResponse, error) {
	c, err := s.get(r.ID)
	if err != nil {
		return nil, err
	}
	pids, err := c.init.Runtime().Ps(ctx, c.id)
	if err != nil {
		return nil, toGRPC(r.ID, err)
	}
	execs := map[int]string{}
	for _, p := range c.all()[1:] {
		execs[p.Pid()] = p.ID()
	}
	var out []*task.ProcessInfo
	for _, pid := range pids {
		pi := &task.ProcessInfo{Pid: uint32(pid)}
		if id, ok := execs[pid]; ok {
			a, err := protobuf.MarshalAnyToProto(&options.ProcessDetails{ExecID: id})
			if err != nil {
				return nil, toGRPC(r.ID, err)
			}
			pi.Info = a
		}
		out = append(out, pi)
	}
	return &taskAPI.PidsResponse{Processes: out}, nil
}

// CloseIO closes a process's stdin.
func (s *service) CloseIO(ctx context.Context, r *taskAPI.CloseIORequest) (*ptypes.Empty, error) {
	_, p, err := s.lookup(r.ID, r.ExecID)
	if err != nil {
		return nil, err
	}
	if stdin := p.Stdin(); stdin != nil {
		if err := stdin.Close(); err != nil {
			return nil, toGRPC(r.ID, fmt.Errorf("close stdin: %w", err))
		}
	}
	return empty, nil
}

// Checkpoint has runc checkpoint the container (runcage forwards
// checkpoint unchanged; a restore runs the create transaction again).
func (s *service) Checkpoint(ctx context.Context, r *taskAPI.CheckpointTaskRequest) (*ptypes.Empty, error) {
	c, err := s.get(r.ID)
	if err != nil {
		return nil, err
	}
	var opts options.CheckpointOptions
	if r.Options != nil {
		if err := typeurl.UnmarshalTo(r.Options, &opts); err != nil {
			return nil, toGRPC(r.ID, err)
		}
	}
	err = c.init.Checkpoint(ctx, &process.CheckpointConfig{Path: r.Path, Exit: opts.Exit,
		AllowOpenTCP: opts.OpenTcp, AllowExternalUnixSockets: opts.ExternalUnixSockets,
		AllowTerminal: opts.Terminal, FileLocks: opts.FileLocks, EmptyNamespaces: opts.EmptyNamespaces,
		WorkDir: opts.WorkPath})
	if err != nil {
		return nil, toGRPC(r.ID, err)
	}
	return empty, nil
}

// Update changes the container's resources, after runcage's update guard.
func (s *service) Update(ctx context.Context, r *taskAPI.UpdateTaskRequest) (*ptypes.Empty, error) {
	c, err := s.get(r.ID)
	if err != nil {
		return nil, err
	}
	if r.Resources == nil {
		return nil, errdefs.ToGRPCf(errdefs.ErrInvalidArgument, "update: no resources")
	}
	if err := runtime.GuardUpdate(c.rc, c.pol, c.prof, r.Resources.GetValue()); err != nil {
		return nil, toGRPC(r.ID, err)
	}
	if err := c.init.Update(ctx, &ptypes.Any{TypeUrl: r.Resources.GetTypeUrl(), Value: r.Resources.GetValue()}); err != nil {
		return nil, toGRPC(r.ID, err)
	}
	return empty, nil
}

// Wait waits for a process to exit.
func (s *service) Wait(ctx context.Context, r *taskAPI.WaitRequest) (*taskAPI.WaitResponse, error) {
	_, p, err := s.lookup(r.ID, r.ExecID)
	if err != nil {
		return nil, err
	}
	p.Wait()
	return &taskAPI.WaitResponse{ExitStatus: uint32(p.ExitStatus()), ExitedAt: protobuf.ToTimestamp(p.ExitedAt())}, nil
}

// Connect returns the shim's and the task's pids.
func (s *service) Connect(ctx context.Context, r *taskAPI.ConnectRequest) (*taskAPI.ConnectResponse, error) {
	var pid int
	if c, err := s.get(r.ID); err == nil {
		pid = c.init.Pid()
	}
	return &taskAPI.ConnectResponse{ShimPid: uint32(os.Getpid()), TaskPid: uint32(pid)}, nil
}

// Shutdown ends the shim once it serves no container.
func (s *service) Shutdown(ctx context.Context, r *taskAPI.ShutdownRequest) (*ptypes.Empty, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.containers) > 0 {
		return empty, nil
	}
	s.shutdown.Shutdown()
	return empty, nil
}

// Stats returns the container's cgroup statistics.
func (s *service) Stats(ctx context.Context, r *taskAPI.StatsRequest) (*taskAPI.StatsResponse, error) {
	c, err := s.get(r.ID)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	cgx := c.cgroup
	c.mu.Unlock()
	var stats any
	switch cg := cgx.(type) {
	case cgroup1.Cgroup:
		stats, err = cg.Stat(cgroup1.IgnoreNotExist)
	case *cgroupsv2.Manager:
		stats, err = cg.Stat()
	default:
		return nil, errdefs.ToGRPCf(errdefs.ErrNotFound, "cgroup of %s", r.ID)
	}
	if err != nil {
		return nil, toGRPC(r.ID, err)
	}
	data, err := typeurl.MarshalAny(stats)
	if err != nil {
		return nil, toGRPC(r.ID, err)
	}
	return &taskAPI.StatsResponse{Stats: protobuf.FromAny(data)}, nil
}

func (s *service) send(e any) { s.events <- e }

// forward publishes the events in order, until the shim shuts down.
func (s *service) forward(ctx context.Context, publisher shim.Publisher) {
	ns, _ := namespaces.Namespace(ctx)
	ctx = namespaces.WithNamespace(context.Background(), ns)
	for e := range s.events {
		if err := publisher.Publish(ctx, topic(e), e); err != nil {
			logrus.WithError(err).Error("post event")
		}
	}
	publisher.Close()
}

// topic is the event topic of a task event.
func topic(e any) string {
	switch e.(type) {
	case *eventstypes.TaskCreate:
		return cdruntime.TaskCreateEventTopic
	case *eventstypes.TaskStart:
		return cdruntime.TaskStartEventTopic
	case *eventstypes.TaskExit:
		return cdruntime.TaskExitEventTopic
	case *eventstypes.TaskDelete:
		return cdruntime.TaskDeleteEventTopic
	case *eventstypes.TaskExecAdded:
		return cdruntime.TaskExecAddedEventTopic
	case *eventstypes.TaskExecStarted:
		return cdruntime.TaskExecStartedEventTopic
	case *eventstypes.TaskPaused:
		return cdruntime.TaskPausedEventTopic
	case *eventstypes.TaskResumed:
		return cdruntime.TaskResumedEventTopic
	}
	return cdruntime.TaskUnknownTopic
}
