package runtime

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/runcage/runcage/profiles/policy"
	"github.com/runcage/runcage/runtime/spec"
)

// errInstall classifies refusals of `runcage install`: a config file that
// is malformed, a symlink, or holds a different runcage entry. The file is
// never touched when this is returned.
var errInstall = errors.New("install refused")

// installCommand is `runcage install docker|containerd`: it registers
// runcage with a container engine by merging into the engine's own config
// files. It never restarts or signals the engine; it says what to reload.
func installCommand(inv *Invocation) *cli.Command {
	common := []cli.Flag{
		&cli.StringFlag{Name: "binary", Usage: "absolute path of the runcage binary the engine runs (default: this executable)"},
		&cli.StringFlag{Name: "profiles", Usage: "comma-separated profiles to register as runcage-<profile> (default: every profile of the policy except passthrough)"},
		&cli.BoolFlag{Name: "force", Usage: "replace existing runcage entries that differ"},
	}
	return &cli.Command{
		Name:  "install",
		Usage: "register runcage with a container engine (docker, containerd)",
		Subcommands: []*cli.Command{
			{
				Name:  "docker",
				Usage: "add runcage runtimes to dockerd's daemon.json",
				Flags: append([]cli.Flag{
					&cli.StringFlag{Name: "config", Value: "/etc/docker/daemon.json", Usage: "daemon.json to merge into"},
					&cli.StringFlag{Name: "policy", Usage: "runcage policy file the runtimes pass as --runcage-config (default: none, so runcage reads " + policy.DefaultPath + ")"},
				}, common...),
				Action: func(c *cli.Context) error {
					req, err := installRequest(c, inv)
					if err != nil {
						return err
					}
					d := &dockerInstall{installReq: req, Config: c.String("config"), Policy: c.String("policy")}
					return d.run(c.App.Writer)
				},
			},
			{
				Name:  "containerd",
				Usage: "register runcage CRI runtime handlers with containerd through a drop-in",
				Flags: append([]cli.Flag{
					&cli.StringFlag{Name: "config", Value: "/etc/containerd/config.toml", Usage: "containerd's main config (gets an imports entry if it lacks one)"},
					&cli.StringFlag{Name: "dropin", Value: "/etc/containerd/conf.d/runcage.toml", Usage: "drop-in file to write"},
					&cli.StringFlag{Name: "containerd", Value: "containerd", Usage: "containerd binary used to verify the merged config with its config dump command; empty skips the check"},
				}, common...),
				Action: func(c *cli.Context) error {
					req, err := installRequest(c, inv)
					if err != nil {
						return err
					}
					ci := &containerdInstall{
						installReq: req,
						Config:     c.String("config"),
						Dropin:     c.String("dropin"),
						Containerd: c.String("containerd"),
					}
					return ci.run(c.App.Writer)
				},
			},
		},
	}
}

// installReq is what both engines' installs share.
type installReq struct {
	// Binary is the absolute, clean path of the runcage binary.
	Binary string
	// Profiles are the profiles registered as runcage-<profile>, in order.
	Profiles []string
	// Force replaces runcage entries that differ from what install writes.
	Force bool
	// Now stamps backup names; tests replace it.
	Now func() time.Time
}

func installRequest(c *cli.Context, inv *Invocation) (installReq, error) {
	req := installReq{Force: c.Bool("force"), Now: time.Now}
	bin := c.String("binary")
	if bin == "" {
		exe, err := os.Executable()
		if err != nil {
			return req, fmt.Errorf("find runcage binary: %w", err)
		}
		bin = exe
	}
	if !filepath.IsAbs(bin) {
		return req, fmt.Errorf("%w: --binary %q is not an absolute path", errInstall, bin)
	}
	req.Binary = filepath.Clean(bin)
	if st, err := os.Stat(req.Binary); err != nil || !st.Mode().IsRegular() || st.Mode()&0o111 == 0 {
		return req, fmt.Errorf("%w: runcage binary %s is not an executable file", errInstall, req.Binary)
	}
	pol, err := loadPolicy(inv.Global)
	if err != nil {
		return req, err
	}
	req.Profiles, err = installProfiles(pol, c.String("profiles"))
	return req, err
}

// installProfiles resolves the --profiles list: each named profile must
// exist in pol. Without a list it is every profile pol can select except
// passthrough, which would let anyone who can pick a runtime turn runcage
// off; it is registered only when named.
func installProfiles(pol *policy.Policy, list string) ([]string, error) {
	var names []string
	if list == "" {
		for _, n := range pol.Names() {
			if n != "passthrough" {
				names = append(names, n)
			}
		}
		return names, nil
	}
	seen := map[string]bool{}
	for _, n := range strings.Split(list, ",") {
		n = strings.TrimSpace(n)
		if n == "" || seen[n] {
			continue
		}
		seen[n] = true
		if _, err := pol.Profile(n); err != nil {
			return nil, fmt.Errorf("--profiles: %w", err)
		}
		names = append(names, n)
	}
	return names, nil
}

// readConfig reads an engine config file that install may rewrite. A
// missing file is (nil, 0644, false, nil). A symlink is refused: the
// atomic rename would replace the link with a regular file and silently
// detach the engine from the file the link pointed at.
func readConfig(path string) (data []byte, perm fs.FileMode, exists bool, err error) {
	st, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0o644, false, nil
	}
	if err != nil {
		return nil, 0, false, fmt.Errorf("read %s: %w", path, err)
	}
	if st.Mode()&fs.ModeSymlink != 0 {
		return nil, 0, false, fmt.Errorf("%w: %s is a symlink; pass the file it points at", errInstall, path)
	}
	data, perm, err = spec.ReadFile(path)
	if err != nil {
		return nil, 0, false, fmt.Errorf("read %s: %w", path, err)
	}
	return data, perm, true, nil
}

// backupName is the name of the backup of path taken at t.
func backupName(path string, t time.Time) string {
	return path + ".runcage-bak." + t.UTC().Format("20060102T150405.000000000Z")
}

// writeWithBackup replaces path with data atomically. When old is non-nil
// (the file existed) it first writes old, byte for byte, to a new backup
// file beside path, which must not exist yet. It returns the backup's name.
func writeWithBackup(path string, old, data []byte, perm fs.FileMode, existed bool, now time.Time) (string, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", fmt.Errorf("create %s: %w", filepath.Dir(path), err)
	}
	var bak string
	if existed {
		bak = backupName(path, now)
		f, err := os.OpenFile(bak, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_SYNC|unix.O_NOFOLLOW, perm)
		if err != nil {
			return "", fmt.Errorf("back up %s: %w", path, err)
		}
		_, werr := f.Write(old)
		cerr := f.Close()
		if err := errors.Join(werr, cerr); err != nil {
			return "", fmt.Errorf("back up %s: %w", path, err)
		}
	}
	if err := spec.WriteFileAtomic(path, data, perm); err != nil {
		return bak, fmt.Errorf("write %s: %w", path, err)
	}
	return bak, nil
}

// say prints one line of install's report.
func say(w io.Writer, format string, args ...any) {
	fmt.Fprintf(w, format+"\n", args...)
}
