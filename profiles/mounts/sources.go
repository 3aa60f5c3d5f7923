package mounts

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runcage/runcage/profiles"
	"github.com/runcage/runcage/profiles/internal/pathwalk"
)

// Options tells the mount rules what they cannot learn from the profile or
// the bundle.
type Options struct {
	// Own lists runcage's own files and directories on this host: the
	// policy file, its state, profiles and recordings directories, its
	// audit log, the profile's own files, the delegate binary and the
	// delegate's state root. Each is refused as a bind source, as is
	// everything under it and every directory above it. Empty entries are
	// ignored; relative ones are made absolute against the working
	// directory. /etc/runcage, /run/runcage, /var/lib/runcage,
	// /var/log/runcage, the running runcage binary and the profile's own
	// files (apparmor, seccomp.json, its seccomp file) are always refused.
	Own []string
	// EngineDirs lists container-engine state and data directories beyond
	// the built-in ones (/var/lib/docker, /run/containerd, ...), such as a
	// dockerd --data-root or a containerd root. They are refused like the
	// built-in ones: with everything under them except the files the engine
	// binds for this container, and every directory above them.
	EngineDirs []string
	// ContainerID is the runc container id. With the bundle's CRI
	// annotations it names the per-container files an engine may bind from
	// its state directories; empty allows none of them.
	ContainerID string
}

// ruleKind says what a protected path's subtree is.
type ruleKind int

const (
	// exact: only the path itself (and its ancestors) is refused.
	exact ruleKind = iota
	// subtree: the path and everything under it is refused.
	subtree
	// engine: like subtree, except the files an engine binds for this
	// container (see engineFile).
	engine
	// devDir: the host's /dev; see checkDev.
	devDir
)

// protected is one host path that must not be the source of a bind mount.
type protected struct {
	path string
	what string
	kind ruleKind
}

const (
	whatSocket  = "a container-engine socket"
	whatState   = "a container-engine state directory"
	whatData    = "a container-engine data directory"
	whatConfig  = "a container-engine configuration directory"
	whatRuntime = "a container runtime state directory"
	whatOwn     = "runcage's own files"
)

// builtinProtected is refused on every host, before the Options' paths.
// Every /run/... entry also has a /var/run/... twin (withVarRun).
var builtinProtected = withVarRun([]protected{
	{"/", "the host's root directory", exact},
	{"/proc", "the host's procfs", subtree},
	{"/sys", "the host's sysfs", subtree},
	{"/dev", "the host's /dev", devDir},

	{"/etc/runcage", whatOwn, subtree},
	{"/run/runcage", "runcage's state directory", subtree},
	{"/var/lib/runcage", whatOwn, subtree},
	{"/var/log/runcage", whatOwn, subtree},
	{"/run/runc", whatRuntime, subtree},

	// Sockets outside the engines' state directories.
	{"/run/docker.sock", whatSocket, subtree},
	{"/run/cri-dockerd.sock", whatSocket, subtree},
	{"/run/dockershim.sock", whatSocket, subtree},
	{"/run/docker/containerd/containerd.sock", whatSocket, subtree},
	{"/run/k3s/containerd/containerd.sock", whatSocket, subtree},
	{"/run/containerd/containerd.sock", whatSocket, subtree},
	{"/run/crio/crio.sock", whatSocket, subtree},
	{"/run/podman/podman.sock", whatSocket, subtree},
	{"/run/buildkit", whatSocket, subtree},

	// State: task bundles, shim sockets, runtime roots, network
	// namespaces. The CRI keeps each pod's /dev/shm under
	// /run/containerd/io.containerd.grpc.v1.cri/sandboxes/, Podman each
	// container's files under /run/containers/storage.
	{"/run/containerd", whatState, engine},
	{"/run/docker", whatState, subtree},
	{"/run/k3s", whatState, subtree},
	{"/run/crio", whatState, subtree},
	{"/run/podman", whatState, subtree},
	{"/run/containers", whatState, engine},
	{"/run/netns", "the host's named network namespaces", subtree},

	// Data roots. Docker binds containers/<id>/{resolv.conf,hostname,
	// hosts,mounts/...} and volumes/<name>/_data, the CRI
	// io.containerd.grpc.v1.cri/sandboxes/<sandbox>/..., the kubelet
	// pods/<pod uid>/..., Podman storage/overlay-containers/<id>/userdata/...
	// and storage/volumes/<name>/_data.
	{"/var/lib/docker", whatData, engine},
	{"/var/lib/containerd", whatData, engine},
	{"/var/lib/kubelet", whatData, engine},
	{"/var/lib/containers", whatData, engine},
	{"/var/lib/crio", whatData, subtree},
	{"/var/lib/cni", whatData, subtree},
	{"/var/lib/rancher", whatData, subtree},
	{"/etc/cni", whatConfig, subtree},
	{"/etc/containerd", whatConfig, subtree},
	{"/etc/docker", whatConfig, subtree},
	{"/etc/containers", whatConfig, subtree},
	{"/etc/crio", whatConfig, subtree},
	{"/etc/kubernetes", whatConfig, subtree},
})

// withVarRun adds a /var/run/... twin for every /run/... rule, for hosts
// where /var/run is a real directory rather than the usual symlink.
func withVarRun(rules []protected) []protected {
	out := slices.Clone(rules)
	for _, r := range rules {
		if rest, ok := strings.CutPrefix(r.path, "/run/"); ok {
			out = append(out, protected{"/var/run/" + rest, r.what, r.kind})
		}
	}
	return out
}

// SensitiveSource says why the absolute clean host path p must not be the
// source of a bind mount, judged by the string alone against the built-in
// list, or returns "" when the string is not refused there. It knows no
// container, so no engine file is excepted: every path under an engine's
// state directory is refused. Callers resolve symlinks themselves; the
// mount rules judge identities as well (see New).
func SensitiveSource(p string) string {
	return judge(p, builtinProtected, ids{})
}

// ids are the container's identities that name its own engine files.
type ids struct {
	container string
	sandbox   string // CRI pod sandbox id
	pod       string // Kubernetes pod uid
}

// containerIDs reads the engine's annotations. The CRI marks a pod's
// sandbox (pause) container with container-type "sandbox"; its id is the
// sandbox id. Other CRI containers name their sandbox in sandbox-id. The
// pod uid is sandbox-uid (containerd) or io.kubernetes.pod.uid; when both
// are present and differ, neither is used.
func containerIDs(id string, ann map[string]string) ids {
	r := ids{container: id}
	if ann["io.kubernetes.cri.container-type"] == "sandbox" {
		r.sandbox = id
	} else {
		r.sandbox = ann["io.kubernetes.cri.sandbox-id"]
	}
	a, b := ann["io.kubernetes.cri.sandbox-uid"], ann["io.kubernetes.pod.uid"]
	switch {
	case a == "" || a == b:
		r.pod = b
	case b == "":
		r.pod = a
	}
	return r
}

// judge checks the absolute clean path p against rules by its text. A path
// under several rules must pass every one of them.
func judge(p string, rules []protected, own ids) string {
	for _, r := range rules {
		if p == r.path {
			return "is " + r.what
		}
	}
	for _, r := range rules {
		if p == r.path || !under(p, r.path) {
			continue
		}
		switch r.kind {
		case subtree:
			return fmt.Sprintf("is under %s (%s)", r.what, r.path)
		case engine:
			if !engineFile(strings.TrimPrefix(p, r.path+"/"), own) {
				return fmt.Sprintf("is under %s (%s) and is not one of this container's own files there", r.what, r.path)
			}
		}
	}
	for _, r := range rules {
		if p != r.path && under(r.path, p) {
			return fmt.Sprintf("contains %s (%s)", r.what, r.path)
		}
	}
	return ""
}

// engineFile reports whether rel, a path relative to an engine's state or
// data directory, is a file that an engine binds for the container own:
//
//   - Docker: containers/<id>/{resolv.conf,hostname,hosts} and anything
//     under containers/<id>/mounts/ (shm, secrets); volumes/<name>/_data
//     and anything under it;
//   - containerd CRI: io.containerd.grpc.v1.cri/sandboxes/<sandbox>/
//     {hosts,resolv.conf,hostname} and anything under .../<sandbox>/shm;
//   - kubelet: anything under pods/<pod uid>/;
//   - Podman, with or without a leading storage/:
//     overlay-containers/<id>/userdata/{resolv.conf,hosts,hostname,
//     .containerenv} and anything under userdata/shm or userdata/run/secrets;
//     volumes/<name>/_data and anything under it.
func engineFile(rel string, own ids) bool {
	el := strings.Split(rel, "/")
	is := func(i int, want string) bool { return want != "" && i < len(el) && el[i] == want }
	file := func(i int, names ...string) bool { return len(el) == i+1 && slices.Contains(names, el[i]) }
	dir := func(i int, name ...string) bool { // el[i:] starts with name
		if len(el) < i+len(name) {
			return false
		}
		return slices.Equal(el[i:i+len(name)], name)
	}
	volume := func(i int) bool { return len(el) >= i+3 && el[i] == "volumes" && is(i+2, "_data") }
	switch {
	case is(0, "containers") && is(1, own.container):
		return file(2, "resolv.conf", "hostname", "hosts") || len(el) > 3 && dir(2, "mounts")
	case volume(0):
		return true
	case is(0, "io.containerd.grpc.v1.cri") && is(1, "sandboxes") && is(2, own.sandbox):
		return file(3, "hosts", "resolv.conf", "hostname") || dir(3, "shm")
	case is(0, "pods") && is(1, own.pod):
		return len(el) > 2
	}
	i := 0
	if is(0, "storage") {
		i = 1
	}
	switch {
	case volume(i):
		return true
	case is(i, "overlay-containers") && is(i+1, own.container) && is(i+2, "userdata"):
		u := i + 3
		return file(u, "resolv.conf", "hosts", "hostname", ".containerenv") || dir(u, "shm") || len(el) > u+2 && dir(u, "run", "secrets")
	}
	return false
}

// fileInfo is what the rules need from stat(2) and statfs(2) of a host
// path (following symlinks).
type fileInfo struct {
	dev, ino uint64
	mode     uint32 // S_IFMT bits
	rdev     device // for device nodes
	fsType   int64
}

func (f fileInfo) same(g fileInfo) bool { return f.dev == g.dev && f.ino == g.ino }

// identity names the path that has a given device and inode: a protected
// path or an ancestor of one.
type identity struct {
	path string
}

// hostState is the host's side of the rules, gathered once per Modify and
// only when the bundle has a bind mount or an overlay.
type hostState struct {
	rules []protected
	// byID maps the identity of each protected path that exists, and of
	// each of its ancestors, to it.
	byID map[[2]uint64]identity
	// devDev is the device of the host's /dev filesystem, when /dev is a
	// file system of its own (devtmpfs).
	devDev     uint64
	devIsOwnFS bool
}

// host gathers hostState, caching it on m for one Modify.
func (m *modifier) host() *hostState {
	if m.hs != nil {
		return m.hs
	}
	h := &hostState{rules: slices.Clone(builtinProtected), byID: map[[2]uint64]identity{}}
	add := func(p, what string, kind ruleKind) {
		if p == "" {
			return
		}
		p, err := filepath.Abs(p)
		if err != nil {
			return
		}
		h.rules = append(h.rules, protected{p, what, kind})
		// The same place by another spelling: the rules compare resolved
		// sources, so compare against the resolved protected path too.
		if res, _, err := m.resolve(p); err == nil && res != p {
			h.rules = append(h.rules, protected{res, what, kind})
		}
	}
	if exe := m.self(); exe != "" {
		add(exe, "the runcage binary", subtree)
	}
	for _, p := range m.o.Own {
		add(p, whatOwn, subtree)
	}
	// The profile's own files (an inline profile's Dir is the policy's
	// directory, which may hold anything; its files are named one by one).
	if m.p.Dir != "" {
		add(filepath.Join(m.p.Dir, "apparmor"), whatOwn, subtree)
		add(filepath.Join(m.p.Dir, "seccomp.json"), whatOwn, subtree)
		if f := m.p.Seccomp; f != "" && f != profiles.SeccompRuntimeDefault {
			if !filepath.IsAbs(f) {
				f = filepath.Join(m.p.Dir, f)
			}
			add(f, whatOwn, subtree)
		}
	}
	for _, p := range m.o.EngineDirs {
		add(p, whatData, engine)
	}
	memo := map[string]*fileInfo{}
	stat := func(p string) (fileInfo, bool) {
		fi, ok := memo[p]
		if !ok {
			if f, err := m.stat(p); err == nil {
				fi = &f
			}
			memo[p] = fi
		}
		if fi == nil {
			return fileInfo{}, false
		}
		return *fi, true
	}
	for _, r := range h.rules {
		if fi, ok := stat(r.path); ok {
			h.byID[[2]uint64{fi.dev, fi.ino}] = identity{path: r.path}
		}
	}
	// Ancestors second: a protected path that is also another's ancestor
	// (/run/containerd holds its socket) keeps its own name.
	for _, r := range h.rules {
		for a := path.Dir(r.path); ; a = path.Dir(a) {
			if fi, ok := stat(a); ok {
				k := [2]uint64{fi.dev, fi.ino}
				if _, ok := h.byID[k]; !ok {
					h.byID[k] = identity{path: a}
				}
			}
			if a == "/" {
				break
			}
		}
	}
	if d, ok := stat("/dev"); ok {
		if root, ok := stat("/"); ok && root.dev != d.dev {
			h.devDev, h.devIsOwnFS = d.dev, true
		}
	}
	m.hs = h
	return h
}

// kernelFS names the kernel-interface file systems no bind may come from,
// wherever they are mounted.
var kernelFS = map[int64]string{
	0x9fa0:     "procfs",
	0x62656572: "sysfs",
	0x27e0eb:   "cgroupfs",
	0x63677270: "cgroup2fs",
	0x73636673: "securityfs",
	0x64626720: "debugfs",
	0x74726163: "tracefs",
	0xcafe4a11: "bpffs",
	0x62656570: "configfs",
	0xde5e81e4: "efivarfs",
	0x6165676c: "pstore",
	0x42494e4d: "binfmt_misc",
	0x65735543: "fusectl",
	0x6e736673: "nsfs",
}

const devptsMagic = 0x1cd1

// source is the verdict on one bind source.
type source struct {
	// why the source is refused; "" when it is not.
	why string
	// device is set when the source is a host device node the profile
	// lists: the bind then keeps device access (no nodev).
	device bool
}

// checkSource judges the host path src as the source of a bind mount (or
// an overlay layer) by what it resolves to on the host: its resolved path,
// every symlink on the way, its identity (device and inode) against every
// protected path and their ancestors, its file system and its file type.
func (m *modifier) checkSource(src string, own ids) source {
	switch {
	case !strings.HasPrefix(src, "/"):
		return source{why: "source is not an absolute path"}
	case hasDotDot(src):
		return source{why: "source contains a \"..\" element"}
	}
	h := m.host()
	lit := path.Clean(src)
	if why := judge(lit, h.rules, own); why != "" {
		return source{why: "source " + why}
	}
	res, viaProc, err := m.resolve(lit)
	missing := errors.Is(err, fs.ErrNotExist)
	if err != nil && !missing {
		return source{why: fmt.Sprintf("cannot resolve source on the host: %v", profiles.PathCause(err))}
	}
	resolves := func(why string) source {
		if res == lit {
			return source{why: "source " + why}
		}
		return source{why: fmt.Sprintf("source resolves to %q, which %s", res, why)}
	}
	if viaProc {
		return resolves("passes through the host's procfs (/proc)")
	}
	if why := judge(res, h.rules, own); why != "" {
		return resolves(why)
	}
	if missing {
		// runc cannot bind a source that does not exist; its resolved
		// spelling is all there is to judge.
		return source{}
	}
	fi, err := m.stat(res)
	if err != nil {
		return source{why: fmt.Sprintf("cannot stat source on the host: %v", profiles.PathCause(err))}
	}
	if name, ok := kernelFS[fi.fsType]; ok {
		return resolves(fmt.Sprintf("is on a %s file system (a kernel interface)", name))
	}
	// The same file or directory by another name: a bind-mount alias, a
	// hard link. Walk up from the source; where the source or one of its
	// directories is a protected path or an ancestor of one by identity,
	// judge the source again as that path's spelling.
	for a, rest := res, ""; ; {
		if afi, err := m.stat(a); err == nil {
			if id, ok := h.byID[[2]uint64{afi.dev, afi.ino}]; ok && a != id.path {
				alias := path.Join(id.path, rest)
				if why := judge(alias, h.rules, own); why != "" {
					return resolves(fmt.Sprintf("is the host's %s, which %s", alias, why))
				}
			}
		}
		if a == "/" {
			break
		}
		rest = path.Join(path.Base(a), rest)
		a = path.Dir(a)
	}
	return m.checkDev(res, fi, resolves)
}

// checkDev applies the device rules to a resolved source: a device node
// must be one the profile lists, and a directory may not hold the host's
// device nodes (/dev and everything under it, any mount of the devtmpfs,
// any devpts).
func (m *modifier) checkDev(res string, fi fileInfo, resolves func(string) source) source {
	onDev := under(res, "/dev") || fi.fsType == devptsMagic || m.hs.devIsOwnFS && fi.dev == m.hs.devDev
	switch fi.mode {
	case s_IFCHR, s_IFBLK:
		for _, p := range m.p.Devices {
			if d, err := m.hostDevice(p); err == nil && d == fi.rdev {
				return source{device: true}
			}
		}
		if len(m.p.Devices) == 0 {
			return resolves(fmt.Sprintf("is the host device %s, and profile %q allows no host devices", fi.rdev, m.p.Name))
		}
		return resolves(fmt.Sprintf("is the host device %s, which is not in profile %q's devices list", fi.rdev, m.p.Name))
	case s_IFSOCK:
		return source{} // /dev/log
	}
	if onDev {
		if fi.mode == s_IFDIR {
			return resolves("is a directory of the host's device nodes (/dev)")
		}
		return resolves("is under the host's /dev")
	}
	return source{}
}

// File types, as in stat(2)'s S_IFMT.
const (
	s_IFMT   = 0o170000
	s_IFSOCK = 0o140000
	s_IFBLK  = 0o060000
	s_IFDIR  = 0o040000
	s_IFCHR  = 0o020000
)

// selfExe returns the path of the running binary, "" if unknown.
func selfExe() string {
	p, err := os.Executable()
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(p, " (deleted)")
}

// resolveHost resolves every symlink of the absolute clean path p on the
// host, as filepath.EvalSymlinks does, and reports whether the walk went
// through procfs: a /proc/<pid>/root link resolves to "/" and would
// otherwise hide that the source is another process's view. When a
// component does not exist, the rest is appended as written and the error
// is fs.ErrNotExist.
func resolveHost(p string) (string, bool, error) {
	viaProc := false
	w := pathwalk.Walker{
		MaxLinks: 255,
		Lookup: func(next string) (uint32, string, error) {
			if under(next, "/proc") {
				viaProc = true
			}
			fi, err := os.Lstat(next)
			if err != nil {
				return 0, "", err
			}
			if fi.Mode()&fs.ModeSymlink == 0 {
				return fi.Sys().(*syscall.Stat_t).Mode, "", nil
			}
			t, err := os.Readlink(next)
			return syscall.S_IFLNK, t, err
		},
	}
	res, err := w.Walk(p)
	if errors.Is(err, pathwalk.ErrTooManyLinks) {
		err = &fs.PathError{Op: "resolve", Path: p, Err: errors.New("too many levels of symbolic links")}
	}
	return res, viaProc, err
}

// isRecursive reports whether a bind mount binds the sub-mounts too.
func isRecursive(mnt *specs.Mount) bool {
	return mnt.Type == "rbind" || slices.Contains(mnt.Options, "rbind")
}
