package recorder

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/runcage/runcage/profiles/analysis"
	"github.com/runcage/runcage/profiles/record"
)

// Limits on what the object tracker keeps and reads.
const (
	maxObjects      = 1024
	maxObjectSize   = 1 << 30 // larger files are listed but not read
	maxMapsSize     = 8 << 20
	maxTrackedTasks = 1 << 16
)

// objectTracker notes the executables and shared objects that the
// container's processes map executable, for record.Trace.Objects. Its
// zero value is ready to use, and it is safe for concurrent use.
//
// Which processes: those that belong to the workload, not runc. A process
// joins when it makes an execve or execveat (runc init becomes the
// container's program that way, and so does every `runc exec`), or when it
// is first seen and its thread group or its parent has joined (threads and
// forked children). runc's own init never execs before its filter is
// loaded, so runc's binary and libraries are never recorded.
//
// A process that joins by its execve is scanned only once its image has
// changed: until the execve has replaced it, the process is still runc
// init, whose other threads (Go starts new ones after the filter is loaded)
// may make notified syscalls meanwhile. The image is told by the file
// /proc/PID/exe names (device and inode), read when the execve is notified
// and again before each scan.
//
// When: the tracker reads /proc/PID/maps at a task's first notification
// and again at its first notification after it asked for an executable
// mapping (mmap or mprotect with PROT_EXEC: a library loaded by ld.so or
// dlopen) or an exec. The task is blocked in a syscall while this runs.
//
// How: each new file (by device and inode) is opened through
// /proc/PID/map_files/START-END, which the kernel resolves to the mapped
// file itself: no path from the container is looked up on the host. Its
// bytes are hashed and given to analysis.Inspect. What was read is kept
// only if the notification is still valid afterwards (the pid was not
// reused).
type objectTracker struct {
	mu sync.Mutex
	// joined holds the thread group ids of workload processes.
	joined map[int]bool
	// preExec holds, for a process that joined by an execve it has not
	// finished yet, the executable it ran before (exeID).
	preExec map[int]exeID
	// seen holds the tasks already scanned; dirty those to scan again.
	seen, dirty map[uint32]bool
	// byFile maps a device and inode to the index of its first object;
	// listed holds every file and path pair recorded.
	byFile  map[fileKey]int
	listed  map[listedKey]bool
	objects []record.Object
	// graphs holds each object's call graph (analysis.Info.Graph), by
	// the index of objects; list narrows Imports with them.
	graphs []*analysis.Graph
	// procRoot is /proc (tests may point it elsewhere).
	procRoot string
}

type fileKey struct {
	dev string
	ino uint64
}

// exeID names the file a process runs, from stat of /proc/PID/exe.
type exeID struct{ dev, ino uint64 }

// exe returns the identity of the executable task pid runs.
func (o *objectTracker) exe(pid uint32) (exeID, error) {
	var st unix.Stat_t
	if err := unix.Stat(fmt.Sprintf("%s/%d/exe", o.proc(), pid), &st); err != nil {
		return exeID{}, err
	}
	return exeID{uint64(st.Dev), st.Ino}, nil
}

type listedKey struct {
	file fileKey
	path string
}

// protExec is PROT_EXEC.
const protExec = 0x4

// observe is called for every notification the agent records (task pid,
// syscall name, arguments); valid reports whether the notification is
// still pending.
func (o *objectTracker) observe(pid uint32, name string, args [6]uint64, valid func() bool) {
	o.mu.Lock()
	if o.seen == nil || len(o.seen) >= maxTrackedTasks {
		// Forget the tasks seen (they are scanned again at most once
		// more), and the processes that have exited.
		o.seen, o.dirty = map[uint32]bool{}, map[uint32]bool{}
		if o.joined == nil {
			o.joined, o.byFile, o.listed = map[int]bool{}, map[fileKey]int{}, map[listedKey]bool{}
			o.preExec = map[int]exeID{}
		}
		for tgid := range o.joined {
			if _, err := os.Stat(fmt.Sprintf("%s/%d", o.proc(), tgid)); err != nil {
				delete(o.joined, tgid)
				delete(o.preExec, tgid)
			}
		}
	}
	scan := !o.seen[pid] || o.dirty[pid]
	o.seen[pid] = true
	delete(o.dirty, pid)
	switch name {
	case "execve", "execveat":
		o.dirty[pid] = true
		scan = false // the image is about to change; scan the new one
	case "mmap", "mmap2", "mprotect", "pkey_mprotect":
		if args[2]&protExec != 0 {
			o.dirty[pid] = true
		}
	}
	o.mu.Unlock()
	if name == "execve" || name == "execveat" {
		tgid, ppid, err := o.taskIDs(pid)
		if err != nil {
			return
		}
		// An exe that cannot be read leaves the zero exeID: the first
		// scan that reads one goes ahead.
		before, _ := o.exe(pid)
		if !valid() {
			return
		}
		o.mu.Lock()
		if !o.joined[tgid] && !o.joined[ppid] {
			o.preExec[tgid] = before
		}
		o.joined[tgid] = true
		o.mu.Unlock()
		return
	}
	if scan {
		o.scan(pid, valid)
	}
}

func (o *objectTracker) proc() string {
	if o.procRoot == "" {
		return "/proc"
	}
	return o.procRoot
}

// taskIDs returns the thread group id and parent pid of task pid, from
// /proc/PID/status.
func (o *objectTracker) taskIDs(pid uint32) (tgid, ppid int, err error) {
	b, err := os.ReadFile(fmt.Sprintf("%s/%d/status", o.proc(), pid))
	if err != nil {
		return 0, 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch k {
		case "Tgid":
			tgid, _ = strconv.Atoi(strings.TrimSpace(v))
		case "PPid":
			ppid, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	if tgid == 0 {
		return 0, 0, fmt.Errorf("%s/%d/status: no Tgid", o.proc(), pid)
	}
	return tgid, ppid, nil
}

// mapping is one executable, file-backed line of /proc/PID/maps.
type mapping struct {
	rng, path string
	key       fileKey
}

// scan reads task pid's executable mappings and records the files not
// seen yet, if pid belongs to the workload.
func (o *objectTracker) scan(pid uint32, valid func() bool) {
	tgid, ppid, err := o.taskIDs(pid)
	if err != nil {
		return
	}
	o.mu.Lock()
	member := o.joined[tgid] || o.joined[ppid]
	if member {
		o.joined[tgid] = true
	}
	before, execing := o.preExec[tgid]
	o.mu.Unlock()
	if !member {
		return
	}
	if execing {
		// Joined by an execve: scan only once it has replaced the image.
		// The exe changes with the memory map, so maps read after this
		// are the new program's.
		now, err := o.exe(pid)
		if err != nil || now == before {
			o.mu.Lock()
			o.dirty[pid] = true
			o.mu.Unlock()
			return
		}
		o.mu.Lock()
		delete(o.preExec, tgid)
		o.mu.Unlock()
	}
	maps, err := readLimited(fmt.Sprintf("%s/%d/maps", o.proc(), pid), maxMapsSize)
	if err != nil {
		return
	}
	var found []record.Object
	var graphs []*analysis.Graph
	var keys []listedKey
	for _, m := range parseExecMaps(maps) {
		k := listedKey{m.key, m.path}
		o.mu.Lock()
		i, known := o.byFile[m.key]
		skip := o.listed[k] || len(o.objects)+len(found) >= maxObjects
		var obj record.Object
		var g *analysis.Graph
		if known {
			obj, g = o.objects[i], o.graphs[i] // the same file under another path
			obj.Path = m.path
		}
		o.mu.Unlock()
		if skip {
			continue
		}
		if !known {
			obj, g = o.inspect(pid, m)
		}
		found, graphs, keys = append(found, obj), append(graphs, g), append(keys, k)
	}
	if len(found) == 0 || !valid() {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	for i, obj := range found {
		k := keys[i]
		if o.listed[k] || len(o.objects) >= maxObjects {
			continue // another task recorded it meanwhile
		}
		o.listed[k] = true
		if _, ok := o.byFile[k.file]; !ok {
			o.byFile[k.file] = len(o.objects)
		}
		o.objects, o.graphs = append(o.objects, obj), append(o.graphs, graphs[i])
	}
}

// inspect reads one mapped file through /proc/PID/map_files and analyses
// it. Failures become the object's note: the object is still listed.
func (o *objectTracker) inspect(pid uint32, m mapping) (record.Object, *analysis.Graph) {
	obj := record.Object{Path: m.path, Analysis: string(analysis.KindNone)}
	f, err := os.Open(fmt.Sprintf("%s/%d/map_files/%s", o.proc(), pid, m.rng))
	if err != nil {
		obj.Note = fmt.Sprintf("not read: %v", err)
		return obj, nil
	}
	defer f.Close()
	fi, err := f.Stat()
	switch {
	case err != nil:
		obj.Note = fmt.Sprintf("not read: %v", err)
		return obj, nil
	case !fi.Mode().IsRegular():
		obj.Note = "not a regular file"
		return obj, nil
	case fi.Size() > maxObjectSize:
		obj.Note = fmt.Sprintf("not read: %d bytes, more than %d", fi.Size(), maxObjectSize)
		return obj, nil
	}
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, fi.Size())); err != nil {
		obj.Note = fmt.Sprintf("not read: %v", err)
		return obj, nil
	}
	obj.SHA256 = hex.EncodeToString(h.Sum(nil))
	info, err := analysis.Inspect(io.NewSectionReader(f, 0, fi.Size()))
	if err != nil {
		obj.Note = err.Error()
		return obj, nil
	}
	obj.Analysis, obj.Imports, obj.Functions, obj.Note = string(info.Kind), info.Imports, info.Functions, info.Note
	return obj, info.Graph
}

// parseExecMaps returns the executable, file-backed mappings of a
// /proc/PID/maps text: "START-END PERMS OFFSET DEV INODE PATH". Pseudo
// mappings ([vdso], [heap]) and anonymous ones have no path starting with
// '/' or inode 0 and are skipped; " (deleted)" is kept in the path, so a
// replaced file is told apart.
func parseExecMaps(text []byte) []mapping {
	var out []mapping
	sc := bufio.NewScanner(bytes.NewReader(text))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		var f [5]string
		rest := line
		ok := true
		for i := range f {
			rest = strings.TrimLeft(rest, " ")
			j := strings.IndexByte(rest, ' ')
			if j < 0 {
				ok = false
				break
			}
			f[i], rest = rest[:j], rest[j+1:]
		}
		path := strings.TrimLeft(rest, " ")
		if !ok || len(f[1]) < 3 || f[1][2] != 'x' || !strings.HasPrefix(path, "/") || !validRange(f[0]) {
			continue
		}
		ino, err := strconv.ParseUint(f[4], 10, 64)
		if err != nil || ino == 0 {
			continue
		}
		out = append(out, mapping{rng: mapFilesName(f[0]), path: path, key: fileKey{dev: f[3], ino: ino}})
	}
	return out
}

// mapFilesName turns a maps range ("00400000-00689000": maps pads to 8
// digits) into its /proc/PID/map_files name ("400000-689000": no
// padding).
func mapFilesName(rng string) string {
	a, b, _ := strings.Cut(rng, "-")
	trim := func(x string) string {
		if x = strings.TrimLeft(x, "0"); x == "" {
			return "0"
		}
		return x
	}
	return trim(a) + "-" + trim(b)
}

// validRange accepts "START-END" in lowercase hex, the name of a
// /proc/PID/map_files entry.
func validRange(s string) bool {
	a, b, ok := strings.Cut(s, "-")
	isHex := func(x string) bool {
		return x != "" && len(x) <= 16 && strings.Trim(x, "0123456789abcdef") == ""
	}
	return ok && isHex(a) && isHex(b)
}

// readLimited reads at most limit bytes of a file.
func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, limit))
}

// list returns a copy of the objects recorded so far, sorted by path. The
// imports of each shared library are narrowed to those reachable, through
// the call graphs, from the programs and from what the libraries run on
// their own (analysis.Reachable); the note says how many remain.
func (o *objectTracker) list() []record.Object {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := slices.Clone(o.objects)
	mapped := make([]analysis.Mapped, len(out))
	for i, obj := range out {
		mapped[i] = analysis.Mapped{Kind: analysis.Kind(obj.Analysis), Imports: obj.Imports, Graph: o.graphs[i]}
	}
	imports, narrowed := analysis.Reachable(mapped)
	for i := range out {
		if narrowed[i] {
			out[i].Note = analysis.NarrowedNote(len(imports[i]), len(out[i].Imports))
			out[i].Imports = imports[i]
		}
	}
	slices.SortFunc(out, func(a, b record.Object) int { return strings.Compare(a.Path, b.Path) })
	return out
}
