package mounts

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/runcage/runcage/profiles"
	"github.com/runcage/runcage/profiles/internal/testutil"
)

// TestSourceIdentity covers the rules that judge a source by what it is on
// the host rather than by its text: runcage's own paths, engine
// directories named by the policy, the container's own engine files,
// aliases, device nodes and kernel file systems.
func TestSourceIdentity(t *testing.T) {
	opts := Options{
		Own:         []string{"/etc/custom/policy.toml", "/srv/state", "/usr/local/bin/runc", "/srv/runc-root"},
		EngineDirs:  []string{"/tmp/docker-data", "/tmp/ctrd-root"},
		ContainerID: dockerID,
	}
	tests := []struct {
		name    string
		src     string
		ann     map[string]string
		devices []string
		refused string
	}{
		// runcage's own files.
		{name: "policy file", src: "/etc/custom/policy.toml", refused: "source is runcage's own files"},
		{name: "policy directory", src: "/etc/custom", refused: "source contains runcage's own files (/etc/custom/policy.toml)"},
		{name: "policy sibling is fine", src: "/etc/custom/other"},
		{name: "state dir", src: "/srv/state", refused: "source is runcage's own files"},
		{name: "under state dir", src: "/srv/state/userns/alloc.json", refused: "source is under runcage's own files (/srv/state)"},
		{name: "delegate binary", src: "/usr/local/bin/runc", refused: "source is runcage's own files"},
		{name: "delegate's directory", src: "/usr/local/bin", refused: "source contains"},
		{name: "runcage binary", src: "/usr/local/bin/runcage", refused: "source is the runcage binary"},
		{name: "delegate's state root", src: "/srv/runc-root/abc/state.json", refused: "under runcage's own files (/srv/runc-root)"},
		{name: "/etc/runcage always", src: "/etc/runcage/profiles/default", refused: "source is under runcage's own files (/etc/runcage)"},
		{name: "/etc", src: "/etc", refused: "source contains runcage's own files (/etc/runcage)"},

		// Engine directories from the policy.
		{name: "engine dir", src: "/tmp/docker-data", refused: "source is a container-engine data directory"},
		{name: "engine dir's ancestor", src: "/tmp", refused: "source contains a container-engine data directory (/tmp/docker-data)"},
		{name: "own docker files in a private root", src: "/tmp/docker-data/containers/" + dockerID + "/hosts"},
		{name: "own docker shm in a private root", src: "/tmp/docker-data/containers/" + dockerID + "/mounts/shm"},
		{name: "another container's hosts", src: "/tmp/docker-data/containers/ffff/hosts", refused: "is under a container-engine data directory (/tmp/docker-data) and is not one of this container's own files there"},
		{name: "another container's hosts, default root", src: "/var/lib/docker/containers/ffff/hosts", refused: "is not one of this container's own files"},
		{name: "own container directory itself", src: "/var/lib/docker/containers/" + dockerID, refused: "is not one of this container's own files"},
		{name: "own container's config", src: "/var/lib/docker/containers/" + dockerID + "/config.v2.json", refused: "is not one of this container's own files"},
		{name: "mounts directory itself", src: "/var/lib/docker/containers/" + dockerID + "/mounts", refused: "is not one of this container's own files"},
		{name: "volumes directory", src: "/var/lib/docker/volumes", refused: "is not one of this container's own files"},
		{name: "a volume's metadata", src: "/var/lib/docker/volumes/v", refused: "is not one of this container's own files"},
		{name: "a volume's subdirectory", src: "/var/lib/docker/volumes/v/_data/sub"},
		{name: "docker image layers", src: "/var/lib/docker/overlay2/abc/diff", refused: "is not one of this container's own files"},
		{name: "CRI sandbox of the pod", src: "/tmp/ctrd-root/io.containerd.grpc.v1.cri/sandboxes/sb1/resolv.conf", ann: map[string]string{"io.kubernetes.cri.sandbox-id": "sb1"}},
		{name: "CRI sandbox of another pod", src: "/tmp/ctrd-root/io.containerd.grpc.v1.cri/sandboxes/sb2/resolv.conf", ann: map[string]string{"io.kubernetes.cri.sandbox-id": "sb1"}, refused: "is not one of this container's own files"},
		{name: "CRI sandbox with no annotation", src: "/var/lib/containerd/io.containerd.grpc.v1.cri/sandboxes/sb1/hosts", refused: "is not one of this container's own files"},
		{name: "kubelet pod of another uid", src: "/var/lib/kubelet/pods/other/volumes/kubernetes.io~secret/s", ann: map[string]string{"io.kubernetes.pod.uid": "mine"}, refused: "is not one of this container's own files"},
		{name: "kubelet's own pod", src: "/var/lib/kubelet/pods/mine/volumes/kubernetes.io~secret/s", ann: map[string]string{"io.kubernetes.pod.uid": "mine"}},
		{name: "kubelet pod dir itself", src: "/var/lib/kubelet/pods/mine", ann: map[string]string{"io.kubernetes.pod.uid": "mine"}, refused: "is not one of this container's own files"},
		{name: "kubelet pki", src: "/var/lib/kubelet/pki", ann: map[string]string{"io.kubernetes.pod.uid": "mine"}, refused: "is not one of this container's own files"},
		{name: "conflicting pod uids", src: "/var/lib/kubelet/pods/a/x", ann: map[string]string{"io.kubernetes.pod.uid": "a", "io.kubernetes.cri.sandbox-uid": "b"}, refused: "is not one of this container's own files"},
		{name: "podman container's own config is not an engine file", src: "/var/lib/containers/storage/overlay-containers/" + dockerID + "/userdata/config.json", refused: "is not one of this container's own files"},
		{name: "podman other container", src: "/run/containers/storage/overlay-containers/other/userdata/hosts", refused: "is not one of this container's own files"},
		{name: "containerd config", src: "/etc/containerd/config.toml", refused: "is under a container-engine configuration directory (/etc/containerd)"},
		{name: "kubernetes admin config", src: "/etc/kubernetes/admin.conf", refused: "configuration directory (/etc/kubernetes)"},
		{name: "cni state", src: "/var/lib/cni/networks", refused: "is under a container-engine data directory (/var/lib/cni)"},

		// Identity: other names of the same directory or file.
		{name: "bind-mount alias of the state dir", src: "/mnt/statealias", refused: `source is the host's /run/runcage, which is runcage's state directory`},
		{name: "under an alias of the state dir", src: "/mnt/statealias/userns", refused: `source is the host's /run/runcage/userns, which is under runcage's state directory`},
		{name: "alias of /run", src: "/mnt/runalias", refused: `source is the host's /run, which contains`},
		{name: "docker socket under an alias of /run", src: "/mnt/runalias/docker.sock", refused: `source is the host's /run/docker.sock, which is a container-engine socket`},
		{name: "ordinary file under an alias of /run", src: "/mnt/runalias/user/1000/x"},
		{name: "alias of the host root", src: "/mnt/rootalias", refused: `source is the host's /, which is the host's root directory`},
		{name: "etc under an alias of the root", src: "/mnt/rootalias/etc", refused: `source is the host's /etc, which contains runcage's own files (/etc/runcage)`},
		{name: "home under an alias of the root", src: "/mnt/rootalias/home/u"},
		{name: "another container under a docker alias", src: "/mnt/dockeralias/containers/ffff/hosts", refused: "is not one of this container's own files"},
		{name: "hard link of the policy", src: "/srv/hardlink-policy", refused: `source is the host's /etc/custom/policy.toml, which is runcage's own files`},
		{name: "procfs through a symlink", src: "/srv/proclink/etc", refused: "passes through the host's procfs"},
		{name: "procfs mounted elsewhere", src: "/srv/procfs/1/root", refused: "is on a procfs file system"},
		{name: "cgroupfs mounted elsewhere", src: "/srv/cgroupfs", refused: "is on a cgroupfs file system"},
		{name: "named network namespace", src: "/run/netns/cni-1", refused: "is under the host's named network namespaces (/run/netns)"},

		// Devices.
		{name: "kmsg", src: "/dev/kmsg", refused: `bind mount "/dev/kmsg" -> "/x" refused: source is the host device c 1:11, and profile "default" allows no host devices`},
		{name: "kmsg through a link", src: "/srv/kmsg-link", refused: "is the host device c 1:11"},
		{name: "unlisted device", src: "/dev/sda", devices: []string{"/dev/fuse"}, refused: `source is the host device b 8:0, which is not in profile "default"'s devices list`},
		{name: "listed device", src: "/dev/fuse", devices: []string{"/dev/fuse"}},
		{name: "a node outside /dev", src: "/srv/chr", refused: "is the host device c 1:11"},
		{name: "dev directory", src: "/dev/dri", refused: "is a directory of the host's device nodes (/dev)"},
		{name: "dev shm", src: "/dev/shm", refused: "is a directory of the host's device nodes"},
		{name: "file under dev shm", src: "/dev/shm/file", refused: "is under the host's /dev"},
		{name: "devpts", src: "/dev/pts", refused: "is a directory of the host's device nodes"},
		{name: "devtmpfs mounted elsewhere", src: "/srv/devtmpfs", refused: `source is a directory of the host's device nodes`},
		{name: "dev log socket", src: "/dev/log"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &specs.Spec{Mounts: []specs.Mount{bind(tt.src, "/x")}, Annotations: tt.ann}
			err := newTestOpts(&profiles.Profile{Name: "default", Devices: tt.devices}, opts).Modify(s)
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

func TestEngineDirsMustBeAbsolute(t *testing.T) {
	for _, d := range []string{"data", "/", "/srv/../x", "/srv/"} {
		err := newTestOpts(nil, Options{EngineDirs: []string{d}}).Modify(&specs.Spec{})
		if err == nil || errors.Is(err, profiles.ErrRefused) {
			t.Errorf("%q: err = %v, want a policy error that is not a refusal", d, err)
		}
	}
}

// TestRealIdentity judges real host aliases: a hard link of the policy, a
// bind-mount alias of the state directory, /proc/self/root spellings and
// a real device node.
func TestRealIdentity(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	for _, d := range []string{state, filepath.Join(state, "userns"), filepath.Join(dir, "alias"), filepath.Join(dir, "vol")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	pol := filepath.Join(dir, "etc", "policy.toml")
	if err := os.MkdirAll(filepath.Dir(pol), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pol, []byte("default_profile = \"default\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(pol, filepath.Join(dir, "vol", "link")); err != nil {
		t.Fatal(err)
	}
	aliased := false
	if os.Geteuid() == 0 {
		if err := unix.Mount(state, filepath.Join(dir, "alias"), "", unix.MS_BIND, ""); err == nil {
			aliased = true
			t.Cleanup(func() { unix.Unmount(filepath.Join(dir, "alias"), unix.MNT_DETACH) })
		}
	}
	m := New(&profiles.Profile{Name: "default"}, Options{Own: []string{pol, state}})
	cases := map[string]string{
		filepath.Join(dir, "vol"):         "",
		filepath.Join(dir, "vol", "link"): "which is runcage's own files",
		filepath.Join(dir, "etc"):         "source contains runcage's own files",
		"/proc/self/root" + state:         "source is under the host's procfs",
		"/proc/thread-self/root/etc":      "source is under the host's procfs",
		dir + "/../x":                     `source contains a ".." element`,
		"/dev/kmsg":                       "is the host device c 1:11",
		"/dev/null":                       "is the host device c 1:3",
		"/dev/pts":                        "is a directory of the host's device nodes",
		"/sys/fs/cgroup":                  "source is under the host's sysfs",
	}
	if aliased {
		cases[filepath.Join(dir, "alias")] = "which is runcage's own files"
		cases[filepath.Join(dir, "alias", "userns")] = "which is under runcage's own files"
	} else {
		t.Log("no bind-mount alias: not root or mount failed")
	}
	for src, want := range cases {
		s := &specs.Spec{Mounts: []specs.Mount{bind(src, "/x")}}
		err := m.Modify(s)
		if want == "" {
			if err != nil {
				t.Errorf("%s: %v", src, err)
			}
			continue
		}
		testutil.RequireRefused(t, err, want)
	}
}
