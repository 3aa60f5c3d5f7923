package namespaces

import (
	"fmt"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runcage/runcage/profiles"
)

// PingGroupRange is the sysctl Docker (20.10 and later) sets to
// "0 2147483647" in every container with its own network namespace, so that
// any group may open ICMP echo sockets.
const PingGroupRange = "net.ipv4.ping_group_range"

// injectedMinSize is the size of the smallest mapping runcage injects by
// default: container ids 0..65535 (userns.DefaultSize).
const injectedMinSize = 65536

// FitPingGroupRange narrows net.ipv4.ping_group_range to the container
// group ids that the user namespace maps. The kernel refuses (EINVAL) a
// range naming a group the writer's user namespace does not map, so
// Docker's "0 2147483647" would make every container with a user namespace
// fail to start. The result only ever narrows the range, so it never grants
// more than the bundle asked for: the low bound is kept, and the high bound
// is cut at the end of the contiguous mapped run that starts at the low
// bound. A low bound that is not mapped becomes "1 0", the kernel's empty
// range. gids are the container-side gid mappings; with none (no user
// namespace) the spec is left alone. A value that is not two numbers is
// refused. It reports whether it changed the spec.
func FitPingGroupRange(s *specs.Spec, gids []specs.LinuxIDMapping) (bool, error) {
	if s.Linux == nil || len(gids) == 0 {
		return false, nil
	}
	v, ok := s.Linux.Sysctl[PingGroupRange]
	if !ok {
		return false, nil
	}
	f := strings.Fields(v)
	if len(f) != 2 {
		return false, profiles.Refusef("sysctl %s=%q refused: want two group ids", PingGroupRange, v)
	}
	lo, err1 := strconv.ParseUint(f[0], 10, 32)
	hi, err2 := strconv.ParseUint(f[1], 10, 32)
	if err1 != nil || err2 != nil {
		return false, profiles.Refusef("sysctl %s=%q refused: want two group ids", PingGroupRange, v)
	}
	if lo > hi {
		return false, nil // already the empty range
	}
	end, mapped := mappedRunEnd(gids, lo)
	want := "1 0"
	if mapped {
		want = fmt.Sprintf("%d %d", lo, min(hi, end))
	}
	if want == v {
		return false, nil
	}
	s.Linux.Sysctl[PingGroupRange] = want
	return true, nil
}

// mappedRunEnd returns the last container id of the contiguous run of
// mapped ids that contains id, and whether id is mapped at all.
func mappedRunEnd(maps []specs.LinuxIDMapping, id uint64) (uint64, bool) {
	found := false
	end := id
	for {
		extended := false
		for _, m := range maps {
			start, last := uint64(m.ContainerID), uint64(m.ContainerID)+uint64(m.Size)-1
			if m.Size == 0 {
				continue
			}
			probe := end
			if found {
				probe = end + 1
			}
			if start <= probe && probe <= last && (!found || last > end) {
				end, found, extended = last, true, true
			}
		}
		if !extended {
			return end, found
		}
	}
}

// injectedGIDs is the container side of the mapping runcage will inject
// for a profile that requires a user namespace: at least container ids
// 0..injectedMinSize-1. (Host ids do not matter for the sysctl.)
func injectedGIDs() []specs.LinuxIDMapping {
	return []specs.LinuxIDMapping{{ContainerID: 0, Size: injectedMinSize}}
}
