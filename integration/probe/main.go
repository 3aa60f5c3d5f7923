//go:build integration

// Command probe runs inside test containers. It tries syscalls that a
// hardened container must not be able to make and prints one line per try:
//
//	probe NAME=ok
//	probe NAME=EPERM
//
// with the errno's symbolic name on failure. It always exits 0 once every
// probe has run, so the shell script around it keeps going. With arguments,
// `probe NAME [ARG]` runs only the command NAME (see commands). It is built with
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

// commands are the probes run by name: `probe NAME [ARG]` runs one and
// prints its line. With no arguments, probe runs every probe in probes.
var commands = map[string]func(arg string) error{
	// socket FAMILY: socket(2) of one address family or netlink protocol.
	"socket": func(arg string) error {
		domain, typ, proto := 0, unix.SOCK_DGRAM, 0
		switch arg {
		case "alg":
			domain, typ = unix.AF_ALG, unix.SOCK_SEQPACKET
		case "netlink-audit":
			domain, typ, proto = unix.AF_NETLINK, unix.SOCK_RAW, unix.NETLINK_AUDIT
		case "netlink-route":
			domain, typ, proto = unix.AF_NETLINK, unix.SOCK_RAW, unix.NETLINK_ROUTE
		case "netlink-generic":
			domain, typ, proto = unix.AF_NETLINK, unix.SOCK_RAW, unix.NETLINK_GENERIC
		case "inet":
			domain = unix.AF_INET
		case "unix":
			domain = unix.AF_UNIX
		case "vsock":
			domain, typ = unix.AF_VSOCK, unix.SOCK_STREAM
		case "vsock-high-bits":
			// AF_VSOCK with a bit above the int the kernel reads:
			// the filter must compare all 64 bits.
			fd, _, errno := unix.Syscall(unix.SYS_SOCKET, 1<<32|unix.AF_VSOCK, unix.SOCK_STREAM, 0)
			if errno != 0 {
				return errno
			}
			unix.Close(int(fd))
			return nil
		default:
			return fmt.Errorf("unknown family %q", arg)
		}
		fd, err := unix.Socket(domain, typ, proto)
		if err == nil {
			unix.Close(fd)
		}
		return err
	},
	// creat-suid PATH: open(PATH, O_CREAT|O_WRONLY, 04755).
	"creat-suid": func(arg string) error {
		fd, err := unix.Open(arg, unix.O_CREAT|unix.O_WRONLY|unix.O_CLOEXEC, 0o4755)
		if err == nil {
			unix.Close(fd)
		}
		return err
	},
	// tmpfile-suid DIR: open(DIR, O_TMPFILE|O_WRONLY, 02755).
	"tmpfile-suid": func(arg string) error {
		fd, err := unix.Open(arg, unix.O_TMPFILE|unix.O_WRONLY|unix.O_CLOEXEC, 0o2755)
		if err == nil {
			unix.Close(fd)
		}
		return err
	},
	// openat2 PATH: openat2(AT_FDCWD, PATH, O_RDONLY).
	"openat2": func(arg string) error {
		fd, err := unix.Openat2(unix.AT_FDCWD, arg, &unix.OpenHow{Flags: unix.O_RDONLY | unix.O_CLOEXEC})
		if err == nil {
			unix.Close(fd)
		}
		return err
	},
}

func main() {
	if len(os.Args) > 1 {
		fn, ok := commands[os.Args[1]]
		if !ok {
			fmt.Fprintf(os.Stderr, "probe: unknown command %q\n", os.Args[1])
			os.Exit(2)
		}
		arg := ""
		if len(os.Args) > 2 {
			arg = os.Args[2]
		}
		report(os.Args[1], fn(arg))
		return
	}
	for _, p := range probes {
		report(p.name, p.fn())
	}
}

// report prints "probe NAME=ok", or the errno's symbolic name on failure.
func report(name string, err error) {
	var errno unix.Errno
	switch {
	case err == nil:
		fmt.Printf("probe %s=ok\n", name)
	case errors.As(err, &errno):
		e := unix.ErrnoName(errno)
		if e == "" {
			e = fmt.Sprintf("errno%d", int(errno))
		}
		fmt.Printf("probe %s=%s\n", name, e)
	default:
		fmt.Printf("probe %s=error(%v)\n", name, err)
	}
}
