package namespaces

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/runcage/runcage/profiles"
)

// AnnotationSandboxID is the annotation containerd's CRI puts on every
// container of a pod: the id of the pod's sandbox (pause) container, which
// it creates with the same runtime and state root.
const AnnotationSandboxID = "io.kubernetes.cri.sandbox-id"

// DefaultRuncRoot is runc's state root when --root is not given.
const DefaultRuncRoot = "/run/runc"

// PinnedNetnsDirs are where engines pin network namespaces with a bind
// mount of an nsfs file (ip netns, CNI plugins, containerd's CRI, Podman),
// and, with netns_mounts_under_state_dir, containerd's CRI under its state
// directory. Only root can create entries there. Owner.PinnedNetnsDirs
// adds to them.
var PinnedNetnsDirs = []string{
	"/run/netns", "/var/run/netns",
	"/run/containerd/io.containerd.grpc.v1.cri/netns", "/var/run/containerd/io.containerd.grpc.v1.cri/netns",
}

// Owner identifies the container being created, for the namespace joins
// it may make: its id and the delegate's state root ("" is runc's default,
// DefaultRuncRoot).
type Owner struct {
	ContainerID string
	RuncRoot    string
	// PinnedNetnsDirs are more directories (absolute, clean) in which an
	// engine pins network namespaces, beside PinnedNetnsDirs.
	PinnedNetnsDirs []string
}

// profileName maps a namespace type to the name profiles use for it in
// host_namespaces ("" for types no profile may share with the host).
var profileName = map[specs.LinuxNamespaceType]string{
	specs.PIDNamespace:     "pid",
	specs.IPCNamespace:     "ipc",
	specs.NetworkNamespace: "network",
	specs.UTSNamespace:     "uts",
	specs.CgroupNamespace:  "cgroup",
}

// sandboxFunc returns the identity of the namespace of type typ (its name
// under /proc/<pid>/ns) of the init process of the runc container id in the
// state root root, having checked that the process is the one runc recorded
// (its start time).
type sandboxFunc func(root, id, typ string) (nsID, error)

// checkJoins decides every namespace path on the namespace it names (its
// nsfs device and inode), whatever the path's spelling: /proc/<pid>/ns/x,
// /proc/<pid>/task/<tid>/ns/x, a bind-mounted nsfs file. A path is allowed
// when it names
//   - the host's namespace, for a type the profile's host_namespaces lists
//     (the host's namespace of another type is refused);
//   - the same namespace of the init process of the container's own pod
//     sandbox: the runc container named by the AnnotationSandboxID
//     annotation, in the same state root, whose recorded init process is
//     still running (start time checked);
//   - for the network namespace only, a namespace pinned by the engine in
//     one of PinnedNetnsDirs (the path resolves to a file directly in one of
//     them, on nsfs, and the directory is root-owned and writable only by
//     root): that is how CNI gives a pod sandbox, and Podman a container,
//     its network.
//
// Any other namespace, in particular another container's, is refused.
func (m *modifier) checkJoins(s *specs.Spec) error {
	for _, ns := range s.Linux.Namespaces {
		if ns.Path == "" {
			continue
		}
		name := profileName[ns.Type]
		label := name
		if label == "" {
			label = string(ns.Type)
		}
		host, err := m.isHost(ns.Type, ns.Path)
		if err != nil {
			return profiles.Refusef("%s namespace path %q refused: cannot tell whether it is the host's: %v", label, ns.Path, err)
		}
		if host {
			if name != "" && slices.Contains(m.allow, name) {
				continue
			}
			return m.refuseHost(label, fmt.Sprintf("path %q is the host's namespace", ns.Path))
		}
		why := m.ownSandbox(s, ns)
		if why == "" {
			continue
		}
		if ns.Type == specs.NetworkNamespace {
			err := m.pinned(ns.Path)
			if err == nil {
				continue
			}
			why += fmt.Sprintf("; and it is not pinned in /run/netns: %v", err)
		}
		return profiles.Refusef("%s namespace path %q refused: joining a namespace that is not the container's own pod's is not allowed (%s)", label, ns.Path, why)
	}
	return nil
}

// ownSandbox returns "" when ns names the same namespace as the container's
// own pod sandbox, or why not.
func (m *modifier) ownSandbox(s *specs.Spec, ns specs.LinuxNamespace) string {
	sb := s.Annotations[AnnotationSandboxID]
	switch {
	case sb == "":
		return "the spec names no pod sandbox (" + AnnotationSandboxID + ")"
	case !validID(sb):
		return fmt.Sprintf("sandbox id %q is not a valid container id", sb)
	case sb == m.owner.ContainerID:
		return "the container is its own sandbox"
	}
	id, err := m.stat(ns.Path)
	if err != nil {
		return fmt.Sprintf("stat namespace: %v", profiles.PathCause(err))
	}
	root := m.owner.RuncRoot
	if root == "" {
		root = DefaultRuncRoot
	}
	want, err := m.sandbox(root, sb, procName[ns.Type])
	if err != nil {
		return fmt.Sprintf("sandbox %q: %v", sb, err)
	}
	if want != id {
		return fmt.Sprintf("it is not the namespace of sandbox %q", sb)
	}
	return ""
}

var idRE = regexp.MustCompile(`^[\w+.-]+$`)

// validID reports whether id is a runc container id that is safe as one
// path element.
func validID(id string) bool {
	return len(id) <= 1024 && idRE.MatchString(id) && id != "." && id != ".."
}

// runcState is the part of runc's libcontainer state.json that names the
// container's init process.
type runcState struct {
	InitPID   int             `json:"init_process_pid"`
	InitStart json.RawMessage `json:"init_process_start"`
}

// sandboxNS is the real sandboxFunc: it reads <root>/<id>/state.json.
func sandboxNS(root, id, typ string) (nsID, error) {
	data, err := os.ReadFile(filepath.Join(root, id, "state.json"))
	if err != nil {
		return nsID{}, fmt.Errorf("read runc state: %w", profiles.PathCause(err))
	}
	var st runcState
	if err := json.Unmarshal(data, &st); err != nil {
		return nsID{}, fmt.Errorf("parse runc state: %w", err)
	}
	start, err := strconv.ParseUint(strings.Trim(string(st.InitStart), `"`), 10, 64)
	if err != nil || st.InitPID <= 1 {
		return nsID{}, fmt.Errorf("runc state has no init process")
	}
	proc := "/proc/" + strconv.Itoa(st.InitPID)
	if err := checkStart(proc, start); err != nil {
		return nsID{}, err
	}
	ns, err := statNS(proc + "/ns/" + typ)
	if err != nil {
		return nsID{}, fmt.Errorf("stat init namespace: %w", profiles.PathCause(err))
	}
	// The namespace was read from the recorded process, not one that
	// reused its pid in between.
	if err := checkStart(proc, start); err != nil {
		return nsID{}, err
	}
	return ns, nil
}

// checkStart refuses when the process at proc did not start at start
// (clock ticks since boot, field 22 of /proc/<pid>/stat).
func checkStart(proc string, start uint64) error {
	data, err := os.ReadFile(proc + "/stat")
	if err != nil {
		return fmt.Errorf("sandbox init process is gone: %w", profiles.PathCause(err))
	}
	i := strings.LastIndexByte(string(data), ')')
	if i < 0 {
		return fmt.Errorf("parse %s/stat", proc)
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 20 {
		return fmt.Errorf("parse %s/stat", proc)
	}
	got, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil || got != start {
		return fmt.Errorf("sandbox init process is gone (its pid is another process now)")
	}
	return nil
}

// pinnedNetns returns nil when path resolves on the host to an nsfs file
// directly in one of PinnedNetnsDirs, a root-owned directory that only
// root can write.
func pinnedNetns(path string, more []string) error {
	resolved, err := filepath.EvalSymlinks(path)
	if err != nil {
		return profiles.PathCause(err)
	}
	dir := filepath.Dir(resolved)
	if !slices.Contains(PinnedNetnsDirs, dir) && !slices.Contains(more, dir) {
		return fmt.Errorf("it resolves to %q", resolved)
	}
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		return err
	}
	if st.Uid != 0 || st.Mode&0o022 != 0 || st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return fmt.Errorf("%q is not a root-owned directory only root can write", dir)
	}
	var sfs unix.Statfs_t
	if err := unix.Statfs(resolved, &sfs); err != nil {
		return err
	}
	if sfs.Type != unix.NSFS_MAGIC {
		return fmt.Errorf("%q is not a namespace file", resolved)
	}
	return nil
}

// inject adds a new uts and cgroup namespace when the spec has none (runc
// would share the host's) and the profile does not list it.
func (m *modifier) inject(s *specs.Spec, seen map[specs.LinuxNamespaceType]bool) {
	for _, typ := range []specs.LinuxNamespaceType{specs.UTSNamespace, specs.CgroupNamespace} {
		if !seen[typ] && !slices.Contains(m.allow, profileName[typ]) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: typ})
			seen[typ] = true
		}
	}
}
