package mounts

import (
	"fmt"
	"io/fs"

	"golang.org/x/sys/unix"
)

// hostDevice stats the host device node at path, following symlinks
// (/dev/dri/by-path/... and similar are links to the node).
func hostDevice(path string) (device, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return device{}, err
	}
	var typ string
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFCHR:
		typ = "c"
	case unix.S_IFBLK:
		typ = "b"
	default:
		return device{}, fmt.Errorf("not a device node")
	}
	return device{typ, int64(unix.Major(uint64(st.Rdev))), int64(unix.Minor(uint64(st.Rdev)))}, nil
}

// hostStat stats the host path p, following symlinks, and its file system.
func hostStat(p string) (fileInfo, error) {
	var st unix.Stat_t
	if err := unix.Stat(p, &st); err != nil {
		return fileInfo{}, &fs.PathError{Op: "stat", Path: p, Err: err}
	}
	var sfs unix.Statfs_t
	if err := unix.Statfs(p, &sfs); err != nil {
		return fileInfo{}, &fs.PathError{Op: "statfs", Path: p, Err: err}
	}
	fi := fileInfo{dev: st.Dev, ino: st.Ino, mode: st.Mode & unix.S_IFMT, fsType: int64(sfs.Type)}
	switch fi.mode {
	case unix.S_IFCHR:
		fi.rdev = device{"c", int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))}
	case unix.S_IFBLK:
		fi.rdev = device{"b", int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))}
	}
	return fi, nil
}
