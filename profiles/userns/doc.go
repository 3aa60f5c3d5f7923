// Package userns gives every container a user namespace without touching
// the files of its image.
//
// It has four parts:
//
//   - Allocation. An Allocator hands out one host id range per pod from a
//     pool that never includes host id 0 nor the ranges of /etc/subuid and
//     /etc/subgid. Allocations are kept on disk under a file lock, so they
//     survive a crash between create and delete and are shared safely by
//     concurrent runcage processes.
//   - Validation. Validate checks the mappings a bundle brings itself
//     (Kubernetes hostUsers: false): no host id 0, no overlap with another
//     pod's range, a sane size.
//   - Mounts. NewUsernsFD makes a user namespace that only carries a
//     mapping; IDMappedBind and MountIDMappedOverlay use it to show an image
//     to the container's root as its own, through id-mapped mounts, in a time
//     that does not depend on the size of the image; an overlay rootfs keeps
//     its writes in the engine's upper directory, with the image's ids.
//     Unmount undoes them.
//   - Probing. Probe tells whether id-mapped mounts work on a filesystem, so
//     that `runcage check` can report it and a container can be refused with
//     a precise reason.
//
// Nothing in this package ever changes the ownership of image files: where
// the kernel or the filesystem cannot id-map, the functions return an error
// that wraps ErrIDMapUnsupported, and the caller refuses the container.
//
// The mount functions need CAP_SYS_ADMIN in the initial user namespace (real
// root) and Linux 5.12 or later; id-mapped overlay lower layers need 5.19.
package userns
