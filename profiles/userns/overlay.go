package userns

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/runcage/runcage/internal/mountinfo"
	"github.com/runcage/runcage/profiles/internal/lowerdir"
)

// Overlay is an overlay mount as the kernel shows it in
// /proc/self/mountinfo: what MountIDMappedOverlay needs to show the same
// files to a container in a user namespace.
type Overlay struct {
	// Mountpoint is where the overlay is mounted (symlinks resolved).
	Mountpoint string
	// Lower lists the lower layers from the top one down.
	Lower []string
	// Upper and Work are the upper and work directories; both are empty
	// for a read-only overlay.
	Upper, Work string
	// Options are the feature options the mounter set that change what an
	// overlay writes to its upper directory ("index=off", "redirect_dir=on",
	// "metacopy=off", "nfs_export=off", "xino=auto", "uuid=on"), as
	// "key=value", to be given again to an overlay sharing the upper.
	Options []string
}

// mirroredOptions are the overlay options that decide the on-disk format of
// the upper directory. An overlay that shares an engine's upper must use the
// same; the kernel prints only those that differ from its defaults, so the
// defaults are the same for both mounts.
var mirroredOptions = []string{"index", "redirect_dir", "metacopy", "nfs_export", "xino", "uuid"}

// OverlayInfo tells whether mountpoint is the root of an overlay mount and,
// if so, its layers as the kernel shows them in /proc/self/mountinfo:
// lower lists the lower layers from the top one down; upper and work are
// empty for a read-only overlay. A path that is not a mount point, or whose
// topmost mount is not an overlay, gives isOverlay false and no error. It is
// ReadOverlay without the options.
func OverlayInfo(mountpoint string) (lower []string, upper, work string, isOverlay bool, err error) {
	o, isOverlay, err := ReadOverlay(mountpoint)
	return o.Lower, o.Upper, o.Work, isOverlay, err
}

// ReadOverlay tells whether mountpoint is the root of an overlay mount and,
// if so, returns its layers and options as /proc/self/mountinfo shows them.
// A path that is not a mount point, or whose topmost mount is not an
// overlay, gives isOverlay false and no error.
//
// It understands both forms the kernel prints: "lowerdir=a:b:c" (as given
// to mount(2), with "\:" for a colon inside a path) and one "lowerdir+=a"
// per layer (fsconfig), after undoing the octal escapes ("\040" for a
// space, "\054" for a comma). It returns an error, with isOverlay true, for
// what it cannot rebuild faithfully:
//   - data-only layers ("::" or "datadir+");
//   - relative layer paths: containerd's snapshotter and Docker's overlay2
//     driver pass layers relative to their own directory (containerd:
//     ".../snapshots", by changing the working directory of the mounting
//     process; Docker: ".../overlay2", "l/<short id>" symlinks) when the
//     options would not fit in a page. The kernel resolves them against
//     the mounter's working directory at mount time and prints them as
//     given; mountinfo does not say what they were relative to, and
//     guessing from a naming convention would id-map whatever directory the
//     guess names;
//   - the "userxattr" option (an overlay mounted inside a user namespace,
//     which keeps its metadata in user.* xattrs) and "volatile";
//   - an overlay mounted from a subdirectory of another overlay (bind
//     mount).
func ReadOverlay(mountpoint string) (o Overlay, isOverlay bool, err error) {
	real, err := filepath.EvalSymlinks(mountpoint)
	if err != nil {
		return Overlay{}, false, fmt.Errorf("overlay info: %w", err)
	}
	real, err = filepath.Abs(real)
	if err != nil {
		return Overlay{}, false, fmt.Errorf("overlay info: %w", err)
	}
	// The cheap answers first, without reading the mount table (which
	// grows with every container on the host): statfs names the
	// filesystem of the topmost mount a lookup of real reaches, and
	// statx tells whether real is the root of that mount and its id.
	var sfs unix.Statfs_t
	if err := unix.Statfs(real, &sfs); err != nil {
		return Overlay{}, false, fmt.Errorf("overlay info: %w", &fs.PathError{Op: "statfs", Path: real, Err: err})
	}
	if sfs.Type != unix.OVERLAYFS_SUPER_MAGIC {
		return Overlay{}, false, nil
	}
	var stx unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, real, 0, unix.STATX_MNT_ID, &stx); err == nil &&
		stx.Mask&unix.STATX_MNT_ID != 0 && stx.Attributes_mask&unix.STATX_ATTR_MOUNT_ROOT != 0 {
		if stx.Attributes&unix.STATX_ATTR_MOUNT_ROOT == 0 {
			return Overlay{}, false, nil // inside an overlay, not its mount point
		}
		if line, ok := mountLine(stx.Mnt_id); ok {
			mounts, err := mountinfo.Parse(bytes.NewReader(line))
			if err == nil && len(mounts) == 1 && mounts[0].MountPoint == real {
				return overlayOf(&mounts[0], real)
			}
		}
	}
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return Overlay{}, false, fmt.Errorf("overlay info: %w", err)
	}
	defer f.Close()
	return readOverlay(f, real)
}

// mountLine returns the line of /proc/self/mountinfo for the mount with
// id, found by its first field without parsing the other lines.
func mountLine(id uint64) ([]byte, bool) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, false
	}
	prefix := strconv.AppendUint(nil, id, 10)
	prefix = append(prefix, ' ')
	for len(data) > 0 {
		line, rest, _ := bytes.Cut(data, []byte{'\n'})
		if bytes.HasPrefix(line, prefix) {
			return line, true
		}
		data = rest
	}
	return nil, false
}

func overlayInfo(r io.Reader, mountpoint string) (lower []string, upper, work string, isOverlay bool, err error) {
	o, isOverlay, err := readOverlay(r, mountpoint)
	return o.Lower, o.Upper, o.Work, isOverlay, err
}

func readOverlay(r io.Reader, mountpoint string) (o Overlay, isOverlay bool, err error) {
	mounts, err := mountinfo.Parse(r)
	if err != nil {
		return Overlay{}, false, fmt.Errorf("overlay info: %w", err)
	}
	// The last entry for a mount point is the one on top, the one a path
	// lookup sees.
	var top *mountinfo.Mount
	for i := range mounts {
		if mounts[i].MountPoint == mountpoint {
			top = &mounts[i]
		}
	}
	if top == nil {
		return Overlay{}, false, nil
	}
	return overlayOf(top, mountpoint)
}

// overlayOf returns the overlay that top, the topmost mount at mountpoint,
// is; isOverlay is false if it is another filesystem.
func overlayOf(top *mountinfo.Mount, mountpoint string) (o Overlay, isOverlay bool, err error) {
	if top.FSType != "overlay" {
		return Overlay{}, false, nil
	}
	if top.Root != "/" {
		return Overlay{}, true, fmt.Errorf("overlay info: %s shows directory %q of an overlay, not its root", mountpoint, top.Root)
	}
	o, err = parseOverlayOptions(top.SuperOptions)
	if err != nil {
		return Overlay{}, true, fmt.Errorf("overlay info: %s: %w", mountpoint, err)
	}
	o.Mountpoint = mountpoint
	return o, true, nil
}

// parseOverlayOptions reads the layers and the mirrored options out of an
// overlay's super options as mountinfo prints them.
func parseOverlayOptions(opts string) (o Overlay, err error) {
	for _, opt := range strings.Split(opts, ",") {
		key, val, _ := strings.Cut(opt, "=")
		val = mountinfo.Unescape(val)
		switch key {
		case "lowerdir":
			// The string the mounter gave, with its backslash escapes.
			layers, err := splitLowerdir(val)
			if err != nil {
				return Overlay{}, err
			}
			o.Lower = append(o.Lower, layers...)
		case "lowerdir+":
			// One path, taken literally by the kernel.
			o.Lower = append(o.Lower, val)
		case "datadir+":
			return Overlay{}, errors.New("data-only lower layers (datadir+) are not supported")
		case "upperdir":
			o.Upper = unescapeBackslash(val)
		case "workdir":
			o.Work = unescapeBackslash(val)
		case "userxattr", "volatile":
			return Overlay{}, fmt.Errorf("overlay option %q is not supported", key)
		default:
			if slices.Contains(mirroredOptions, key) && val != "" {
				o.Options = append(o.Options, key+"="+val)
			}
		}
	}
	if len(o.Lower) == 0 {
		return Overlay{}, errors.New("no lower layers in the mount options")
	}
	if (o.Upper == "") != (o.Work == "") {
		return Overlay{}, errors.New("an upper directory without a work directory, or the reverse")
	}
	for _, p := range append(append([]string(nil), o.Lower...), o.Upper, o.Work) {
		if p != "" && !filepath.IsAbs(p) {
			return Overlay{}, fmt.Errorf("layer path %q is relative: the engine mounted it relative to a working directory that mountinfo does not show, and runcage does not guess which directory that was", p)
		}
	}
	return o, nil
}

// splitLowerdir splits a legacy lowerdir value into its layers (see
// lowerdir.Split), refusing the empty layers it does not support.
func splitLowerdir(s string) ([]string, error) {
	layers := lowerdir.Split(s)
	for i, l := range layers {
		switch {
		case l != "":
		case i < len(layers)-1:
			return nil, errors.New(`data-only lower layers ("::") are not supported`)
		default:
			return nil, fmt.Errorf("empty layer in lowerdir %q", s)
		}
	}
	return layers, nil
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

// workName is the name of the work directory MountIDMappedOverlay makes
// next to the engine's upper directory.
const workName = "runcage-work"

// MountIDMappedOverlay mounts at dst an overlay that shows what the engine's
// overlay o shows, to a container whose user namespace maps ids 0 to
// r.Size-1 to host r.HostID onwards (usernsFD, from NewUsernsFD with
// r.Mappings()), without a single file being chowned. It costs one
// id-mapped bind per layer plus one for the upper directory, not a walk
// over the image.
//
// What the container writes goes to the engine's own upper directory, with
// the ids it has inside the container, as if there were no user namespace:
// a file container root creates is owned by 0 on disk. So the writes
// survive a stop and start (the engine mounts the same upper again) and
// `docker diff`, `commit`, `export` and `cp` see them.
//
// Under stateDir (created if missing, mode 0700) it makes:
//   - lower-0 ... lower-N: the lower layers, each id-mapped through
//     usernsFD, read-only, nosuid and nodev;
//   - private (mode 0700) and private/upper-parent: the directory holding
//     the engine's upper, id-mapped read-write (nosuid, nodev) through a
//     second namespace (see below);
//   - private/upper-parent/runcage-work: the new overlay's own work
//     directory, next to the engine's upper, as the kernel requires (the
//     upper and work directories must be on one mount). The engine's work
//     directory is never used: mounting an overlay on a work directory
//     empties and recreates its "work" subdirectory, and the engine's
//     overlay, still mounted, then fails every copy-up (seen on Linux
//     6.18: EPERM, ENOENT). It is removed again by Unmount;
//
// then mounts the overlay at dst, nosuid, with o's lower layers, upper
// directory and Options. dst must be an existing empty directory that
// runcage created. A read-only engine overlay (no upper) gives a read-only
// overlay of the id-mapped lowers and nothing else.
//
// The engine's upper and work directories must be in the same directory,
// as Docker's overlay2 ("<id>/diff", "<id>/work"), containerd's overlayfs
// snapshotter ("snapshots/<n>/fs", "snapshots/<n>/work") and
// containers/storage ("<id>/diff", "<id>/work") all have them; otherwise it
// refuses: id-mapping a higher common ancestor would expose more of the
// engine's directories, and id-mapping the two separately fails (overlayfs
// wants them on one mount: EINVAL).
//
// # The extra id
//
// Overlayfs makes its internal files (the work directory's contents,
// whiteouts, the temporary file of a copy-up before it is given its owner)
// with the credentials of whoever mounted it: host root. The pod's mapping
// cannot represent host 0, so these fail with EOVERFLOW (and the overlay
// comes up read-only, or a delete of a lower file fails). The upper parent
// is therefore id-mapped through a namespace with the pod's mapping plus one
// line: id r.Size (the first id after the container's range) maps to host
// 0, for uids and gids alike. On disk those files are owned by
// r.Size:r.Size (65536 for the default range size). Security:
//   - Only that mount has the extra line. Through it, and only through it,
//     an entry of the engine's upper or of runcage-work whose on-disk owner
//     or group is r.Size looks like host root's. The lower layers are
//     id-mapped without it: a lower file owned by r.Size on disk shows as
//     unmapped (overflow id 65534), so the container can read it as
//     "other" and never write it: the VFS refuses write access to an inode
//     whose owner is unmapped (EACCES, whatever its mode), and copy-up
//     refuses a file whose owner it cannot map (EOVERFLOW).
//   - In the container's namespace host 0 is unmapped. The container sees
//     such files as owned by nobody:nogroup, cannot chown or chgrp anything
//     to them (the target id must be mapped in its namespace), and its
//     capabilities do not apply to them (capable_wrt_inode_uidgid needs
//     the owner mapped). The kernel ignores the set-user-ID and
//     set-group-ID bits of a file whose owner or group is not mapped in the
//     namespace of the process that executes it, and the container runs
//     with no_new_privileges anyway.
//   - The one way the container can make a file with group r.Size on disk
//     is to create it in a set-group-ID directory with that group (the new
//     file inherits the group); it cannot set the set-group-ID bit on it
//     (the kernel strips it: the group is not one of the caller's).
//   - On the host, an on-disk owner of r.Size is an ordinary unprivileged
//     id outside every pod's range as seen through its own mounts. What
//     could turn it into host root is executing a set-user-ID file through
//     runcage's mounts, which the state directory's 0711 parents let any
//     host user reach by name. Every mount made here is nosuid, so that
//     never happens (without it, a host user running such a file through
//     dst gets euid 0; the unit test proves both). The container's own
//     rootfs is then nosuid too, which changes nothing under
//     no_new_privileges.
//
// # Sharing the upper with the engine's overlay
//
// The engine's overlay stays mounted on the same upper directory while the
// container runs. The kernel allows this with a warning ("upperdir is in-use
// as upperdir/workdir of another mount, accessing files from both mounts
// will result in undefined behavior") and refuses it (EBUSY) when the new
// overlay has index=on; MountIDMappedOverlay then fails. The container only
// ever uses the new overlay. What the engine does through its own mount
// while the container runs (for example `docker cp` into a running
// container, or a process on the host reading <bundle>/rootfs) may see a
// stale view: each overlay caches its own lookups, so a file the container
// created or deleted may be missing from, or still shown in, the engine's
// mount until its caches drop it, and two copy-ups of one file, one
// through each mount, may lose one of the two writes. It refuses an upper
// directory that another overlay than the engine's (at o.Mountpoint)
// already uses.
//
// cleanup lists, in the order they were made, what Unmount must undo:
// stateDir (when this call created it), each lower-N, private,
// private/upper-parent, private/upper-parent/runcage-work and dst.
// Unmount(cleanup) detaches the overlay and the binds and removes the
// directories (runcage-work through the id-mapped mount, before the mount
// is detached; never the engine's upper), dst included. On error,
// everything this call made is undone and cleanup is nil.
func MountIDMappedOverlay(o Overlay, dst, stateDir string, r Range, usernsFD *os.File) (cleanup []string, err error) {
	if len(o.Lower) == 0 {
		return nil, errors.New("id-mapped overlay: no lower layers")
	}
	if r.HostID == 0 || r.Size == 0 || r.Size == math.MaxUint32 || r.end() > math.MaxUint32 {
		return nil, fmt.Errorf("id-mapped overlay: bad range %s", r)
	}
	if (o.Upper == "") != (o.Work == "") {
		return nil, errors.New("id-mapped overlay: an upper directory needs a work directory")
	}
	upperParent := filepath.Dir(o.Upper)
	if o.Upper != "" && (upperParent != filepath.Dir(o.Work) || o.Upper == o.Work || !filepath.IsAbs(o.Upper)) {
		return nil, fmt.Errorf("id-mapped overlay: the engine's upper directory %s and work directory %s are not in the same directory", o.Upper, o.Work)
	}
	if st, err := os.Stat(dst); err != nil {
		return nil, fmt.Errorf("id-mapped overlay: %w", err)
	} else if !st.IsDir() {
		return nil, fmt.Errorf("id-mapped overlay: %s is not a directory", dst)
	}
	// made is cleanup until it is returned; the deferred undo needs it
	// after a return has set cleanup to nil.
	var made []string
	defer func() {
		if err != nil {
			if uerr := Unmount(made); uerr != nil {
				err = errors.Join(err, fmt.Errorf("undo: %w", uerr))
			}
			cleanup = nil
		}
	}()
	mkdir := func(p string, mode os.FileMode) error {
		if err := os.Mkdir(p, mode); err != nil {
			return fmt.Errorf("id-mapped overlay: %w", err)
		}
		made = append(made, p)
		return nil
	}
	if _, err := os.Lstat(stateDir); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(stateDir, 0o700); err != nil {
			return nil, fmt.Errorf("id-mapped overlay: %w", err)
		}
		made = append(made, stateDir)
	} else if err != nil {
		return nil, fmt.Errorf("id-mapped overlay: %w", err)
	}

	const layerAttr = unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV
	mapped := make([]string, len(o.Lower))
	for i, l := range o.Lower {
		p := filepath.Join(stateDir, fmt.Sprintf("lower-%d", i))
		if err := mkdir(p, 0o700); err != nil {
			return nil, err
		}
		if err := idMappedBind(l, p, usernsFD, layerAttr); err != nil {
			return nil, fmt.Errorf("id-mapped overlay: layer %d: %w", i, err)
		}
		mapped[i] = p
	}
	if o.Upper == "" {
		if err := mountOverlay(mapped, "", "", o.Options, dst); err != nil {
			return nil, fmt.Errorf("id-mapped overlay: %w", err)
		}
		return append(made, dst), nil
	}

	if err := upperInUse(o); err != nil {
		return nil, fmt.Errorf("id-mapped overlay: %w", err)
	}
	ns, err := NewUsernsFD(UpperMappings(r), UpperMappings(r))
	if err != nil {
		return nil, fmt.Errorf("id-mapped overlay: user namespace for the upper directory: %w", err)
	}
	defer ns.Close()
	private := filepath.Join(stateDir, "private")
	if err := mkdir(private, 0o700); err != nil {
		return nil, err
	}
	parent := filepath.Join(private, "upper-parent")
	if err := mkdir(parent, 0o700); err != nil {
		return nil, err
	}
	if err := idMappedBind(upperParent, parent, ns, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV); err != nil {
		return nil, fmt.Errorf("id-mapped overlay: upper directory: %w", err)
	}
	upper := filepath.Join(parent, filepath.Base(o.Upper))
	if fi, err := os.Lstat(upper); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("id-mapped overlay: the engine's upper directory %s is not a directory (%v)", o.Upper, err)
	}
	// The work directory: made through the id-mapped mount, so owned by
	// r.Size on disk, or left over from a run that did not clean up (it
	// is removed on delete), which the kernel empties when it mounts.
	work := filepath.Join(parent, workName)
	if err := os.Mkdir(work, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("id-mapped overlay: %w", err)
	}
	if fi, err := os.Lstat(work); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("id-mapped overlay: %s is not a directory (%v)", filepath.Join(upperParent, workName), err)
	}
	made = append(made, work)

	if err := mountOverlay(mapped, upper, work, o.Options, dst); err != nil {
		if errors.Is(err, unix.EBUSY) {
			err = fmt.Errorf("%w (the kernel refuses an overlay with index=on on an upper directory another overlay uses)", err)
		}
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
	return append(made, dst), nil
}

// UpperMappings returns the mappings of the namespace MountIDMappedOverlay
// id-maps the engine's upper directory through: r's own mapping, plus id
// r.Size mapped to host 0 for the files overlayfs makes as the mounter.
func UpperMappings(r Range) []specs.LinuxIDMapping {
	return append(r.Mappings(), specs.LinuxIDMapping{ContainerID: r.Size, HostID: 0, Size: 1})
}

// upperInUse refuses an upper directory that an overlay other than the
// engine's (at o.Mountpoint) uses, such as runcage's overlay of another
// container given the same rootfs.
func upperInUse(o Overlay) error {
	var want unix.Stat_t
	if err := unix.Stat(o.Upper, &want); err != nil {
		return fmt.Errorf("the engine's upper directory: %w", err)
	}
	mounts, err := mountinfo.Read()
	if err != nil {
		return err
	}
	for _, m := range mounts {
		if m.FSType != "overlay" || m.MountPoint == o.Mountpoint {
			continue
		}
		other, err := parseOverlayOptions(m.SuperOptions)
		if err != nil || other.Upper == "" {
			continue
		}
		var st unix.Stat_t
		if unix.Stat(other.Upper, &st) == nil && st.Dev == want.Dev && st.Ino == want.Ino {
			return fmt.Errorf("the engine's upper directory %s is already the upper directory of the overlay at %s", o.Upper, m.MountPoint)
		}
	}
	return nil
}

// mountOverlay mounts, nosuid, an overlay of lower (top first), upper and
// work (both empty for a read-only overlay) with the extra options opts
// ("key=value") at dst. It passes the options to mount(2) when they fit
// in a page, which works on every kernel with id-mapped lower layers
// (5.19); otherwise it gives each layer with fsconfig "lowerdir+" (Linux
// 6.8 and later), which has no length limit.
func mountOverlay(lower []string, upper, work string, opts []string, dst string) error {
	esc := make([]string, len(lower))
	for i, l := range lower {
		esc[i] = escapeOverlayPath(l)
	}
	data := "lowerdir=" + strings.Join(esc, ":")
	if upper != "" {
		data += ",upperdir=" + escapeOverlayPath(upper) + ",workdir=" + escapeOverlayPath(work)
	}
	for _, o := range opts {
		data += "," + o
	}
	flags := uintptr(unix.MS_NOSUID)
	if upper == "" {
		flags |= unix.MS_RDONLY
	}
	if len(data) < os.Getpagesize() {
		if err := unix.Mount("overlay", dst, "overlay", flags, data); err != nil {
			return fmt.Errorf("mount overlay at %s: %w", dst, err)
		}
		return nil
	}
	return mountOverlayFsconfig(lower, upper, work, opts, dst)
}

func mountOverlayFsconfig(lower []string, upper, work string, opts []string, dst string) error {
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
	if upper != "" {
		if err := set("upperdir", escapeOverlayPath(upper)); err != nil {
			return err
		}
		if err := set("workdir", escapeOverlayPath(work)); err != nil {
			return err
		}
	}
	for _, o := range opts {
		key, val, _ := strings.Cut(o, "=")
		if err := set(key, val); err != nil {
			return err
		}
	}
	if err := unix.FsconfigCreate(fsfd); err != nil {
		return fmt.Errorf("mount overlay at %s: %w", dst, os.NewSyscallError("fsconfig", err))
	}
	attr := unix.MOUNT_ATTR_NOSUID
	if upper == "" {
		attr |= unix.MOUNT_ATTR_RDONLY
	}
	mfd, err := unix.Fsmount(fsfd, unix.FSMOUNT_CLOEXEC, attr)
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
