//go:build integration

package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// ContainerdBin returns the directory holding containerd VERSION's
// containerd and ctr (such as "1.7.35" or "2.4.2"), which
// integration/rootfs/containerd.sh builds from the Go module proxy on
// first use (about 6 minutes) and caches. Its progress goes to stderr.
func ContainerdBin(version string) (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	cmd := exec.Command(filepath.Join(root, "integration", "rootfs", "containerd.sh"), version)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("containerd %s: integration/rootfs/containerd.sh: %w", version, err)
	}
	dir := strings.TrimSpace(string(out))
	for _, b := range []string{"containerd", "ctr"} {
		if st, err := os.Stat(filepath.Join(dir, b)); err != nil || st.Mode()&0o111 == 0 {
			return "", fmt.Errorf("containerd %s: no executable %s in %s: %v", version, b, dir, err)
		}
	}
	return dir, nil
}
