// Command runcage-node installs runcage on a Kubernetes node and keeps the
// node's runcage policy in step with a ConfigMap. It runs in the runcage
// DaemonSet (deploy/kubernetes/daemonset.yaml), with the node's
// directories mounted at the same paths as on the node, so that every path
// it writes into containerd's configuration is a node path.
//
//	runcage-node install   copy runcage and runc to the node, install the
//	                       policy, run `runcage install containerd`
//	runcage-node sync      re-install the policy whenever the ConfigMap
//	                       changes; never returns
//
// It never restarts containerd unless RUNCAGE_RESTART_CONTAINERD=true is
// set, and then only through systemd's D-Bus API (RestartUnit
// containerd.service); otherwise it says that a restart is needed.
//
// A policy is installed only after runcage's own loader accepted it, so a
// bad ConfigMap edit leaves the previous policy in force (fail closed).
// Every file is replaced atomically (temporary file, fsync, rename), so
// containerd never runs a half-copied binary and runcage never reads a
// half-written policy.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	sddbus "github.com/coreos/go-systemd/v22/dbus"

	"github.com/runcage/runcage/profiles/policy"
	"github.com/runcage/runcage/runtime/spec"
)

// EnvRestart is the opt-in for restarting containerd after install.
const EnvRestart = "RUNCAGE_RESTART_CONTAINERD"

// options are the command-line flags both subcommands share.
type options struct {
	imageBin         string // where the image keeps runcage and runc
	hostBin          string // node directory they are copied to
	policySrc        string // the ConfigMap mount
	policyDst        string // the node's /etc/runcage
	containerdConfig string
	dropin           string
	profiles         string
	interval         time.Duration
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: runcage-node install|sync [flags]")
		os.Exit(2)
	}
	var o options
	fsFlags := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	fsFlags.StringVar(&o.imageBin, "image-bin", "/usr/local/bin", "directory of runcage and runc in this image")
	fsFlags.StringVar(&o.hostBin, "host-bin", "/opt/runcage/bin", "node directory to install runcage and runc in")
	fsFlags.StringVar(&o.policySrc, "policy-src", "/config", "directory of the policy ConfigMap")
	fsFlags.StringVar(&o.policyDst, "policy-dst", "/etc/runcage", "node directory of the runcage policy")
	fsFlags.StringVar(&o.containerdConfig, "containerd-config", "/etc/containerd/config.toml", "containerd's main config on the node")
	fsFlags.StringVar(&o.dropin, "dropin", "/etc/containerd/conf.d/runcage.toml", "drop-in runcage install writes")
	fsFlags.StringVar(&o.profiles, "profiles", "", "profiles to register as runcage-<profile> CRI handlers (comma-separated)")
	fsFlags.DurationVar(&o.interval, "interval", 30*time.Second, "how often sync looks at the ConfigMap")
	fsFlags.Parse(os.Args[2:])

	var err error
	switch os.Args[1] {
	case "install":
		err = install(o)
	case "sync":
		err = syncLoop(o)
	default:
		err = fmt.Errorf("unknown subcommand %q: want install or sync", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "runcage-node:", err)
		os.Exit(1)
	}
}

// install copies the binaries, installs the policy and registers runcage
// with containerd.
func install(o options) error {
	for _, name := range []string{"runc", "runcage"} {
		if err := copyAtomic(filepath.Join(o.imageBin, name), filepath.Join(o.hostBin, name), 0o755); err != nil {
			return fmt.Errorf("install %s: %w", name, err)
		}
		fmt.Printf("installed %s\n", filepath.Join(o.hostBin, name))
	}
	if _, err := syncPolicy(o.policySrc, o.policyDst); err != nil {
		return err
	}
	runcage := filepath.Join(o.hostBin, "runcage")
	argv := []string{
		"--runcage-config", filepath.Join(o.policyDst, "config.toml"),
		"install", "containerd",
		"--config", o.containerdConfig,
		"--dropin", o.dropin,
		"--binary", runcage,
		// The image has no containerd binary to verify the merge with.
		"--containerd", "",
	}
	if o.profiles != "" {
		argv = append(argv, "--profiles", o.profiles)
	}
	cmd := exec.Command(runcage, argv...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("runcage install containerd: %w", err)
	}
	if os.Getenv(EnvRestart) != "true" {
		fmt.Printf("containerd was NOT restarted: restart it on this node to load the runcage handlers (or set %s=true on the DaemonSet)\n", EnvRestart)
		return nil
	}
	return restartContainerd()
}

// restartContainerd asks systemd, over its D-Bus API, to restart
// containerd.service and waits for the job to finish. Running containers
// keep running: their shims do not depend on the containerd process.
func restartContainerd() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, err := sddbus.NewSystemConnectionContext(ctx)
	if err != nil {
		return fmt.Errorf("restart containerd: connect to systemd: %w", err)
	}
	defer conn.Close()
	done := make(chan string, 1)
	if _, err := conn.RestartUnitContext(ctx, "containerd.service", "replace", done); err != nil {
		return fmt.Errorf("restart containerd: %w", err)
	}
	select {
	case res := <-done:
		if res != "done" {
			return fmt.Errorf("restart containerd: systemd job result %q", res)
		}
	case <-ctx.Done():
		return fmt.Errorf("restart containerd: %w", ctx.Err())
	}
	fmt.Printf("restarted containerd.service (%s=true)\n", EnvRestart)
	return nil
}

// syncLoop installs the policy whenever the ConfigMap's files change.
func syncLoop(o options) error {
	for {
		changed, err := syncPolicy(o.policySrc, o.policyDst)
		switch {
		case err != nil:
			// Keep the previous policy and keep watching: the next edit
			// of the ConfigMap may fix it.
			fmt.Fprintf(os.Stderr, "runcage-node: policy NOT updated, the previous one stays in force: %v\n", err)
		case changed:
			fmt.Printf("%s: installed the new policy\n", time.Now().UTC().Format(time.RFC3339))
		}
		time.Sleep(o.interval)
	}
}

// syncPolicy makes dst hold exactly the ConfigMap's files in src. It loads
// the new config.toml with runcage's own policy loader first, from a
// staging copy of the whole set, and installs nothing if it fails. Files in
// dst that are not in src are removed only after the new ones are in place.
// It reports whether anything changed.
func syncPolicy(src, dst string) (changed bool, err error) {
	files, err := readConfigMap(src)
	if err != nil {
		return false, err
	}
	if _, ok := files["config.toml"]; !ok {
		return false, fmt.Errorf("policy: the ConfigMap has no config.toml")
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return false, fmt.Errorf("policy: %w", err)
	}
	stage, err := os.MkdirTemp(dst, ".staging-")
	if err != nil {
		return false, fmt.Errorf("policy: %w", err)
	}
	defer os.RemoveAll(stage)
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(stage, name), b, 0o644); err != nil {
			return false, fmt.Errorf("policy: stage %s: %w", name, err)
		}
	}
	pol, err := policy.Load(filepath.Join(stage, "config.toml"), true)
	if err != nil {
		return false, fmt.Errorf("policy: %w", err)
	}
	for _, name := range pol.Names() {
		if _, err := pol.Profile(name); err != nil {
			return false, fmt.Errorf("policy: %w", err)
		}
	}
	// config.toml last, so runcage never reads a policy whose files are
	// not there yet.
	names := make([]string, 0, len(files))
	for name := range files {
		if name != "config.toml" {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	names = append(names, "config.toml")
	for _, name := range names {
		p := filepath.Join(dst, name)
		if old, err := os.ReadFile(p); err == nil && bytes.Equal(old, files[name]) {
			continue
		}
		if err := writeAtomic(p, files[name], 0o644); err != nil {
			return changed, fmt.Errorf("policy: %w", err)
		}
		changed = true
	}
	entries, err := os.ReadDir(dst)
	if err != nil {
		return changed, fmt.Errorf("policy: %w", err)
	}
	for _, e := range entries {
		if _, keep := files[e.Name()]; keep || strings.HasPrefix(e.Name(), ".staging-") || !e.Type().IsRegular() {
			continue
		}
		if err := os.Remove(filepath.Join(dst, e.Name())); err != nil {
			return changed, fmt.Errorf("policy: %w", err)
		}
		changed = true
	}
	return changed, nil
}

// readConfigMap reads the files of a ConfigMap volume. The kubelet keeps
// them in a timestamped directory behind the ..data symlink and links each
// key to ..data/<key>; reading through ..data gives one consistent version.
func readConfigMap(dir string) (map[string][]byte, error) {
	root := dir
	if _, err := os.Lstat(filepath.Join(dir, "..data")); err == nil {
		root = filepath.Join(dir, "..data")
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("read ConfigMap: %w", err)
	}
	files := map[string][]byte{}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		info, err := os.Stat(filepath.Join(root, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read ConfigMap: %w", err)
		}
		if !info.Mode().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(root, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read ConfigMap: %w", err)
		}
		files[e.Name()] = b
	}
	return files, nil
}

// copyAtomic copies src to dst through writeAtomic.
func copyAtomic(src, dst string, mode fs.FileMode) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return writeAtomic(dst, b, mode)
}

// writeAtomic replaces path with data through spec.WriteFileAtomic (a new
// file beside it, O_EXCL, fsync, rename), creating path's directory first.
// A running executable is never written in place, so processes that run the
// old one are unaffected.
func writeAtomic(path string, data []byte, mode fs.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return spec.WriteFileAtomic(path, data, mode)
}
