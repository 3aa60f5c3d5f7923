package recorder

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/runcage/runcage/profiles/record"
)

// What kernel 6.18 sent over the audit multicast group while two runcage
// containers ran under one Landlock profile (TestLandlockDenialsReported):
// container A (helper pid 12101) was denied /etc/secret-a and TCP 8081,
// container B (helper pid 12158) /etc/secret-b and TCP 8082, and a process
// exec'd into A (pid 12188, a domain of its own) /etc/group; its domain was
// deallocated when it exited. Each event ends with its EOE record.
var twoContainers = []AuditRecord{
	{1423, `audit(1796572502.141:101058): domain=16cc20594 blockers=fs.read_file path="/etc/secret-a" dev="vda" ino=10011435`},
	{1424, `audit(1796572502.141:101058): domain=16cc20594 status=allocated mode=enforcing pid=12101 uid=100000 exe="/dev/.runcage-landlock" comm=".runcage-landlo"`},
	{1300, `audit(1796572502.141:101058): arch=c000003e syscall=257 success=no exit=-13 a0=ffffff9c a1=7fff815d2f75 a2=0 a3=0 items=0 ppid=12101 pid=12136 auid=4294967295 uid=100000 gid=100000 euid=100000 suid=100000 fsuid=100000 egid=100000 sgid=100000 fsgid=100000 tty=(none) ses=4294967295 comm="cat" exe="/bin/busybox" key=(null)`},
	{1320, `audit(1796572502.141:101058): `},
	{1423, `audit(1796572502.149:101059): domain=16cc20594 blockers=net.bind_tcp src=8081`},
	{1300, `audit(1796572502.149:101059): arch=c000003e syscall=49 success=no exit=-13 a0=3 a1=7ffe1408edb0 a2=10 a3=47fd80 items=0 ppid=12101 pid=12137 auid=4294967295 uid=100000 gid=100000 euid=100000 suid=100000 fsuid=100000 egid=100000 sgid=100000 fsgid=100000 tty=(none) ses=4294967295 comm="bindtest" exe="/bin/bindtest" key=(null)`},
	{1320, `audit(1796572502.149:101059): `},
	{1423, `audit(1796572502.321:101060): domain=16cc205a2 blockers=fs.read_file path="/etc/secret-b" dev="vda" ino=10030184`},
	{1424, `audit(1796572502.321:101060): domain=16cc205a2 status=allocated mode=enforcing pid=12158 uid=165536 exe="/dev/.runcage-landlock" comm=".runcage-landlo"`},
	{1300, `audit(1796572502.321:101060): arch=c000003e syscall=257 success=no exit=-13 a0=ffffff9c a1=7fffcf2b9f75 a2=0 a3=0 items=0 ppid=12158 pid=12173 auid=4294967295 uid=165536 gid=165536 euid=165536 suid=165536 fsuid=165536 egid=165536 sgid=165536 fsgid=165536 tty=(none) ses=4294967295 comm="cat" exe="/bin/busybox" key=(null)`},
	{1320, `audit(1796572502.321:101060): `},
	{1423, `audit(1796572502.329:101061): domain=16cc205a2 blockers=net.bind_tcp src=8082`},
	{1300, `audit(1796572502.329:101061): arch=c000003e syscall=49 success=no exit=-13 a0=3 a1=7fff6373ff40 a2=10 a3=47fd80 items=0 ppid=12158 pid=12174 auid=4294967295 uid=165536 gid=165536 euid=165536 suid=165536 fsuid=165536 egid=165536 sgid=165536 fsgid=165536 tty=(none) ses=4294967295 comm="bindtest" exe="/bin/bindtest" key=(null)`},
	{1320, `audit(1796572502.329:101061): `},
	{1423, `audit(1796572502.401:101062): domain=16cc205ab blockers=fs.read_file path="/etc/group" dev="vda" ino=10011433`},
	{1424, `audit(1796572502.401:101062): domain=16cc205ab status=allocated mode=enforcing pid=12188 uid=100000 exe="/dev/.runcage-landlock" comm=".runcage-landlo"`},
	{1300, `audit(1796572502.401:101062): arch=c000003e syscall=257 success=no exit=-13 a0=ffffff9c a1=7ffe6bfedf8c a2=0 a3=0 items=0 ppid=12172 pid=12188 auid=4294967295 uid=100000 gid=100000 euid=100000 suid=100000 fsuid=100000 egid=100000 sgid=100000 fsgid=100000 tty=(none) ses=4294967295 comm="cat" exe="/bin/busybox" key=(null)`},
	{1320, `audit(1796572502.401:101062): `},
	{1424, `audit(1796572502.473:101063): domain=16cc205ab status=deallocated denials=1`},
	{1305, `audit(1796572502.733:101064): op=set audit_enabled=0 old=1 auid=4294967295 ses=4294967295 res=1`},
	{1320, `audit(1796572502.733:101064): `},
}

// serials returns the serial of each event.
func serials(events [][]AuditRecord) []string {
	var out []string
	for _, ev := range events {
		s, _, _ := auditHeader(ev[0].Text)
		out = append(out, s)
	}
	return out
}

// An event ends at its EOE record, or at a record of another serial when
// the kernel sent none, or at Flush; events without a Landlock record are
// dropped, and EOE records are not kept.
func TestAuditGrouper(t *testing.T) {
	var got [][]AuditRecord
	g := &auditGrouper{emit: func(r []AuditRecord) { got = append(got, r) }}
	for _, r := range twoContainers {
		g.Add(r)
	}
	g.Flush()
	want := []string{"101058", "101059", "101060", "101061", "101062", "101063"}
	if s := serials(got); !slices.Equal(s, want) {
		t.Fatalf("events %v, want %v", s, want)
	}
	if len(got[0]) != 3 || slices.ContainsFunc(got[0], func(r AuditRecord) bool { return r.Type == auditEOE }) {
		t.Errorf("first event: %v", got[0])
	}

	// Without EOE records: a new serial ends an event, Flush the last.
	got = nil
	for _, r := range twoContainers[:len(twoContainers)-2] { // up to the deallocation
		if r.Type != auditEOE {
			g.Add(r)
		}
	}
	if s := serials(got); !slices.Equal(s, want[:5]) {
		t.Errorf("without EOE, before Flush: %v", s)
	}
	g.Flush()
	if s := serials(got); !slices.Equal(s, want) {
		t.Errorf("without EOE: %v, want %v", s, want)
	}

	// An event is capped at maxEventRecords records.
	got = nil
	for range 100 {
		g.Add(AuditRecord{AuditLandlockAccess, `audit(1.0:5): domain=1 blockers=fs.read_file path="/x"`})
	}
	g.Flush()
	if len(got) != 1 || len(got[0]) != maxEventRecords {
		t.Errorf("a long event: %d events, %d records", len(got), len(got[0]))
	}
}

// The kernel sends audit records with a length that is not a multiple of
// 4; syscall.ParseNetlinkMessage refuses them, parseAuditMessages does not.
func TestParseAuditMessages(t *testing.T) {
	msg := func(typ uint16, text string) []byte {
		b := make([]byte, 16, 16+len(text))
		binary.NativeEndian.PutUint32(b[0:], uint32(16+len(text)))
		binary.NativeEndian.PutUint16(b[4:], typ)
		return append(b, text...)
	}
	one := msg(1423, `audit(1.0:7): domain=1 blockers=net.bind_tcp src=8081`) // 71 bytes
	got := parseAuditMessages(one)
	if len(got) != 1 || got[0].Type != 1423 || !strings.HasSuffix(got[0].Text, "src=8081") {
		t.Errorf("one record: %+v", got)
	}
	two := append(append(msg(1300, "abc"), 0), msg(1320, "audit(1.0:7): \x00")...)
	if got := parseAuditMessages(two); len(got) != 2 || got[0].Text != "abc" || got[1].Text != "audit(1.0:7): " {
		t.Errorf("two records: %+v", got)
	}
	for _, bad := range [][]byte{nil, one[:10], one[:40]} {
		if got := parseAuditMessages(bad); len(got) != 0 {
			t.Errorf("%q: %+v", bad, got)
		}
	}
}

// fakeProcs is procInfo over a table: pid → start time and pid namespace;
// a pid it does not hold has exited.
type fakeProcs map[int][2]uint64

func (f fakeProcs) Start(pid int) (uint64, error) {
	if p, ok := f[pid]; ok {
		return p[0], nil
	}
	return 0, errors.New("no such process")
}

func (f fakeProcs) PidNS(pid int) (uint64, error) {
	if p, ok := f[pid]; ok {
		return p[1], nil
	}
	return 0, errors.New("no such process")
}

type llTest struct {
	t     *testing.T
	tr    *landlockTracker
	out   *bytes.Buffer
	clock time.Time
}

// newLLTest returns a tracker over procs whose agent is in pid namespace 1.
func newLLTest(t *testing.T, procs fakeProcs) *llTest {
	l := &llTest{t: t, out: &bytes.Buffer{}, clock: time.Unix(1796572502, 0)}
	procs[os.Getpid()] = [2]uint64{1, 1}
	l.tr = newLandlockTracker(l.out, newNameResolver(), procs, func() time.Time { return l.clock }, log.New(io.Discard, "", 0))
	return l
}

func (l *llTest) start(id string, pid int) {
	l.tr.Started(DenialKey(id), AgentConfig{Container: id, Name: id, Profile: "ll", Mode: ModeEnforce}, pid)
}

// feed hands the tracker the events of recs, then lets pending ones wait
// and tries them again.
func (l *llTest) feed(recs []AuditRecord) {
	g := &auditGrouper{emit: l.tr.Event}
	for _, r := range recs {
		g.Add(r)
	}
	g.Flush()
	l.clock = l.clock.Add(pendingRetry)
	l.tr.Retry()
}

// logged returns "container access target" of every event written.
func (l *llTest) logged() []string {
	var out []string
	err := record.ScanAuditEvents(bytes.NewReader(l.out.Bytes()), func(ev record.AuditEvent) {
		if ev.Landlock == nil || ev.Action != record.ActionDenied || ev.Errno != 13 || ev.Exe == "" || ev.Pid == 0 {
			l.t.Errorf("not a Landlock denial event: %+v", ev)
			return
		}
		target := ev.Landlock.Path
		if ev.Landlock.Port != 0 {
			target = fmt.Sprint("tcp:", ev.Landlock.Port)
		}
		out = append(out, ev.Container+" "+strings.Join(ev.Landlock.Access, ",")+" "+target)
	}, func() { l.t.Errorf("a line that is not an AuditEvent") })
	if err != nil {
		l.t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// Each denial goes to the container whose helper (the pid runc handed the
// notify fd for) created its domain: A's and the exec'd process's to A,
// B's to B. The domain's deallocation forgets it.
func TestLandlockAttribution(t *testing.T) {
	l := newLLTest(t, fakeProcs{12101: {500, 7}, 12158: {600, 8}, 12188: {700, 7}})
	l.start("a", 12101)
	l.start("b", 12158)
	l.start("a", 12188) // runc exec
	l.feed(twoContainers)
	want := []string{"a bind tcp:8081", "a read /etc/group", "a read /etc/secret-a", "b bind tcp:8082", "b read /etc/secret-b"}
	if got := l.logged(); !slices.Equal(got, want) {
		t.Errorf("logged %q, want %q", got, want)
	}
	if _, ok := l.tr.domains["16cc205ab"]; ok || len(l.tr.domains) != 2 || l.tr.unattributed != 0 {
		t.Errorf("domains %v (the exec'd one deallocated), %d unattributed", l.tr.domains, l.tr.unattributed)
	}
	// Counts: a second denial of the same access is counted, not logged
	// again at once; the final flush writes the total.
	l.out.Reset()
	l.feed(twoContainers[4:7])
	l.tr.Flush(true)
	if got := l.logged(); !slices.Equal(got, []string{"a bind tcp:8081"}) || !strings.Contains(l.out.String(), `"count":2`) {
		t.Errorf("after a second bind denial: %s", l.out)
	}
}

// Domains runcage's helper did not create are ignored: a process of the
// host, or one that restricted itself in the container (its domain's
// creator is not a pid runc handed over), and denials no container
// claims are counted.
func TestLandlockForeignDomains(t *testing.T) {
	l := newLLTest(t, fakeProcs{12101: {500, 7}, 12136: {501, 7}, 4242: {900, 1}})
	l.start("a", 12101)
	host := []AuditRecord{
		{1423, `audit(1.0:9): domain=99 blockers=fs.read_file path="/etc/shadow"`},
		{1424, `audit(1.0:9): domain=99 status=allocated mode=enforcing pid=4242 uid=0 exe="/usr/bin/sandboxed" comm="sandboxed"`},
		{1300, `audit(1.0:9): arch=c000003e syscall=257 success=no exit=-13 ppid=1 pid=4242 comm="sandboxed" exe="/usr/bin/sandboxed"`},
	}
	nested := []AuditRecord{
		{1423, `audit(1.0:10): domain=98 blockers=fs.read_file path="/etc/passwd"`},
		{1424, `audit(1.0:10): domain=98 status=allocated mode=enforcing pid=12136 uid=100000 exe="/bin/app" comm="app"`},
		{1300, `audit(1.0:10): arch=c000003e syscall=257 success=no exit=-13 ppid=12101 pid=12136 comm="app" exe="/bin/app"`},
	}
	l.feed(append(host, nested...))
	if got := l.logged(); len(got) != 0 {
		t.Errorf("foreign domains logged: %q", got)
	}
	if c, ok := l.tr.domains["99"]; !ok || c != nil || l.tr.unattributed != 2 {
		t.Errorf("domains %v, %d unattributed", l.tr.domains, l.tr.unattributed)
	}
	// A later denial of an ignored domain stays ignored, though its
	// process has a container's parent.
	l.feed([]AuditRecord{{1423, `audit(1.0:11): domain=98 blockers=fs.read_file path="/etc/group"`},
		{1300, `audit(1.0:11): arch=c000003e syscall=257 success=no exit=-13 ppid=12101 pid=12136 comm="app" exe="/bin/app"`}})
	if got := l.logged(); len(got) != 0 {
		t.Errorf("a later denial of an ignored domain logged: %q", got)
	}
}

// A denial whose domain was not seen allocated (the agent started after
// its first denial) is attributed through the denied process's pid, its
// parent's, or its pid namespace; never to a pid that is another process
// now, nor through the host's pid namespace or one two containers share.
func TestLandlockAttributionWithoutDomainRecord(t *testing.T) {
	bind := func(domain string, pid, ppid int) []AuditRecord {
		return []AuditRecord{
			{1423, fmt.Sprintf(`audit(1.0:%d): domain=%s blockers=net.bind_tcp src=8081`, pid, domain)},
			{1300, fmt.Sprintf(`audit(1.0:%d): arch=c000003e syscall=49 success=no exit=-13 ppid=%d pid=%d comm="b" exe="/bin/bindtest"`, pid, ppid, pid)},
		}
	}
	procs := fakeProcs{100: {1, 7}, 101: {2, 7}, 200: {3, 8}, 201: {4, 8}, 300: {5, 9}, 400: {7, 1}, 500: {9, 10}, 600: {8, 10}, 601: {10, 10}}
	l := newLLTest(t, procs)
	l.start("bypid", 100)
	l.start("byns", 200)
	l.start("reused", 300)
	l.start("host", 400)
	l.start("shared1", 500)
	l.start("shared2", 600)
	procs[300] = [2]uint64{99, 9} // pid 300 is another process now
	l.feed(bind("d1", 100, 1))    // the helper's own denial
	l.feed(bind("d2", 102, 100))  // its child's, gone: by the parent
	l.feed(bind("d3", 201, 1))    // by the namespace
	l.feed(bind("d4", 301, 300))  // gone, and its parent is another process now: nobody
	l.feed(bind("d5", 401, 400))  // host namespace... by the parent, which runc handed over
	l.feed(bind("d6", 601, 1))    // a namespace two containers share: nobody
	l.feed(bind("d7", 999, 1))    // gone, parent unknown: nobody
	want := []string{"bypid bind tcp:8081", "bypid bind tcp:8081", "byns bind tcp:8081", "host bind tcp:8081"}
	slices.Sort(want)
	got := l.logged()
	// One (container, port, exe) counts once: bypid's two are one line.
	want = slices.Compact(want)
	if !slices.Equal(got, want) {
		t.Errorf("logged %q, want %q", got, want)
	}
	if l.tr.unattributed != 3 {
		t.Errorf("%d unattributed, want 3", l.tr.unattributed)
	}
}

// Processes and containers are forgotten landlockGrace after they exit,
// with their domains and a final count; the tables are bounded.
func TestLandlockTrackerForgets(t *testing.T) {
	l := newLLTest(t, fakeProcs{12101: {500, 7}, 12158: {600, 8}, 12188: {700, 7}})
	l.start("a", 12101)
	l.start("b", 12158)
	l.start("a", 12188)
	l.feed(twoContainers)
	l.tr.Exited(12188)
	l.tr.Exited(12101)
	l.clock = l.clock.Add(landlockGrace)
	l.tr.Sweep()
	if len(l.tr.pids) != 1 || len(l.tr.containers) != 1 || len(l.tr.domains) != 1 {
		t.Errorf("after a's exit: pids %v, containers %v, domains %v", l.tr.pids, l.tr.containers, l.tr.domains)
	}
	for i := range maxLandlockPids + 10 {
		l.start("many", 100000+i)
	}
	if len(l.tr.pids) > maxLandlockPids {
		t.Errorf("%d pids kept", len(l.tr.pids))
	}
}

// Past maxAuditEntries, a container's new Landlock denials count under
// their access alone: a workload that probes every file cannot grow the
// agent or the log.
func TestSeenLandlockBounded(t *testing.T) {
	var out bytes.Buffer
	w := newAuditWriter(&out, record.AuditEvent{Container: "c"}, time.Now)
	for i := range maxAuditEntries + 500 {
		w.SeenLandlock("", "openat", 1, "/bin/cat", record.LandlockAccess{Path: fmt.Sprint("/f", i), Access: []string{"read"}})
	}
	if len(w.entries) != maxAuditEntries+1 {
		t.Errorf("%d entries", len(w.entries))
	}
	if !strings.Contains(out.String(), `"exe":"(more)"`) || strings.Contains(out.String(), fmt.Sprint(`"/f`, maxAuditEntries+1, `"`)) {
		t.Errorf("the entries past the bound are not counted together")
	}
}

func TestLandlockAccessNames(t *testing.T) {
	for _, c := range []struct{ in, want []string }{
		{[]string{"fs.read_file"}, []string{"read"}},
		{[]string{"fs.write_file", "fs.truncate"}, []string{"write"}},
		{[]string{"fs.truncate"}, []string{"truncate"}},
		{[]string{"fs.make_reg", "fs.make_dir"}, []string{"create"}},
		{[]string{"fs.read_dir", "fs.execute"}, []string{"list", "execute"}},
		{[]string{"net.bind_tcp"}, []string{"bind"}},
		{[]string{"net.connect_tcp"}, []string{"connect"}},
		{[]string{"scope.signal"}, []string{"signal"}},
		{[]string{"fs.change_topology"}, []string{"fs.change_topology"}},
	} {
		if got := LandlockAccessNames(c.in); !slices.Equal(got, c.want) {
			t.Errorf("%v: %v, want %v", c.in, got, c.want)
		}
	}
}

// A denial that arrives before the agent registered its process (runc
// handed the fd over, the agent had not read it yet) waits and is
// attributed on the second try.
func TestLandlockLateRegistration(t *testing.T) {
	l := newLLTest(t, fakeProcs{12101: {500, 7}})
	g := &auditGrouper{emit: l.tr.Event}
	for _, r := range twoContainers[:4] {
		g.Add(r)
	}
	if len(l.tr.pending) != 1 || l.out.Len() != 0 {
		t.Fatalf("pending %v, logged %q", l.tr.pending, l.out)
	}
	l.start("a", 12101)
	l.tr.Retry() // too early: it waits
	if len(l.tr.pending) != 1 {
		t.Fatalf("retried before pendingRetry")
	}
	l.clock = l.clock.Add(pendingRetry)
	l.tr.Retry()
	if got := l.logged(); !slices.Equal(got, []string{"a read /etc/secret-a"}) || len(l.tr.pending) != 0 || l.tr.unattributed != 0 {
		t.Errorf("logged %q, pending %d, unattributed %d", got, len(l.tr.pending), l.tr.unattributed)
	}
}
