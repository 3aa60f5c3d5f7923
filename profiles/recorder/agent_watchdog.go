package recorder

import (
	"errors"
	"fmt"
	"io"
	"log"
	"os"

	"golang.org/x/sys/unix"
)

// The watchdog makes the death of an agent fail closed. An agent that dies
// (SIGKILL, the OOM killer, a crash) cannot answer for the container any
// more, and the kernel would answer every notified syscall with ENOSYS:
// a workload that retries, or that makes no syscalls, keeps running with
// nobody mediating it. So every agent runs as the child of a watchdog
// (runcage re-executed, nothing from the container's rootfs) that holds,
// for every process runc handed a notify fd for (the container's init and
// each `runc exec` process):
//
//   - a pidfd of that process, opened by the agent when runc handed it
//     the fd (runc init waits for the handover, so the pid cannot have
//     been reused), and
//   - a duplicate of the notify fd, so that the listener stays open while
//     the watchdog lives: after the agent's death the container's notified
//     syscalls block (killably) instead of failing with ENOSYS.
//
// The agent sends both over a SOCK_SEQPACKET socketpair as SCM_RIGHTS,
// before it serves the fd. When the agent exits with status 0 the container
// is gone and the watchdog exits too. When it dies in any other way the
// watchdog SIGKILLs every process it holds a pidfd of (killing the init of
// the container's pid namespace kills all of the namespace), closes the
// notify fds, removes the agent's socket and logs what happened to the
// agent's log, which runcage delete removes.

// guardMsgFDs is the number of fds in one guard message: pidfd, notify fd.
const guardMsgFDs = 2

// NewGuardLink returns the two ends of the link between a watchdog (first)
// and its agent (second), a SOCK_SEQPACKET socketpair.
func NewGuardLink() (watchdog, agent *os.File, err error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("watchdog link: %w", err)
	}
	return os.NewFile(uintptr(fds[0]), "watchdog-link"), os.NewFile(uintptr(fds[1]), "agent-link"), nil
}

// sendGuard hands the watchdog a pidfd of the process pid and a duplicate
// of its notify fd. The caller keeps its own notify fd.
func sendGuard(link *os.File, pid int, notify int) error {
	if pid <= 0 {
		return fmt.Errorf("guard process: runc named no pid (%d)", pid)
	}
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return fmt.Errorf("guard process %d: %w", pid, err)
	}
	defer unix.Close(pidfd)
	if err := unix.Sendmsg(int(link.Fd()), []byte{'g'}, unix.UnixRights(pidfd, notify), nil, 0); err != nil {
		return fmt.Errorf("guard process %d: send to watchdog: %w", pid, err)
	}
	return nil
}

// guarded is one process the watchdog holds: its pidfd and a duplicate of
// its notify fd.
type guarded struct {
	pidfd, notify int
}

// Watch is the watchdog's loop. link is its end of the link to the agent
// (NewGuardLink); wait waits for the agent, its child, and returns the
// agent's exit status as os/exec's Wait does (nil for status 0). It
// returns once the agent has exited: nil after a clean exit, and, after
// any other, the agent's death as an error once every guarded process has
// been sent SIGKILL and socket (the agent's listening socket) removed.
// What it does is logged to logw.
func Watch(link *os.File, wait func() error, socket, container string, logw io.Writer) error {
	lg := log.New(logw, "runcage-watchdog: ", log.LstdFlags|log.Lmicroseconds)
	held := map[int]guarded{} // by pidfd
	defer func() {
		for _, g := range held {
			unix.Close(g.pidfd)
			unix.Close(g.notify)
		}
	}()
	lfd := int(link.Fd())
	for {
		pfds := []unix.PollFd{{Fd: int32(lfd), Events: unix.POLLIN}}
		for pidfd := range held {
			pfds = append(pfds, unix.PollFd{Fd: int32(pidfd), Events: unix.POLLIN})
		}
		if _, err := unix.Poll(pfds, -1); err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			lg.Printf("poll: %v", err)
			break
		}
		// A guarded process that exited needs no guard: drop its fds so
		// that a long-lived container with many execs holds few.
		for _, p := range pfds[1:] {
			if p.Revents != 0 {
				g := held[int(p.Fd)]
				unix.Close(g.pidfd)
				unix.Close(g.notify)
				delete(held, int(p.Fd))
			}
		}
		if pfds[0].Revents == 0 {
			continue
		}
		g, eof, err := recvGuard(lfd)
		if err != nil {
			lg.Printf("receive from agent: %v", err)
		}
		if g != nil {
			held[g.pidfd] = *g
		}
		if eof {
			break // the agent is gone: its end of the link closed
		}
	}
	werr := wait()
	if werr == nil {
		return nil
	}
	killed := 0
	for _, g := range held {
		// A process that has exited since (ESRCH) needs nothing.
		if err := unix.PidfdSendSignal(g.pidfd, unix.SIGKILL, nil, 0); err == nil {
			killed++
		} else if !errors.Is(err, unix.ESRCH) {
			lg.Printf("kill a process of container %q: %v", container, err)
		}
	}
	if err := os.Remove(socket); err != nil && !errors.Is(err, os.ErrNotExist) {
		lg.Printf("remove %s: %v", socket, err)
	}
	err := fmt.Errorf("agent of container %q died (%v): killed %d of its processes", container, werr, killed)
	lg.Print(err)
	return err
}

// recvGuard reads one message from the agent: nil and eof at the end of
// the link, else one guarded process.
func recvGuard(lfd int) (g *guarded, eof bool, err error) {
	buf := make([]byte, 16)
	oob := make([]byte, unix.CmsgSpace(guardMsgFDs*4))
	n, oobn, _, _, err := unix.Recvmsg(lfd, buf, oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		if errors.Is(err, unix.EINTR) || errors.Is(err, unix.EAGAIN) {
			return nil, false, nil
		}
		return nil, true, err
	}
	var fds []int
	if scms, perr := unix.ParseSocketControlMessage(oob[:oobn]); perr == nil {
		for i := range scms {
			if got, err := unix.ParseUnixRights(&scms[i]); err == nil {
				fds = append(fds, got...)
			}
		}
	}
	if n == 0 && len(fds) == 0 {
		return nil, true, nil
	}
	if len(fds) != guardMsgFDs {
		for _, fd := range fds {
			unix.Close(fd)
		}
		return nil, false, fmt.Errorf("message with %d fds, want %d", len(fds), guardMsgFDs)
	}
	return &guarded{pidfd: fds[0], notify: fds[1]}, false, nil
}
