package userns_test

import (
	"os"
	"path/filepath"

	"github.com/runcage/runcage/profiles/userns"
)

// Example shows the create and delete paths of a container whose bundle has
// no user namespace. rootfs is the engine's root.path; the caller records
// cleanup under its state directory so that delete (in another runcage
// process, maybe after a crash) can undo it.
func Example() {
	const state = "/run/runcage"
	var (
		rootfs    = "/run/containerd/io.containerd.runtime.v2.task/k8s.io/ID/rootfs"
		podKey    = "sandbox-id-or-container-id"
		container = "ID"
	)
	alloc := &userns.Allocator{Dir: filepath.Join(state, "userns")}

	create := func() (newRoot string, cleanup []string, err error) {
		r, err := alloc.Acquire(podKey, container)
		if err != nil {
			return "", nil, err
		}
		defer func() {
			if err != nil {
				_, _ = alloc.Release(container)
			}
		}()
		// The spec gets r.Mappings() as linux.uidMappings and gidMappings.
		ns, err := userns.NewUsernsFD(r.Mappings(), r.Mappings())
		if err != nil {
			return "", nil, err
		}
		defer ns.Close()
		dir := filepath.Join(state, "mounts", container)
		newRoot = filepath.Join(dir, "rootfs")
		if err := os.MkdirAll(newRoot, 0o700); err != nil {
			return "", nil, err
		}
		ovl, isOverlay, err := userns.ReadOverlay(rootfs)
		if err != nil {
			return "", nil, err
		}
		if !isOverlay {
			if err := userns.IDMappedBind(rootfs, newRoot, ns); err != nil {
				return "", nil, err // wraps ErrIDMapUnsupported: refuse, never chown
			}
			return newRoot, []string{dir, newRoot}, nil
		}
		// Writes go to the engine's upper directory, with the image's ids.
		cleanup, err = userns.MountIDMappedOverlay(ovl, newRoot, filepath.Join(dir, "ovl"), r, ns)
		if err != nil {
			return "", nil, err
		}
		return newRoot, append([]string{dir}, cleanup...), nil // root.path = newRoot
	}

	remove := func(cleanup []string) error {
		if err := userns.Unmount(cleanup); err != nil {
			return err
		}
		_, err := alloc.Release(container)
		return err
	}

	_, _ = create, remove
}
