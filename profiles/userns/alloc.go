package userns

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/runcage/runcage/profiles"
	"github.com/runcage/runcage/runtime/spec"
)

// Defaults of an Allocator whose fields are zero.
const (
	// DefaultPoolStart is the first host id of the default pool.
	DefaultPoolStart uint32 = 100000
	// DefaultPoolEnd is the end (exclusive) of the default pool. Ids at and
	// above 1<<31 are avoided: many tools treat ids as signed 32-bit numbers.
	DefaultPoolEnd uint32 = 1 << 31
	// DefaultSize is the number of ids each pod gets: the full 16-bit range
	// that images assume.
	DefaultSize uint32 = 65536
)

// DefaultSubIDFiles lists the files whose ranges an Allocator never hands
// out when its SubIDFiles is nil.
var DefaultSubIDFiles = []string{"/etc/subuid", "/etc/subgid"}

// ErrPoolExhausted is wrapped by Acquire when the pool has no free range of
// the configured size left.
var ErrPoolExhausted = errors.New("user namespace id pool exhausted")

// maxNameLen bounds keys and container ids, which come from bundles.
const maxNameLen = 1024

// File names under Allocator.Dir.
const (
	stateName = "allocations.json"
	lockName  = "lock"
	// tmpPrefix begins the names of spec.WriteFileAtomic's temporary files
	// for stateName (and of those older versions wrote).
	tmpPrefix = "." + stateName + "."
)

// stateVersion is the version of the allocations file this code writes. A
// file with a higher version is refused rather than rewritten.
const stateVersion = 1

// Range is a contiguous range of host ids: HostID up to, not including,
// HostID+Size.
type Range struct {
	HostID uint32 `json:"host_id"`
	Size   uint32 `json:"size"`
}

// end returns the first host id after r. It is computed in 64 bits so that
// a range touching the top of the id space does not wrap.
func (r Range) end() uint64 { return uint64(r.HostID) + uint64(r.Size) }

func (r Range) overlaps(o Range) bool {
	return r.Size > 0 && o.Size > 0 && uint64(r.HostID) < o.end() && uint64(o.HostID) < r.end()
}

func (r Range) contains(o Range) bool {
	return r.HostID <= o.HostID && o.end() <= r.end()
}

// String formats r as "first-last", both inclusive.
func (r Range) String() string {
	if r.Size == 0 {
		return fmt.Sprintf("%d-(empty)", r.HostID)
	}
	return fmt.Sprintf("%d-%d", r.HostID, r.end()-1)
}

// Mappings returns the one mapping that puts container id 0 at r.HostID, for
// use as both linux.uidMappings and linux.gidMappings.
func (r Range) Mappings() []specs.LinuxIDMapping {
	return []specs.LinuxIDMapping{{ContainerID: 0, HostID: r.HostID, Size: r.Size}}
}

// Allocation is what the allocator holds for one pod.
type Allocation struct {
	// Key is the pod key: the io.kubernetes.cri.sandbox-id annotation, or
	// the container id.
	Key string `json:"-"`
	// Ranges holds the pod's host id ranges. An allocated pod has exactly
	// one; a pod whose bundles brought their own mappings (Reserve) has one
	// per distinct mapping.
	Ranges []Range `json:"ranges"`
	// Containers lists the ids of the containers that use the ranges. The
	// allocation is freed when the last one is released.
	Containers []string `json:"containers"`
	// Bundle is true when the ranges came from bundles (Reserve), not from
	// the pool.
	Bundle bool `json:"bundle,omitempty"`
}

type stateDoc struct {
	Version int                    `json:"version"`
	Pods    map[string]*Allocation `json:"pods"`
}

// findContainer returns the key of the pod that lists containerID.
func (st *stateDoc) findContainer(containerID string) (string, bool) {
	for k, al := range st.Pods {
		if slices.Contains(al.Containers, containerID) {
			return k, true
		}
	}
	return "", false
}

// sortedKeys returns the pod keys in order, so that answers are stable.
func (st *stateDoc) sortedKeys() []string {
	keys := make([]string, 0, len(st.Pods))
	for k := range st.Pods {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// overlapping returns the first pod other than except that has a range
// overlapping r.
func (st *stateDoc) overlapping(r Range, except string) (string, bool) {
	for _, k := range st.sortedKeys() {
		if k == except {
			continue
		}
		for _, o := range st.Pods[k].Ranges {
			if o.overlaps(r) {
				return k, true
			}
		}
	}
	return "", false
}

// Allocator hands out host id ranges for user namespaces, one per pod, and
// keeps them in one JSON file under Dir. Every method takes a flock on
// Dir/lock for the whole read-modify-write, and the file is replaced
// atomically, so any number of runcage processes may use the same Dir at
// once and a crash at any point leaves either the old or the new state.
//
// The zero value of each field except Dir means its default. An Allocator
// holds no state in memory: two Allocator values with the same fields are
// the same allocator. It may be copied and used from several goroutines.
type Allocator struct {
	// Dir holds the allocations file and its lock, e.g. /run/runcage/userns.
	// It is created (mode 0700) on first use. Required.
	Dir string
	// PoolStart and PoolEnd bound the host ids handed out: PoolStart up to,
	// not including, PoolEnd. Defaults: DefaultPoolStart, DefaultPoolEnd.
	// Host id 0 is never handed out, whatever the pool.
	PoolStart, PoolEnd uint32
	// Size is the number of ids per pod. Default: DefaultSize.
	Size uint32
	// SubIDFiles lists files in the /etc/subuid format whose ranges are
	// never handed out. Nil means DefaultSubIDFiles; an empty, non-nil
	// slice means none. Missing files are skipped and malformed lines
	// ignored; a file that exists but cannot be read is an error.
	SubIDFiles []string
}

type allocConfig struct {
	dir        string
	start, end uint64
	size       uint64
	subID      []string
}

func (a *Allocator) config() (allocConfig, error) {
	c := allocConfig{
		dir:   a.Dir,
		start: uint64(a.PoolStart),
		end:   uint64(a.PoolEnd),
		size:  uint64(a.Size),
		subID: a.SubIDFiles,
	}
	if c.dir == "" {
		return c, errors.New("allocator has no state directory")
	}
	if c.start == 0 {
		c.start = uint64(DefaultPoolStart)
	}
	if c.end == 0 {
		c.end = uint64(DefaultPoolEnd)
	}
	if c.size == 0 {
		c.size = uint64(DefaultSize)
	}
	if c.subID == nil {
		c.subID = DefaultSubIDFiles
	}
	if c.start >= c.end {
		return c, fmt.Errorf("allocator pool %d-%d is empty", c.start, c.end)
	}
	return c, nil
}

// Acquire returns the range of pod key and records containerID as one of its
// users. The first container of a pod allocates the range: the lowest free
// run of Size ids in the pool that overlaps neither host id 0, nor a range
// of the SubIDFiles, nor any other pod's range. Later containers of the same
// pod get the same range. Acquiring the same (key, containerID) again is a
// no-op that returns the same range.
//
// Acquire fails when containerID already belongs to another pod, when the
// pod's ranges came from its bundles (Reserve: the pod has its own user
// namespace, and a container must not get a different one), and with an
// error wrapping ErrPoolExhausted when no free range is left.
func (a *Allocator) Acquire(key, containerID string) (Range, error) {
	if err := checkNames(key, containerID); err != nil {
		return Range{}, err
	}
	cfg, err := a.config()
	if err != nil {
		return Range{}, err
	}
	var got Range
	err = withState(cfg.dir, true, func(st *stateDoc) (bool, error) {
		if k, ok := st.findContainer(containerID); ok && k != key {
			return false, fmt.Errorf("container %q already uses the range of pod %q", containerID, k)
		}
		if al := st.Pods[key]; al != nil {
			if al.Bundle {
				return false, profiles.Refusef("user namespace refused for container %q: pod %q uses the mappings of its bundles, and a container of it may not get another user namespace", containerID, key)
			}
			got = al.Ranges[0]
			if slices.Contains(al.Containers, containerID) {
				return false, nil
			}
			al.Containers = append(al.Containers, containerID)
			return true, nil
		}
		busy, err := busyIntervals(cfg.subID, st)
		if err != nil {
			return false, err
		}
		start, ok := firstFit(busy, cfg.start, cfg.end, cfg.size)
		if !ok {
			return false, fmt.Errorf("no %d free ids in pool %d-%d: %w", cfg.size, cfg.start, cfg.end-1, ErrPoolExhausted)
		}
		got = Range{HostID: uint32(start), Size: uint32(cfg.size)}
		st.Pods[key] = &Allocation{Ranges: []Range{got}, Containers: []string{containerID}}
		return true, nil
	})
	if err != nil {
		return Range{}, fmt.Errorf("acquire user namespace range for pod %q: %w", key, err)
	}
	return got, nil
}

// Reserve records host id ranges that a bundle brought in its own mappings
// (after Validate accepted them), so that Acquire never hands them to another
// pod. The ranges are held for pod key until the last of its containers is
// released.
//
// Reserve refuses (profiles.ErrRefused) a range that is empty, includes host
// id 0, or overlaps another pod's range; and, when key already has a range
// allocated by Acquire, a range outside it. The check is made under the
// lock, so it is final even if a Validate before it raced with another pod.
func (a *Allocator) Reserve(key, containerID string, ranges []Range) error {
	if err := checkNames(key, containerID); err != nil {
		return err
	}
	if len(ranges) == 0 {
		return errors.New("reserve: no ranges")
	}
	cfg, err := a.config()
	if err != nil {
		return err
	}
	err = withState(cfg.dir, true, func(st *stateDoc) (bool, error) {
		if k, ok := st.findContainer(containerID); ok && k != key {
			return false, fmt.Errorf("container %q already uses the range of pod %q", containerID, k)
		}
		al := st.Pods[key]
		for _, r := range ranges {
			if r.Size == 0 {
				return false, profiles.Refusef("user namespace mapping refused: host range at %d is empty", r.HostID)
			}
			if r.HostID == 0 {
				return false, profiles.Refusef("user namespace mapping refused: host range %s includes host id 0", r)
			}
			if other, ok := st.overlapping(r, key); ok {
				return false, profiles.Refusef("user namespace mapping refused: host range %s overlaps the range of pod %q", r, other)
			}
			if al != nil && !al.Bundle && !slices.ContainsFunc(al.Ranges, func(o Range) bool { return o.contains(r) }) {
				return false, profiles.Refusef("user namespace mapping refused: host range %s is outside range %s that runcage allocated to pod %q", r, al.Ranges[0], key)
			}
		}
		changed := false
		if al == nil {
			al = &Allocation{Bundle: true}
			st.Pods[key] = al
			changed = true
		}
		if al.Bundle {
			for _, r := range ranges {
				if !slices.Contains(al.Ranges, r) {
					al.Ranges = append(al.Ranges, r)
					changed = true
				}
			}
		}
		if !slices.Contains(al.Containers, containerID) {
			al.Containers = append(al.Containers, containerID)
			changed = true
		}
		return changed, nil
	})
	if err != nil {
		return fmt.Errorf("reserve user namespace ranges for pod %q: %w", key, err)
	}
	return nil
}

// Release removes containerID from its pod. When it was the pod's last
// container, the pod's ranges are freed and freed is its first range;
// otherwise freed is nil. Releasing a container that holds nothing (already
// released, or never acquired) is not an error, so delete may be repeated.
func (a *Allocator) Release(containerID string) (freed *Range, err error) {
	if containerID == "" {
		return nil, errors.New("release: empty container id")
	}
	cfg, err := a.config()
	if err != nil {
		return nil, err
	}
	err = withState(cfg.dir, true, func(st *stateDoc) (bool, error) {
		key, ok := st.findContainer(containerID)
		if !ok {
			return false, nil
		}
		al := st.Pods[key]
		al.Containers = slices.DeleteFunc(al.Containers, func(c string) bool { return c == containerID })
		if len(al.Containers) == 0 {
			delete(st.Pods, key)
			if len(al.Ranges) > 0 {
				r := al.Ranges[0]
				freed = &r
			}
		}
		return true, nil
	})
	if err != nil {
		return nil, fmt.Errorf("release user namespace range of container %q: %w", containerID, err)
	}
	return freed, nil
}

// Owner returns the pod whose ranges contain all of r.
func (a *Allocator) Owner(r Range) (key string, ok bool, err error) {
	err = a.read(func(st *stateDoc) {
		for _, k := range st.sortedKeys() {
			if slices.ContainsFunc(st.Pods[k].Ranges, func(o Range) bool { return o.contains(r) }) {
				key, ok = k, true
				return
			}
		}
	})
	return key, ok, err
}

// Overlaps returns a pod other than exceptKey whose ranges overlap r. It is
// how Validate finds bundle mappings that reach into another pod's ids. It
// returns an error, never ok == false, when the allocations cannot be read,
// so that callers fail closed.
func (a *Allocator) Overlaps(r Range, exceptKey string) (key string, ok bool, err error) {
	err = a.read(func(st *stateDoc) { key, ok = st.overlapping(r, exceptKey) })
	return key, ok, err
}

// Allocations returns every pod's allocation, ordered by key.
func (a *Allocator) Allocations() ([]Allocation, error) {
	var out []Allocation
	err := a.read(func(st *stateDoc) {
		for _, k := range st.sortedKeys() {
			al := *st.Pods[k]
			al.Key = k
			al.Ranges = slices.Clone(al.Ranges)
			al.Containers = slices.Clone(al.Containers)
			out = append(out, al)
		}
	})
	return out, err
}

func (a *Allocator) read(fn func(*stateDoc)) error {
	cfg, err := a.config()
	if err != nil {
		return err
	}
	err = withState(cfg.dir, false, func(st *stateDoc) (bool, error) {
		fn(st)
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("read user namespace allocations: %w", err)
	}
	return nil
}

func checkNames(key, containerID string) error {
	for _, n := range []struct{ what, v string }{{"pod key", key}, {"container id", containerID}} {
		if n.v == "" {
			return fmt.Errorf("empty %s", n.what)
		}
		if len(n.v) > maxNameLen {
			return fmt.Errorf("%s is longer than %d bytes", n.what, maxNameLen)
		}
	}
	return nil
}

// withState runs fn on the allocations in dir while holding the lock on
// dir/lock: exclusive when exclusive is true, shared otherwise. When fn
// reports a change (only allowed with exclusive), the new state is written
// atomically before the lock is released.
func withState(dir string, exclusive bool, fn func(*stateDoc) (bool, error)) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create state directory: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, lockName), os.O_RDWR|os.O_CREATE|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("open lock: %w", err)
	}
	defer lock.Close() // closing the last descriptor releases the flock
	how := unix.LOCK_SH
	if exclusive {
		how = unix.LOCK_EX
	}
	if err := ignoringEINTR(func() error { return unix.Flock(int(lock.Fd()), how) }); err != nil {
		return fmt.Errorf("lock %s: %w", lock.Name(), err)
	}

	st, err := loadState(dir)
	if err != nil {
		return err
	}
	changed, err := fn(st)
	if err != nil || !changed {
		return err
	}
	if !exclusive {
		return errors.New("internal error: state changed under a shared lock")
	}
	return saveState(dir, st)
}

func loadState(dir string) (*stateDoc, error) {
	path := filepath.Join(dir, stateName)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &stateDoc{Version: stateVersion, Pods: map[string]*Allocation{}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read allocations: %w", err)
	}
	var st stateDoc
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	if st.Version > stateVersion {
		return nil, fmt.Errorf("%s has version %d; this runcage knows up to %d", path, st.Version, stateVersion)
	}
	if st.Pods == nil {
		st.Pods = map[string]*Allocation{}
	}
	for k, al := range st.Pods {
		if al == nil || len(al.Ranges) == 0 {
			return nil, fmt.Errorf("parse %s: pod %q has no range", path, k)
		}
	}
	st.Version = stateVersion
	return &st, nil
}

// saveState replaces dir/allocations.json with st through
// spec.WriteFileAtomic: a temporary file created with O_EXCL, fsynced, then
// renamed over the old one, so a crash leaves the complete old or the
// complete new state. The directory is not fsynced: that would only make the
// rename itself survive a power cut, and no container (so no allocation)
// survives one. The caller holds the exclusive lock, so temporary files left
// by a writer that crashed are stale and are removed first.
func saveState(dir string, st *stateDoc) error {
	if stale, _ := filepath.Glob(filepath.Join(dir, tmpPrefix+"*")); len(stale) > 0 {
		for _, p := range stale {
			_ = os.Remove(p)
		}
	}
	data, err := json.MarshalIndent(st, "", "\t")
	if err != nil {
		return fmt.Errorf("encode allocations: %w", err)
	}
	data = append(data, '\n')
	if err := spec.WriteFileAtomic(filepath.Join(dir, stateName), data, 0o600); err != nil {
		return fmt.Errorf("save allocations: %w", err)
	}
	return nil
}

// interval is a half-open range of host ids [start, end), in 64 bits.
type interval struct{ start, end uint64 }

// busyIntervals returns, sorted by start, the host ids that must not be
// handed out: id 0, the sub-id ranges, and every pod's ranges.
func busyIntervals(subIDFiles []string, st *stateDoc) ([]interval, error) {
	busy := []interval{{0, 1}}
	sub, err := readSubIDFiles(subIDFiles)
	if err != nil {
		return nil, err
	}
	for _, r := range sub {
		busy = append(busy, interval{uint64(r.HostID), r.end()})
	}
	for _, al := range st.Pods {
		for _, r := range al.Ranges {
			busy = append(busy, interval{uint64(r.HostID), r.end()})
		}
	}
	sort.Slice(busy, func(i, j int) bool { return busy[i].start < busy[j].start })
	return busy, nil
}

// firstFit returns the lowest start in [lo, hi) such that [start,
// start+size) fits below hi and overlaps no interval of busy, which must be
// sorted by start.
func firstFit(busy []interval, lo, hi, size uint64) (uint64, bool) {
	cand := lo
	for _, b := range busy {
		if b.end <= cand {
			continue
		}
		if b.start >= cand+size {
			break
		}
		cand = b.end
	}
	return cand, cand+size <= hi
}

// readSubIDFiles parses files in the /etc/subuid format, "name:start:count"
// per line. Blank lines, comments, malformed lines and empty ranges are
// skipped; a missing file is skipped; any other read error is returned,
// because a range we cannot see might be handed out twice.
func readSubIDFiles(paths []string) ([]Range, error) {
	var out []Range
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read sub-id file: %w", err)
		}
		out = append(out, parseSubID(string(data))...)
	}
	return out, nil
}

func parseSubID(text string) []Range {
	var out []Range
	for line := range strings.Lines(text) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, ":")
		if len(f) != 3 || f[0] == "" {
			continue
		}
		start, err1 := parseUint32(f[1])
		count, err2 := parseUint32(f[2])
		if err1 != nil || err2 != nil || count == 0 {
			continue
		}
		out = append(out, Range{HostID: start, Size: count})
	}
	return out
}
