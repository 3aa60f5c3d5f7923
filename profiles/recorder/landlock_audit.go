package recorder

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// The audit record types Landlock emits (kernel 6.15+, ABI 7), and the
// SYSCALL record that accompanies them in the same event.
const (
	AuditSyscall        = 1300
	AuditLandlockAccess = 1423
	AuditLandlockDomain = 1424
)

// AuditRecord is one audit record as the kernel sends it over
// NETLINK_AUDIT: its type and its text, "audit(TIME:SERIAL): key=value ...".
type AuditRecord struct {
	Type int
	Text string
}

// LandlockDenial is what the audit records of one event say about a
// Landlock denial. Paths are as the denied process sees them (inside the
// container's root); Pid and the ids are host values.
type LandlockDenial struct {
	// Serial is the audit event's serial number.
	Serial string
	// Domain is the Landlock domain's id (hex): one per
	// landlock_restrict_self, so one per container (the helper's).
	Domain string
	// Blockers are the denied accesses: "fs.read_file", "fs.make_reg",
	// "net.bind_tcp", "net.connect_tcp", "scope.signal", ...
	Blockers []string
	// Path is the file of a file-system denial ("" otherwise).
	Path string
	// Port is the TCP port of a bind (src) or connect (dst) denial.
	Port int
	// Pid, Exe and Comm are the denied process's, from the SYSCALL
	// record of the event (0 and "" when the kernel sent none).
	Pid  int
	Exe  string
	Comm string
	// PPid is the denied process's parent's pid (SYSCALL record).
	PPid int
	// Arch and Nr are the AUDIT_ARCH_* value and the number of the
	// denied syscall (SYSCALL record; Nr is -1 when there was none).
	Arch uint32
	Nr   int32
	// DomainPid is the pid that created the domain (the helper, which
	// became the container's process), from a domain record in the same
	// event: the kernel sends it with the domain's first denial only.
	DomainPid int
}

// ParseLandlockDenial returns the denial the records of one audit event
// (all with the same serial) report, and false when they hold no Landlock
// access record or it cannot be parsed.
func ParseLandlockDenial(records []AuditRecord) (LandlockDenial, bool) {
	d := LandlockDenial{Nr: -1}
	found := false
	for _, r := range records {
		serial, f, ok := auditFields(r.Text)
		if !ok {
			continue
		}
		switch r.Type {
		case AuditLandlockAccess:
			d.Serial, d.Domain, d.Path = serial, f["domain"], f["path"]
			d.Blockers = strings.Split(f["blockers"], ",")
			// The LSM audit data of a socket address: src for a bind,
			// dest for a connect.
			for _, k := range []string{"src", "dest"} {
				if p, err := strconv.Atoi(f[k]); err == nil {
					d.Port = p
					break
				}
			}
			found = d.Domain != "" && f["blockers"] != ""
		case AuditLandlockDomain:
			if f["status"] == "allocated" {
				d.DomainPid, _ = strconv.Atoi(f["pid"])
			}
		case AuditSyscall:
			d.Pid, _ = strconv.Atoi(f["pid"])
			d.PPid, _ = strconv.Atoi(f["ppid"])
			d.Exe, d.Comm = f["exe"], f["comm"]
			if a, err := strconv.ParseUint(f["arch"], 16, 32); err == nil {
				d.Arch = uint32(a)
			}
			if nr, err := strconv.ParseInt(f["syscall"], 10, 32); err == nil {
				d.Nr = int32(nr)
			}
		}
	}
	return d, found
}

// auditFields splits "audit(TIME:SERIAL): k=v k="v" ..." into the serial
// and the fields. Quoted values are unquoted; an unquoted value of the
// fields the kernel logs as untrusted strings (path, exe, comm, name) that
// is even-length hex is decoded, as the kernel hex-encodes such a string
// when it holds a space, a quote or a control character.
func auditFields(text string) (string, map[string]string, bool) {
	serial, rest, ok := auditHeader(text)
	if !ok {
		return "", nil, false
	}
	f := map[string]string{}
	for rest = strings.TrimSpace(rest); rest != ""; rest = strings.TrimSpace(rest) {
		k, v, ok := strings.Cut(rest, "=")
		if !ok || strings.ContainsAny(k, " \"") {
			return "", nil, false
		}
		if strings.HasPrefix(v, "\"") {
			end := strings.IndexByte(v[1:], '"')
			if end < 0 {
				return "", nil, false
			}
			f[k], rest = v[1:1+end], v[2+end:]
			continue
		}
		v, rest, _ = strings.Cut(v, " ")
		switch k {
		case "path", "exe", "comm", "name":
			if b, err := hex.DecodeString(v); err == nil && len(v) > 0 {
				v = string(b)
			}
		}
		f[k] = v
	}
	return serial, f, true
}

// auditHeader splits "audit(TIME:SERIAL): rest" into the serial and rest.
func auditHeader(text string) (serial, rest string, ok bool) {
	rest, ok = strings.CutPrefix(text, "audit(")
	if !ok {
		return "", "", false
	}
	stamp, rest, ok := strings.Cut(rest, "):")
	if !ok {
		return "", "", false
	}
	_, serial, ok = strings.Cut(stamp, ":")
	return serial, rest, ok
}

// AuditEnabled asks the kernel whether its audit subsystem is enabled
// (AUDIT_GET over NETLINK_AUDIT; needs CAP_AUDIT_CONTROL). Landlock logs
// denials only when it is: with audit=0 and no auditd, the kernel sends
// no Landlock record anywhere, not even to the kernel log.
func AuditEnabled() (bool, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_AUDIT)
	if err != nil {
		return false, fmt.Errorf("audit socket: %w", err)
	}
	defer unix.Close(fd)
	tv := unix.Timeval{Sec: 2}
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return false, fmt.Errorf("audit socket: %w", err)
	}
	req := make([]byte, unix.NLMSG_HDRLEN)
	binary.NativeEndian.PutUint32(req[0:], uint32(len(req)))
	binary.NativeEndian.PutUint16(req[4:], unix.AUDIT_GET)
	binary.NativeEndian.PutUint16(req[6:], unix.NLM_F_REQUEST)
	binary.NativeEndian.PutUint32(req[8:], 1)
	if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return false, fmt.Errorf("audit get: %w", err)
	}
	buf := make([]byte, 8192)
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			return false, fmt.Errorf("audit get: %w", err)
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return false, fmt.Errorf("audit get: %w", err)
		}
		for _, m := range msgs {
			switch m.Header.Type {
			case unix.AUDIT_GET:
				// struct audit_status: mask, enabled, ... (u32 each).
				if len(m.Data) < 8 {
					return false, errors.New("audit get: short status")
				}
				return binary.NativeEndian.Uint32(m.Data[4:8]) != 0, nil
			case unix.NLMSG_ERROR:
				if len(m.Data) >= 4 {
					if e := int32(binary.NativeEndian.Uint32(m.Data[0:4])); e != 0 {
						return false, fmt.Errorf("audit get: %w", unix.Errno(-e))
					}
				}
			}
		}
	}
}
