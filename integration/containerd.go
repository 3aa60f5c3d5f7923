//go:build integration

package integration

import (
	"archive/tar"
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/BurntSushi/toml"
	"golang.org/x/sys/unix"

	"github.com/runcage/runcage/internal/mountinfo"
	"github.com/runcage/runcage/profiles/userns"
)

// OCIImage describes a one-layer image for WriteOCIArchive.
type OCIImage struct {
	// Name is the full reference containerd files the image under, such
	// as "docker.io/runcage/busybox:it". `ctr image import` reads it from
	// the io.containerd.image.name annotation of the index.
	Name string
	// Rootfs is a directory whose tree becomes the image's only layer, with
	// every file owned by 0:0. Symbolic links are stored as links.
	Rootfs string
	// Entrypoint, Cmd and Env are the image config's defaults.
	Entrypoint, Cmd, Env []string
}

// WriteOCIArchive writes img to path as a tar archive of an OCI image layout
// (oci-layout, index.json, blobs/sha256/...), the format `ctr image import`
// reads. The layer is an uncompressed tar, so its digest is also its diff
// id. The manifest is for linux and the architecture of the test binary.
func WriteOCIArchive(path string, img OCIImage) error {
	var layer bytes.Buffer
	if err := tarTree(&layer, img.Rootfs); err != nil {
		return fmt.Errorf("write oci archive: layer: %w", err)
	}
	type descriptor struct {
		MediaType   string            `json:"mediaType"`
		Digest      string            `json:"digest"`
		Size        int               `json:"size"`
		Platform    map[string]string `json:"platform,omitempty"`
		Annotations map[string]string `json:"annotations,omitempty"`
	}
	blobs := map[string][]byte{}
	add := func(mediaType string, b []byte) descriptor {
		sum := sha256.Sum256(b)
		d := "sha256:" + hex.EncodeToString(sum[:])
		blobs[d] = b
		return descriptor{MediaType: mediaType, Digest: d, Size: len(b)}
	}
	layerDesc := add("application/vnd.oci.image.layer.v1.tar", layer.Bytes())
	config, err := json.Marshal(map[string]any{
		"architecture": runtime.GOARCH,
		"os":           "linux",
		"config": map[string]any{
			"Entrypoint": img.Entrypoint,
			"Cmd":        img.Cmd,
			"Env":        img.Env,
			"WorkingDir": "/",
		},
		"rootfs":  map[string]any{"type": "layers", "diff_ids": []string{layerDesc.Digest}},
		"history": []map[string]string{{"created_by": "runcage integration: WriteOCIArchive"}},
	})
	if err != nil {
		return fmt.Errorf("write oci archive: %w", err)
	}
	configDesc := add("application/vnd.oci.image.config.v1+json", config)
	manifest, err := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.manifest.v1+json",
		"config":        configDesc,
		"layers":        []descriptor{layerDesc},
	})
	if err != nil {
		return fmt.Errorf("write oci archive: %w", err)
	}
	manifestDesc := add("application/vnd.oci.image.manifest.v1+json", manifest)
	manifestDesc.Platform = map[string]string{"architecture": runtime.GOARCH, "os": "linux"}
	tag := img.Name
	if i := strings.LastIndexByte(tag, ':'); i >= 0 && !strings.Contains(tag[i:], "/") {
		tag = tag[i+1:]
	}
	manifestDesc.Annotations = map[string]string{
		"io.containerd.image.name":          img.Name,
		"org.opencontainers.image.ref.name": tag,
	}
	index, err := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.index.v1+json",
		"manifests":     []descriptor{manifestDesc},
	})
	if err != nil {
		return fmt.Errorf("write oci archive: %w", err)
	}

	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("write oci archive: %w", err)
	}
	defer f.Close()
	w := tar.NewWriter(f)
	put := func(name string, b []byte) error {
		hdr := &tar.Header{Name: name, Mode: 0o644, Size: int64(len(b)), ModTime: time.Unix(0, 0), Typeflag: tar.TypeReg}
		if err := w.WriteHeader(hdr); err != nil {
			return err
		}
		_, err := w.Write(b)
		return err
	}
	digests := make([]string, 0, len(blobs))
	for d := range blobs {
		digests = append(digests, d)
	}
	slices.Sort(digests)
	files := []struct {
		name string
		b    []byte
	}{
		{"oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)},
		{"index.json", index},
	}
	for _, d := range digests {
		files = append(files, struct {
			name string
			b    []byte
		}{"blobs/sha256/" + strings.TrimPrefix(d, "sha256:"), blobs[d]})
	}
	for _, file := range files {
		if err := put(file.name, file.b); err != nil {
			return fmt.Errorf("write oci archive: %w", err)
		}
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("write oci archive: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("write oci archive: %w", err)
	}
	return f.Close()
}

// tarTree writes the tree under root to w, owned by 0:0, with fixed times.
// root is a directory the test built itself (never a container's rootfs),
// so reading its symbolic links is safe.
func tarTree(w io.Writer, root string) error {
	tw := tar.NewWriter(w)
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil || rel == "." {
			return err
		}
		fi, err := os.Lstat(path)
		if err != nil {
			return err
		}
		var link string
		if fi.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(path); err != nil {
				return err
			}
		}
		hdr, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return err
		}
		hdr.Name = filepath.ToSlash(rel)
		if fi.IsDir() {
			hdr.Name += "/"
		}
		hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = 0, 0, "root", "root"
		hdr.ModTime, hdr.AccessTime, hdr.ChangeTime = time.Unix(0, 0), time.Time{}, time.Time{}
		hdr.Format = tar.FormatPAX
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if fi.Mode().IsRegular() {
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			defer f.Close()
			if _, err := io.Copy(tw, f); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

// Containerd is one containerd daemon that a test starts on a private
// root, state directory and sockets, all under Dir. It never touches the
// host's /var/lib/containerd or /run/containerd/containerd.sock. What
// containerd 1.6 keeps outside Dir regardless: the shims' sockets under
// /run/containerd/s (named by a hash of Address, so they cannot collide
// with the host's daemon), and, for CRI runtimes whose options set no Root,
// runc's state under /run/containerd/runc/k8s.io.
//
// A Containerd is created by NewContainerd, configured with WriteConfig,
// started with Start and must be ended with Close, even when Start failed.
type Containerd struct {
	// Dir holds everything below; Close removes it.
	Dir string
	// Config is the main configuration file WriteConfig writes.
	Config string
	// Address is the gRPC socket; Address+".ttrpc" is the ttrpc one.
	Address string
	// Root and State are containerd's root and state directories.
	Root, State string
	// RuncRoot is the runc state root for `ctr run --runc-root` and the
	// CRI's plain runc handler.
	RuncRoot string
	// CNIConfDir holds the CNI network configuration for the CRI plugin.
	CNIConfDir string
	// Log receives containerd's stdout and stderr.
	Log string
	// Bin is the directory of the containerd and ctr binaries to run
	// (ContainerdBin); empty means the ones in PATH.
	Bin string

	cmd  *exec.Cmd
	done chan struct{}
}

// ContainerdConfig is what WriteConfig puts in the main configuration.
type ContainerdConfig struct {
	// CRI enables the CRI plugin; when false it is disabled.
	CRI bool
	// SandboxImage is the CRI's pause image.
	SandboxImage string
	// Runc is the runc binary of the CRI's default handler "runc".
	Runc string
	// Subnet is the IPv4 /24 the CRI pods' addresses come from, as
	// "10.x.y.0/24". Pods get a macvlan interface on the host's default
	// route interface (no host bridge, veth or sysctl change) and loopback.
	Subnet string
	// Imports lists drop-in files for containerd's `imports`.
	Imports []string
	// Version is the configuration file's version: 2 (the default, read
	// by containerd 1.6 and 1.7) or 3 (containerd 2.x). Only the CRI's
	// plugins differ: 2.x splits it into io.containerd.cri.v1.images,
	// io.containerd.cri.v1.runtime (whose containerd.runtimes table holds
	// the handlers) and the server io.containerd.grpc.v1.cri.
	Version int
}

// NewContainerd makes the directory of a new daemon (not started yet).
func NewContainerd() (*Containerd, error) {
	dir, err := os.MkdirTemp("", "runcage-ctrd-")
	if err != nil {
		return nil, fmt.Errorf("new containerd: %w", err)
	}
	// 0711: a container's root is mapped to an unprivileged host id and
	// must be able to reach its rootfs below this directory.
	if err := os.Chmod(dir, 0o711); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("new containerd: %w", err)
	}
	return &Containerd{
		Dir:        dir,
		Config:     filepath.Join(dir, "config.toml"),
		Address:    filepath.Join(dir, "containerd.sock"),
		Root:       filepath.Join(dir, "root"),
		State:      filepath.Join(dir, "state"),
		RuncRoot:   filepath.Join(dir, "runc"),
		CNIConfDir: filepath.Join(dir, "cni", "net.d"),
		Log:        filepath.Join(dir, "containerd.log"),
	}, nil
}

// WriteConfig writes the main configuration file (version 2, containerd
// 1.6 and 1.7, unless cfg.Version says 3) and, when the CRI is enabled,
// its CNI configuration.
func (c *Containerd) WriteConfig(cfg ContainerdConfig) error {
	version := cmp.Or(cfg.Version, 2)
	if version != 2 && version != 3 {
		return fmt.Errorf("write containerd config: version %d is not supported (2 or 3)", version)
	}
	disabled := []string{
		"io.containerd.snapshotter.v1.aufs",
		"io.containerd.snapshotter.v1.btrfs",
		"io.containerd.snapshotter.v1.devmapper",
		"io.containerd.snapshotter.v1.zfs",
		"io.containerd.tracing.processor.v1.otlp",
	}
	plugins := map[string]any{
		"io.containerd.internal.v1.opt": map[string]any{"path": filepath.Join(c.Dir, "opt")},
	}
	if cfg.CRI {
		cni := map[string]any{
			"bin_dir":      "/usr/lib/cni",
			"conf_dir":     c.CNIConfDir,
			"max_conf_num": 1,
		}
		runtimes := map[string]any{
			"snapshotter":          "overlayfs",
			"default_runtime_name": "runc",
			"runtimes": map[string]any{
				"runc": map[string]any{
					"runtime_type": "io.containerd.runc.v2",
					"options": map[string]any{
						"BinaryName":    cfg.Runc,
						"Root":          c.RuncRoot,
						"SystemdCgroup": false,
					},
				},
			},
		}
		cri := map[string]any{
			"stream_server_address": "127.0.0.1",
			"stream_server_port":    "0",
		}
		runtime := cri
		if version == 3 {
			// containerd 2.x splits the CRI: images, runtime, server.
			delete(runtimes, "snapshotter")
			delete(cni, "bin_dir")
			cni["bin_dirs"] = []string{"/usr/lib/cni"}
			plugins["io.containerd.cri.v1.images"] = map[string]any{
				"snapshotter":   "overlayfs",
				"pinned_images": map[string]any{"sandbox": cfg.SandboxImage},
			}
			// 2.x's defaults stay: enable_unprivileged_ports and
			// enable_unprivileged_icmp put net.ipv4 sysctls in every
			// pod, which runcage writes into the pod's network
			// namespace itself (profiles/userns.PodSysctls).
			runtime = map[string]any{}
			plugins["io.containerd.cri.v1.runtime"] = runtime
		} else {
			cri["sandbox_image"] = cfg.SandboxImage
		}
		runtime["netns_mounts_under_state_dir"] = true
		// The CRI gives the pause process oom_score_adj -998, which
		// needs CAP_SYS_RESOURCE; test machines that are themselves
		// sandboxes may lack it. Clamping to containerd's own score
		// changes nothing runcage enforces.
		runtime["restrict_oom_score_adj"] = true
		runtime["cni"] = cni
		runtime["containerd"] = runtimes
		plugins["io.containerd.grpc.v1.cri"] = cri
		if err := c.writeCNI(cfg.Subnet); err != nil {
			return err
		}
	} else {
		disabled = append(disabled, "io.containerd.grpc.v1.cri")
		if version == 3 {
			disabled = append(disabled, "io.containerd.cri.v1.images", "io.containerd.cri.v1.runtime")
		}
	}
	doc := map[string]any{
		"version":          version,
		"root":             c.Root,
		"state":            c.State,
		"disabled_plugins": disabled,
		"grpc":             map[string]any{"address": c.Address},
		"ttrpc":            map[string]any{"address": c.Address + ".ttrpc"},
		"plugins":          plugins,
	}
	if len(cfg.Imports) > 0 {
		doc["imports"] = cfg.Imports
	}
	var b bytes.Buffer
	if err := toml.NewEncoder(&b).Encode(doc); err != nil {
		return fmt.Errorf("write containerd config: %w", err)
	}
	if err := os.WriteFile(c.Config, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write containerd config: %w", err)
	}
	return nil
}

func (c *Containerd) writeCNI(subnet string) error {
	conf := map[string]any{
		"cniVersion": "1.0.0",
		"name":       "runcage-it",
		"plugins": []any{
			map[string]any{
				"type": "macvlan",
				"mode": "bridge",
				"ipam": map[string]any{
					"type":    "host-local",
					"subnet":  subnet,
					"dataDir": filepath.Join(c.Dir, "cni", "ipam"),
				},
			},
		},
	}
	b, err := json.MarshalIndent(conf, "", "  ")
	if err != nil {
		return fmt.Errorf("write cni config: %w", err)
	}
	if err := os.MkdirAll(c.CNIConfDir, 0o755); err != nil {
		return fmt.Errorf("write cni config: %w", err)
	}
	if err := os.WriteFile(filepath.Join(c.CNIConfDir, "10-runcage-it.conflist"), b, 0o644); err != nil {
		return fmt.Errorf("write cni config: %w", err)
	}
	return nil
}

// Start starts containerd with Config, env added to this process's
// environment (it reaches the shims and the runtimes they run), and waits
// until its socket answers.
func (c *Containerd) Start(env []string) error {
	logf, err := os.OpenFile(c.Log, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("start containerd: %w", err)
	}
	defer logf.Close()
	c.cmd = exec.Command(filepath.Join(c.Bin, "containerd"), "--config", c.Config, "--log-level", "info")
	c.cmd.Env = append(os.Environ(), env...)
	c.cmd.Stdout, c.cmd.Stderr = logf, logf
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := c.cmd.Start(); err != nil {
		return fmt.Errorf("start containerd: %w", err)
	}
	c.done = make(chan struct{})
	go func() { c.cmd.Wait(); close(c.done) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		res := c.Ctr("default", "version")
		if res.Exit == 0 {
			return nil
		}
		select {
		case <-c.done:
			return fmt.Errorf("start containerd: it exited: %s\n%s", c.cmd.ProcessState, c.LogTail())
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("start containerd: socket %s did not answer in 30s: %s\n%s", c.Address, res, c.LogTail())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Ctr runs `ctr --address Address --namespace ns args...` and waits up to
// two minutes.
func (c *Containerd) Ctr(ns string, args ...string) Result {
	r := Runtime{Name: "ctr", Path: filepath.Join(c.Bin, "ctr"), Pre: []string{"--address", c.Address, "--namespace", ns}}
	return r.Exec(2*time.Minute, args...)
}

// Import imports each OCI archive (WriteOCIArchive) into namespace ns.
func (c *Containerd) Import(ns string, archives ...string) error {
	for _, a := range archives {
		if res := c.Ctr(ns, "image", "import", a); res.Exit != 0 {
			return fmt.Errorf("import image: %s", res)
		}
	}
	return nil
}

// LogTail returns the last 4 KiB of containerd's log, for failure messages.
func (c *Containerd) LogTail() string {
	b, _ := os.ReadFile(c.Log)
	if len(b) > 4096 {
		b = b[len(b)-4096:]
	}
	return string(b)
}

// Purge force-removes every task and container in namespace ns. Cleanup
// code calls it before Close; its errors are only worth logging.
func (c *Containerd) Purge(ns string) error {
	var errs []error
	if res := c.Ctr(ns, "task", "ls", "-q"); res.Exit == 0 {
		for _, id := range strings.Fields(res.Stdout) {
			c.Ctr(ns, "task", "kill", "-s", "SIGKILL", id)
			deadline := time.Now().Add(10 * time.Second)
			for {
				res := c.Ctr(ns, "task", "delete", "--force", id)
				if res.Exit == 0 || time.Now().After(deadline) {
					if res.Exit != 0 {
						errs = append(errs, fmt.Errorf("purge task %s: %s", id, res))
					}
					break
				}
				time.Sleep(200 * time.Millisecond)
			}
		}
	}
	if res := c.Ctr(ns, "container", "ls", "-q"); res.Exit == 0 {
		for _, id := range strings.Fields(res.Stdout) {
			if res := c.Ctr(ns, "container", "delete", id); res.Exit != 0 {
				errs = append(errs, fmt.Errorf("purge container %s: %s", id, res))
			}
		}
	}
	return errors.Join(errs...)
}

// Shutdown is Purge of namespace ns, then Close. A nil c has nothing to
// shut down.
func (c *Containerd) Shutdown(ns string) error {
	if c == nil {
		return nil
	}
	return errors.Join(c.Purge(ns), c.Close())
}

// Leftovers lists what is still held for removed containers: what runcage
// holds under stateDir (RuncageLeftovers), mounts under Dir, and the runc
// state of each of ids under runcState (the runc root's directory for the
// namespace). It must be empty once the containers are gone.
func (c *Containerd) Leftovers(stateDir, runcState string, ids ...string) ([]string, error) {
	left, err := RuncageLeftovers(stateDir)
	if err != nil {
		return nil, err
	}
	mounts, err := MountPointsUnder(c.Dir)
	if err != nil {
		return nil, err
	}
	for _, m := range mounts {
		left = append(left, "containerd mount "+m)
	}
	for _, id := range ids {
		if _, err := os.Stat(filepath.Join(runcState, id)); !errors.Is(err, fs.ErrNotExist) {
			left = append(left, fmt.Sprintf("runc state of %s in %s (%v)", id, runcState, err))
		}
	}
	return left, nil
}

// Close stops containerd (SIGTERM, then SIGKILL after 10 s), kills the
// shims it started that are still running, unmounts whatever is still
// mounted under Dir and removes Dir. Call Purge first for a clean stop.
func (c *Containerd) Close() error {
	var errs []error
	if c.cmd != nil && c.cmd.Process != nil {
		c.cmd.Process.Signal(unix.SIGTERM)
		select {
		case <-c.done:
		case <-time.After(10 * time.Second):
			c.cmd.Process.Kill()
			<-c.done
			errs = append(errs, errors.New("close containerd: SIGTERM did not stop it in 10s"))
		}
	}
	for _, pid := range c.ShimPIDs() {
		errs = append(errs, fmt.Errorf("close containerd: shim %d still running; killed", pid))
		unix.Kill(pid, unix.SIGKILL)
	}
	mounts, err := MountPointsUnder(c.Dir)
	if err != nil {
		errs = append(errs, err)
	}
	for i := len(mounts) - 1; i >= 0; i-- {
		if err := unix.Unmount(mounts[i], unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("close containerd: unmount %s: %w", mounts[i], err))
		}
	}
	if err := os.RemoveAll(c.Dir); err != nil {
		errs = append(errs, fmt.Errorf("close containerd: %w", err))
	}
	return errors.Join(errs...)
}

// ShimPIDs returns the processes of containerd shims started for Address.
func (c *Containerd) ShimPIDs() []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		argv := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		if len(argv) == 0 || !strings.HasPrefix(filepath.Base(argv[0]), "containerd-shim") {
			continue
		}
		if i := slices.Index(argv, "-address"); i >= 0 && i+1 < len(argv) && argv[i+1] == c.Address {
			pids = append(pids, pid)
		}
	}
	return pids
}

// MountPointsUnder returns the mount points at or below dir, in the order
// of /proc/self/mountinfo (parents before the mounts on top of them).
func MountPointsUnder(dir string) ([]string, error) {
	mounts, err := mountinfo.Read()
	if err != nil {
		return nil, err
	}
	dir = filepath.Clean(dir)
	var out []string
	for _, m := range mounts {
		if m.MountPoint == dir || strings.HasPrefix(m.MountPoint, dir+"/") {
			out = append(out, m.MountPoint)
		}
	}
	return out, nil
}

// BuildImageArchive builds a busybox rootfs (BuildRootfs with opt) under
// dir and writes it as the OCI archive dir/<base of name>.tar for
// `ctr image import`. It returns the archive's path.
func BuildImageArchive(dir string, img OCIImage, opt RootfsOptions) (string, error) {
	base := img.Name
	if i := strings.LastIndexByte(base, '/'); i >= 0 {
		base = base[i+1:]
	}
	base = strings.NewReplacer(":", "-", "@", "-").Replace(base)
	img.Rootfs = filepath.Join(dir, base+".rootfs")
	if err := BuildRootfs(img.Rootfs, opt); err != nil {
		return "", err
	}
	out := filepath.Join(dir, base+".tar")
	if err := WriteOCIArchive(out, img); err != nil {
		return "", err
	}
	return out, nil
}

// IDMapping is one line of /proc/<pid>/uid_map or gid_map: the runtime
// spec's mapping type, so parsed maps compare directly with a bundle's.
type IDMapping = specs.LinuxIDMapping

// ParseIDMapText parses the text of a /proc/<pid>/{uid,gid}_map file.
func ParseIDMapText(text string) ([]IDMapping, error) {
	var m []IDMapping
	for _, l := range strings.Split(strings.TrimSpace(text), "\n") {
		f := strings.Fields(l)
		if len(f) != 3 {
			return nil, fmt.Errorf("bad id map line %q", l)
		}
		var v [3]uint32
		for i := range f {
			n, err := strconv.ParseUint(f[i], 10, 32)
			if err != nil {
				return nil, fmt.Errorf("bad id map line %q: %w", l, err)
			}
			v[i] = uint32(n)
		}
		m = append(m, IDMapping{ContainerID: v[0], HostID: v[1], Size: v[2]})
	}
	return m, nil
}

// IsIdentityMap reports whether m is the map of the initial user namespace.
func IsIdentityMap(m []IDMapping) bool {
	return len(m) == 1 && m[0].ContainerID == 0 && m[0].HostID == 0 && m[0].Size == 4294967295
}

// MapsHostRoot reports whether any line of m maps to host id 0.
func MapsHostRoot(m []IDMapping) bool {
	for _, x := range m {
		if x.HostID == 0 {
			return true
		}
	}
	return false
}

// ProcStatusFields parses "Name:\tvalue" lines, such as those of
// /proc/<pid>/status, into a map. Lines of another shape are ignored.
func ProcStatusFields(text string) map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(text, "\n") {
		k, v, ok := strings.Cut(l, ":")
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			continue
		}
		m[k] = strings.TrimSpace(v)
	}
	return m
}

// HardenedStatus checks the /proc/<pid>/status fields of a process that
// runcage's default profile confined: no capability in any of the five
// sets, no_new_privs set, seccomp in filter mode. It returns one error per
// field that differs, or nil.
func HardenedStatus(status map[string]string) error {
	var errs []error
	want := map[string]string{
		"CapInh": "0000000000000000", "CapPrm": "0000000000000000", "CapEff": "0000000000000000",
		"CapBnd": "0000000000000000", "CapAmb": "0000000000000000",
		"NoNewPrivs": "1", "Seccomp": "2",
	}
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if got, ok := status[k]; !ok || got != want[k] {
			errs = append(errs, fmt.Errorf("%s = %q, want %q", k, got, want[k]))
		}
	}
	return errors.Join(errs...)
}

// RuncageAllocations returns the user-namespace allocations runcage keeps
// under the state directory stateDir.
func RuncageAllocations(stateDir string) ([]userns.Allocation, error) {
	a := userns.Allocator{Dir: filepath.Join(stateDir, "userns"), SubIDFiles: []string{}}
	al, err := a.Allocations()
	if err != nil {
		return nil, fmt.Errorf("read allocations: %w", err)
	}
	return al, nil
}

// RuncageLeftovers lists what runcage still holds under stateDir: mounts,
// container records (containers/*/*.json), per-container mount directories
// (mnt/*) and user-namespace allocations. After every container was
// deleted it must be empty.
func RuncageLeftovers(stateDir string) ([]string, error) {
	var out []string
	mounts, err := MountPointsUnder(stateDir)
	if err != nil {
		return nil, err
	}
	for _, m := range mounts {
		out = append(out, "mount "+m)
	}
	records, err := filepath.Glob(filepath.Join(stateDir, "containers", "*", "*.json"))
	if err != nil {
		return nil, err
	}
	for _, r := range records {
		out = append(out, "record "+r)
	}
	dirs, err := filepath.Glob(filepath.Join(stateDir, "mnt", "*"))
	if err != nil {
		return nil, err
	}
	for _, d := range dirs {
		out = append(out, "mount dir "+d)
	}
	al, err := RuncageAllocations(stateDir)
	if err != nil {
		return nil, err
	}
	for _, a := range al {
		out = append(out, fmt.Sprintf("allocation %s %v for %q", a.Key, a.Ranges, a.Containers))
	}
	return out, nil
}
