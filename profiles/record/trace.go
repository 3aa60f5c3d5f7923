// Package record holds runcage's recording model: the trace format that the
// recorder agent (profiles/recorder) writes and that importers (strace logs,
// audit logs, complain logs) produce, and what is made of traces: profile
// generation and installation (Generate), Diff and Export. It does not
// depend on the agent.
package record

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"
)

// TraceVersion is the version of the trace format this package writes. A
// reader refuses traces with a newer version rather than guess at them.
const TraceVersion = 1

// Sources of a trace.
const (
	SourceRuncage  = "runcage"  // the recorder agent (record mode)
	SourceComplain = "complain" // the complain-mode audit log
	SourceStrace   = "strace"   // an `strace -f` log
	SourceAudit    = "audit"    // audit type=SECCOMP records
	SourceMerged   = "merged"   // the union of several traces
)

// Trace is what a workload was seen doing. It is a set: merging two traces
// is their union, and the order of entries carries no meaning (Normalize
// sorts them so that equal traces marshal to equal bytes).
type Trace struct {
	// Version is TraceVersion.
	Version int `json:"version"`
	// Name is the recording name: the runcage.dev/recording-name
	// annotation, the Kubernetes container name, or the container id.
	Name string `json:"name"`
	// Source says what produced the trace (Source* constants).
	Source string `json:"source"`
	// Containers lists the container ids the trace was recorded from.
	Containers []string `json:"containers,omitempty"`
	// Arch is the seccomp architecture the syscall names belong to, in the
	// OCI spelling ("SCMP_ARCH_X86_64").
	Arch string `json:"arch,omitempty"`
	// Started and Updated bound the recording.
	Started time.Time `json:"started,omitzero"`
	Updated time.Time `json:"updated,omitzero"`
	// Complete is true once the traced container has exited and the trace
	// was written for the last time. Periodic snapshots have it false.
	Complete bool `json:"complete"`
	// Syscalls maps each syscall name seen to the number of times it was
	// seen.
	Syscalls map[string]uint64 `json:"syscalls"`
	// Denied maps each syscall the workload tried but the profile it was
	// recorded under refused (and so did not run) to the number of tries.
	// A profile generated from the trace does not allow them; they are
	// listed so that a user can see what the workload would have liked.
	Denied map[string]uint64 `json:"denied,omitempty"`
	// Files are the paths the workload named in path-taking syscalls; the
	// recorder agent adds, for a path through a symlink of the container,
	// the path it resolves to, with the same access.
	Files []FileAccess `json:"files,omitempty"`
	// Sockets are the socket families, types and protocols created.
	Sockets []Socket `json:"sockets,omitempty"`
	// Ports are the IP ports the workload bound or connected to. Only the
	// recorder agent fills it.
	Ports []Port `json:"ports,omitempty"`
	// PortsAndListings is true when the trace's producer records IP ports
	// (Ports) and directory listings (access e), so that their absence is
	// evidence: the recorder agent sets it. Merge keeps it only when both
	// traces have it, or the merged one shows only syscalls. Landlock rules are generated only from such traces.
	PortsAndListings bool `json:"ports_and_listings,omitempty"`
	// Grants are Landlock file rules a person added with `runcage profile
	// widen --landlock-path`: generation grants them as they are.
	Grants []Grant `json:"landlock_grants,omitempty"`
	// Capabilities maps a capability name ("CAP_CHOWN") to the evidence that
	// the workload needed it, one short line each (at most a few per
	// capability).
	Capabilities map[string][]string `json:"capabilities,omitempty"`
	// Objects are the executables and shared objects the workload's
	// processes mapped executable (dlopen'ed modules included), with what
	// profiles/analysis found in each; generate adds the syscalls their
	// code can make (see Reached). Only the recorder agent fills it.
	Objects []Object `json:"objects,omitempty"`
}

// Object is one executable or shared object a recorded process mapped, and
// what profiles/analysis.Inspect found in it. The agent read it through
// /proc/PID/map_files (the mapped file itself, never a path looked up on
// the host), so Path is only a label: what the container's /proc/PID/maps
// called it. Everything here comes from the container and is untrusted:
// it is only looked up in tables, never used as a path.
type Object struct {
	// Path is the object's path as the container saw it.
	Path string `json:"path"`
	// SHA256 is the hex SHA-256 of the file's content.
	SHA256 string `json:"sha256"`
	// Analysis is the analysis.Kind that applies ("imports", "libc",
	// "go", "symbols", "none").
	Analysis string `json:"analysis"`
	// Imports are its undefined dynamic function symbols (analysis.Info).
	Imports []string `json:"imports,omitempty"`
	// Functions are the syscall wrappers and libc functions linked in
	// (analysis.Info).
	Functions []string `json:"functions,omitempty"`
	// Note says what the analysis could not see.
	Note string `json:"note,omitempty"`
}

// FileAccess is one path and how it was used.
type FileAccess struct {
	// Path is absolute, as seen inside the container.
	Path string `json:"path"`
	// Access is a set of letters, sorted: r (read), w (write), x (execute),
	// c (create), d (delete), e (directory listed: getdents on it), m
	// (mkdir), l (link/rename target), s (stat only), u (unix socket
	// connect/bind).
	Access string `json:"access"`
}

// Socket is one socket(2) triple, by name ("AF_INET", "SOCK_STREAM").
type Socket struct {
	Family   string `json:"family"`
	Type     string `json:"type"`
	Protocol int    `json:"protocol,omitempty"`
}

// Grant is a Landlock file rule given by a person rather than recorded:
// Access are profiles/landlock access names ("read", "write", ...).
type Grant struct {
	Path   string   `json:"path"`
	Access []string `json:"access"`
}

// Port uses.
const (
	PortBind    = "bind"
	PortConnect = "connect"
)

// Port is one bind(2) or connect(2) to an AF_INET or AF_INET6 address. The
// socket's type is not known where the address is read (the recorder sees
// the call before it runs, with only the file descriptor), so a UDP port
// appears here as a TCP one would.
type Port struct {
	// Use is PortBind or PortConnect.
	Use string `json:"use"`
	// Family is "AF_INET" or "AF_INET6".
	Family string `json:"family"`
	// Port is the port number; 0 is a bind to an ephemeral port.
	Port int `json:"port"`
}

// New returns an empty trace of the current version.
func New(name, source string) *Trace {
	return &Trace{Version: TraceVersion, Name: name, Source: source, Syscalls: map[string]uint64{}}
}

// errBadTrace is wrapped by every error about a trace's contents.
var errBadTrace = errors.New("bad trace")

// Parse decodes and checks a trace.
func Parse(data []byte) (*Trace, error) {
	var t Trace
	if err := json.Unmarshal(data, &t); err != nil {
		return nil, fmt.Errorf("%w: %w", errBadTrace, err)
	}
	if t.Version < 1 || t.Version > TraceVersion {
		return nil, fmt.Errorf("%w: version %d (this runcage reads 1 to %d)", errBadTrace, t.Version, TraceVersion)
	}
	if t.Syscalls == nil {
		t.Syscalls = map[string]uint64{}
	}
	t.Normalize()
	return &t, nil
}

// Marshal returns the normalized, indented JSON of t.
func (t *Trace) Marshal() ([]byte, error) {
	t.Normalize()
	b, err := json.MarshalIndent(t, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("marshal trace: %w", err)
	}
	return append(b, '\n'), nil
}

// Normalize sorts and deduplicates every set in t.
func (t *Trace) Normalize() {
	slices.Sort(t.Containers)
	t.Containers = slices.Compact(t.Containers)
	byPath := map[string]string{}
	for _, f := range t.Files {
		byPath[f.Path] = UnionAccess(byPath[f.Path], f.Access)
	}
	t.Files = t.Files[:0]
	for _, p := range slices.Sorted(maps.Keys(byPath)) {
		t.Files = append(t.Files, FileAccess{Path: p, Access: byPath[p]})
	}
	if len(t.Files) == 0 {
		t.Files = nil
	}
	sort.Slice(t.Sockets, func(i, j int) bool {
		a, b := t.Sockets[i], t.Sockets[j]
		if a.Family != b.Family {
			return a.Family < b.Family
		}
		if a.Type != b.Type {
			return a.Type < b.Type
		}
		return a.Protocol < b.Protocol
	})
	t.Sockets = slices.Compact(t.Sockets)
	slices.SortFunc(t.Ports, func(a, b Port) int {
		if c := strings.Compare(a.Use, b.Use); c != 0 {
			return c
		}
		if a.Port != b.Port {
			return a.Port - b.Port
		}
		return strings.Compare(a.Family, b.Family)
	})
	t.Ports = slices.Compact(t.Ports)
	grants := map[string][]string{}
	for _, g := range t.Grants {
		grants[g.Path] = append(grants[g.Path], g.Access...)
	}
	t.Grants = nil
	for _, p := range slices.Sorted(maps.Keys(grants)) {
		a := grants[p]
		slices.Sort(a)
		t.Grants = append(t.Grants, Grant{Path: p, Access: slices.Compact(a)})
	}
	for c, ev := range t.Capabilities {
		slices.Sort(ev)
		t.Capabilities[c] = slices.Compact(ev)
	}
	slices.SortFunc(t.Objects, compareObjects)
	t.Objects = slices.CompactFunc(t.Objects, func(a, b Object) bool { return a.Path == b.Path && a.SHA256 == b.SHA256 })
}

// compareObjects orders objects by path, then content.
func compareObjects(a, b Object) int {
	if c := strings.Compare(a.Path, b.Path); c != 0 {
		return c
	}
	return strings.Compare(a.SHA256, b.SHA256)
}

// Merge adds everything in o to t (set union; counts add up).
func (t *Trace) Merge(o *Trace) {
	if t.Syscalls == nil {
		t.Syscalls = map[string]uint64{}
	}
	for s, n := range o.Syscalls {
		t.Syscalls[s] += n
	}
	for s, n := range o.Denied {
		if t.Denied == nil {
			t.Denied = map[string]uint64{}
		}
		t.Denied[s] += n
	}
	t.Containers = append(t.Containers, o.Containers...)
	t.Files = append(t.Files, o.Files...)
	t.Sockets = append(t.Sockets, o.Sockets...)
	t.Ports = append(t.Ports, o.Ports...)
	t.Grants = append(t.Grants, o.Grants...)
	if o.PortsAndListings || len(o.Files)+len(o.Ports)+len(o.Objects)+len(o.Grants) > 0 {
		// A log that shows only syscalls (denials, complain, audit)
		// says nothing about files either way.
		t.PortsAndListings = t.PortsAndListings && o.PortsAndListings
	}
	t.Objects = append(t.Objects, o.Objects...)
	for c, ev := range o.Capabilities {
		if t.Capabilities == nil {
			t.Capabilities = map[string][]string{}
		}
		t.Capabilities[c] = append(t.Capabilities[c], ev...)
	}
	if t.Arch == "" {
		t.Arch = o.Arch
	}
	if t.Started.IsZero() || (!o.Started.IsZero() && o.Started.Before(t.Started)) {
		t.Started = o.Started
	}
	if o.Updated.After(t.Updated) {
		t.Updated = o.Updated
	}
	t.Complete = t.Complete && o.Complete
	t.Normalize()
}

// SyscallNames returns the sorted names of the syscalls seen.
func (t *Trace) SyscallNames() []string {
	return slices.Sorted(maps.Keys(t.Syscalls))
}

// UnionAccess returns the union of two FileAccess.Access letter sets,
// sorted.
func UnionAccess(a, b string) string {
	seen := map[rune]bool{}
	for _, r := range a + b {
		seen[r] = true
	}
	out := make([]rune, 0, len(seen))
	for r := range seen {
		out = append(out, r)
	}
	slices.Sort(out)
	return string(out)
}
