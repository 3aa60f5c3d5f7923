package userns

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/runcage/runcage/internal/mountinfo"
	"github.com/runcage/runcage/profiles"
)

// SandboxAnnotation is the annotation the CRI puts on every container of a
// pod; its value keys the pod's shared id range.
const SandboxAnnotation = "io.kubernetes.cri.sandbox-id"

// Setup gives a container a user namespace whose root is not root on the
// host, and makes its rootfs usable without touching a file of it. It is the
// side-effecting half of the user-namespace concern: Apply allocates ids and
// mounts, Undo releases and unmounts, and the caller must call Undo for
// every successful Apply (on delete, or when the create fails).
type Setup struct {
	// Alloc hands out and records the pods' id ranges.
	Alloc *Allocator
	// MountDir holds one directory per container for the mounts Apply makes.
	MountDir string
	// MinSize is the smallest mapping a bundle may bring; 0 means 65536.
	MinSize uint32
	// IDMapMounts reports whether the delegate runtime supports the idmap
	// mount option, which volumes need. Nil means it does.
	IDMapMounts func() error
	// VolumeRoots are the host directories (absolute, symlinks resolved)
	// under which bind sources are volumes: only those are id-mapped, so
	// that the container's root owns its files as the image's root. Every
	// other bind source keeps its host ids, and the container's root,
	// an unprivileged host id, has no more power over it than any host
	// user has.
	VolumeRoots []string
}

// Result is what Apply did, for the record the caller keeps until delete.
type Result struct {
	// Key is the pod key the range is allocated under.
	Key string `json:"key"`
	// Injected is true when runcage added the user namespace; false when
	// the bundle brought its own and Apply only validated it.
	Injected bool `json:"injected"`
	// Range is the host range of the container's root.
	Range Range `json:"range"`
	// Mounts lists what Apply mounted, in mount order.
	Mounts []string `json:"mounts,omitempty"`
	// Dir is the container's directory under MountDir.
	Dir string `json:"dir,omitempty"`
}

// Key returns the pod key of a container: the CRI sandbox id, or the
// container id for containers that are not part of a pod.
//
// The annotation alone is no evidence: whoever writes the bundle (a pod
// author, where the engine lets pod annotations through) can name any
// pod's sandbox, and sharing that key would hand over the victim's id range
// and user namespace. So the sandbox id keys the container only when it is
// the sandbox itself, or when the container joins a namespace by a
// /proc/<pid>/ns/<type> path, which the namespaces modifier (run before
// Apply) accepts only when it is, by identity, a namespace of that very
// sandbox's init process in the same runc root. Any other container gets a
// range of its own.
func Key(s *specs.Spec, containerID string) string {
	k := s.Annotations[SandboxAnnotation]
	if k == "" || k == containerID {
		return containerID
	}
	if s.Linux != nil && slices.ContainsFunc(s.Linux.Namespaces, func(n specs.LinuxNamespace) bool {
		_, ok := procNSPid(n.Path)
		return ok && n.Type != specs.UserNamespace
	}) {
		return k
	}
	return containerID
}

// Apply injects or validates the user namespace of s. bundle resolves a
// relative root.path. On error nothing stays mounted or allocated.
func (st *Setup) Apply(s *specs.Spec, bundle, containerID string) (res *Result, err error) {
	if s.Linux == nil {
		s.Linux = &specs.Linux{}
	}
	key := Key(s, containerID)
	if i := slices.IndexFunc(s.Linux.Namespaces, func(n specs.LinuxNamespace) bool { return n.Type == specs.UserNamespace }); i >= 0 {
		return st.validate(s, s.Linux.Namespaces[i], key, containerID)
	}
	if s.Root == nil || s.Root.Path == "" {
		return nil, profiles.Refusef("user namespace refused: the bundle has no root.path to map")
	}
	// The container's directory exists before anything is allocated or
	// mounted: if runcage is killed before its caller records the Result,
	// the directory is what lets delete find and undo the rest
	// (UndoOrphan).
	dir := filepath.Join(st.MountDir, containerID)
	if err := traversable(st.MountDir); err != nil {
		return nil, err
	}
	if err := os.Mkdir(dir, 0o711); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("create mount dir: %w", err)
	}
	r, err := st.Alloc.Acquire(key, containerID)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("allocate user namespace ids: %w", err), Unmount([]string{dir}))
	}
	res = &Result{Key: key, Injected: true, Range: r, Dir: dir}
	defer func() {
		if err != nil {
			_ = st.Undo(res, containerID)
			res = nil
		}
	}()
	maps := r.Mappings()
	root := s.Root.Path
	if !filepath.IsAbs(root) {
		root = filepath.Join(bundle, root)
	}
	dst := filepath.Join(res.Dir, "rootfs")
	if err := os.Mkdir(dst, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return res, fmt.Errorf("create mount point: %w", err)
	}
	fd, err := NewUsernsFD(maps, maps)
	if err != nil {
		return res, fmt.Errorf("user namespace for id-mapped mounts: %w", err)
	}
	defer fd.Close()
	ovl, isOverlay, err := ReadOverlay(root)
	if err != nil {
		return res, fmt.Errorf("inspect rootfs mount: %w", err)
	}
	if isOverlay {
		mounts, err := MountIDMappedOverlay(ovl, dst, res.Dir, r, fd)
		res.Mounts = append(res.Mounts, mounts...)
		if err != nil {
			return res, refuseIDMap("rootfs", root, err)
		}
	} else {
		// nosuid: dst is reachable by any host user through the state
		// directory's 0711 parents, and a set-user-ID file of the image
		// would run as the range's root. The container runs with
		// no_new_privileges, so it loses nothing.
		if err := idMappedBind(root, dst, fd, unix.MOUNT_ATTR_NOSUID); err != nil {
			return res, refuseIDMap("rootfs", root, err)
		}
		res.Mounts = append(res.Mounts, dst)
	}
	if err := st.mapVolumes(s, fd); err != nil {
		return res, err
	}
	if err := st.podSysfs(s, res); err != nil {
		return res, err
	}
	join, err := podUserns(s, maps)
	if err != nil {
		return res, err
	}
	if join != "" {
		// runc reads the mappings from the namespace it joins.
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace, Path: join})
		s.Linux.UIDMappings, s.Linux.GIDMappings = nil, nil
	} else {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		s.Linux.UIDMappings, s.Linux.GIDMappings = maps, slices.Clone(maps)
	}
	s.Root.Path = dst
	return res, nil
}

// mapVolumes adds runc's idmap option to every bind mount of a directory
// under one of st.VolumeRoots, after proving that the source's filesystem
// can be id-mapped. Other directories, and files (such as
// /etc/resolv.conf), sockets and devices, are left alone: they stay usable
// through their permission bits, as for an unprivileged host user.
func (st *Setup) mapVolumes(s *specs.Spec, fd *os.File) error {
	for i := range s.Mounts {
		m := &s.Mounts[i]
		if !isBind(m) || slices.Contains(m.Options, "idmap") || slices.Contains(m.Options, "ridmap") || len(m.UIDMappings) > 0 {
			continue
		}
		fi, err := os.Stat(m.Source)
		if err != nil || !fi.IsDir() || !InVolumeRoot(m.Source, st.VolumeRoots) {
			continue
		}
		if st.IDMapMounts != nil {
			if err := st.IDMapMounts(); err != nil {
				return profiles.Refusef("volume %q refused: user namespaces need id-mapped volumes: %v", m.Destination, err)
			}
		}
		if err := canIDMap(m.Source, fd); err != nil {
			return refuseIDMap(fmt.Sprintf("volume %q", m.Destination), m.Source, err)
		}
		m.Options = append(m.Options, "idmap")
	}
	return nil
}

// InVolumeRoot reports whether the host path src, with its symlinks
// resolved, is strictly inside one of roots (absolute paths with symlinks
// resolved). A root itself is not a volume: binding it would hand over
// every volume at once. A path that cannot be resolved is not in a root.
func InVolumeRoot(src string, roots []string) bool {
	real, err := filepath.EvalSymlinks(src)
	if err != nil {
		return false
	}
	for _, r := range roots {
		if r != "/" && strings.HasPrefix(real, r+"/") {
			return true
		}
	}
	return false
}

func isBind(m *specs.Mount) bool {
	return m.Type == "bind" || slices.Contains(m.Options, "bind") || slices.Contains(m.Options, "rbind")
}

// canIDMap checks that src can be id-mapped, with a detached mount that is
// gone when its fd is closed: nothing is attached and nothing is written.
func canIDMap(src string, fd *os.File) error {
	tree, err := unix.OpenTree(unix.AT_FDCWD, src, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
	if err != nil {
		return &UnsupportedError{FSType: fsType(src), Path: src, Err: os.NewSyscallError("open_tree", err)}
	}
	defer unix.Close(tree)
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_IDMAP, Userns_fd: uint64(fd.Fd())}
	if err := unix.MountSetattr(tree, "", unix.AT_EMPTY_PATH, &attr); err != nil {
		return &UnsupportedError{FSType: fsType(src), Path: src, Err: os.NewSyscallError("mount_setattr", err)}
	}
	return nil
}

func refuseIDMap(what, path string, err error) error {
	if errors.Is(err, ErrIDMapUnsupported) {
		return profiles.Refusef("%s refused: the profile requires a user namespace and %v; runcage never falls back to chown", what, err)
	}
	return fmt.Errorf("id-map %s %s: %w", what, path, err)
}

// procUserNSPid returns the pid in a path of the form /proc/<pid>/ns/user.
// It is hand-written rather than a regexp compiled at start-up, which every
// runcage invocation would pay for.
func procUserNSPid(path string) (string, bool) {
	rest, ok := strings.CutPrefix(path, "/proc/")
	if !ok {
		return "", false
	}
	pid, ok := strings.CutSuffix(rest, "/ns/user")
	if !ok || pid == "" || len(pid) > 10 {
		return "", false
	}
	for _, c := range pid {
		if c < '0' || c > '9' {
			return "", false
		}
	}
	return pid, true
}

// validate checks a user namespace the bundle brought itself and records
// its ranges, so no other pod is given them.
func (st *Setup) validate(s *specs.Spec, ns specs.LinuxNamespace, key, containerID string) (*Result, error) {
	uid, gid := s.Linux.UIDMappings, s.Linux.GIDMappings
	if len(uid) == 0 && ns.Path != "" {
		pid, ok := procUserNSPid(ns.Path)
		if !ok {
			return nil, profiles.Refusef("user namespace %q refused: cannot read the mappings of a namespace joined by that path", ns.Path)
		}
		var err error
		if uid, err = ReadIDMap("/proc/" + pid + "/uid_map"); err != nil {
			return nil, fmt.Errorf("read mappings of %s: %w", ns.Path, err)
		}
		if gid, err = ReadIDMap("/proc/" + pid + "/gid_map"); err != nil {
			return nil, fmt.Errorf("read mappings of %s: %w", ns.Path, err)
		}
	}
	if err := Validate(uid, gid, st.Alloc, key, st.MinSize); err != nil {
		return nil, err
	}
	ranges := RangesOf(uid, gid)
	if err := st.Alloc.Reserve(key, containerID, ranges); err != nil {
		return nil, fmt.Errorf("record user namespace ids: %w", err)
	}
	res := &Result{Key: key}
	if len(ranges) > 0 {
		res.Range = ranges[0]
	}
	return res, nil
}

// ReadIDMap parses a uid_map or gid_map file (/proc/PID/uid_map): one
// mapping a line, the ids inside the namespace, the ids outside it they
// map to, and the count. Lines without three fields are passed over.
func ReadIDMap(path string) ([]specs.LinuxIDMapping, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []specs.LinuxIDMapping
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		var v [3]uint64
		for i := range f {
			if v[i], err = strconv.ParseUint(f[i], 10, 32); err != nil {
				return nil, fmt.Errorf("parse %s: %w", path, err)
			}
		}
		out = append(out, specs.LinuxIDMapping{ContainerID: uint32(v[0]), HostID: uint32(v[1]), Size: uint32(v[2])})
	}
	return out, nil
}

// Undo unmounts what Apply mounted and releases the container's ids. It is
// safe to call more than once and after a crash (res may come from a
// record on disk).
func (st *Setup) Undo(res *Result, containerID string) error {
	var errs []error
	if res != nil && len(res.Mounts) > 0 {
		if err := Unmount(res.Mounts); err != nil {
			errs = append(errs, err)
		}
	}
	if res != nil && res.Dir != "" {
		if err := Unmount([]string{res.Dir}); err != nil {
			errs = append(errs, err)
		}
	}
	if _, err := st.Alloc.Release(containerID); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// UndoOrphan removes what Apply set up for containerID when no Result was
// kept, because runcage was killed after Apply and before the caller saved
// its record: every mount under MountDir/<containerID>, that directory, and
// the container's share of its pod's allocation. It is cheap and does
// nothing when there is nothing to undo, so delete can call it for every
// container runcage has no record of.
func (st *Setup) UndoOrphan(containerID string) error {
	if containerID == "" || strings.ContainsAny(containerID, "/\x00") || containerID == "." || containerID == ".." {
		return fmt.Errorf("undo orphan: bad container id %q", containerID)
	}
	dir := filepath.Join(st.MountDir, containerID)
	res := &Result{}
	if _, err := os.Lstat(dir); err == nil {
		// No record lists what Apply mounted before it was killed: find
		// it, so that Unmount does not refuse to remove the directory.
		res.Dir, res.Mounts = dir, mountsBelow(dir)
	}
	return st.Undo(res, containerID)
}

// mountsBelow returns the mount points strictly below dir, parents before
// children, so that Unmount (which walks in reverse) detaches children
// first. An unreadable mountinfo yields none: Unmount then refuses to
// remove a directory that still has mounts, which fails safe.
func mountsBelow(dir string) []string {
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return nil
	}
	mounts, err := mountinfo.Read()
	if err != nil {
		return nil
	}
	var below []string
	for _, m := range mounts {
		if strings.HasPrefix(m.MountPoint, real+"/") {
			below = append(below, m.MountPoint)
		}
	}
	slices.SortStableFunc(below, func(a, b string) int { return strings.Count(a, "/") - strings.Count(b, "/") })
	return slices.Compact(below)
}

// traversable creates dir and makes it and its parent (the state
// directory) searchable, not readable, by others (0711): the container's
// root is an unprivileged host id, and runc's init resolves the rootfs path
// as that id. What must stay private lives in 0700 subdirectories.
func traversable(dir string) error {
	if err := Reachable(filepath.Dir(dir)); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o711); err != nil {
		return fmt.Errorf("create mount dir: %w", err)
	}
	for _, d := range []string{filepath.Dir(dir), dir} {
		fi, err := os.Stat(d)
		if err != nil {
			return fmt.Errorf("mount dir: %w", err)
		}
		if mode := fi.Mode().Perm(); mode&0o011 != 0o011 {
			if err := os.Chmod(d, mode|0o011); err != nil {
				return fmt.Errorf("make %s searchable: %w", d, err)
			}
		}
	}
	return nil
}
