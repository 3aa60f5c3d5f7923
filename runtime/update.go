package runtime

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/runcage/runcage/profiles"
	"github.com/runcage/runcage/profiles/members"
	"github.com/runcage/runcage/profiles/policy"
	"github.com/runcage/runcage/runtime/spec"
)

// guardUpdate refuses `update` requests that would lift a limit the
// profile sets: a pids limit above the profile's pids_limit (or none), and
// writes to cgroup control files (cgroup.*) through linux.resources.unified.
// update cannot change capabilities, seccomp, AppArmor or namespaces at all.
func guardUpdate(inv *Invocation, pol *policy.Policy) error {
	prof, _, err := pol.Select(inv.Global.RuncageProfile, inv.Argv0)
	if err != nil {
		return err
	}
	if rec, err := loadRecord(pol.StateDir, inv.Global.Root, inv.ContainerID); err == nil && rec != nil && rec.Profile != prof.Name {
		if prof, err = pol.Profile(rec.Profile); err != nil {
			return fmt.Errorf("container profile: %w", err)
		}
	}
	if prof.Passthrough {
		return nil
	}
	if inv.PidsLimit != nil {
		if err := checkPids(prof, *inv.PidsLimit); err != nil {
			return err
		}
	}
	if inv.Resources == "" {
		return nil
	}
	var data []byte
	if inv.Resources == "-" {
		if data, err = io.ReadAll(os.Stdin); err != nil {
			return fmt.Errorf("read resources from stdin: %w", err)
		}
		// runc reads the same bytes from its stdin after the exec.
		if err := refillStdin(data); err != nil {
			return err
		}
	} else if data, _, err = spec.ReadFile(inv.Resources); err != nil {
		return fmt.Errorf("read resources: %w", err)
	}
	return checkResources(pol, prof, data)
}

// checkResources is the check of an update's resources (the JSON of
// runc update --resources, or what a shim is asked to update) for a
// container of profile prof: every member must have a decision, a pids
// limit may not exceed the profile's, and linux.resources.unified may
// write only resource controller files.
func checkResources(pol *policy.Policy, prof *profiles.Profile, data []byte) error {
	if err := members.CheckResources(data, members.Options{Allowed: prof.AllowedMembers, StateDir: pol.StateDir}); err != nil {
		return fmt.Errorf("update: %w", err)
	}
	var r specs.LinuxResources
	if err := json.NewDecoder(bytes.NewReader(data)).Decode(&r); err != nil {
		return fmt.Errorf("parse resources: %w", err)
	}
	if r.Pids != nil && r.Pids.Limit != nil {
		if err := checkPids(prof, *r.Pids.Limit); err != nil {
			return err
		}
	}
	for k := range r.Unified {
		if strings.HasPrefix(k, "cgroup.") || strings.Contains(k, "/") {
			return profiles.Refusef("update: unified key %q refused: only resource controller files may be updated", k)
		}
	}
	return nil
}

func checkPids(prof *profiles.Profile, limit int64) error {
	if prof.PidsLimit > 0 && (limit <= 0 || limit > prof.PidsLimit) {
		return profiles.Refusef("update: pids limit %s refused: profile %q caps it at %d", pidsString(limit), prof.Name, prof.PidsLimit)
	}
	return nil
}

func pidsString(l int64) string {
	if l <= 0 {
		return "unlimited"
	}
	return strconv.FormatInt(l, 10)
}

// refillStdin puts data back on fd 0 through a memfd, so that the delegate
// reads exactly the bytes runcage consumed.
func refillStdin(data []byte) error {
	fd, err := unix.MemfdCreate("runcage-update", 0)
	if err != nil {
		return fmt.Errorf("memfd: %w", err)
	}
	defer unix.Close(fd)
	for off := 0; off < len(data); {
		n, err := unix.Write(fd, data[off:])
		if err != nil {
			return fmt.Errorf("memfd write: %w", err)
		}
		off += n
	}
	if _, err := unix.Seek(fd, 0, io.SeekStart); err != nil {
		return fmt.Errorf("memfd seek: %w", err)
	}
	if err := unix.Dup2(fd, 0); err != nil {
		return fmt.Errorf("memfd dup: %w", err)
	}
	return nil
}
