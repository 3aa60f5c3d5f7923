package mounts

import (
	"errors"
	"hash/fnv"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runcage/runcage/profiles"
	"github.com/runcage/runcage/profiles/internal/testutil"
)

// dockerID is the container id of dockerMounts, and the runc container id
// the tests create.
const dockerID = "0123456789abcdef"

// criAnnotations are the annotations the containerd CRI writes on the pod
// container of criMounts.
func criAnnotations() map[string]string {
	return map[string]string{
		"io.kubernetes.cri.container-type": "container",
		"io.kubernetes.cri.sandbox-id":     "ffde0b82",
		"io.kubernetes.cri.sandbox-uid":    "31fb4a97-f0dc-45d5-a9b3-fb32909a7eda",
	}
}

// dockerMounts is the mount list dockerd 27 writes for `docker run -v
// vol:/data -v /srv/www:/www:ro`.
func dockerMounts() []specs.Mount {
	id := "/var/lib/docker/containers/" + dockerID
	return []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
		{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"ro", "nosuid", "noexec", "nodev"}},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev/shm", Type: "bind", Source: id + "/mounts/shm", Options: []string{"rbind", "rprivate"}},
		{Destination: "/etc/resolv.conf", Type: "bind", Source: id + "/resolv.conf", Options: []string{"rbind", "rprivate"}},
		{Destination: "/etc/hostname", Type: "bind", Source: id + "/hostname", Options: []string{"rbind", "rprivate"}},
		{Destination: "/etc/hosts", Type: "bind", Source: id + "/hosts", Options: []string{"rbind", "rprivate"}},
		{Destination: "/data", Type: "bind", Source: "/var/lib/docker/volumes/vol/_data", Options: []string{"rbind"}},
		{Destination: "/www", Type: "bind", Source: "/srv/www", Options: []string{"rbind", "ro", "rprivate"}},
	}
}

// criMounts is the mount list the containerd CRI writes for a pod container.
func criMounts() []specs.Mount {
	sb := "/var/lib/containerd/io.containerd.grpc.v1.cri/sandboxes/ffde0b82"
	pod := "/var/lib/kubelet/pods/31fb4a97-f0dc-45d5-a9b3-fb32909a7eda"
	return []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
		{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"nosuid", "noexec", "nodev", "relatime", "ro"}},
		{Destination: "/etc/hosts", Type: "bind", Source: pod + "/etc-hosts", Options: []string{"rbind", "rprivate", "rw"}},
		{Destination: "/dev/termination-log", Type: "bind", Source: pod + "/containers/app/ab12", Options: []string{"rbind", "rprivate", "rw"}},
		{Destination: "/etc/hostname", Type: "bind", Source: sb + "/hostname", Options: []string{"rbind", "rprivate", "rw"}},
		{Destination: "/etc/resolv.conf", Type: "bind", Source: sb + "/resolv.conf", Options: []string{"rbind", "rprivate", "rw"}},
		{Destination: "/dev/shm", Type: "bind", Source: "/run/containerd/io.containerd.grpc.v1.cri/sandboxes/ffde0b82/shm", Options: []string{"rbind", "rprivate", "rw"}},
		{Destination: "/var/run/secrets/kubernetes.io/serviceaccount", Type: "bind", Source: pod + "/volumes/kubernetes.io~projected/kube-api-access-vxtll", Options: []string{"rbind", "rprivate", "ro"}},
	}
}

// fakeFS resolves symlinks from a table; paths not in it resolve to
// themselves, except those under missing, which do not exist.
type fakeFS struct {
	links map[string]string
}

func (f fakeFS) resolve(p string) (string, bool, error) {
	if strings.HasPrefix(p, "/missing") {
		return p, false, &fs.PathError{Op: "lstat", Path: p, Err: fs.ErrNotExist}
	}
	if strings.HasPrefix(p, "/denied") {
		return "", false, &fs.PathError{Op: "lstat", Path: p, Err: fs.ErrPermission}
	}
	for from, to := range f.links {
		if p == from || strings.HasPrefix(p, from+"/") {
			res := path.Clean(to + strings.TrimPrefix(p, from))
			return res, under(res, "/proc"), nil
		}
	}
	return p, false, nil
}

// fakeStat stats the fake host: every path exists as a directory (except
// under /missing and /denied) with an inode derived from its name, or from
// the name in aliases it is another name of; devices, sockets and
// kernel file systems come from tables.
func fakeStat(p string) (fileInfo, error) {
	if strings.HasPrefix(p, "/missing") || strings.HasPrefix(p, "/denied") {
		return fileInfo{}, &fs.PathError{Op: "stat", Path: p, Err: fs.ErrNotExist}
	}
	name := p
	if a, ok := fakeAliases[p]; ok {
		name = a
	}
	h := fnv.New64a()
	h.Write([]byte(name))
	fi := fileInfo{dev: 1, ino: h.Sum64(), mode: s_IFDIR}
	if under(name, "/dev") || under(name, "/srv/devtmpfs") {
		fi.dev = 2
	}
	if d, ok := fakeNodes[name]; ok {
		fi.mode, fi.rdev = s_IFCHR, d
		if d.typ == "b" {
			fi.mode = s_IFBLK
		}
	}
	switch {
	case name == "/dev/log":
		fi.mode = s_IFSOCK
	case name == "/dev/shm/file":
		fi.mode = 0o100000
	case under(name, "/dev/pts"):
		fi.dev, fi.fsType = 3, devptsMagic
	case under(name, "/proc") || under(name, "/srv/procfs"):
		fi.dev, fi.fsType = 4, 0x9fa0
	case under(name, "/srv/cgroupfs"):
		fi.dev, fi.fsType = 5, 0x27e0eb
	case under(name, "/run/netns"):
		fi.dev, fi.fsType = 6, 0x6e736673
	}
	return fi, nil
}

// fakeAliases are other names of the same directory or file (bind-mount
// aliases, hard links): name -> the name whose identity it has.
var fakeAliases = map[string]string{
	"/mnt/statealias":      "/run/runcage",
	"/mnt/runalias":        "/run",
	"/mnt/rootalias":       "/",
	"/mnt/dockeralias":     "/var/lib/docker",
	"/srv/hardlink-policy": "/etc/custom/policy.toml",
	"/srv/kmsg-link":       "/dev/kmsg",
}

var fakeNodes = map[string]device{
	"/dev/kmsg":    {"c", 1, 11},
	"/dev/mem":     {"c", 1, 1},
	"/dev/fuse":    {"c", 10, 229},
	"/dev/nvidia0": {"c", 195, 0},
	"/dev/sda":     {"b", 8, 0},
	"/srv/chr":     {"c", 1, 11}, // a node mknod'd outside /dev
}

var hostFS = fakeFS{links: map[string]string{
	"/var/run":       "/run",
	"/srv/sock":      "/run/docker.sock",
	"/srv/hostroot":  "/",
	"/srv/dotdot":    "/run/containerd",
	"/home/u/vols":   "/var/lib/docker/volumes",
	"/srv/proclink":  "/proc/1/root",
	"/srv/lib":       "/var/lib",
	"/opt/kubelet":   "/var/lib/kubelet",
	"/srv/esc\x1b[m": "/run",
}}

func fakeDevices(p string) (device, error) {
	switch p {
	case "/dev/nvidia0":
		return device{"c", 195, 0}, nil
	case "/dev/fuse":
		return device{"c", 10, 229}, nil
	case "/dev/kmsg":
		return device{"c", 1, 11}, nil
	}
	return device{}, &fs.PathError{Op: "stat", Path: p, Err: fs.ErrNotExist}
}

func newTest(p *profiles.Profile) *modifier {
	return newTestOpts(p, Options{ContainerID: dockerID})
}

func newTestOpts(p *profiles.Profile, o Options) *modifier {
	m := New(p, o).(*modifier)
	m.resolve = hostFS.resolve
	m.stat = fakeStat
	m.hostDevice = fakeDevices
	m.self = func() string { return "/usr/local/bin/runcage" }
	return m
}

func bind(src, dst string, opts ...string) specs.Mount {
	return specs.Mount{Destination: dst, Type: "bind", Source: src, Options: append([]string{"rbind"}, opts...)}
}

func TestMountRules(t *testing.T) {
	tests := []struct {
		name    string
		mounts  []specs.Mount
		ann     map[string]string // annotations; the container id is dockerID
		devices []string          // the profile's
		refused string            // empty means allowed
	}{
		{name: "docker defaults with volumes", mounts: dockerMounts()},
		{name: "containerd CRI pod container", mounts: criMounts(), ann: criAnnotations()},
		{name: "no mounts"},
		{name: "cgroup2", mounts: []specs.Mount{{Destination: "/sys/fs/cgroup", Type: "cgroup2", Source: "cgroup"}}},
		{name: "tmpfs under /proc is fine (not a bind)", mounts: []specs.Mount{{Destination: "/proc/scsi", Type: "tmpfs", Source: "tmpfs"}}},
		{name: "bind at /procfoo is not under /proc", mounts: []specs.Mount{bind("/srv/x", "/procfoo")}},
		{name: "bind at /system is not under /sys", mounts: []specs.Mount{bind("/srv/x", "/system")}},
		{name: "bind from a listed device", devices: []string{"/dev/fuse"}, mounts: []specs.Mount{bind("/dev/fuse", "/dev/fuse")}},
		{name: "bind from /dev/log socket", mounts: []specs.Mount{bind("/dev/log", "/dev/log")}},
		{name: "bind from /devices is not /dev", mounts: []specs.Mount{bind("/devices", "/x")}},
		{name: "bind from /run/user", mounts: []specs.Mount{bind("/run/user/1000/app", "/x")}},
		{name: "bind from /run/containerd-like sibling", mounts: []specs.Mount{bind("/run/containerd2", "/x")}},
		{name: "bind from /var/lib/kubelet/pods", ann: map[string]string{"io.kubernetes.pod.uid": "u"}, mounts: []specs.Mount{bind("/var/lib/kubelet/pods/u/volumes/v", "/x")}},
		{name: "bind from /var/lib/kubelet via symlink", ann: map[string]string{"io.kubernetes.pod.uid": "u"}, mounts: []specs.Mount{bind("/opt/kubelet/pods/u/volumes/v", "/x")}},
		{name: "bind from /var/lib/docker/containers/<id>/x", mounts: []specs.Mount{bind("/var/lib/docker/containers/"+dockerID+"/hostname", "/etc/hostname")}},
		{name: "bind from /var/lib/docker/volumes/<v>/_data", mounts: []specs.Mount{bind("/var/lib/docker/volumes/v/_data", "/v")}},
		{name: "bind from /var/lib/docker/volumes via symlink", mounts: []specs.Mount{bind("/home/u/vols/v/_data", "/v")}},
		{name: "bind from /var/lib/containerd CRI sandbox", ann: map[string]string{"io.kubernetes.cri.sandbox-id": "x"}, mounts: []specs.Mount{bind("/var/lib/containerd/io.containerd.grpc.v1.cri/sandboxes/x/hosts", "/etc/hosts")}},
		{name: "bind from /var/run/containerd CRI sandbox shm", ann: map[string]string{"io.kubernetes.cri.sandbox-id": "x"}, mounts: []specs.Mount{bind("/var/run/containerd/io.containerd.grpc.v1.cri/sandboxes/x/shm", "/dev/shm")}},
		{name: "pause container binds its own sandbox files", ann: map[string]string{"io.kubernetes.cri.container-type": "sandbox"}, mounts: []specs.Mount{bind("/run/containerd/io.containerd.grpc.v1.cri/sandboxes/"+dockerID+"/shm", "/dev/shm")}},
		{name: "podman container's own files", mounts: []specs.Mount{bind("/var/lib/containers/storage/overlay-containers/"+dockerID+"/userdata/resolv.conf", "/etc/resolv.conf"), bind("/run/containers/storage/overlay-containers/"+dockerID+"/userdata/run/secrets/s", "/run/secrets/s")}},
		{name: "podman named volume", mounts: []specs.Mount{bind("/var/lib/containers/storage/volumes/v/_data", "/v")}},
		{name: "bind of a missing source is left to runc", mounts: []specs.Mount{bind("/missing/x", "/x")}},
		{name: "bind option without type", mounts: []specs.Mount{{Destination: "/x", Source: "/srv/x", Options: []string{"bind"}}}},
		{name: "overlay of ordinary layers", mounts: []specs.Mount{{Destination: "/data", Type: "overlay", Source: "overlay", Options: []string{"lowerdir=/srv/a:/srv/b", "upperdir=/srv/u", "workdir=/srv/w"}}}},
		{name: "dot-dot-like names are fine", mounts: []specs.Mount{bind("/srv/..x/a..", "/x..y/...")}},

		// Destinations, any type.
		{name: "destination /", mounts: []specs.Mount{{Destination: "/", Type: "tmpfs", Source: "tmpfs"}}, refused: `mount of type "tmpfs" at "/" refused: destination is the container's root`},
		{name: "destination // cleans to /", mounts: []specs.Mount{{Destination: "//", Type: "tmpfs", Source: "tmpfs"}}, refused: "destination is the container's root"},
		{name: "destination relative", mounts: []specs.Mount{{Destination: "data", Type: "tmpfs", Source: "tmpfs"}}, refused: `mount of type "tmpfs" at "data" refused: destination is not an absolute path`},
		{name: "rshared bind", mounts: []specs.Mount{{Destination: "/data", Type: "bind", Source: "/srv/data", Options: []string{"rbind", "rshared"}}}, refused: `option "rshared" would propagate mounts made in the container to the host`},
		{name: "shared tmpfs", mounts: []specs.Mount{{Destination: "/data", Type: "tmpfs", Source: "tmpfs", Options: []string{"shared"}}}, refused: `option "shared" would propagate`},
		{name: "destination with dot-dot", mounts: []specs.Mount{{Destination: "/data/../proc/sys", Type: "tmpfs", Source: "tmpfs"}}, refused: `destination contains a ".." element`},
		{name: "tmpfs at /dev/console", mounts: []specs.Mount{{Destination: "/dev/console", Type: "tmpfs", Source: "tmpfs"}}, refused: `mount of type "tmpfs" at "/dev/console" refused: destination is at or under /dev/console`},
		{name: "bind at /dev/console", mounts: []specs.Mount{bind("/srv/x", "/dev/console")}, refused: `bind mount "/srv/x" -> "/dev/console" refused: destination is at or under /dev/console`},
		{name: "bind at /dev//console/", mounts: []specs.Mount{bind("/srv/x", "/dev//console/")}, refused: "at or under /dev/console"},
		{name: "proc mount elsewhere", mounts: []specs.Mount{{Destination: "/hostproc", Type: "proc", Source: "proc"}}, refused: `mount of type "proc" at "/hostproc" refused: procfs is only mounted at /proc`},
		{name: "proc mount under /proc", mounts: []specs.Mount{{Destination: "/proc/sys", Type: "proc", Source: "proc"}}, refused: "procfs is only mounted at /proc"},
		{name: "sysfs mount elsewhere", mounts: []specs.Mount{{Destination: "/hostsys", Type: "sysfs", Source: "sysfs"}}, refused: `mount of type "sysfs" at "/hostsys" refused: sysfs is only mounted at /sys`},

		// Bind destinations.
		{name: "bind at /proc", mounts: []specs.Mount{bind("/srv/x", "/proc")}, refused: `bind mount "/srv/x" -> "/proc" refused: destination is at or under /proc`},
		{name: "bind over /proc/meminfo (lxcfs)", mounts: []specs.Mount{bind("/var/lib/lxcfs/proc/meminfo", "/proc/meminfo")}, refused: "destination is at or under /proc"},
		{name: "bind at /proc/sys/ uncleaned", mounts: []specs.Mount{bind("/srv/x", "/proc//sys/./")}, refused: "destination is at or under /proc"},
		{name: "bind at /sys", mounts: []specs.Mount{bind("/srv/x", "/sys")}, refused: "destination is at or under /sys"},
		{name: "bind at /sys/fs/cgroup", mounts: []specs.Mount{bind("/srv/x", "/sys/fs/cgroup")}, refused: "destination is at or under /sys"},
		{name: "bind by option only at /sys/kernel", mounts: []specs.Mount{{Destination: "/sys/kernel", Source: "/srv/x", Options: []string{"bind"}}}, refused: "destination is at or under /sys"},
		{name: "bind with type none and rbind", mounts: []specs.Mount{{Destination: "/proc/1", Type: "none", Source: "/srv/x", Options: []string{"rbind", "ro"}}}, refused: "destination is at or under /proc"},

		// Bind sources.
		{name: "docker socket", mounts: []specs.Mount{bind("/var/run/docker.sock", "/run/docker.sock")}, refused: `bind mount "/var/run/docker.sock" -> "/run/docker.sock" refused: source is a container-engine socket`},
		{name: "docker socket in /run", mounts: []specs.Mount{bind("/run/docker.sock", "/var/run/docker.sock")}, refused: "source is a container-engine socket"},
		{name: "containerd socket", mounts: []specs.Mount{bind("/run/containerd/containerd.sock", "/s")}, refused: "source is a container-engine socket"},
		{name: "containerd socket in /var/run", mounts: []specs.Mount{bind("/var/run/containerd/containerd.sock", "/s")}, refused: "source is a container-engine socket"},
		{name: "containerd ttrpc socket", mounts: []specs.Mount{bind("/run/containerd/containerd.sock.ttrpc", "/s")}, refused: "source is under a container-engine state directory (/run/containerd)"},
		{name: "containerd shim sockets", mounts: []specs.Mount{bind("/run/containerd/s", "/s")}, refused: "is under a container-engine state directory"},
		{name: "containerd task bundles", mounts: []specs.Mount{bind("/run/containerd/io.containerd.runtime.v2.task/k8s.io/x/rootfs", "/s")}, refused: "is under a container-engine state directory"},
		{name: "containerd CRI sandboxes dir itself", mounts: []specs.Mount{bind("/run/containerd/io.containerd.grpc.v1.cri/sandboxes", "/s")}, refused: "is under a container-engine state directory"},
		{name: "containerd dir", mounts: []specs.Mount{bind("/run/containerd", "/c")}, refused: "source is a container-engine state directory"},
		{name: "crio socket", mounts: []specs.Mount{bind("/var/run/crio/crio.sock", "/s")}, refused: "source is a container-engine socket"},
		{name: "crio dir", mounts: []specs.Mount{bind("/run/crio", "/s")}, refused: `source is a container-engine state directory`},
		{name: "podman socket", mounts: []specs.Mount{bind("/run/podman/podman.sock", "/s")}, refused: "source is a container-engine socket"},
		{name: "cri-dockerd socket", mounts: []specs.Mount{bind("/var/run/cri-dockerd.sock", "/s")}, refused: "source is a container-engine socket"},
		{name: "dockershim socket", mounts: []specs.Mount{bind("/run/dockershim.sock", "/s")}, refused: "source is a container-engine socket"},
		{name: "old docker's containerd socket", mounts: []specs.Mount{bind("/var/run/docker/containerd/containerd.sock", "/s")}, refused: "source is a container-engine socket"},
		{name: "k3s containerd socket", mounts: []specs.Mount{bind("/run/k3s/containerd/containerd.sock", "/s")}, refused: "source is a container-engine socket"},
		{name: "runc state", mounts: []specs.Mount{bind("/run/runc", "/r")}, refused: "source is a container runtime state directory"},
		{name: "runc state of a container", mounts: []specs.Mount{bind("/run/runc/abc", "/r")}, refused: "source is under a container runtime state directory"},
		{name: "runcage state", mounts: []specs.Mount{bind("/run/runcage", "/r")}, refused: "source is runcage's state directory"},
		{name: "docker data root", mounts: []specs.Mount{bind("/var/lib/docker", "/d")}, refused: "source is a container-engine data directory"},
		{name: "docker data root with trailing slash", mounts: []specs.Mount{bind("/var/lib/docker/", "/d")}, refused: "source is a container-engine data directory"},
		{name: "containerd data root", mounts: []specs.Mount{bind("/var/lib/containerd", "/d")}, refused: "source is a container-engine data directory"},
		{name: "ancestor /run", mounts: []specs.Mount{bind("/run", "/hostrun")}, refused: `bind mount "/run" -> "/hostrun" refused: source contains runcage's state directory (/run/runcage)`},
		{name: "ancestor /var/run", mounts: []specs.Mount{bind("/var/run", "/hostrun")}, refused: "source contains runcage's state directory (/var/run/runcage)"},
		{name: "ancestor /var", mounts: []specs.Mount{bind("/var", "/hostvar")}, refused: "source contains"},
		{name: "ancestor /var/lib", mounts: []specs.Mount{bind("/var/lib", "/l")}, refused: "source contains runcage's own files (/var/lib/runcage)"},
		{name: "ancestor /var/lib via symlink", mounts: []specs.Mount{bind("/srv/lib", "/l")}, refused: `source resolves to "/var/lib", which contains runcage's own files`},
		{name: "host root", mounts: []specs.Mount{bind("/", "/host")}, refused: `bind mount "/" -> "/host" refused: source is the host's root directory`},
		{name: "host root as //", mounts: []specs.Mount{bind("//", "/host")}, refused: "source is the host's root directory"},
		{name: "host root via symlink", mounts: []specs.Mount{bind("/srv/hostroot", "/host")}, refused: `source resolves to "/", which is the host's root directory`},
		{name: "host proc", mounts: []specs.Mount{bind("/proc", "/hostproc")}, refused: "source is the host's procfs"},
		{name: "under host proc", mounts: []specs.Mount{bind("/proc/1/root", "/h")}, refused: "source is under the host's procfs (/proc)"},
		{name: "under host proc via symlink", mounts: []specs.Mount{bind("/srv/proclink/etc", "/h")}, refused: `source resolves to "/proc/1/root/etc", which passes through the host's procfs`},
		{name: "host sys", mounts: []specs.Mount{bind("/sys", "/hostsys")}, refused: "source is the host's sysfs"},
		{name: "host cgroupfs", mounts: []specs.Mount{bind("/sys/fs/cgroup", "/cg", "ro")}, refused: "source is under the host's sysfs"},
		{name: "host dev", mounts: []specs.Mount{bind("/dev", "/hostdev")}, refused: "source is the host's /dev"},
		{name: "socket via symlink", mounts: []specs.Mount{bind("/srv/sock", "/s")}, refused: `source resolves to "/run/docker.sock", which is a container-engine socket`},
		{name: "containerd dir via symlink", mounts: []specs.Mount{bind("/srv/dotdot/s", "/s")}, refused: `source resolves to "/run/containerd/s", which is under`},
		{name: "source relative", mounts: []specs.Mount{bind("run", "/r")}, refused: `bind mount "run" -> "/r" refused: source is not an absolute path`},
		{name: "source empty", mounts: []specs.Mount{bind("", "/r")}, refused: "source is not an absolute path"},
		{name: "source with dot-dot", mounts: []specs.Mount{bind("/var/lib/docker/volumes/../../docker", "/r")}, refused: `source contains a ".." element`},
		{name: "source that cannot be resolved", mounts: []specs.Mount{bind("/denied/x", "/r")}, refused: "cannot resolve source on the host: permission denied"},
		{name: "hostile bytes escaped", mounts: []specs.Mount{bind("/srv/esc\x1b[m/docker.sock", "/x\n")}, refused: `bind mount "/srv/esc\x1b[m/docker.sock" -> "/x\n" refused: source resolves to "/run/docker.sock"`},
		{name: "overlay with host root layer", mounts: []specs.Mount{{Destination: "/data", Type: "overlay", Source: "overlay", Options: []string{"lowerdir=/srv/a:/", "upperdir=/srv/u", "workdir=/srv/w"}}}, refused: `overlay mount at "/data" refused: layer "/": source is the host's root directory`},
		{name: "overlay with escaped colon layer", mounts: []specs.Mount{{Destination: "/data", Type: "overlay", Source: "overlay", Options: []string{`lowerdir=/srv/a\:b:/run`}}}, refused: `layer "/run"`},
		{name: "overlay upperdir in containerd state", mounts: []specs.Mount{{Destination: "/data", Type: "overlay", Source: "overlay", Options: []string{"lowerdir=/srv/a", "upperdir=/run/containerd/x", "workdir=/srv/w"}}}, refused: `layer "/run/containerd/x"`},
		{name: "overlay relative layer", mounts: []specs.Mount{{Destination: "/data", Type: "overlay", Source: "overlay", Options: []string{"lowerdir=a:b"}}}, refused: "source is not an absolute path"},
		{name: "first bad mount wins", mounts: append(dockerMounts(), bind("/proc", "/p"), bind("/", "/r")), refused: `bind mount "/proc" -> "/p"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &specs.Spec{Mounts: tt.mounts, Linux: &specs.Linux{}, Annotations: tt.ann}
			err := newTest(&profiles.Profile{Name: "default", Devices: tt.devices}).Modify(s)
			if tt.refused == "" {
				if err != nil {
					t.Fatalf("Modify: %v", err)
				}
				return
			}
			testutil.RequireRefused(t, err, tt.refused)
		})
	}
}

// TestRealSymlinks resolves symlinks on the real host filesystem.
func TestRealSymlinks(t *testing.T) {
	dir := t.TempDir()
	for name, target := range map[string]string{"proc": "/proc", "root": "/", "chain": "proc", "ok": dir} {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	m := New(&profiles.Profile{Name: "default"}, Options{})
	for name, want := range map[string]string{
		"proc/self":  `which passes through the host's procfs`,
		"root":       `resolves to "/", which is the host's root directory`,
		"chain/1/fd": `which passes through the host's procfs`,
		"ok":         "",
		"missing":    "",
	} {
		s := &specs.Spec{Mounts: []specs.Mount{bind(filepath.Join(dir, name), "/x")}}
		err := m.Modify(s)
		if want == "" {
			if err != nil {
				t.Errorf("%s: %v", name, err)
			}
			continue
		}
		testutil.RequireRefused(t, err, want)
	}
}

func TestHardenOptions(t *testing.T) {
	tests := []struct {
		name    string
		profile profiles.Profile
		in      specs.Mount
		want    []string
	}{
		{
			name: "docker sysfs unchanged",
			in:   specs.Mount{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
			want: []string{"nosuid", "noexec", "nodev", "ro"},
		},
		{
			name: "privileged sysfs made ro",
			in:   specs.Mount{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "rw"}},
			want: []string{"nosuid", "noexec", "nodev", "ro"},
		},
		{
			name: "sysfs without options",
			in:   specs.Mount{Destination: "/sys", Type: "sysfs", Source: "sysfs"},
			want: []string{"ro", "nosuid", "noexec", "nodev"},
		},
		{
			name: "sysfs with weak options replaced in place",
			in:   specs.Mount{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"suid", "exec", "dev", "rw", "relatime"}},
			want: []string{"nosuid", "noexec", "nodev", "ro", "relatime"},
		},
		{
			name: "cgroup rw made ro",
			in:   specs.Mount{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"rw", "nosuid"}},
			want: []string{"ro", "nosuid", "noexec", "nodev"},
		},
		{
			name: "cgroup2 rrw made rro",
			in:   specs.Mount{Destination: "/sys/fs/cgroup", Type: "cgroup2", Source: "cgroup", Options: []string{"rrw"}},
			want: []string{"rro", "nosuid", "noexec", "nodev"},
		},
		{
			name: "proc gets no-flags, stays rw",
			in:   specs.Mount{Destination: "/proc", Type: "proc", Source: "proc"},
			want: []string{"nosuid", "noexec", "nodev"},
		},
		{
			name: "proc exec replaced",
			in:   specs.Mount{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"exec", "hidepid=2"}},
			want: []string{"noexec", "hidepid=2", "nosuid", "nodev"},
		},
		{
			name: "/dev tmpfs gets nosuid and nodev",
			in:   specs.Mount{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"rw", "exec"}},
			want: []string{"rw", "exec", "nosuid", "nodev"},
		},
		{
			name:    "/dev tmpfs keeps dev without a user namespace (runc mknods there)",
			profile: profiles.Profile{UserNS: profiles.Off},
			in:      specs.Mount{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "mode=755"}},
			want:    []string{"nosuid", "mode=755"},
		},
		{
			name:    "other tmpfs gets nodev without a user namespace",
			profile: profiles.Profile{UserNS: profiles.Off},
			in:      specs.Mount{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"dev"}},
			want:    []string{"nodev", "nosuid"},
		},
		{
			name: "devpts keeps device access",
			in:   specs.Mount{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"suid", "noexec", "newinstance", "ptmxmode=0666"}},
			want: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666"},
		},
		{
			name: "mqueue",
			in:   specs.Mount{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue"},
			want: []string{"nosuid", "nodev"},
		},
		{
			name: "overlay",
			in:   specs.Mount{Destination: "/data", Type: "overlay", Source: "overlay", Options: []string{"lowerdir=/srv/a", "suid"}},
			want: []string{"lowerdir=/srv/a", "nosuid", "nodev"},
		},
		{
			name: "rbind gets the recursive flags too",
			in:   bind("/srv/www", "/www", "rw"),
			want: []string{"rbind", "rw", "nosuid", "nodev", "rnosuid", "rnodev"},
		},
		{
			name: "rbind's weak options replaced in place",
			in:   bind("/srv/www", "/www", "suid", "dev", "rsuid", "rdev"),
			want: []string{"rbind", "nosuid", "nodev", "rnosuid", "rnodev"},
		},
		{
			name: "plain bind gets no recursive flags",
			in:   specs.Mount{Destination: "/www", Type: "bind", Source: "/srv/www", Options: []string{"bind", "ro"}},
			want: []string{"bind", "ro", "nosuid", "nodev"},
		},
		{
			name:    "bind of a listed device keeps device access",
			profile: profiles.Profile{Devices: []string{"/dev/fuse"}},
			in:      specs.Mount{Destination: "/dev/fuse", Type: "bind", Source: "/dev/fuse", Options: []string{"bind"}},
			want:    []string{"bind", "nosuid"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &specs.Spec{Mounts: []specs.Mount{tt.in}}
			m := newTest(&tt.profile)
			for i := 0; i < 2; i++ { // idempotent
				if err := m.Modify(s); err != nil {
					t.Fatalf("Modify: %v", err)
				}
				if got := s.Mounts[0].Options; !reflect.DeepEqual(got, tt.want) {
					t.Fatalf("pass %d: options = %q, want %q", i+1, got, tt.want)
				}
			}
		})
	}
}

func TestMaskedAndReadonlyPaths(t *testing.T) {
	tests := []struct {
		name         string
		profile      profiles.Profile
		masked, ro   []string
		wantMasked   []string
		wantReadonly []string
		errSub       string
		refused      string
	}{
		{
			name:         "empty bundle gets the defaults",
			wantMasked:   DefaultMaskedPaths,
			wantReadonly: DefaultReadonlyPaths,
		},
		{
			name:         "docker's own lists keep their order, podman's extras follow",
			masked:       []string{"/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap"},
			ro:           []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"},
			wantMasked:   DefaultMaskedPaths,
			wantReadonly: DefaultReadonlyPaths,
		},
		{
			name:         "bundle first, then defaults, then profile, no duplicates",
			profile:      profiles.Profile{MaskedPaths: []string{"/proc/kallsyms", "/proc/kcore"}, ReadonlyPaths: []string{"/proc/sys", "/etc/app"}},
			masked:       []string{"/custom", "/proc/kcore", "/custom"},
			ro:           []string{"/proc/sysrq-trigger", "/x"},
			wantMasked:   append(append([]string{"/custom", "/proc/kcore"}, without(DefaultMaskedPaths, "/proc/kcore")...), "/proc/kallsyms"),
			wantReadonly: append(append([]string{"/proc/sysrq-trigger", "/x"}, without(DefaultReadonlyPaths, "/proc/sysrq-trigger")...), "/etc/app"),
		},
		{
			name:    "unclean bundle entry",
			masked:  []string{"/proc//kcore/"},
			refused: `linux.maskedPaths entry "/proc//kcore/" refused: not a clean path (want "/proc/kcore")`,
		},
		{
			name:    "alias through thread-self and dot-dot",
			masked:  []string{"/proc/thread-self/../keys"},
			refused: `linux.maskedPaths entry "/proc/thread-self/../keys" refused: it contains a ".." element`,
		},
		{
			name:    "alias through self",
			ro:      []string{"/proc/self/root/proc/sys"},
			refused: `linux.readonlyPaths entry "/proc/self/root/proc/sys" refused: /proc/self is a symlink the kernel resolves per process`,
		},
		{
			name:    "through thread-self",
			masked:  []string{"/proc/thread-self/attr"},
			refused: "/proc/thread-self is a symlink",
		},
		{
			name:    "through a pid's root",
			masked:  []string{"/proc/1/root/proc/keys"},
			refused: "/proc/1 is a per-process directory with magic symlinks",
		},
		{
			name:    "through /proc/net",
			masked:  []string{"/proc/net/dev"},
			refused: "/proc/net is a symlink",
		},
		{
			name:    "relative bundle entry",
			ro:      []string{"proc/sys"},
			refused: `linux.readonlyPaths entry "proc/sys" refused: not an absolute path`,
		},
		{
			name:         "bundle lists without the defaults get them back",
			masked:       []string{"/proc/kcore"},
			ro:           []string{"/proc/bus"},
			wantMasked:   append([]string{"/proc/kcore"}, without(DefaultMaskedPaths, "/proc/kcore")...),
			wantReadonly: DefaultReadonlyPaths,
		},
		{
			name:         "names like self elsewhere are fine",
			masked:       []string{"/proc/selfish", "/sys/self", "/proc"},
			wantMasked:   append([]string{"/proc/selfish", "/sys/self", "/proc"}, DefaultMaskedPaths...),
			wantReadonly: DefaultReadonlyPaths,
		},
		{
			name:    "relative profile masked path",
			profile: profiles.Profile{Name: "p", MaskedPaths: []string{"proc/kcore"}},
			errSub:  `profile "p": masked path "proc/kcore" is not an absolute clean path`,
		},
		{
			name:    "unclean profile readonly path",
			profile: profiles.Profile{Name: "p", ReadonlyPaths: []string{"/proc/../etc"}},
			errSub:  `readonly path "/proc/../etc" is not an absolute clean path`,
		},
		{
			name:    "unclean profile device",
			profile: profiles.Profile{Name: "p", Devices: []string{"/dev/nvidia0/"}},
			errSub:  `device "/dev/nvidia0/" is not an absolute clean path`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &specs.Spec{Linux: &specs.Linux{MaskedPaths: slices.Clone(tt.masked), ReadonlyPaths: slices.Clone(tt.ro)}}
			m := newTest(&tt.profile)
			err := m.Modify(s)
			if tt.refused != "" {
				testutil.RequireRefused(t, err, tt.refused)
				return
			}
			if tt.errSub != "" {
				if err == nil || errors.Is(err, profiles.ErrRefused) || !strings.Contains(err.Error(), tt.errSub) {
					t.Fatalf("err = %v, want a profile error containing %q", err, tt.errSub)
				}
				return
			}
			if err != nil {
				t.Fatalf("Modify: %v", err)
			}
			if !reflect.DeepEqual(s.Linux.MaskedPaths, tt.wantMasked) {
				t.Errorf("maskedPaths = %q\nwant %q", s.Linux.MaskedPaths, tt.wantMasked)
			}
			if !reflect.DeepEqual(s.Linux.ReadonlyPaths, tt.wantReadonly) {
				t.Errorf("readonlyPaths = %q\nwant %q", s.Linux.ReadonlyPaths, tt.wantReadonly)
			}
			if err := m.Modify(s); err != nil {
				t.Fatalf("second Modify: %v", err)
			}
			if !reflect.DeepEqual(s.Linux.MaskedPaths, tt.wantMasked) || !reflect.DeepEqual(s.Linux.ReadonlyPaths, tt.wantReadonly) {
				t.Errorf("second Modify changed the lists")
			}
		})
	}
}

func TestNilLinuxGetsDefaults(t *testing.T) {
	s := &specs.Spec{}
	if err := newTest(nil).Modify(s); err != nil {
		t.Fatal(err)
	}
	if s.Linux == nil || !reflect.DeepEqual(s.Linux.MaskedPaths, DefaultMaskedPaths) {
		t.Fatalf("linux = %+v", s.Linux)
	}
}

// TestDockerIsSubset checks the built-in lists against Docker's.
func TestDockerIsSubset(t *testing.T) {
	docker := map[string][]string{
		"masked":   {"/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap"},
		"readonly": {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"},
	}
	ours := map[string][]string{"masked": DefaultMaskedPaths, "readonly": DefaultReadonlyPaths}
	for k, l := range docker {
		for _, p := range l {
			if !slices.Contains(ours[k], p) {
				t.Errorf("%s list lacks Docker's %q", k, p)
			}
		}
	}
}

func i64(n int64) *int64 { return &n }

func TestDevices(t *testing.T) {
	tests := []struct {
		name    string
		allow   []string
		devices []specs.LinuxDevice
		rules   []specs.LinuxDeviceCgroup
		refused string
	}{
		{name: "none"},
		{name: "runc default devices", devices: []specs.LinuxDevice{
			{Path: "/dev/null", Type: "c", Major: 1, Minor: 3},
			{Path: "/dev/zero", Type: "c", Major: 1, Minor: 5},
			{Path: "/dev/full", Type: "c", Major: 1, Minor: 7},
			{Path: "/dev/random", Type: "c", Major: 1, Minor: 8},
			{Path: "/dev/urandom", Type: "c", Major: 1, Minor: 9},
			{Path: "/dev/tty", Type: "u", Major: 5, Minor: 0},
		}},
		{name: "listed host device", allow: []string{"/dev/nvidia0"}, devices: []specs.LinuxDevice{{Path: "/dev/nvidia0", Type: "c", Major: 195, Minor: 0}}},
		{name: "docker default cgroup rules", rules: []specs.LinuxDeviceCgroup{
			{Allow: false, Access: "rwm"},
			{Allow: true, Type: "c", Major: i64(1), Minor: i64(5), Access: "rwm"},
			{Allow: true, Type: "c", Major: i64(1), Minor: i64(3), Access: "rwm"},
			{Allow: true, Type: "c", Major: i64(1), Minor: i64(9), Access: "rwm"},
			{Allow: true, Type: "c", Major: i64(1), Minor: i64(8), Access: "rwm"},
			{Allow: true, Type: "c", Major: i64(5), Minor: i64(0), Access: "rwm"},
			{Allow: true, Type: "c", Major: i64(5), Minor: i64(1), Access: "rwm"},
			{Allow: true, Type: "c", Access: "m"},
			{Allow: true, Type: "b", Access: "m"},
			{Allow: true, Type: "c", Major: i64(136), Access: "rwm"},
			{Allow: true, Type: "c", Major: i64(5), Minor: i64(2), Access: "rwm"},
			{Allow: true, Type: "c", Major: i64(10), Minor: i64(200), Access: "rwm"},
		}},
		{name: "listed device's own rule", allow: []string{"/dev/nvidia0"}, rules: []specs.LinuxDeviceCgroup{{Allow: true, Type: "c", Major: i64(195), Minor: i64(0), Access: "rw"}}},
		{name: "pty slaves", rules: []specs.LinuxDeviceCgroup{{Allow: true, Type: "c", Major: i64(136), Minor: i64(-1), Access: "rw"}, {Allow: true, Type: "c", Major: i64(136), Minor: i64(3), Access: "rw"}}},
		{name: "deny all is fine", rules: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}, {Allow: false, Type: "a"}}},
		{name: "mknod everything", rules: []specs.LinuxDeviceCgroup{{Allow: true, Type: "a", Access: "m"}}},
		{
			name:    "host disk without profile devices",
			devices: []specs.LinuxDevice{{Path: "/dev/sda", Type: "b", Major: 8, Minor: 0}},
			refused: `device "/dev/sda" refused: profile "default" allows no host devices`,
		},
		{
			name:    "device not in list",
			allow:   []string{"/dev/nvidia0"},
			devices: []specs.LinuxDevice{{Path: "/dev/sda", Type: "b", Major: 8, Minor: 0}},
			refused: `device "/dev/sda" refused: not in profile "default" devices list`,
		},
		{
			name:    "default device path with other numbers",
			devices: []specs.LinuxDevice{{Path: "/dev/null", Type: "b", Major: 8, Minor: 0}},
			refused: `device "/dev/null" refused: "b" 8:0 is not /dev/null (c 1:3)`,
		},
		{
			name:    "listed device with other numbers",
			allow:   []string{"/dev/nvidia0"},
			devices: []specs.LinuxDevice{{Path: "/dev/nvidia0", Type: "c", Major: 1, Minor: 1}},
			refused: `device "/dev/nvidia0" refused: "c" 1:1 is not the host's c 195:0`,
		},
		{
			name:    "listed device missing on host",
			allow:   []string{"/dev/nvidia9"},
			devices: []specs.LinuxDevice{{Path: "/dev/nvidia9", Type: "c", Major: 195, Minor: 9}},
			refused: "cannot check the host device: file does not exist",
		},
		{
			name:    "unclean device path",
			allow:   []string{"/dev/nvidia0"},
			devices: []specs.LinuxDevice{{Path: "/dev/../dev/nvidia0", Type: "c", Major: 195}},
			refused: `device "/dev/../dev/nvidia0" refused: path is not absolute and clean`,
		},
		{
			name:    "privileged: allow all",
			rules:   []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}},
			refused: `device cgroup rule "a *:* rwm" refused: it grants access to every device`,
		},
		{
			name:    "allow all with empty access",
			rules:   []specs.LinuxDeviceCgroup{{Allow: true}},
			refused: `device cgroup rule "a *:* rwm" refused`,
		},
		{
			name:    "type a with numbers",
			rules:   []specs.LinuxDeviceCgroup{{Allow: true, Type: "a", Major: i64(1), Minor: i64(3), Access: "r"}},
			refused: `device cgroup rule "a 1:3 r" refused: it grants access to every device`,
		},
		{
			name:    "all block devices",
			rules:   []specs.LinuxDeviceCgroup{{Allow: true, Type: "b", Access: "rw"}},
			refused: `device cgroup rule "b *:* rw" refused: it grants access to every device of its type`,
		},
		{
			name:    "all block devices, minor set",
			rules:   []specs.LinuxDeviceCgroup{{Allow: true, Type: "b", Minor: i64(0), Access: "r"}},
			refused: `device cgroup rule "b *:0 r" refused`,
		},
		{
			name:    "all char devices via -1",
			rules:   []specs.LinuxDeviceCgroup{{Allow: true, Type: "c", Major: i64(-1), Minor: i64(-1), Access: "rwm"}},
			refused: `device cgroup rule "c *:* rwm" refused`,
		},
		{
			name:    "dev mem",
			rules:   []specs.LinuxDeviceCgroup{{Allow: true, Type: "c", Major: i64(1), Minor: i64(1), Access: "r"}},
			refused: `device cgroup rule "c 1:1 r" refused: it grants access to kernel memory devices`,
		},
		{
			name:    "major 1 wildcard",
			rules:   []specs.LinuxDeviceCgroup{{Allow: true, Type: "c", Major: i64(1), Access: "rw"}},
			refused: `device cgroup rule "c 1:* rw" refused: it grants access to kernel memory devices`,
		},
		{
			name:    "kmsg",
			rules:   []specs.LinuxDeviceCgroup{{Allow: true, Type: "c", Major: i64(1), Minor: i64(11), Access: "r"}},
			refused: `device cgroup rule "c 1:11 r" refused: it grants read or write access to a device that is neither one of runc's default devices nor a host device profile "default" lists`,
		},
		{
			name:    "kmem with mknod too",
			rules:   []specs.LinuxDeviceCgroup{{Allow: true, Type: "c", Major: i64(1), Minor: i64(2), Access: "rwm"}},
			refused: `device cgroup rule "c 1:2 rwm" refused: it grants access to kernel memory devices`,
		},
		{
			name:    "a host disk",
			rules:   []specs.LinuxDeviceCgroup{{Allow: true, Type: "b", Major: i64(8), Minor: i64(0), Access: "rw"}},
			refused: `device cgroup rule "b 8:0 rw" refused: it grants read or write access`,
		},
		{
			name:    "listed device's major with a wildcard minor",
			allow:   []string{"/dev/nvidia0"},
			rules:   []specs.LinuxDeviceCgroup{{Allow: true, Type: "c", Major: i64(195), Access: "rw"}},
			refused: `device cgroup rule "c 195:* rw" refused`,
		},
		{
			name:    "listed device's numbers as a block device",
			allow:   []string{"/dev/nvidia0"},
			rules:   []specs.LinuxDeviceCgroup{{Allow: true, Type: "b", Major: i64(195), Minor: i64(0), Access: "r"}},
			refused: `device cgroup rule "b 195:0 r" refused`,
		},
		{
			name:    "a default device's major with a wildcard minor",
			rules:   []specs.LinuxDeviceCgroup{{Allow: true, Type: "c", Major: i64(5), Access: "rw"}},
			refused: `device cgroup rule "c 5:* rw" refused`,
		},
		{
			name:    "read access only to a pty master range",
			rules:   []specs.LinuxDeviceCgroup{{Allow: true, Type: "c", Major: i64(128), Minor: i64(0), Access: "r"}},
			refused: `device cgroup rule "c 128:0 r" refused`,
		},
		{
			name:    "hostile access escaped",
			rules:   []specs.LinuxDeviceCgroup{{Allow: true, Type: "b", Access: "rw\n\x1b"}},
			refused: `"b *:* rw\n\x1b" refused`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &specs.Spec{Linux: &specs.Linux{Devices: tt.devices}}
			if tt.rules != nil {
				s.Linux.Resources = &specs.LinuxResources{Devices: tt.rules}
			}
			err := newTest(&profiles.Profile{Name: "default", Devices: tt.allow}).Modify(s)
			if tt.refused == "" {
				if err != nil {
					t.Fatalf("Modify: %v", err)
				}
				return
			}
			testutil.RequireRefused(t, err, tt.refused)
		})
	}
}

// TestIdempotent applies the modifier twice to realistic specs.
func TestIdempotent(t *testing.T) {
	for name, mounts := range map[string][]specs.Mount{"docker": dockerMounts(), "cri": criMounts()} {
		s := &specs.Spec{Mounts: mounts, Linux: &specs.Linux{MaskedPaths: []string{"/proc/kcore"}}, Annotations: criAnnotations()}
		m := newTest(&profiles.Profile{MaskedPaths: []string{"/proc/kallsyms"}})
		if err := m.Modify(s); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		once := cloneSpec(s)
		if err := m.Modify(s); err != nil {
			t.Fatalf("%s: second: %v", name, err)
		}
		if !reflect.DeepEqual(s, once) {
			t.Errorf("%s: second Modify changed the spec", name)
		}
	}
}

func TestSensitiveSource(t *testing.T) {
	for p, want := range map[string]string{
		"/":                    "is the host's root directory",
		"/run":                 "contains runcage's state directory (/run/runcage)",
		"/var/run/docker.sock": "is a container-engine socket",
		// No container: no engine file is its own.
		"/var/run/containerd/io.containerd.grpc.v1.cri/sandboxes/a/shm": "is under a container-engine state directory (/var/run/containerd) and is not one of this container's own files there",
		"/var/run/containerd/x":              "is under a container-engine state directory (/var/run/containerd) and is not one of this container's own files there",
		"/var/lib/docker/overlay2":           "is under a container-engine data directory (/var/lib/docker) and is not one of this container's own files there",
		"/var/lib/docker/containers/a/hosts": "is under a container-engine data directory (/var/lib/docker) and is not one of this container's own files there",
		"/var/lib/docker/volumes/v/_data":    "",
		"/var/lib/kubelet":                   "is a container-engine data directory",
		"/etc":                               "contains runcage's own files (/etc/runcage)",
		"/etc/runcage/config.toml":           "is under runcage's own files (/etc/runcage)",
		"/etc/docker/daemon.json":            "is under a container-engine configuration directory (/etc/docker)",
		"/home/user":                         "",
		"/dev/fuse":                          "",
	} {
		if got := SensitiveSource(p); got != want {
			t.Errorf("SensitiveSource(%q) = %q, want %q", p, got, want)
		}
	}
}

func cloneSpec(s *specs.Spec) *specs.Spec {
	c := *s
	c.Mounts = nil
	for _, m := range s.Mounts {
		m.Options = slices.Clone(m.Options)
		c.Mounts = append(c.Mounts, m)
	}
	l := *s.Linux
	l.MaskedPaths = slices.Clone(l.MaskedPaths)
	l.ReadonlyPaths = slices.Clone(l.ReadonlyPaths)
	c.Linux = &l
	return &c
}

func without(l []string, drop string) []string {
	return slices.DeleteFunc(slices.Clone(l), func(s string) bool { return s == drop })
}
