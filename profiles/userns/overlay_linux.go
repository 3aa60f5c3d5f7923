package userns

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// OverlayInfo tells whether mountpoint is the root of an overlay mount and,
// if so, its layers as the kernel shows them in /proc/self/mountinfo:
// lower lists the lower layers from the top one down; upper and work are
// empty for a read-only overlay. A path that is not a mount point, or whose
// topmost mount is not an overlay, gives isOverlay false and no error.
//
// It understands both forms the kernel prints: "lowerdir=a:b:c" (as given
// to mount(2), with "\:" for a colon inside a path) and one "lowerdir+=a"
// per layer (fsconfig), after undoing the octal escapes ("\040" for a
// space, "\054" for a comma). It returns an error for what it cannot
// rebuild faithfully: data-only layers ("::" or "datadir+"), relative layer
// paths (Docker and containerd use them when the option string would be too
// long, and mountinfo does not say what they are relative to), and an
// overlay mounted from a subdirectory of another overlay (bind mount).
func OverlayInfo(mountpoint string) (lower []string, upper, work string, isOverlay bool, err error) {
	real, err := filepath.EvalSymlinks(mountpoint)
	if err != nil {
		return nil, "", "", false, fmt.Errorf("overlay info: %w", err)
	}
	real, err = filepath.Abs(real)
	if err != nil {
		return nil, "", "", false, fmt.Errorf("overlay info: %w", err)
	}
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, "", "", false, fmt.Errorf("overlay info: %w", err)
	}
	defer f.Close()
	return overlayInfo(f, real)
}

func overlayInfo(r io.Reader, mountpoint string) (lower []string, upper, work string, isOverlay bool, err error) {
	mounts, err := parseMountInfo(r)
	if err != nil {
		return nil, "", "", false, fmt.Errorf("overlay info: %w", err)
	}
	// The last entry for a mount point is the one on top, the one a path
	// lookup sees.
	var top *mountInfo
	for i := range mounts {
		if mounts[i].MountPoint == mountpoint {
			top = &mounts[i]
		}
	}
	if top == nil || top.FSType != "overlay" {
		return nil, "", "", false, nil
	}
	if top.Root != "/" {
		return nil, "", "", true, fmt.Errorf("overlay info: %s shows directory %q of an overlay, not its root", mountpoint, top.Root)
	}
	lower, upper, work, err = parseOverlayOptions(top.SuperOptions)
	if err != nil {
		return nil, "", "", true, fmt.Errorf("overlay info: %s: %w", mountpoint, err)
	}
	return lower, upper, work, true, nil
}

// parseOverlayOptions reads the layers out of an overlay's super options as
// mountinfo prints them.
func parseOverlayOptions(opts string) (lower []string, upper, work string, err error) {
	for _, opt := range strings.Split(opts, ",") {
		key, val, _ := strings.Cut(opt, "=")
		val = unescapeOctal(val)
		switch key {
		case "lowerdir":
			// The string the mounter gave, with its backslash escapes.
			layers, err := splitLowerdir(val)
			if err != nil {
				return nil, "", "", err
			}
			lower = append(lower, layers...)
		case "lowerdir+":
			// One path, taken literally by the kernel.
			lower = append(lower, val)
		case "datadir+":
			return nil, "", "", errors.New("data-only lower layers (datadir+) are not supported")
		case "upperdir":
			upper = unescapeBackslash(val)
		case "workdir":
			work = unescapeBackslash(val)
		}
	}
	if len(lower) == 0 {
		return nil, "", "", errors.New("no lower layers in the mount options")
	}
	for _, p := range append(append([]string(nil), lower...), upper, work) {
		if p != "" && !filepath.IsAbs(p) {
			return nil, "", "", fmt.Errorf("layer path %q is relative, and mountinfo does not say to what", p)
		}
	}
	return lower, upper, work, nil
}

// splitLowerdir splits a legacy lowerdir value at unescaped colons and
// removes the backslash escapes, as the kernel's ovl_unescape does.
func splitLowerdir(s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
		case c == ':':
			if cur.Len() == 0 {
				return nil, errors.New(`data-only lower layers ("::") are not supported`)
			}
			out = append(out, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	if cur.Len() == 0 {
		return nil, fmt.Errorf("empty layer in lowerdir %q", s)
	}
	return append(out, cur.String()), nil
}

func unescapeBackslash(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// Layers returns the lower layers for MountIDMappedOverlay that show what an
// engine's overlay (lower, upper from OverlayInfo) shows: the engine's upper
// directory on top when it holds anything, then lower. Whiteouts and opaque
// directories in that upper keep working as a lower layer.
func Layers(lower []string, upper string) ([]string, error) {
	if upper == "" {
		return lower, nil
	}
	d, err := os.Open(upper)
	if err != nil {
		return nil, fmt.Errorf("read upper layer: %w", err)
	}
	defer d.Close()
	names, err := d.Readdirnames(1)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read upper layer: %w", err)
	}
	if len(names) == 0 {
		return lower, nil
	}
	return append([]string{upper}, lower...), nil
}

// MountIDMappedOverlay mounts at dst an overlay that shows the layers lower
// (top first) id-mapped through usernsFD, with its own upper directory owned
// by the range's root, so that container root owns the image's files without
// a single file being chowned. It costs one id-mapped bind per layer, not a
// walk over the image.
//
// Under stateDir (created if missing, mode 0700) it makes:
//   - lower-0 ... lower-N: id-mapped binds of each layer (IDMappedBind);
//   - upper and work: the new overlay's upper and work directories, owned
//     by r.HostID:r.HostID; upper takes the mode of the top layer's root,
//     because the overlay's root directory is the upper directory. An
//     existing upper is reused, so a caller may keep a container's writes
//     across a stop and start by keeping stateDir; it must then keep the
//     pod's Range too, because the files in the upper are owned by it.
//
// then mounts the overlay at dst, which must be an existing empty directory
// that runcage created. dst is then what root.path should name.
//
// Why not simpler: an overlay mount cannot itself be id-mapped (overlayfs
// does not set FS_ALLOW_IDMAP, so mount_setattr fails with EINVAL), and the
// upper directory must not be id-mapped either: overlayfs creates its work
// directory with the mounter's credentials, host root, which the id-mapping
// cannot represent, so it fails with EOVERFLOW and the overlay silently
// comes up read-only (seen on Linux 6.18: "failed to create directory
// .../work (errno: 75); mounting read-only"). So only the lower layers are
// id-mapped, and the new overlay is checked to be writable. Files that the
// container creates therefore land in the upper directory owned by the
// host range (host r.HostID+k for container id k), not by the image's ids,
// which is what the upper of any user-namespaced overlay holds.
//
// The engine's own overlay (Docker, containerd) is left mounted and
// untouched. Its upper directory is not written to: if it holds anything
// (for example files the engine put there), the caller passes it as the top
// lower layer (see Layers), so nothing the engine put there is lost, but
// what the container writes goes to stateDir/upper, not to the engine's
// upper, and `docker diff`-like tools do not see it. The engine's work
// directory is not used.
//
// cleanup lists, in the order they were made, what Unmount must undo:
// stateDir (when this call created it), each lower-N, upper, work, and dst.
// Unmount(cleanup) detaches the overlay and the binds and removes the
// directories, dst included. A caller that keeps the upper drops it (and
// stateDir) from the list. On error, everything this call made is undone
// (an upper or work directory that existed before is kept) and cleanup is
// nil.
func MountIDMappedOverlay(lower []string, dst, stateDir string, r Range, usernsFD *os.File) (cleanup []string, err error) {
	if len(lower) == 0 {
		return nil, errors.New("id-mapped overlay: no lower layers")
	}
	if r.HostID == 0 || r.Size == 0 {
		return nil, fmt.Errorf("id-mapped overlay: bad range %s", r)
	}
	if st, err := os.Stat(dst); err != nil {
		return nil, fmt.Errorf("id-mapped overlay: %w", err)
	} else if !st.IsDir() {
		return nil, fmt.Errorf("id-mapped overlay: %s is not a directory", dst)
	}
	// undo is cleanup minus what existed before this call (a kept upper).
	var undo []string
	add := func(p string, made bool) {
		cleanup = append(cleanup, p)
		if made {
			undo = append(undo, p)
		}
	}
	defer func() {
		if err != nil {
			if uerr := Unmount(undo); uerr != nil {
				err = errors.Join(err, fmt.Errorf("undo: %w", uerr))
			}
			cleanup = nil
		}
	}()
	if _, err := os.Lstat(stateDir); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(stateDir, 0o700); err != nil {
			return nil, fmt.Errorf("id-mapped overlay: %w", err)
		}
		add(stateDir, true)
	} else if err != nil {
		return nil, fmt.Errorf("id-mapped overlay: %w", err)
	}

	mapped := make([]string, len(lower))
	for i, l := range lower {
		p := filepath.Join(stateDir, fmt.Sprintf("lower-%d", i))
		if err := os.Mkdir(p, 0o700); err != nil {
			return nil, fmt.Errorf("id-mapped overlay: %w", err)
		}
		add(p, true)
		if err := IDMappedBind(l, p, usernsFD); err != nil {
			return nil, fmt.Errorf("id-mapped overlay: layer %d: %w", i, err)
		}
		mapped[i] = p
	}

	var top unix.Stat_t
	if err := unix.Stat(lower[0], &top); err != nil {
		return nil, fmt.Errorf("id-mapped overlay: stat top layer: %w", err)
	}
	upper, work := filepath.Join(stateDir, "upper"), filepath.Join(stateDir, "work")
	for _, d := range []struct {
		path string
		mode uint32
	}{{upper, top.Mode & 0o7777}, {work, 0o700}} {
		err := os.Mkdir(d.path, 0o700)
		if errors.Is(err, fs.ErrExist) {
			// Kept from an earlier run: it must still be a plain directory.
			if fi, lerr := os.Lstat(d.path); lerr != nil || !fi.IsDir() {
				return nil, fmt.Errorf("id-mapped overlay: %s exists and is not a directory", d.path)
			}
		} else if err != nil {
			return nil, fmt.Errorf("id-mapped overlay: %w", err)
		}
		add(d.path, err == nil)
		if err := os.Lchown(d.path, int(r.HostID), int(r.HostID)); err != nil {
			return nil, fmt.Errorf("id-mapped overlay: %w", err)
		}
		// After the chown, which clears set-id bits.
		if err := unix.Fchmodat(unix.AT_FDCWD, d.path, d.mode, 0); err != nil {
			return nil, fmt.Errorf("id-mapped overlay: chmod %s: %w", d.path, err)
		}
	}

	if err := mountOverlay(mapped, upper, work, dst); err != nil {
		return nil, fmt.Errorf("id-mapped overlay: %w", err)
	}
	// overlayfs falls back to a read-only mount instead of failing when the
	// upper or work directory is unusable; a container would then fail later
	// and obscurely.
	var sfs unix.Statfs_t
	if err := unix.Statfs(dst, &sfs); err != nil || sfs.Flags&unix.ST_RDONLY != 0 {
		_ = unix.Unmount(dst, unix.MNT_DETACH)
		if err == nil {
			err = fmt.Errorf("the overlay at %s came up read-only (the kernel log says why)", dst)
		}
		return nil, fmt.Errorf("id-mapped overlay: %w", err)
	}
	return append(cleanup, dst), nil
}

// mountOverlay mounts an overlay of lower (top first), upper and work at
// dst. It passes the options to mount(2) when they fit in a page, which
// works on every kernel with id-mapped lower layers (5.19); otherwise it
// gives each layer with fsconfig "lowerdir+" (Linux 6.8 and later), which
// has no length limit.
func mountOverlay(lower []string, upper, work, dst string) error {
	esc := make([]string, len(lower))
	for i, l := range lower {
		esc[i] = escapeOverlayPath(l)
	}
	data := "lowerdir=" + strings.Join(esc, ":") + ",upperdir=" + escapeOverlayPath(upper) + ",workdir=" + escapeOverlayPath(work)
	if len(data) < os.Getpagesize() {
		if err := unix.Mount("overlay", dst, "overlay", 0, data); err != nil {
			return fmt.Errorf("mount overlay at %s: %w", dst, err)
		}
		return nil
	}
	return mountOverlayFsconfig(lower, upper, work, dst)
}

func mountOverlayFsconfig(lower []string, upper, work, dst string) error {
	fsfd, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return fmt.Errorf("mount overlay at %s: %w", dst, os.NewSyscallError("fsopen", err))
	}
	defer unix.Close(fsfd)
	set := func(key, val string) error {
		if err := unix.FsconfigSetString(fsfd, key, val); err != nil {
			return fmt.Errorf("mount overlay at %s: set %s=%q: %w (%d layers need Linux 6.8's lowerdir+)", dst, key, val, err, len(lower))
		}
		return nil
	}
	for _, l := range lower {
		if err := set("lowerdir+", l); err != nil {
			return err
		}
	}
	if err := set("upperdir", escapeOverlayPath(upper)); err != nil {
		return err
	}
	if err := set("workdir", escapeOverlayPath(work)); err != nil {
		return err
	}
	if err := unix.FsconfigCreate(fsfd); err != nil {
		return fmt.Errorf("mount overlay at %s: %w", dst, os.NewSyscallError("fsconfig", err))
	}
	mfd, err := unix.Fsmount(fsfd, unix.FSMOUNT_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("mount overlay at %s: %w", dst, os.NewSyscallError("fsmount", err))
	}
	defer unix.Close(mfd)
	if err := unix.MoveMount(mfd, "", unix.AT_FDCWD, dst, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("mount overlay at %s: %w", dst, os.NewSyscallError("move_mount", err))
	}
	return nil
}

// escapeOverlayPath escapes the characters overlayfs's option parser
// treats specially in lowerdir, upperdir and workdir.
func escapeOverlayPath(p string) string {
	return strings.NewReplacer(`\`, `\\`, `:`, `\:`, `,`, `\,`).Replace(p)
}
