package runtime

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// findDelegate resolves the runtime runcage hands over to: the policy's
// runtime (absolute, or looked up in PATH), else `runc` beside the runcage
// binary, else `runc` in PATH. It never returns runcage itself, which would
// loop.
func findDelegate(configured string) (string, error) {
	self, _ := os.Executable()
	var candidates []string
	if configured != "" {
		candidates = []string{configured}
	} else {
		if self != "" {
			candidates = append(candidates, filepath.Join(filepath.Dir(self), "runc"))
		}
		candidates = append(candidates, "runc")
	}
	var lastErr error
	for _, c := range candidates {
		path := c
		if !filepath.IsAbs(c) {
			p, err := exec.LookPath(c)
			if err != nil {
				lastErr = err
				continue
			}
			path = p
		}
		if _, err := os.Stat(path); err != nil {
			lastErr = err
			continue
		}
		if sameFile(path, self) {
			lastErr = fmt.Errorf("%s is runcage itself", path)
			continue
		}
		return path, nil
	}
	if configured != "" {
		return "", fmt.Errorf("delegate runtime %q: %w", configured, lastErr)
	}
	return "", fmt.Errorf("no delegate runtime: no runc beside runcage or in PATH: %w", lastErr)
}

func sameFile(a, b string) bool {
	if a == "" || b == "" {
		return false
	}
	sa, err1 := os.Stat(a)
	sb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(sa, sb)
}

// execDelegate replaces the process with the delegate, passing args
// (argv[1:]) exactly as given and the environment unchanged. It returns
// only on failure.
func execDelegate(path string, args []string) error {
	argv := append([]string{path}, args...)
	err := unix.Exec(path, argv, os.Environ())
	if errors.Is(err, unix.ENOEXEC) {
		return fmt.Errorf("exec delegate %s: not an executable", path)
	}
	return fmt.Errorf("exec delegate %s: %w", path, err)
}

// runDelegate runs the delegate with a fixed environment and a timeout.
func runDelegate(path string, args ...string) ([]byte, error) {
	cmd := exec.Command(path, args...)
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return out.Bytes(), err
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		return nil, fmt.Errorf("timed out")
	}
}
