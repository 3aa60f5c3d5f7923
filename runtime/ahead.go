package runtime

import (
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
)

// Ahead is a delegate that cmd/runcage's C fast path (fastpath.c,
// spawnahead) started before the Go runtime did, for a verb whose own work
// waits for the delegate anyway: `delete`, whose clean-up (unmount the
// id-mapped rootfs, release the ids, forget the record) runs once the
// delegate has deleted the container. The delegate then runs while the Go
// runtime starts, instead of after it. The fast path holds the container
// id's lock (lockContainer) from before the delegate starts, as the Go
// path does, and blocks the signals that would end runcage before it
// catches them.
type Ahead struct {
	// Pid is the delegate's process, a child of this one.
	Pid int
	// LockFD is an open file description of <state_dir>/containers.lock
	// that holds the container id's lock.
	LockFD int
	// Delegate is the path the fast path started.
	Delegate string
}

// MainAhead is Main for an invocation whose delegate a is already running.
// It always waits for the delegate, forwarding the signals that would end
// runcage (fatalSignals, blocked until then), and then cleans up after it
// as the Go path does. What runcage could not do before the delegate (a
// policy it refuses, a delegate other than the one the policy names) is
// reported after it, with exit status 1; otherwise the status is the
// delegate's. It never returns.
func MainAhead(argv []string, a Ahead) {
	debug.SetMemoryLimit(memoryLimit)
	os.Exit(runAhead(argv, a))
}

func runAhead(argv []string, a Ahead) int {
	debug.SetGCPercent(-1) // as in run: one verb, a small heap
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, fatalSignals...) // kept until exit, as in superviseDelegate
	inv, err := Scan(argv)
	g := GlobalFlags{}
	if err == nil {
		g = inv.Global
	}
	lg := newLogger(g)
	defer lg.close()
	var after afterFunc
	if err == nil {
		after, err = prepareAhead(inv, a)
	} else {
		closeLockFD(a.LockFD)
	}
	p, perr := os.FindProcess(a.Pid)
	if perr != nil {
		lg.errorf("find the delegate the fast path started: %v", perr)
		return 1
	}
	code, werr := superviseProcess(p, sigs)
	if werr != nil {
		lg.errorf("%v", werr)
	}
	if after != nil {
		if aerr := after(code); aerr != nil {
			lg.errorf("%s", describe(inv, aerr))
		}
	}
	if err != nil {
		if inv != nil {
			lg.errorf("%s", describe(inv, err))
		} else {
			lg.errorf("%v", err)
		}
		return 1
	}
	return code
}

// prepareAhead is what run does before the delegate, for an invocation
// whose delegate is already running: it returns the work to do after it.
// It adopts or closes a.LockFD. An error that leaves work to do after the
// delegate returns that work too.
func prepareAhead(inv *Invocation, a Ahead) (afterFunc, error) {
	if inv.Verb != "delete" {
		closeLockFD(a.LockFD)
		return nil, fmt.Errorf("the fast path started the delegate for %q, which only delete does", inv.Verb)
	}
	pol, err := loadPolicy(inv.Global)
	if err != nil {
		closeLockFD(a.LockFD)
		return nil, err
	}
	maybeStartWarm(inv, pol.StateDir)
	delegate, derr := findDelegate(pol.Runtime)
	if derr == nil && delegate != a.Delegate {
		derr = fmt.Errorf("the fast path started %s, the policy names %s", a.Delegate, delegate)
	}
	inv.Global.Root = canonicalRoot(inv.Global.Root)
	after, err := afterDelete(inv, pol, a.LockFD)
	if err == nil {
		err = derr
	}
	return after, err
}

func closeLockFD(fd int) {
	if fd >= 0 {
		_ = os.NewFile(uintptr(fd), "").Close()
	}
}
