package runtime

import (
	"errors"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
)

// superviseDelegate runs the delegate as a child instead of exec'ing it,
// for the invocations after which runcage has work to do (undo a user
// namespace setup when create fails, clean up after delete). stdio, the
// environment and argv are passed as execDelegate passes them, and signals
// runcage receives are forwarded. It returns the delegate's exit status
// (128+signal if it was killed).
func superviseDelegate(path string, args []string) (int, error) {
	cmd := exec.Command(path, args...)
	cmd.Args[0] = path
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = os.Environ()
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		return 1, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	for {
		select {
		case sig := <-sigs:
			switch sig {
			case syscall.SIGCHLD, syscall.SIGURG, syscall.SIGPIPE:
				continue
			}
			_ = cmd.Process.Signal(sig)
		case err := <-done:
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
					return 128 + int(ws.Signal()), nil
				}
				return ee.ExitCode(), nil
			}
			if err != nil {
				return 1, err
			}
			return 0, nil
		}
	}
}
