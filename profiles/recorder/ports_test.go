package recorder

import (
	"encoding/binary"
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runcage/runcage/profiles/record"
)

// The recorder keeps the IP ports a workload binds and connects to, the
// directories it lists, and the paths it names resolved in its root, as the
// evidence Landlock rules are generated from.
func TestHandlerRecordsPortsAndListings(t *testing.T) {
	const (
		nrConnect    = 42
		nrGetdents64 = 217
	)
	inet := func(fam uint16, port uint16) []byte {
		sa := make([]byte, 16)
		binary.NativeEndian.PutUint16(sa, fam)
		binary.BigEndian.PutUint16(sa[2:], port)
		return sa
	}
	tgt := &fakeTarget{
		mem: map[uint64][]byte{
			0x1000: inet(afInet, 8080),
			0x2000: inet(afInet6, 443),
			0x3000: inet(afInet, 0),
			0x4000: inet(afUnix, 0),
			0x5000: cstr("/etc/localtime"),
		},
		cwd:   "/srv/data/",
		links: map[string]string{"/etc/localtime": "/usr/share/zoneinfo/Etc/UTC"},
	}
	filter := testFilter()
	filter.Syscalls = append(filter.Syscalls, specs.LinuxSyscall{Names: []string{"connect", "getdents64"}, Action: specs.ActAllow})
	nm := fakeNames{nrBind: "bind", nrConnect: "connect", nrGetdents64: "getdents64", nrOpenat: "openat"}
	h, err := newHandler(AgentConfig{Mode: ModeRecord, Name: "web", Container: "c1", Profile: "p", Filter: filter}, nm, tgt, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	valid := func() bool { return true }
	for _, n := range []notification{
		notif(nrBind, 3, 0x1000, 16),
		notif(nrBind, 3, 0x1000, 16),
		notif(nrConnect, 4, 0x2000, 28),
		notif(nrBind, 5, 0x3000, 16),    // an ephemeral port: kept, as port 0
		notif(nrConnect, 6, 0x3000, 16), // connect to port 0 fails: not kept
		notif(nrConnect, 7, 0x4000, 16), // not an IP address
		notif(nrGetdents64, 8, 0, 4096),
		notif(nrOpenat, uint64(0xffffff9c), 0x5000, 0),
	} {
		h.Handle(n, valid)
	}
	tr := h.Trace(true)
	want := []record.Port{
		{Use: record.PortBind, Family: "AF_INET", Port: 0},
		{Use: record.PortBind, Family: "AF_INET", Port: 8080},
		{Use: record.PortConnect, Family: "AF_INET6", Port: 443},
	}
	if !slices.Equal(tr.Ports, want) {
		t.Errorf("ports = %v, want %v", tr.Ports, want)
	}
	for _, f := range []record.FileAccess{
		{Path: "/srv/data", Access: "e"},
		{Path: "/etc/localtime", Access: "r"},              // as named
		{Path: "/usr/share/zoneinfo/Etc/UTC", Access: "r"}, // as resolved
	} {
		if !slices.Contains(tr.Files, f) {
			t.Errorf("files = %v, want %v", tr.Files, f)
		}
	}
}
