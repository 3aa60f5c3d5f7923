package mounts

import (
	"fmt"

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
