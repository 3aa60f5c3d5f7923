//go:build integration

// Command probe runs inside test containers. It tries syscalls that a
// hardened container must not be able to make and prints one line per try:
//
//	probe NAME=ok
//	probe NAME=EPERM
//
// with the errno's symbolic name on failure. It always exits 0 once every
// probe has run, so the shell script around it keeps going. It is built with
// CGO_ENABLED=0 and copied into the test rootfs as /bin/probe.
package main

import (
	"errors"
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

type probe struct {
	name string
	fn   func() error
}

var probes = []probe{
	{"rawsock", func() error {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_ICMP)
		if err == nil {
			unix.Close(fd)
		}
		return err
	}},
	{"add_key", func() error {
		_, err := unix.AddKey("user", "runcage-probe", []byte("x"), unix.KEY_SPEC_PROCESS_KEYRING)
		return err
	}},
	{"keyctl", func() error {
		_, err := unix.KeyctlInt(unix.KEYCTL_GET_KEYRING_ID, unix.KEY_SPEC_SESSION_KEYRING, 1, 0, 0)
		return err
	}},
	{"mount", func() error {
		err := unix.Mount("none", "/mnt", "tmpfs", 0, "")
		if err == nil {
			unix.Unmount("/mnt", unix.MNT_DETACH)
		}
		return err
	}},
	{"mknod", func() error {
		const p = "/tmp/probe-null"
		err := unix.Mknod(p, unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3)))
		if err == nil {
			os.Remove(p)
		}
		return err
	}},
	{"chown", func() error {
		const p = "/tmp/probe-chown"
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			return err
		}
		defer os.Remove(p)
		return unix.Chown(p, 1, 1)
	}},
	{"bpf", func() error {
		// BPF_MAP_CREATE of a one-entry array map.
		var attr [72]byte
		*(*uint32)(unsafe.Pointer(&attr[0])) = 2  // BPF_MAP_TYPE_ARRAY
		*(*uint32)(unsafe.Pointer(&attr[4])) = 4  // key_size
		*(*uint32)(unsafe.Pointer(&attr[8])) = 4  // value_size
		*(*uint32)(unsafe.Pointer(&attr[12])) = 1 // max_entries
		fd, _, errno := unix.Syscall(unix.SYS_BPF, 0, uintptr(unsafe.Pointer(&attr[0])), unsafe.Sizeof(attr))
		if errno != 0 {
			return errno
		}
		unix.Close(int(fd))
		return nil
	}},
}

func main() {
	for _, p := range probes {
		err := p.fn()
		var errno unix.Errno
		switch {
		case err == nil:
			fmt.Printf("probe %s=ok\n", p.name)
		case errors.As(err, &errno):
			name := unix.ErrnoName(errno)
			if name == "" {
				name = fmt.Sprintf("errno%d", int(errno))
			}
			fmt.Printf("probe %s=%s\n", p.name, name)
		default:
			fmt.Printf("probe %s=error(%v)\n", p.name, err)
		}
	}
}
