package recorder

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/runcage/runcage/profiles/record"
)

// The audit record that ends an event, and the audit multicast group a
// process with CAP_AUDIT_READ may read every record from (without auditd).
const (
	auditEOE          = 1320
	auditNlgrpReadlog = 1
)

// Limits of the Landlock half of the denial agent, so that neither the host
// nor a hostile workload can grow it without bound.
const (
	maxLandlockPids    = 16384 // processes runc handed a notify fd for
	maxLandlockDomains = 16384 // Landlock domains mapped to a container
	maxEventRecords    = 16    // records kept of one audit event
	maxPendingEvents   = 256   // events waiting for their container
	// landlockGrace is how long a process (and a container) is still
	// known after its filter had no users left: its last denials may
	// reach the agent after that.
	landlockGrace = 10 * time.Second
	// pendingRetry is how long an event no container claims waits before
	// it is tried once more: runc hands the agent a process's notify fd
	// before the process runs, but the agent may register it later.
	pendingRetry = 500 * time.Millisecond
)

// procInfo reads what the kernel says about a host process.
type procInfo interface {
	// Start returns when pid started (field 22 of /proc/PID/stat).
	Start(pid int) (uint64, error)
	// PidNS returns the inode of pid's pid namespace.
	PidNS(pid int) (uint64, error)
}

type hostProcs struct{}

func (hostProcs) Start(pid int) (uint64, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name, in parentheses, may hold anything but ends at
	// the last ')'.
	i := strings.LastIndexByte(string(data), ')')
	if f := strings.Fields(string(data[i+1:])); i >= 0 && len(f) >= 20 {
		return strconv.ParseUint(f[19], 10, 64)
	}
	return 0, fmt.Errorf("parse /proc/%d/stat", pid)
}

func (hostProcs) PidNS(pid int) (uint64, error) {
	var st unix.Stat_t
	if err := unix.Stat("/proc/"+strconv.Itoa(pid)+"/ns/pid", &st); err != nil {
		return 0, err
	}
	return st.Ino, nil
}

// landlockTracker attributes the Landlock denials the kernel reports (audit
// events, see ParseLandlockDenial) to the containers the denial agent
// serves, and logs them with each container's auditWriter.
//
// Attribution rests on what the kernel and runc say, never on text the
// container controls (comm, exe, paths): runc hands the agent the notify
// fd of every process it starts in an enforced container (its init, and
// each `runc exec`) with that process's host pid, and that process is
// runcage's Landlock helper, which creates the process's Landlock domain.
// So a domain belongs to a container when the pid the kernel reports as
// its creator (the AUDIT_LANDLOCK_DOMAIN record of its first denial) is
// one runc handed over. A denial whose domain was not seen allocated (the
// agent restarted, or the record was lost) is attributed through the
// denied process's pid or its parent's, then through the pid namespace of
// the denied process while it lives. Domains of processes runcage did not
// start are ignored, and so are denials no container claims.
//
// It is safe for concurrent use.
type landlockTracker struct {
	out    io.Writer
	names  nameResolver
	procs  procInfo
	now    func() time.Time
	lg     *log.Logger
	selfNS uint64 // the agent's pid namespace: the host's, never a container's

	mu         sync.Mutex
	pids       map[int]*llProcess
	domains    map[string]*llContainer
	containers map[string]*llContainer // by DenialKey
	pending    []pendingDenial
	// unattributed counts the denials no container claimed.
	unattributed uint64
}

// llContainer is a container the tracker attributes denials to.
type llContainer struct {
	key   string
	w     *auditWriter
	pidNS uint64 // 0: unknown
	live  int    // processes not yet gone
	gone  time.Time
}

// llProcess is a process runc handed a notify fd for.
type llProcess struct {
	c     *llContainer
	start uint64 // 0: unknown
	gone  time.Time
}

type pendingDenial struct {
	d    LandlockDenial
	seen time.Time
}

func newLandlockTracker(out io.Writer, names nameResolver, procs procInfo, now func() time.Time, lg *log.Logger) *landlockTracker {
	t := &landlockTracker{out: out, names: names, procs: procs, now: now, lg: lg,
		pids: map[int]*llProcess{}, domains: map[string]*llContainer{}, containers: map[string]*llContainer{}}
	t.selfNS, _ = procs.PidNS(os.Getpid())
	return t
}

// Started registers pid, a process runc handed a notify fd for, as one of
// the container cfg describes (whose DenialKey is key).
func (t *landlockTracker) Started(key string, cfg AgentConfig, pid int) {
	start, _ := t.procs.Start(pid)
	ns, _ := t.procs.PidNS(pid)
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.pids) >= maxLandlockPids {
		t.sweepLocked(t.now())
		if len(t.pids) >= maxLandlockPids {
			t.lg.Printf("container %q (pid %d): %d processes known already: its Landlock denials are not logged", cfg.Container, pid, len(t.pids))
			return
		}
	}
	c := t.containers[key]
	if c == nil {
		c = &llContainer{key: key, w: newAuditWriter(t.out, record.AuditEvent{
			Container: cfg.Container, Name: cfg.Name, Profile: cfg.Profile, Mode: ModeEnforce,
		}, t.now)}
		t.containers[key] = c
	}
	if ns != 0 && ns != t.selfNS {
		c.pidNS = ns
	}
	if old := t.pids[pid]; old != nil && old.gone.IsZero() {
		// Its exit was not seen: the pid is a new process now.
		if old.c.live--; old.c.live == 0 {
			old.c.gone = t.now()
		}
	}
	c.live++
	t.pids[pid] = &llProcess{c: c, start: start}
}

// Exited marks pid, registered with Started, as gone: its filter has no
// users left. It is forgotten landlockGrace later.
func (t *landlockTracker) Exited(pid int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.pids[pid]
	if p == nil || !p.gone.IsZero() {
		return
	}
	p.gone = t.now()
	if p.c.live--; p.c.live == 0 {
		p.c.gone = p.gone
	}
}

// Event handles the records of one audit event: a Landlock denial is
// logged for the container it is attributed to (or kept pendingRetry for a
// second try), a domain's deallocation forgets the domain.
func (t *landlockTracker) Event(recs []AuditRecord) {
	for _, r := range recs {
		if r.Type != AuditLandlockDomain {
			continue
		}
		if _, f, ok := auditFields(r.Text); ok && f["status"] == "deallocated" {
			t.mu.Lock()
			delete(t.domains, f["domain"])
			t.mu.Unlock()
		}
	}
	d, ok := ParseLandlockDenial(recs)
	if !ok {
		return
	}
	t.mu.Lock()
	c := t.attributeLocked(d, false)
	if c == nil {
		if len(t.pending) < maxPendingEvents {
			t.pending = append(t.pending, pendingDenial{d: d, seen: t.now()})
		} else {
			t.unattributed++
		}
	}
	t.mu.Unlock()
	if c != nil {
		t.log(c, d)
	}
}

// Retry tries once more the denials that waited pendingRetry for their
// container, and counts those still unclaimed as unattributed.
func (t *landlockTracker) Retry() {
	now := t.now()
	type claimed struct {
		c *llContainer
		d LandlockDenial
	}
	var logs []claimed
	t.mu.Lock()
	keep := t.pending[:0]
	for _, p := range t.pending {
		if now.Sub(p.seen) < pendingRetry {
			keep = append(keep, p)
			continue
		}
		if c := t.attributeLocked(p.d, true); c != nil {
			logs = append(logs, claimed{c, p.d})
		} else {
			t.unattributed++
		}
	}
	t.pending = keep
	t.mu.Unlock()
	for _, l := range logs {
		t.log(l.c, l.d)
	}
}

// attributeLocked returns the container d's domain belongs to, or nil. On
// the last try (final), a domain the kernel says a process runc did not
// hand over created is remembered as no container's.
func (t *landlockTracker) attributeLocked(d LandlockDenial, final bool) *llContainer {
	if c, ok := t.domains[d.Domain]; ok {
		return c
	}
	var c *llContainer
	if d.DomainPid != 0 {
		// The kernel names the domain's creator: the domain is a
		// container's only if runcage's helper, started by runc, made it.
		c = t.byPidLocked(d.DomainPid)
	} else {
		for _, pid := range []int{d.Pid, d.PPid} {
			if c = t.byPidLocked(pid); c != nil {
				break
			}
		}
		if c == nil {
			c = t.byNSLocked(d.Pid)
		}
	}
	if (c != nil || final && d.DomainPid != 0) && len(t.domains) < maxLandlockDomains {
		t.domains[d.Domain] = c
	}
	return c
}

// byPidLocked returns the container of pid if runc handed its notify fd
// over, and it is still that process (or gone, but not for long).
func (t *landlockTracker) byPidLocked(pid int) *llContainer {
	p := t.pids[pid]
	if pid <= 0 || p == nil {
		return nil
	}
	if start, err := t.procs.Start(pid); err == nil && p.start != 0 && start != p.start {
		return nil // the pid is another process now
	}
	return p.c
}

// byNSLocked returns the one container whose pid namespace pid is in.
func (t *landlockTracker) byNSLocked(pid int) *llContainer {
	if pid <= 0 {
		return nil
	}
	ns, err := t.procs.PidNS(pid)
	if err != nil || ns == 0 || ns == t.selfNS {
		return nil
	}
	var found *llContainer
	for _, c := range t.containers {
		if c.pidNS == ns {
			if found != nil {
				return nil // containers that share a pid namespace
			}
			found = c
		}
	}
	return found
}

// log writes d to c's log.
func (t *landlockTracker) log(c *llContainer, d LandlockDenial) {
	arch, name, ok := "", "", false
	if d.Nr >= 0 {
		arch, name, ok = t.names.Name(d.Arch, d.Nr)
		if !ok {
			name = ""
		}
	}
	c.w.SeenLandlock(arch, name, d.Pid, d.Exe, record.LandlockAccess{
		Path: d.Path, Port: d.Port, Access: LandlockAccessNames(d.Blockers), Blockers: d.Blockers,
	})
}

// Flush flushes every container's counts (all of them if final).
func (t *landlockTracker) Flush(final bool) {
	t.mu.Lock()
	cs := make([]*llContainer, 0, len(t.containers))
	for _, c := range t.containers {
		cs = append(cs, c)
	}
	t.mu.Unlock()
	for _, c := range cs {
		if err := c.w.Flush(final); err != nil {
			t.lg.Printf("%v", err)
		}
	}
}

// Sweep forgets the processes and containers gone for landlockGrace, with
// their domains, after writing the containers' totals.
func (t *landlockTracker) Sweep() {
	t.mu.Lock()
	done := t.sweepLocked(t.now())
	t.mu.Unlock()
	for _, c := range done {
		if err := c.w.Flush(true); err != nil {
			t.lg.Printf("%v", err)
		}
	}
}

func (t *landlockTracker) sweepLocked(now time.Time) []*llContainer {
	for pid, p := range t.pids {
		if !p.gone.IsZero() && now.Sub(p.gone) >= landlockGrace {
			delete(t.pids, pid)
		}
	}
	var done []*llContainer
	for key, c := range t.containers {
		if c.live == 0 && now.Sub(c.gone) >= landlockGrace {
			delete(t.containers, key)
			done = append(done, c)
		}
	}
	for d, c := range t.domains {
		if slices.Contains(done, c) {
			delete(t.domains, d)
		}
	}
	return done
}

// landlockAccess maps the kernel's names of Landlock's rights (the
// blockers of an AUDIT_LANDLOCK_ACCESS record) to the access names of a
// profile's rules (profiles/landlock): the group a person writes where one
// holds the right, else the right's own name.
var landlockAccess = map[string]string{
	"fs.execute":                 "execute",
	"fs.write_file":              "write",
	"fs.read_file":               "read",
	"fs.read_dir":                "list",
	"fs.remove_dir":              "remove",
	"fs.remove_file":             "remove",
	"fs.make_char":               "make-char",
	"fs.make_dir":                "create",
	"fs.make_reg":                "create",
	"fs.make_sock":               "create",
	"fs.make_fifo":               "create",
	"fs.make_block":              "make-block",
	"fs.make_sym":                "create",
	"fs.refer":                   "refer",
	"fs.truncate":                "truncate",
	"fs.ioctl_dev":               "ioctl-dev",
	"net.bind_tcp":               "bind",
	"net.connect_tcp":            "connect",
	"scope.abstract_unix_socket": "abstract-unix-socket",
	"scope.signal":               "signal",
}

// LandlockAccessNames returns the access names of blockers, each once, in
// their order: "fs.read_file" is "read", "net.bind_tcp" is "bind"; a
// blocker it does not know keeps the kernel's name. "truncate" is left out
// beside "write", which holds it.
func LandlockAccessNames(blockers []string) []string {
	var out []string
	for _, b := range blockers {
		a, ok := landlockAccess[b]
		if !ok {
			a = b
		}
		if a != "" && !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	if slices.Contains(out, "write") {
		out = slices.DeleteFunc(out, func(a string) bool { return a == "truncate" })
	}
	return out
}

// auditGrouper groups audit records into events: the records of one event
// share a serial and come in a row; an event ends at its EOE record, when
// a record of another serial arrives, or at Flush.
type auditGrouper struct {
	serial string
	recs   []AuditRecord
	emit   func([]AuditRecord)
}

// Add adds r to the current event, ending that first if r is another's.
func (g *auditGrouper) Add(r AuditRecord) {
	serial, _, _ := auditHeader(r.Text)
	if serial != g.serial || serial == "" {
		g.Flush()
		g.serial = serial
	}
	if r.Type == auditEOE {
		g.Flush()
		return
	}
	if len(g.recs) < maxEventRecords {
		g.recs = append(g.recs, r)
	}
}

// Flush ends the current event, emitting it if it holds a Landlock record.
func (g *auditGrouper) Flush() {
	recs := g.recs
	g.recs, g.serial = nil, ""
	if slices.ContainsFunc(recs, func(r AuditRecord) bool {
		return r.Type == AuditLandlockAccess || r.Type == AuditLandlockDomain
	}) {
		g.emit(recs)
	}
}

// openAuditMulticast opens a NETLINK_AUDIT socket subscribed to the audit
// multicast group, which receives every audit record the kernel emits
// (none while the host's audit is disabled; needs CAP_AUDIT_READ). Reads
// time out after timeout, so that the caller can end pending events.
func openAuditMulticast(timeout time.Duration) (int, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_AUDIT)
	if err != nil {
		return -1, fmt.Errorf("audit socket: %w", err)
	}
	// A burst of denials must not overflow the socket: the kernel drops
	// what does not fit.
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 1<<20)
	tv := unix.NsecToTimeval(timeout.Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("audit socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: auditNlgrpReadlog}); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("subscribe to the audit multicast group: %w", err)
	}
	return fd, nil
}

// readAudit reads the audit records of fd, a socket openAuditMulticast
// opened, and hands them to g, flushing g and calling idle whenever a read
// times out; it returns on any other error than a lost record.
func readAudit(fd int, g *auditGrouper, idle func(), lg *log.Logger) error {
	buf := make([]byte, 64<<10)
	lost := 0
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		switch {
		case errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR):
			g.Flush()
			idle()
			continue
		case errors.Is(err, unix.ENOBUFS):
			// The socket overflowed: some records are lost.
			if lost++; lost == 1 || lost%1000 == 0 {
				lg.Printf("audit records lost (%d times): some Landlock denials are not logged", lost)
			}
			continue
		case err != nil:
			return fmt.Errorf("read audit records: %w", err)
		}
		for _, r := range parseAuditMessages(buf[:n]) {
			g.Add(r)
		}
		idle()
	}
}

// parseAuditMessages returns the audit records of one netlink datagram.
// Unlike syscall.ParseNetlinkMessage it takes a last message whose length
// is not a multiple of 4, as the kernel sends audit records.
func parseAuditMessages(b []byte) []AuditRecord {
	var out []AuditRecord
	for len(b) >= unix.NLMSG_HDRLEN {
		l := int(binary.NativeEndian.Uint32(b[0:4]))
		if l < unix.NLMSG_HDRLEN || l > len(b) {
			break
		}
		typ := int(binary.NativeEndian.Uint16(b[4:6]))
		out = append(out, AuditRecord{Type: typ, Text: strings.TrimRight(string(b[unix.NLMSG_HDRLEN:l]), "\x00\n")})
		b = b[min((l+unix.NLMSG_ALIGNTO-1)&^(unix.NLMSG_ALIGNTO-1), len(b)):]
	}
	return out
}
