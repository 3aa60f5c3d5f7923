package runtime

// The entry points a containerd shim (runtime/shim) needs to run
// runcage's create transaction, exec and update checks and delete cleanup
// in-process, with the same code the runc front runs.

import (
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runcage/runcage/profiles"
	"github.com/runcage/runcage/profiles/policy"
	"github.com/runcage/runcage/runtime/spec"
)

// LoadPolicyFile loads the policy at path, or at policy.DefaultPath
// (which may be absent: the built-in policy) when path is "". Unlike the
// runc front it never consults RUNCAGE_CONFIG.
func LoadPolicyFile(path string) (*policy.Policy, error) {
	explicit := path != ""
	if !explicit {
		path = policy.DefaultPath
	}
	pol, err := policy.Load(path, explicit)
	if err != nil {
		return nil, fmt.Errorf("load policy: %w", err)
	}
	return pol, nil
}

// FindDelegate resolves the delegate runtime as the runc front does: the
// policy's runtime (configured), else runc beside the running binary,
// else runc in PATH; never the running binary itself.
func FindDelegate(configured string) (string, error) { return findDelegate(configured) }

// LockContainer takes container id's lock under the policy's state
// directory and returns its release. Create's caller must hold it until
// the delegate has created the container (or failed to).
func LockContainer(stateDir, id string) (func(), error) { return lockContainer(stateDir, id) }

// HardenExecProcess checks and rewrites the JSON of a process to exec in
// container c (a shim's exec request) exactly as `runcage exec --process`
// does: the container's recorded profile is enforced (prof, the handler's,
// when runcage has no record of c), every member must have a decision,
// capabilities are cut to the profile (capabilities it refuses are
// refused), no_new_privs is forced, the SELinux label must stay the
// container's and the AppArmor profile becomes the container's. It returns
// the JSON to exec, unchanged members kept byte for byte.
func HardenExecProcess(c Container, pol *policy.Policy, prof *profiles.Profile, data []byte) ([]byte, error) {
	prof, rec, err := execProfile(pol, prof, c.Root, c.ID)
	if err != nil {
		return nil, err
	}
	if prof.Passthrough {
		return data, nil
	}
	doc, err := spec.ParseAs[specs.Process](data)
	if err != nil {
		return nil, fmt.Errorf("exec process: %w", err)
	}
	if err := hardenProcess(pol, prof, rec, doc, "exec process"); err != nil {
		return nil, err
	}
	return doc.Marshal()
}

// GuardUpdate refuses a resources update of container c (the JSON of
// specs.LinuxResources) that `runcage update` would refuse: a pids limit
// above the profile's, a cgroup control file through unified, a member
// without a decision. The container's recorded profile is enforced
// (prof when runcage has no record of c).
func GuardUpdate(c Container, pol *policy.Policy, prof *profiles.Profile, data []byte) error {
	prof, _, err := execProfile(pol, prof, c.Root, c.ID)
	if err != nil {
		return err
	}
	if prof.Passthrough {
		return nil
	}
	return checkResources(pol, prof, data)
}

// Release is what `runcage delete` does once the delegate has deleted
// container c: it removes a dead recording agent's files, and, unless the
// delegate still has the container, unmounts its id-mapped mounts,
// releases its user namespace ids (also those of a create killed before it
// saved its record) and removes its record. It takes the container id's
// lock itself. Releasing a container runcage holds nothing for does
// nothing.
func Release(c Container, pol *policy.Policy) error {
	removeDeadAgent(pol.StateDir, c.Root, c.ID)
	unlock, err := lockContainer(pol.StateDir, c.ID)
	if err != nil {
		return err
	}
	defer unlock()
	after, err := afterDeleteLocked(pol, c.Root, c.ID)
	if err != nil || after == nil {
		return err
	}
	return after(0)
}

// ServeAgent runs one of runcage's agents (the node's denial agent, a
// recording agent or its watchdog) when argv is the command line Create
// starts one with, and reports whether it was: Create starts them by
// running /proc/self/exe again, so a program that calls Create (the shim)
// must call ServeAgent first thing in main and exit with code when ok.
func ServeAgent(argv []string) (code int, ok bool) {
	if !isAgent(argv) {
		return 0, false
	}
	return runAgent(argv), true
}
