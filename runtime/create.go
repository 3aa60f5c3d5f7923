package runtime

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runcage/runcage/profiles"
	"github.com/runcage/runcage/profiles/apparmor"
	"github.com/runcage/runcage/profiles/members"
	"github.com/runcage/runcage/profiles/namespaces"
	"github.com/runcage/runcage/profiles/policy"
	"github.com/runcage/runcage/profiles/userns"
	"github.com/runcage/runcage/runtime/spec"
)

// hardenBundle is the shared path of create, run and restore: select the
// profile, load config.json losslessly, apply the profile, validate the
// result, set up the user namespace, write the config atomically (keeping
// the original), and record what was applied so that exec and delete act
// on the same profile. Unless the profile is a passthrough, it returns an
// afterFunc, so the delegate runs supervised: the afterFunc releases the
// container id's lock (held from before the bundle is read until the
// delegate has made the container) and, when create mounted or allocated
// anything, undoes it if the delegate fails.
func hardenBundle(inv *Invocation, pol *policy.Policy, lg *logger, delegate string) (afterFunc, error) {
	prof, src, err := pol.Select(inv.Global.RuncageProfile, inv.Argv0)
	if err != nil {
		return nil, err
	}
	if prof.Passthrough {
		lg.debugf("profile %q (from %s): forwarding unchanged", prof.Name, src)
		return nil, nil
	}
	dir := inv.Bundle
	if dir == "" {
		if dir, err = os.Getwd(); err != nil {
			return nil, fmt.Errorf("find bundle: %w", err)
		}
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return nil, fmt.Errorf("find bundle: %w", err)
	}
	// Concurrent verbs on one id would each see the other's state half
	// made: hold the id's lock until the delegate is done with it. A
	// foreground run lives as long as its container, so it holds the lock
	// until the delegate has made the container (or exited): from then on
	// a create of its id finds the container and sets up nothing.
	lock, err := lockContainer(pol.StateDir, inv.ContainerID)
	if err != nil {
		return nil, err
	}
	var once sync.Once
	unlock := func() { once.Do(lock) }
	after, err := hardenLocked(inv, pol, lg, delegate, prof, src, dir)
	if err != nil {
		unlock()
		return nil, err
	}
	if inv.Verb == "run" && !inv.flagSet("detach") {
		go func() {
			for deadline := time.Now().Add(lockWait); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
				if containerExists(inv.Global.Root, inv.ContainerID) {
					break
				}
			}
			unlock()
		}()
	}
	return func(code int) error {
		defer unlock()
		if after == nil {
			return nil
		}
		return after(code)
	}, nil
}

// hardenLocked is hardenBundle once the container id is locked.
func hardenLocked(inv *Invocation, pol *policy.Policy, lg *logger, delegate string, prof *profiles.Profile, src policy.Source, dir string) (afterFunc, error) {
	if containerExists(inv.Global.Root, inv.ContainerID) {
		// runc will refuse the duplicate id itself. Set nothing up, and so
		// undo nothing: the live container's ids and mounts are its own.
		return nil, nil
	}
	if other, ok := otherRootRecord(pol.StateDir, inv.Global.Root, inv.ContainerID); ok {
		return nil, profiles.Refusef("container id %q refused: runcage already keeps a container of that id under another runc root (%s); ids must be unique on a host", inv.ContainerID, filepath.Base(filepath.Dir(other)))
	}
	if err := checkTrusted("bundle", filepath.Join(dir, spec.ConfigName)); err != nil {
		return nil, err
	}
	prev, err := loadRecord(pol.StateDir, inv.Global.Root, inv.ContainerID)
	if err != nil {
		return nil, err
	}
	b, err := spec.LoadBundle(dir)
	if err != nil {
		return nil, err
	}
	if (staleMount(b.Spec(), pol.StateDir) || ownListener(b.Spec(), pol.StateDir)) && !prev.injectedFor(b.Spec()) {
		// The bundle was rewritten for a container that is gone (runc's
		// tests and some engines run a bundle again): its root.path names
		// a mount that no longer exists. Start again from the original,
		// with any edits made to config.json since.
		if b, err = spec.LoadBundleAgain(b); err != nil {
			return nil, fmt.Errorf("bundle was rewritten by runcage for another container: %w", err)
		}
	}
	s := b.Spec()
	if s.Root != nil && s.Root.Path != "" && !staleMount(s, pol.StateDir) {
		root := s.Root.Path
		if !filepath.IsAbs(root) {
			root = filepath.Join(dir, root)
		}
		if err := checkTrustedOwned("root filesystem", root, pol.InPool); err != nil {
			return nil, err
		}
	}
	if prof, err = pol.Tighten(prof, s.Annotations); err != nil {
		return nil, err
	}
	// config.json is a closed world: every member the input has must have
	// a decision. It is judged on the input bytes, before any modifier,
	// because the typed view drops the members it does not know.
	if err := members.Check(b.Doc.Original(), members.Options{Allowed: prof.AllowedMembers, StateDir: pol.StateDir}); err != nil {
		return nil, err
	}
	mods, err := pol.Modifiers(prof, policy.Env{Bundle: dir, AppArmor: apparmor.SystemHost{}, ContainerID: inv.ContainerID, RuncRoot: inv.Global.Root, Delegate: delegate})
	if err != nil {
		return nil, fmt.Errorf("profile %q: %w", prof.Name, err)
	}
	if err := mods.Modify(s); err != nil {
		return nil, err
	}
	agent, err := prepareAgent(inv, pol, prof, s)
	if err != nil {
		return nil, fmt.Errorf("profile %q: %w", prof.Name, err)
	}
	if err := pol.Validate(s); err != nil {
		return nil, fmt.Errorf("profile %q: %w", prof.Name, err)
	}
	rec := &record{Profile: prof.Name, Bundle: dir}
	var setup *userns.Setup
	if prof.UserNS == profiles.Required {
		if !validID(inv.ContainerID) {
			return nil, profiles.Refusef("container id %q refused: not a valid runc container id", inv.ContainerID)
		}
		setup = newSetup(pol, delegate)
		switch {
		case prev.injectedFor(s):
			// create again on a bundle runcage already rewrote for this
			// container: its user namespace and mounts are in place.
			rec.Userns = prev.Userns
		default:
			if prev != nil && prev.Userns != nil {
				// Left by a container runc no longer knows (deleted
				// behind runcage's back, or a crash): clean it up first
				// so mounts never stack.
				if err := setup.Undo(prev.Userns, inv.ContainerID); err != nil {
					return nil, fmt.Errorf("clean up a stale setup of this container id: %w", err)
				}
			}
			if rec.Userns, err = setup.Apply(s, dir, inv.ContainerID); err != nil {
				return nil, err
			}
			// The namespaces modifier narrowed ping_group_range for the
			// default range size; fit it to the mappings actually made.
			if s.Linux != nil && len(s.Linux.GIDMappings) > 0 {
				if _, err := namespaces.FitPingGroupRange(s, s.Linux.GIDMappings); err != nil {
					return nil, errors.Join(err, setup.Undo(rec.Userns, inv.ContainerID))
				}
			}
		}
	}
	undo := func() error {
		removeRecord(pol.StateDir, inv.Global.Root, inv.ContainerID)
		if setup == nil {
			return nil
		}
		return setup.Undo(rec.Userns, inv.ContainerID)
	}
	wrote, err := b.Save()
	if err != nil {
		return nil, errors.Join(err, undo())
	}
	lg.debugf("profile %q (from %s) applied to %s (rewritten: %v)", prof.Name, src, dir, wrote)
	if s.Process != nil {
		rec.AppArmor = s.Process.ApparmorProfile
		rec.SelinuxLabel = s.Process.SelinuxLabel
	}
	if err := saveRecord(pol.StateDir, inv.Global.Root, inv.ContainerID, rec); err != nil {
		return nil, errors.Join(fmt.Errorf("record container state: %w", err), undo())
	}
	if agent != nil {
		if err := startAgent(agent); err != nil {
			return nil, errors.Join(err, undo())
		}
	}
	if setup == nil {
		return nil, nil
	}
	foreground := inv.Verb == "run" && !inv.flagSet("detach") && !inv.flagSet("keep")
	return func(code int) error {
		// A failed create leaves no container for delete to clean up, and
		// a foreground run without --keep destroys its container on exit.
		if code != 0 || foreground {
			return undo()
		}
		return nil
	}, nil
}

// afterDelete makes delete clean up what create set up for the container:
// once the delegate has deleted it (its state directory is gone), the
// id-mapped mounts are unmounted and the ids released.
func afterDelete(inv *Invocation, pol *policy.Policy) (afterFunc, error) {
	removeDeadAgent(pol.StateDir, inv.Global.Root, inv.ContainerID)
	unlock, err := lockContainer(pol.StateDir, inv.ContainerID)
	if err != nil {
		return nil, err
	}
	after, err := afterDeleteLocked(inv, pol)
	if err != nil || after == nil {
		unlock()
		return after, err
	}
	return func(code int) error {
		defer unlock()
		return after(code)
	}, nil
}

// afterDeleteLocked is afterDelete once the container id is locked.
func afterDeleteLocked(inv *Invocation, pol *policy.Policy) (afterFunc, error) {
	rec, err := loadRecord(pol.StateDir, inv.Global.Root, inv.ContainerID)
	if err != nil || rec == nil || rec.Userns == nil {
		removeRecord(pol.StateDir, inv.Global.Root, inv.ContainerID)
		if !validID(inv.ContainerID) || !orphanSetup(pol, inv.ContainerID) {
			return nil, nil
		}
		if _, ok := otherRootRecord(pol.StateDir, inv.Global.Root, inv.ContainerID); ok {
			// The mounts and ids belong to the container of this id
			// under another runc root, not to an orphan of this one.
			return nil, nil
		}
		// A create killed between the user-namespace setup and saving its
		// record left mounts or an allocation without a record. Engines
		// never reuse container ids, so only this delete can undo them.
		return func(int) error {
			if containerExists(inv.Global.Root, inv.ContainerID) {
				return nil
			}
			return newSetup(pol, "").UndoOrphan(inv.ContainerID)
		}, nil
	}
	return func(int) error {
		if containerExists(inv.Global.Root, inv.ContainerID) {
			return nil // still there: the delete failed, keep everything
		}
		removeRecord(pol.StateDir, inv.Global.Root, inv.ContainerID)
		return newSetup(pol, "").Undo(rec.Userns, inv.ContainerID)
	}, nil
}

// orphanSetup reports whether runcage has a mount directory for id under
// its state directory although it has no record of the container, which is
// what a create killed after the user-namespace setup leaves. Apply makes
// that directory before it allocates or mounts anything, so the directory
// is a complete witness.
func orphanSetup(pol *policy.Policy, id string) bool {
	_, err := os.Lstat(filepath.Join(pol.StateDir, "mnt", id))
	return err == nil
}

// newSetup returns the user-namespace setup the policy configures.
func newSetup(pol *policy.Policy, delegate string) *userns.Setup {
	st := &userns.Setup{
		Alloc: &userns.Allocator{
			Dir:       filepath.Join(pol.StateDir, "userns"),
			PoolStart: pol.UserNS.PoolStart,
			PoolEnd:   pol.UserNS.PoolEnd,
			Size:      pol.UserNS.Size,
		},
		MountDir:    filepath.Join(pol.StateDir, "mnt"),
		MinSize:     pol.UserNS.MinSize,
		VolumeRoots: pol.ResolvedVolumeRoots(),
	}
	if delegate != "" {
		st.IDMapMounts = idmapMountsCheck(pol.StateDir, delegate)
	}
	return st
}

// containerExists reports whether the delegate has state for id under root.
func containerExists(root, id string) bool {
	if !validID(id) {
		return false
	}
	if root == "" {
		root = runcDefaultRoot
	}
	_, err := os.Lstat(filepath.Join(root, id))
	return err == nil
}

// staleMount reports whether s's root.path lies under runcage's own mount
// directory, that is, whether s is a config runcage already rewrote.
func staleMount(s *specs.Spec, stateDir string) bool {
	if s.Root == nil {
		return false
	}
	rel, err := filepath.Rel(filepath.Join(stateDir, "mnt"), s.Root.Path)
	return err == nil && rel != "." && !strings.HasPrefix(rel, "..")
}
