package userns

import (
	"fmt"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runcage/runcage/profiles"
)

// maxIDEnd is the end (exclusive) of the usable id space: id 4294967295 is
// (uid_t)-1, which the kernel reserves.
const maxIDEnd = 1<<32 - 1

// Validate checks the user namespace mappings a bundle brought itself (for
// example Kubernetes hostUsers: false) before runcage lets the container
// run with them. It refuses, with an error satisfying
// errors.Is(err, profiles.ErrRefused):
//   - a bundle that lacks uid or gid mappings (both are required);
//   - a mapping of size 0, or one that runs past the 32-bit id space;
//   - a mapping whose host range includes host id 0;
//   - a mapping whose host range is not inside the (non-nil) Allocator's
//     pool: ids outside it belong to host accounts (uid 1000 is a person)
//     or to the host's subordinate ranges, and a container must never act
//     as one of them;
//   - a mapping whose host range overlaps a range that a (non-nil)
//     Allocator holds for a pod other than key;
//   - uid or gid mappings that map fewer than minSize ids in total.
//     A minSize of 0 means DefaultSize.
//
// An error reading the allocations is returned as is (not a refusal), and
// the caller must not start the container either. Validate does not record
// anything: after it passes, Allocator.Reserve records the ranges under the
// lock and repeats the overlap check, which is the final word.
func Validate(uid, gid []specs.LinuxIDMapping, a *Allocator, key string, minSize uint32) error {
	if len(uid) == 0 || len(gid) == 0 {
		return profiles.Refusef("user namespace refused: the bundle must map both uids and gids, and it has %d uid and %d gid mappings", len(uid), len(gid))
	}
	if minSize == 0 {
		minSize = DefaultSize
	}
	var held []Allocation
	var pool allocConfig
	if a != nil {
		var err error
		if held, err = a.Allocations(); err != nil {
			return fmt.Errorf("validate user namespace mappings: %w", err)
		}
		if pool, err = a.config(); err != nil {
			return fmt.Errorf("validate user namespace mappings: %w", err)
		}
	}
	for _, set := range []struct {
		kind string
		maps []specs.LinuxIDMapping
	}{{"uid", uid}, {"gid", gid}} {
		var total uint64
		for _, m := range set.maps {
			if err := checkMapping(set.kind, m); err != nil {
				return err
			}
			r := Range{HostID: m.HostID, Size: m.Size}
			if a != nil && (uint64(r.HostID) < pool.start || r.end() > pool.end) {
				return profiles.Refusef("%s mapping %d:%d:%d refused: host ids %s are outside runcage's id pool %d-%d; ids outside it belong to host accounts", set.kind, m.ContainerID, m.HostID, m.Size, r, pool.start, pool.end-1)
			}
			for _, al := range held {
				if al.Key == key {
					continue
				}
				for _, o := range al.Ranges {
					if o.overlaps(r) {
						return profiles.Refusef("%s mapping %d:%d:%d refused: host ids %s overlap the range %s of pod %q", set.kind, m.ContainerID, m.HostID, m.Size, r, o, al.Key)
					}
				}
			}
			total += uint64(m.Size)
		}
		if total < uint64(minSize) {
			return profiles.Refusef("%s mappings refused: they map %d ids, fewer than the %d required", set.kind, total, minSize)
		}
	}
	return nil
}

// checkMapping refuses one mapping that is empty, runs past the id space,
// or maps host id 0.
func checkMapping(kind string, m specs.LinuxIDMapping) error {
	switch {
	case m.Size == 0:
		return profiles.Refusef("%s mapping %d:%d:%d refused: its size is 0", kind, m.ContainerID, m.HostID, m.Size)
	case uint64(m.HostID)+uint64(m.Size) > maxIDEnd, uint64(m.ContainerID)+uint64(m.Size) > maxIDEnd:
		return profiles.Refusef("%s mapping %d:%d:%d refused: it runs past the largest id", kind, m.ContainerID, m.HostID, m.Size)
	case m.HostID == 0:
		return profiles.Refusef("%s mapping %d:%d:%d refused: it maps host id 0 (root) into the container", kind, m.ContainerID, m.HostID, m.Size)
	}
	return nil
}

// RangesOf returns the host ranges of uid and gid mappings, without
// duplicates, in order: what Allocator.Reserve takes after Validate.
func RangesOf(uid, gid []specs.LinuxIDMapping) []Range {
	var out []Range
	for _, maps := range [][]specs.LinuxIDMapping{uid, gid} {
		for _, m := range maps {
			if r := (Range{HostID: m.HostID, Size: m.Size}); !slices.Contains(out, r) {
				out = append(out, r)
			}
		}
	}
	return out
}
