package runtime

import (
	"os"
	"os/exec"
	"os/signal"
	"syscall"
)

// fatalSignals are the signals that end or crash a Go program that does
// not catch them (the Go runtime exits on SIGHUP, SIGINT and SIGTERM, and
// crashes on the others when they are sent by kill). The Go runtime drops
// every other signal it does not catch (SIGUSR1, SIGALRM, the real-time
// signals), and SIGTSTP, SIGTTIN and SIGTTOU stop the process as they
// would stop the delegate.
var fatalSignals = []os.Signal{
	syscall.SIGHUP, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGILL,
	syscall.SIGTRAP, syscall.SIGABRT, syscall.SIGBUS, syscall.SIGFPE,
	syscall.SIGSEGV, syscall.SIGTERM, syscall.SIGSTKFLT, syscall.SIGSYS,
}

// forwardsEverySignal reports whether the delegate inv runs is the
// container's process in the foreground (run or restore without
// --detach): runcage then forwards every signal it receives, as runc
// forwards them to the container's init, which may rely on any of them
// (systemd on SIGRTMIN+3, nginx on SIGUSR1, ...).
func forwardsEverySignal(inv *Invocation) bool {
	return (inv.Verb == "run" || inv.Verb == "restore") && !inv.flagSet("detach")
}

// superviseDelegate runs the delegate as a child instead of exec'ing it,
// for the invocations after which runcage has work to do (undo a user
// namespace setup when create fails, clean up after delete). stdio, the
// environment and argv are passed as execDelegate passes them. With all
// set every signal runcage receives is forwarded (a foreground container:
// see forwardsEverySignal); otherwise only fatalSignals are caught and
// forwarded, so that no signal ends runcage before the delegate is done
// and the work after it has run, and catching the others is not paid for
// (about 3 ms of a create or delete). Call it at most once per process:
// the signals stay caught. It returns the delegate's exit status
// (128+signal if it was killed).
func superviseDelegate(path string, args []string, all bool) (int, error) {
	cmd := exec.Command(path, args...)
	cmd.Args[0] = path
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = os.Environ()
	sigs := make(chan os.Signal, 16)
	if all {
		signal.Notify(sigs)
	} else {
		signal.Notify(sigs, fatalSignals...)
	}
	// No signal.Stop: the signals stay caught until runcage exits, so that
	// none cuts short the work after the delegate (an undo), and Stop
	// would cost about 1 ms more (one hand-over per signal).
	if err := cmd.Start(); err != nil {
		return 1, err
	}
	return superviseProcess(cmd.Process, sigs)
}

// superviseProcess waits for p, a child of runcage, forwarding the signals
// that arrive on sigs, and returns its exit status (128+signal if it was
// killed).
func superviseProcess(p *os.Process, sigs <-chan os.Signal) (int, error) {
	done := make(chan error, 1)
	var ps *os.ProcessState
	go func() {
		var err error
		ps, err = p.Wait()
		done <- err
	}()
	for {
		select {
		case sig := <-sigs:
			switch sig {
			case syscall.SIGCHLD, syscall.SIGURG, syscall.SIGPIPE:
				continue
			}
			_ = p.Signal(sig)
		case err := <-done:
			if err != nil {
				return 1, err
			}
			if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				return 128 + int(ws.Signal()), nil
			}
			return ps.ExitCode(), nil
		}
	}
}
