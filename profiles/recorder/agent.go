// Package recorder is runcage's recorder agent: the process that serves a
// container's seccomp user notifications (record, complain and enforce with
// log_denied), the filter that hands syscalls to it (NotifyFilter), and the
// watchdog that kills the container if the agent dies (Watch). What it
// records is a record.Trace; what it logs are record.AuditEvents. It
// depends on profiles/record, never the other way.
package recorder

import (
	"encoding/binary"
	"fmt"
	"maps"
	"os"
	"strings"
	"sync"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runcage/runcage/profiles/record"
	"github.com/runcage/runcage/profiles/seccomp"
)

// notification is one seccomp user notification (struct seccomp_notif), decoded.
type notification struct {
	// ID identifies the notification for the answer and for validity checks.
	ID uint64
	// Pid is the calling thread's id in the agent's pid namespace.
	Pid uint32
	// Arch is the AUDIT_ARCH_* value of the call's ABI.
	Arch uint32
	// Nr is the syscall number (with __X32_SYSCALL_BIT for x32).
	Nr int32
	// Args are the six register arguments.
	Args [6]uint64
}

// response is the agent's answer to one notification.
type response struct {
	// Continue lets the syscall run (SECCOMP_USER_NOTIF_FLAG_CONTINUE).
	Continue bool
	// Errno, when Continue is false, is the error the syscall returns.
	Errno int
}

// nameResolver resolves a syscall number to its name.
type nameResolver interface {
	// Name returns the OCI name of the architecture ("SCMP_ARCH_X86_64")
	// and the syscall's name; ok is false for a number it does not know.
	Name(auditArch uint32, nr int32) (arch, name string, ok bool)
}

// Creds are a process's ids as its own user namespace sees them.
type procCreds struct {
	Uid, Euid, Suid, Fsuid uint32
	Gid, Egid, Sgid, Fsgid uint32
	Groups                 []uint32
}

// processReader reads from the process that made a notified syscall. Whatever it
// returns comes from an untrusted process and is only recorded, never used
// to decide whether the syscall may run. Callers must check that the
// notification is still valid after reading (the process may have died and
// its pid been reused).
type processReader interface {
	// ReadString reads a NUL-terminated string of at most max bytes at
	// addr in pid's memory.
	ReadString(pid uint32, addr uint64, max int) (string, error)
	// Read reads len(buf) bytes at addr in pid's memory.
	Read(pid uint32, addr uint64, buf []byte) (int, error)
	// Dir returns the absolute path, as the process sees it, of its working
	// directory (dirfd AT_FDCWD) or of its descriptor dirfd.
	Dir(pid uint32, dirfd int32) (string, error)
	// Creds returns pid's ids in its own user namespace.
	Creds(pid uint32) (procCreds, error)
	// Exe returns the path of pid's executable as its own mount namespace
	// sees it (the link /proc/PID/exe, read, never followed).
	Exe(pid uint32) (string, error)
	// Resolve returns the absolute path p, as pid named it, with every
	// symlink in it resolved inside pid's root without following any
	// (rootfs.ResolveIn); elements that do not exist are kept as written.
	Resolve(pid uint32, p string) (string, error)
}

// AgentConfig says what one agent records or enforces, for which container.
type AgentConfig struct {
	// Mode is ModeRecord, ModeComplain or ModeEnforce.
	Mode string `json:"mode"`
	// Name is the recording name (record.Trace.Name, record.AuditEvent.Name).
	Name string `json:"name"`
	// Container is the container id.
	Container string `json:"container"`
	// Profile is the runcage profile the container runs.
	Profile string `json:"profile"`
	// Filter is the filter the profile enforces on this container; the
	// agent answers notified syscalls as it would.
	Filter *specs.LinuxSeccomp `json:"filter"`
	// RecordingsDir is where ModeRecord writes <Name>.json.
	RecordingsDir string `json:"recordingsDir,omitempty"`
	// AuditLog is the file ModeComplain and ModeEnforce append to.
	AuditLog string `json:"auditLog,omitempty"`
	// Socket is the unix socket runc hands the notify fds to.
	Socket string `json:"socket"`
	// Parent is the pid of the runcage that started the agent (and then
	// became, or ran, runc). If it exits before any notify fd arrived, the
	// container was never created and the agent exits.
	Parent int `json:"parent"`
	// Interval is how often a recording is written while the container
	// runs, and audit counts are flushed (0: defaultInterval).
	Interval time.Duration `json:"interval,omitempty"`
	// Guard is the agent's end of the link to its watchdog (NewGuardLink,
	// Watch). When set, the agent serves a notify fd only once the
	// watchdog holds a pidfd of its process and a duplicate of the fd;
	// if that fails, the agent kills the process rather than serve it
	// unguarded. Nil (unit tests) serves without a watchdog.
	Guard *os.File `json:"-"`
}

// defaultInterval is how often the agent writes while the container runs.
const defaultInterval = 3 * time.Second

// Limits on what one agent keeps, so that a hostile workload cannot grow the
// agent's memory or the trace without bound.
const (
	maxPaths         = 20000
	maxPorts         = 4096
	maxPathLen       = 4096
	agentMaxEvidence = 4
)

// handler decides and records the notified syscalls of one container. It is
// the platform-independent half of the agent: the Linux half receives
// notifications, calls Handle and sends the answers. It is safe for
// concurrent use (one goroutine per notify fd).
type handler struct {
	cfg    AgentConfig
	eval   *filterEval
	names  nameResolver
	target processReader
	now    func() time.Time
	audit  *auditWriter

	mu          sync.Mutex
	started     time.Time
	arch        string
	syscalls    map[string]uint64
	denied      map[string]uint64
	files       map[string]string
	sockets     map[record.Socket]bool
	ports       map[record.Port]bool
	resolved    map[string]string // path as named → as resolved (resolveFiles)
	caps        map[string][]string
	droppedPath uint64
	objects     objectTracker // objects.go: mapped executables and libraries
}

// newHandler returns the handler for cfg. audit receives the audit log
// lines of ModeComplain and ModeEnforce (it may be nil in ModeRecord).
func newHandler(cfg AgentConfig, names nameResolver, target processReader, audit interface{ Write([]byte) (int, error) }, now func() time.Time) (*handler, error) {
	ev, err := newFilterEval(cfg.Filter)
	if err != nil {
		return nil, err
	}
	switch cfg.Mode {
	case ModeRecord:
	case ModeComplain, ModeEnforce:
		if audit == nil {
			return nil, fmt.Errorf("mode %s needs an audit log", cfg.Mode)
		}
	default:
		return nil, fmt.Errorf("unknown agent mode %q", cfg.Mode)
	}
	if now == nil {
		now = time.Now
	}
	h := &handler{
		cfg: cfg, eval: ev, names: names, target: target, now: now,
		started:  now().UTC(),
		syscalls: map[string]uint64{}, denied: map[string]uint64{},
		files: map[string]string{}, sockets: map[record.Socket]bool{}, ports: map[record.Port]bool{}, resolved: map[string]string{}, caps: map[string][]string{},
	}
	if audit != nil {
		h.audit = newAuditWriter(audit, record.AuditEvent{
			Container: cfg.Container, Name: cfg.Name, Profile: cfg.Profile, Mode: string(cfg.Mode),
		}, now)
	}
	return h, nil
}

// Handle answers notification n. valid reports whether n is still pending;
// Handle calls it after reading the caller's memory and discards what it
// read if not.
func (h *handler) Handle(n notification, valid func() bool) response {
	arch, name, ok := h.names.Name(n.Arch, n.Nr)
	var v verdict
	if ok {
		v = h.eval.eval(name, n.Args, is32(n.Arch))
	} else {
		v = h.eval.def
		name = fmt.Sprintf("%s:%d", arch, n.Nr)
	}
	resp := response{Continue: v.allow, Errno: v.errno}
	switch h.cfg.Mode {
	case ModeRecord:
		h.mu.Lock()
		if h.arch == "" && ok {
			h.arch = arch
		}
		if v.allow {
			h.syscalls[name]++
		} else {
			h.denied[name]++
		}
		h.mu.Unlock()
		if v.allow && ok {
			h.objects.observe(n.Pid, name, n.Args, valid)
			if insp := inspectors[name]; insp != nil {
				var o obs
				insp(h, n, &o, is32(n.Arch))
				h.resolveFiles(n.Pid, &o)
				if !o.empty() && valid() {
					h.add(&o)
				}
			}
		}
	case ModeComplain:
		if !v.allow {
			h.audit.Seen(arch, name, record.ActionAllowed, 0, int(n.Pid), h.exe(n, valid))
		}
		resp = response{Continue: true}
	case ModeEnforce:
		if !v.allow {
			h.audit.Seen(arch, name, record.ActionDenied, v.errno, int(n.Pid), h.exe(n, valid))
		}
	}
	return resp
}

// exe is the executable of the process that made n, or "" if it cannot be
// read or n is no longer pending (its pid may have been reused).
func (h *handler) exe(n notification, valid func() bool) string {
	exe, err := h.target.Exe(n.Pid)
	if err != nil || valid != nil && !valid() {
		return ""
	}
	return exe
}

// Flush writes the audit counts that changed (at most every few seconds per
// syscall, or all of them if final).
func (h *handler) Flush(final bool) error {
	if h.audit == nil {
		return nil
	}
	return h.audit.Flush(final)
}

// Trace returns what was recorded so far. complete marks the trace final;
// a trace that holds no syscall, allowed or denied, is never complete: its
// container never ran (runc failed before it loaded the filter).
func (h *handler) Trace(complete bool) *record.Trace {
	h.mu.Lock()
	defer h.mu.Unlock()
	t := record.New(h.cfg.Name, record.SourceRuncage)
	t.Containers = []string{h.cfg.Container}
	t.Arch = h.arch
	t.Started, t.Updated = h.started, h.now().UTC()
	t.Complete = complete && len(h.syscalls)+len(h.denied) > 0
	t.PortsAndListings = h.cfg.Mode == ModeRecord
	t.Syscalls = maps.Clone(h.syscalls)
	if len(h.denied) > 0 {
		t.Denied = maps.Clone(h.denied)
	}
	for p, a := range h.files {
		t.Files = append(t.Files, record.FileAccess{Path: p, Access: a})
	}
	for s := range h.sockets {
		t.Sockets = append(t.Sockets, s)
	}
	for p := range h.ports {
		t.Ports = append(t.Ports, p)
	}
	if len(h.caps) > 0 {
		t.Capabilities = map[string][]string{}
		for c, ev := range h.caps {
			t.Capabilities[c] = append([]string(nil), ev...)
		}
	}
	t.Objects = h.objects.list()
	t.Normalize()
	return t
}

// DroppedPaths is the number of path observations not kept because the
// handler already held maxPaths paths.
func (h *handler) DroppedPaths() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.droppedPath
}

// obs is what one notification showed, gathered before the validity check.
type obs struct {
	files   []record.FileAccess
	sockets []record.Socket
	ports   []record.Port
	caps    [][2]string // capability, evidence
}

func (o *obs) empty() bool {
	return len(o.files) == 0 && len(o.sockets) == 0 && len(o.ports) == 0 && len(o.caps) == 0
}

func (o *obs) file(p, access string) {
	if p != "" {
		o.files = append(o.files, record.FileAccess{Path: p, Access: access})
	}
}

func (o *obs) cap(c, format string, a ...any) {
	o.caps = append(o.caps, [2]string{c, fmt.Sprintf(format, a...)})
}

// resolveFiles adds to o, for each path it holds that passes through a
// symlink of the container, the path it resolves to, with the same access:
// Landlock rules (which the helper applies without following symlinks)
// and AppArmor rules match the resolved path. Each path is resolved once
// per handler (h.resolved, bounded like h.files); a path that cannot be
// resolved is kept as named.
func (h *handler) resolveFiles(pid uint32, o *obs) {
	for _, f := range o.files[:len(o.files):len(o.files)] {
		h.mu.Lock()
		res, ok := h.resolved[f.Path]
		h.mu.Unlock()
		if !ok {
			r, err := h.target.Resolve(pid, f.Path)
			if err != nil {
				r = f.Path
			}
			res = r
			h.mu.Lock()
			if len(h.resolved) < maxPaths {
				h.resolved[f.Path] = res
			}
			h.mu.Unlock()
		}
		if res != f.Path {
			o.file(res, f.Access)
		}
	}
}

func (h *handler) add(o *obs) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, f := range o.files {
		old, ok := h.files[f.Path]
		if !ok && len(h.files) >= maxPaths {
			h.droppedPath++
			continue
		}
		h.files[f.Path] = record.UnionAccess(old, f.Access)
	}
	for _, s := range o.sockets {
		h.sockets[s] = true
	}
	for _, p := range o.ports {
		if !h.ports[p] && len(h.ports) >= maxPorts {
			continue
		}
		h.ports[p] = true
	}
	for _, c := range o.caps {
		ev := h.caps[c[0]]
		if len(ev) < agentMaxEvidence && !contains(ev, c[1]) {
			h.caps[c[0]] = append(ev, c[1])
		}
	}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// AT_FDCWD as a register value (int -100, sign-extended).
const atFDCWD = -100

// path reads the path argument at addr and makes it absolute against dirfd
// (or the working directory), as the process sees it. It returns "" when
// the path cannot be read or resolved.
func (h *handler) path(n notification, dirfd int32, addr uint64) string {
	if addr == 0 {
		return ""
	}
	p, err := h.target.ReadString(n.Pid, addr, maxPathLen)
	if err != nil || p == "" {
		return ""
	}
	if !strings.HasPrefix(p, "/") {
		dir, err := h.target.Dir(n.Pid, dirfd)
		if err != nil || !strings.HasPrefix(dir, "/") {
			return ""
		}
		p = dir + "/" + p
	}
	return cleanPath(p)
}

// cleanPath is path.Clean without allocating for already-clean paths.
func cleanPath(p string) string {
	if !strings.Contains(p, "//") && !strings.Contains(p, "/.") && (len(p) == 1 || !strings.HasSuffix(p, "/")) {
		return p
	}
	var out []string
	for _, e := range strings.Split(p, "/") {
		switch e {
		case "", ".":
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		default:
			out = append(out, e)
		}
	}
	return "/" + strings.Join(out, "/")
}

func argFD(a uint64) int32 { return int32(uint32(a)) }

// Open flags (the same on x86 and the generic ABI of arm64).
const (
	oAccMode = 0o3
	oWronly  = 0o1
	oRdwr    = 0o2
	oCreat   = 0o100
	oTrunc   = 0o1000
	oPath    = 0o10000000
)

func notifOpenAccess(flags uint64) string {
	if flags&oPath != 0 {
		return "s"
	}
	a := ""
	switch flags & oAccMode {
	case oWronly:
		a = "w"
	case oRdwr:
		a = "rw"
	default:
		a = "r"
	}
	if flags&oCreat != 0 {
		a += "c"
	}
	if flags&oTrunc != 0 && !strings.Contains(a, "w") {
		a += "w"
	}
	return a
}

type inspector func(h *handler, n notification, o *obs, is32 bool)

// pathAt returns an inspector for a syscall with a path at argument pathArg
// relative to the dirfd at argument dirArg (-1: the working directory).
func pathAt(dirArg, pathArg int, access string) inspector {
	return func(h *handler, n notification, o *obs, _ bool) {
		dir := int32(atFDCWD)
		if dirArg >= 0 {
			dir = argFD(n.Args[dirArg])
		}
		o.file(h.path(n, dir, n.Args[pathArg]), access)
	}
}

func openAt(dirArg, pathArg, flagsArg int) inspector {
	return func(h *handler, n notification, o *obs, _ bool) {
		dir := int32(atFDCWD)
		if dirArg >= 0 {
			dir = argFD(n.Args[dirArg])
		}
		o.file(h.path(n, dir, n.Args[pathArg]), notifOpenAccess(n.Args[flagsArg]))
	}
}

// inspectors lists the syscalls whose arguments the recorder looks at, by
// name (names are the same on every architecture runcage supports).
var inspectors = map[string]inspector{
	"open":   openAt(-1, 0, 1),
	"openat": openAt(0, 1, 2),
	"openat2": func(h *handler, n notification, o *obs, _ bool) {
		var how [8]byte // struct open_how starts with __u64 flags
		flags := uint64(0)
		if k, err := h.target.Read(n.Pid, n.Args[2], how[:]); err == nil && k == len(how) {
			flags = binary.NativeEndian.Uint64(how[:])
		}
		o.file(h.path(n, argFD(n.Args[0]), n.Args[1]), notifOpenAccess(flags))
	},
	"creat":       pathAt(-1, 0, "cw"),
	"execve":      pathAt(-1, 0, "x"),
	"execveat":    pathAt(0, 1, "x"),
	"stat":        pathAt(-1, 0, "s"),
	"lstat":       pathAt(-1, 0, "s"),
	"stat64":      pathAt(-1, 0, "s"),
	"lstat64":     pathAt(-1, 0, "s"),
	"newfstatat":  pathAt(0, 1, "s"),
	"fstatat64":   pathAt(0, 1, "s"),
	"statx":       pathAt(0, 1, "s"),
	"statfs":      pathAt(-1, 0, "s"),
	"statfs64":    pathAt(-1, 0, "s"),
	"access":      pathAt(-1, 0, "s"),
	"faccessat":   pathAt(0, 1, "s"),
	"faccessat2":  pathAt(0, 1, "s"),
	"readlink":    pathAt(-1, 0, "r"),
	"readlinkat":  pathAt(0, 1, "r"),
	"getxattr":    pathAt(-1, 0, "r"),
	"lgetxattr":   pathAt(-1, 0, "r"),
	"chdir":       pathAt(-1, 0, "s"),
	"unlink":      pathAt(-1, 0, "d"),
	"unlinkat":    pathAt(0, 1, "d"),
	"rmdir":       pathAt(-1, 0, "d"),
	"mkdir":       pathAt(-1, 0, "m"),
	"mkdirat":     pathAt(0, 1, "m"),
	"truncate":    pathAt(-1, 0, "w"),
	"truncate64":  pathAt(-1, 0, "w"),
	"chmod":       pathAt(-1, 0, "w"),
	"fchmodat":    pathAt(0, 1, "w"),
	"fchmodat2":   pathAt(0, 1, "w"),
	"utimensat":   pathAt(0, 1, "w"),
	"setxattr":    pathAt(-1, 0, "w"),
	"lsetxattr":   pathAt(-1, 0, "w"),
	"removexattr": pathAt(-1, 0, "w"),
	"rename":      twoPaths(-1, 0, -1, 1, "d", "lc"),
	"renameat":    twoPaths(0, 1, 2, 3, "d", "lc"),
	"renameat2":   twoPaths(0, 1, 2, 3, "d", "lc"),
	"link":        twoPaths(-1, 0, -1, 1, "r", "lc"),
	"linkat":      twoPaths(0, 1, 2, 3, "r", "lc"),
	"symlink":     pathAt(-1, 1, "lc"),
	"symlinkat":   pathAt(1, 2, "lc"),
	"chown":       chownAt(-1, 0, 1, 2),
	"lchown":      chownAt(-1, 0, 1, 2),
	"chown32":     chownAt(-1, 0, 1, 2),
	"lchown32":    chownAt(-1, 0, 1, 2),
	"fchownat":    chownAt(0, 1, 2, 3),
	"fchown":      chownAt(-2, -1, 1, 2),
	"fchown32":    chownAt(-2, -1, 1, 2),
	"mknod":       mknodAt(-1, 0, 1),
	"mknodat":     mknodAt(0, 1, 2),
	"chroot": func(h *handler, n notification, o *obs, _ bool) {
		p := h.path(n, atFDCWD, n.Args[0])
		o.file(p, "s")
		o.cap("CAP_SYS_CHROOT", "chroot(%q)", p)
	},
	"getdents":    listInspect,
	"getdents64":  listInspect,
	"socket":      sockInspect,
	"bind":        addrInspect(true),
	"connect":     addrInspect(false),
	"setuid":      idsInspect("CAP_SETUID", 1, false),
	"setuid32":    idsInspect("CAP_SETUID", 1, false),
	"setreuid":    idsInspect("CAP_SETUID", 2, false),
	"setreuid32":  idsInspect("CAP_SETUID", 2, false),
	"setresuid":   idsInspect("CAP_SETUID", 3, false),
	"setresuid32": idsInspect("CAP_SETUID", 3, false),
	"setfsuid":    idsInspect("CAP_SETUID", 1, false),
	"setfsuid32":  idsInspect("CAP_SETUID", 1, false),
	"setgid":      idsInspect("CAP_SETGID", 1, true),
	"setgid32":    idsInspect("CAP_SETGID", 1, true),
	"setregid":    idsInspect("CAP_SETGID", 2, true),
	"setregid32":  idsInspect("CAP_SETGID", 2, true),
	"setresgid":   idsInspect("CAP_SETGID", 3, true),
	"setresgid32": idsInspect("CAP_SETGID", 3, true),
	"setfsgid":    idsInspect("CAP_SETGID", 1, true),
	"setfsgid32":  idsInspect("CAP_SETGID", 1, true),
	"setgroups": func(h *handler, n notification, o *obs, _ bool) {
		o.cap("CAP_SETGID", "setgroups(%d groups)", int32(uint32(n.Args[0])))
	},
	"setgroups32": func(h *handler, n notification, o *obs, _ bool) {
		o.cap("CAP_SETGID", "setgroups(%d groups)", int32(uint32(n.Args[0])))
	},
}

func twoPaths(dir1, path1, dir2, path2 int, a1, a2 string) inspector {
	first, second := pathAt(dir1, path1, a1), pathAt(dir2, path2, a2)
	return func(h *handler, n notification, o *obs, is32 bool) {
		first(h, n, o, is32)
		second(h, n, o, is32)
	}
}

// noID is -1 as a 32-bit id argument ("leave unchanged").
const noID = 0xffffffff

func isNoID(id uint32, is32 bool) bool { return id == noID || (is32 && id == 0xffff) }

// chownAt records the path (dirArg -2: an fd, not a path) and CAP_CHOWN
// when the new owner is not the caller or the new group is not one of its
// groups.
func chownAt(dirArg, pathArg, uidArg, gidArg int) inspector {
	return func(h *handler, n notification, o *obs, is32 bool) {
		p := ""
		if pathArg >= 0 {
			dir := int32(atFDCWD)
			if dirArg >= 0 {
				dir = argFD(n.Args[dirArg])
			}
			p = h.path(n, dir, n.Args[pathArg])
			o.file(p, "w")
		}
		uid, gid := uint32(n.Args[uidArg]), uint32(n.Args[gidArg])
		if isNoID(uid, is32) && isNoID(gid, is32) {
			return
		}
		c, err := h.target.Creds(n.Pid)
		if err != nil {
			return
		}
		what := p
		if what == "" {
			what = fmt.Sprintf("fd %d", argFD(n.Args[0]))
		}
		if !isNoID(uid, is32) && uid != c.Euid {
			o.cap("CAP_CHOWN", "chown %s to uid %d by uid %d", what, uid, c.Euid)
		}
		if !isNoID(gid, is32) && gid != c.Egid && !containsID(c.Groups, gid) {
			o.cap("CAP_CHOWN", "chown %s to gid %d by gid %d", what, gid, c.Egid)
		}
	}
}

func containsID(ids []uint32, id uint32) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// File types of mknod's mode.
const (
	sIFMT  = 0o170000
	sIFCHR = 0o020000
	sIFBLK = 0o060000
)

func mknodAt(dirArg, pathArg, modeArg int) inspector {
	return func(h *handler, n notification, o *obs, _ bool) {
		dir := int32(atFDCWD)
		if dirArg >= 0 {
			dir = argFD(n.Args[dirArg])
		}
		p := h.path(n, dir, n.Args[pathArg])
		o.file(p, "c")
		if t := n.Args[modeArg] & sIFMT; t == sIFCHR || t == sIFBLK {
			o.cap("CAP_MKNOD", "mknod %s (device)", p)
		}
	}
}

// idsInspect records cap when a set*id call asks for an id the caller does
// not already have as its real, effective or saved id (which would need the
// capability); count is the number of id arguments.
func idsInspect(capName string, count int, gid bool) inspector {
	return func(h *handler, n notification, o *obs, is32 bool) {
		c, err := h.target.Creds(n.Pid)
		if err != nil {
			return
		}
		have := []uint32{c.Uid, c.Euid, c.Suid, c.Fsuid}
		if gid {
			have = []uint32{c.Gid, c.Egid, c.Sgid, c.Fsgid}
		}
		for i := range count {
			id := uint32(n.Args[i])
			if isNoID(id, is32) || containsID(have, id) {
				continue
			}
			kind := "uid"
			if gid {
				kind = "gid"
			}
			o.cap(capName, "switch to %s %d from %d", kind, id, have[1])
			return
		}
	}
}

// Address families and socket types by number (the same on every Linux
// architecture).
var (
	familyNames = map[uint64]string{
		0: "AF_UNSPEC", 1: "AF_UNIX", 2: "AF_INET", 3: "AF_AX25", 4: "AF_IPX", 5: "AF_APPLETALK",
		9: "AF_X25", 10: "AF_INET6", 15: "AF_KEY", 16: "AF_NETLINK", 17: "AF_PACKET",
		29: "AF_CAN", 30: "AF_TIPC", 31: "AF_BLUETOOTH", 38: "AF_ALG", 40: "AF_VSOCK", 44: "AF_XDP",
	}
	typeNames = map[uint64]string{
		1: "SOCK_STREAM", 2: "SOCK_DGRAM", 3: "SOCK_RAW", 4: "SOCK_RDM", 5: "SOCK_SEQPACKET",
		6: "SOCK_DCCP", 10: "SOCK_PACKET",
	}
)

const (
	afUnix    = 1
	afInet    = 2
	afInet6   = 10
	afNetlink = 16
	afPacket  = 17
	sockRaw   = 3
	sockPkt   = 10
)

func nameOf(m map[uint64]string, v uint64, prefix string) string {
	if s, ok := m[v]; ok {
		return s
	}
	return fmt.Sprintf("%s%d", prefix, v)
}

// listInspect records the directory a getdents call lists (access e), by
// its file descriptor.
func listInspect(h *handler, n notification, o *obs, _ bool) {
	if p, err := h.target.Dir(n.Pid, argFD(n.Args[0])); err == nil && strings.HasPrefix(p, "/") {
		o.file(cleanPath(p), "e")
	}
}

func sockInspect(h *handler, n notification, o *obs, _ bool) {
	fam, typ := n.Args[0]&0xffff, n.Args[1]&0xf
	s := record.Socket{Family: nameOf(familyNames, fam, "AF_"), Type: nameOf(typeNames, typ, "SOCK_"), Protocol: int(int32(uint32(n.Args[2])))}
	o.sockets = append(o.sockets, s)
	if fam == afPacket || (typ == sockRaw || typ == sockPkt) && fam != afNetlink && fam != afUnix {
		o.cap("CAP_NET_RAW", "socket(%s, %s, %d)", s.Family, s.Type, s.Protocol)
	}
}

// addrInspect reads a sockaddr: a unix socket path is recorded (access u),
// an IP port as a record.Port, and bind to an IP port below 1024 is
// evidence of CAP_NET_BIND_SERVICE.
func addrInspect(bind bool) inspector {
	return func(h *handler, n notification, o *obs, _ bool) {
		size := min(n.Args[2], 110)
		if size < 4 || n.Args[1] == 0 {
			return
		}
		buf := make([]byte, size)
		k, err := h.target.Read(n.Pid, n.Args[1], buf)
		if err != nil || k < 4 {
			return
		}
		buf = buf[:k]
		switch binary.NativeEndian.Uint16(buf) {
		case afUnix:
			p := buf[2:]
			if p[0] == 0 {
				return // abstract: no path
			}
			if i := indexByte(p, 0); i >= 0 {
				p = p[:i]
			}
			path := string(p)
			if !strings.HasPrefix(path, "/") {
				dir, err := h.target.Dir(n.Pid, atFDCWD)
				if err != nil {
					return
				}
				path = dir + "/" + path
			}
			o.file(cleanPath(path), "u")
		case afInet, afInet6:
			port := binary.BigEndian.Uint16(buf[2:4])
			use := record.PortConnect
			if bind {
				use = record.PortBind
			}
			if bind || port > 0 { // connect to port 0 fails: no evidence
				o.ports = append(o.ports, record.Port{Use: use, Family: familyNames[uint64(binary.NativeEndian.Uint16(buf))], Port: int(port)})
			}
			if bind && port > 0 && port < 1024 {
				o.cap("CAP_NET_BIND_SERVICE", "bind to port %d", port)
			}
		}
	}
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

// ociArch returns the OCI name of a notification's architecture
// (seccomp.AuditArch), or "AUDIT_ARCH_0x..." for one it does not know.
func ociArch(auditArch uint32, nr int32) specs.Arch {
	if a, err := seccomp.AuditArch(auditArch, int(nr)); err == nil {
		return a
	}
	return specs.Arch(fmt.Sprintf("AUDIT_ARCH_%#x", auditArch))
}

// is32 reports whether a notification's ABI passes 32-bit arguments.
func is32(auditArch uint32) bool { return auditArch&0x80000000 == 0 }
