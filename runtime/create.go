package runtime

import (
	"errors"
	"fmt"
	"github.com/runcage/runcage/profiles/landlock"
	"io/fs"
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
	"github.com/runcage/runcage/profiles/recorder"
	"github.com/runcage/runcage/profiles/userns"
	"github.com/runcage/runcage/runtime/spec"
)

// hardenBundle is the shared path of create, run and restore: select the
// profile and, unless it is a passthrough, run the create transaction
// (Create) on the container the invocation names. It returns an afterFunc,
// so the delegate runs supervised: the afterFunc releases the container
// id's lock (held from before the bundle is read until the delegate has
// made the container) and, when Create mounted or allocated anything,
// undoes it if the delegate fails or a foreground run ends.
func hardenBundle(inv *Invocation, pol *policy.Policy, lg *logger, delegate string, caller int) (afterFunc, error) {
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
	c, err := NewContainer(inv.Global.Root, inv.ContainerID, dir)
	if err != nil {
		return nil, err
	}
	// Concurrent verbs on one id would each see the other's state half
	// made: hold the id's lock until the delegate is done with it. A
	// foreground run lives as long as its container, so it holds the lock
	// until the delegate has made the container (or exited): from then on
	// a create of its id finds the container and sets up nothing.
	lock, err := lockContainer(pol.StateDir, c.ID)
	if err != nil {
		return nil, err
	}
	var once sync.Once
	unlock := func() { once.Do(lock) }
	defer releaseOnPanic(unlock)
	created, err := Create(c, CreateOptions{Policy: pol, Profile: prof, Delegate: delegate, Caller: caller, Debugf: func(format string, args ...any) {
		lg.debugf("profile %q (from %s): "+format, append([]any{prof.Name, src}, args...)...)
	}, Warnf: lg.warnf})
	if err != nil {
		unlock()
		return nil, err
	}
	foreground := inv.Verb == "run" && !inv.flagSet("detach")
	if foreground {
		go func() {
			for deadline := time.Now().Add(lockWait); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
				if containerExists(c.Root, c.ID) {
					break
				}
			}
			unlock()
		}()
	}
	destroyed := foreground && !inv.flagSet("keep")
	return func(code int) error {
		defer unlock()
		if code < 0 {
			return nil // outcome unknown: undo nothing (see afterFunc)
		}
		// A failed create leaves no container for delete to clean up, and
		// a foreground run without --keep destroys its container on exit.
		if code != 0 || destroyed {
			return created.Undo()
		}
		return nil
	}, nil
}

// Container identifies one container for runcage: the delegate's state
// root in its one canonical spelling (see canonicalRoot), the container id,
// and the bundle directory, absolute. NewContainer builds and validates it
// once; nothing downstream derives or checks these again.
type Container struct {
	Root   string
	ID     string
	Bundle string
}

// NewContainer returns the Container for a runc root (as given to runc's
// --root; "" is runc's default), a container id and a bundle directory
// (relative to the working directory, or absolute). It refuses an id runc
// would refuse (^[\w+-.]+$, not "." or "..").
func NewContainer(root, id, bundle string) (Container, error) {
	if !validID(id) || id == "." || id == ".." {
		return Container{}, profiles.Refusef("container id %q refused: not a valid runc container id", id)
	}
	abs, err := filepath.Abs(bundle)
	if err != nil {
		return Container{}, fmt.Errorf("find bundle: %w", err)
	}
	return Container{Root: canonicalRoot(root), ID: id, Bundle: abs}, nil
}

// CreateOptions is what Create needs besides the container.
type CreateOptions struct {
	// Policy is the loaded policy; Profile the profile it selected (an
	// annotation may tighten it further), which must not be a passthrough.
	Policy  *policy.Policy
	Profile *profiles.Profile
	// Delegate is the absolute path of the runtime that will create the
	// container; its support for id-mapped mounts is checked.
	Delegate string
	// Debugf, if set, receives debug messages.
	Debugf func(format string, args ...any)
	// Caller is the process that starts the delegate, when that is not
	// this one (the warm front's caller); 0 means this process.
	Caller int
	// Warnf, if set, receives warnings: what Create could not do without
	// weakening the container (it then runs as strictly, e.g. with its
	// denials unlogged).
	Warnf func(format string, args ...any)
}

// Created is what Create set up for one container. Undo releases it.
type Created struct {
	undo func() error
}

// Undo releases what Create set up (the container's record, its user
// namespace mounts and ids), in reverse order. Call it when the delegate
// failed to create the container, or when the container is gone without a
// delete (a foreground run). It is safe to call more than once, and on a
// nil Created.
func (cr *Created) Undo() error {
	if cr == nil || cr.undo == nil {
		return nil
	}
	return cr.undo()
}

// Create is runcage's create transaction, callable in-process (by a shim)
// as well as from the runc front. The caller must hold the container id's
// lock (lockContainer) until the delegate has created the container. It:
// checks the bundle (trusted, not in use under another runc root), loads
// config.json losslessly, decides every member (profiles/members), applies
// the profile's modifiers, validates the result, sets up the user
// namespace, writes config.json atomically (keeping the original), records
// the container for exec, update and delete, and starts the recording
// agent if the profile records. Each side-effecting step registers its
// undo as soon as it succeeds; any error undoes them all, in reverse, and
// leaves nothing set up. On success the returned Created owns the undo.
// When the delegate already has a container of this id, Create sets up
// nothing (the delegate refuses the duplicate) and returns an empty
// Created.
func Create(c Container, o CreateOptions) (created *Created, err error) {
	if containerExists(c.Root, c.ID) {
		// Set nothing up, and so undo nothing: the live container's ids
		// and mounts are its own.
		return &Created{}, nil
	}
	// The checks: they read the host and change only the spec in memory.
	b, prev, err := openBundle(c, o.Policy)
	if err != nil {
		return nil, err
	}
	prof, agent, denials, err := hardenSpec(c, o, b)
	if err != nil {
		return nil, err
	}

	// The side effects, each undone on a later error.
	var cu cleanup
	defer func() {
		if err != nil {
			err = errors.Join(err, cu.Run())
		}
	}()
	rec := &record{Profile: prof.Name, Bundle: c.Bundle}
	ll, err := landlock.ExecFor(prof, b.Spec())
	if err != nil {
		return nil, err
	}
	rec.Landlock = &ll
	if prof.UserNS == profiles.Required {
		if rec.Userns, err = setUpUserns(&cu, c, o, prev, b.Spec()); err != nil {
			return nil, err
		}
	}
	// runc, inside the user namespace, cannot write the sysctls of a pod
	// network namespace the host's user namespace owns: runcage writes them.
	if err := userns.PodSysctls(b.Spec()); err != nil {
		return nil, err
	}
	if denials != nil {
		warning, err := startDenials(&cu, denials, o.Policy, b.Spec())
		if err != nil {
			return nil, err
		}
		if warning != nil && o.Warnf != nil {
			o.Warnf("container %s: denied syscalls are not logged: %v", c.ID, warning)
		}
	}
	// config.json has no undo: Save keeps the original beside it.
	wrote, err := b.Save()
	if err != nil {
		return nil, err
	}
	if o.Debugf != nil {
		o.Debugf("applied to %s (rewritten: %v)", c.Bundle, wrote)
	}
	if err := keepRecord(&cu, o.Policy.StateDir, c, rec, b.Spec()); err != nil {
		return nil, err
	}
	// The last step, so it needs no undo: nothing after it can fail.
	if agent != nil {
		if err := startAgent(agent); err != nil {
			return nil, err
		}
	}
	return &Created{undo: cu.Release()}, nil
}

// releaseOnPanic, deferred right after a container id's lock is taken,
// releases it if the function panics, and panics on. A runc front dies
// with the panic and its lock with it; a long-lived process that recovers
// (the warm front) would otherwise keep the id locked until it exits.
func releaseOnPanic(unlock func()) {
	if v := recover(); v != nil {
		unlock()
		panic(v)
	}
}

// keptCopies reports whether bundle holds either file runcage keeps beside
// a config.json it rewrote: the original or the copy of what it wrote.
func keptCopies(bundle string) bool {
	for _, suffix := range []string{spec.OrigSuffix, spec.RewrittenSuffix} {
		if _, err := os.Lstat(filepath.Join(bundle, spec.ConfigName+suffix)); !errors.Is(err, fs.ErrNotExist) {
			return true
		}
	}
	return false
}

// openBundle is Create's first check: it refuses an id runcage keeps under
// another runc root and a bundle or root filesystem that is not trusted,
// and loads the container's previous record (nil if none) and its bundle.
// A bundle runcage rewrote for a container that is gone is loaded from
// its original instead.
func openBundle(c Container, pol *policy.Policy) (*spec.Bundle, *record, error) {
	if other, ok := otherRootRecord(pol.StateDir, c.Root, c.ID); ok {
		return nil, nil, profiles.Refusef("container id %q refused: runcage already keeps a container of that id under another runc root (%s); ids must be unique on a host", c.ID, filepath.Base(filepath.Dir(other)))
	}
	if err := spec.CheckTrusted("bundle", filepath.Join(c.Bundle, spec.ConfigName)); err != nil {
		return nil, nil, err
	}
	prev, err := loadRecord(pol.StateDir, c.Root, c.ID)
	if err != nil {
		return nil, nil, err
	}
	b, err := spec.LoadBundle(c.Bundle)
	if err != nil {
		return nil, nil, err
	}
	if (staleMount(b.Spec(), pol.StateDir) || ownListener(b.Spec(), pol.StateDir)) && !prev.injectedFor(b.Spec()) {
		// The bundle was rewritten for a container that is gone (runc's
		// tests and some engines run a bundle again): its root.path names
		// a mount that no longer exists. Start again from the original,
		// with any edits made to config.json since.
		if !keptCopies(c.Bundle) {
			// runcage keeps the original and a copy of every config.json
			// it writes: with neither, this one names runcage's state (a
			// rootfs mount, an agent's socket) on its own.
			return nil, nil, profiles.Refusef("bundle %q refused: its config.json names runcage's own state under %s (root.path or linux.seccomp.listenerPath), which only runcage sets, and runcage did not write it", c.Bundle, pol.StateDir)
		}
		if b, err = spec.LoadBundleAgain(b); err != nil {
			return nil, nil, fmt.Errorf("bundle was rewritten by runcage for another container: %w", err)
		}
	}
	s := b.Spec()
	if s.Root != nil && s.Root.Path != "" && !staleMount(s, pol.StateDir) {
		root := s.Root.Path
		if !filepath.IsAbs(root) {
			root = filepath.Join(c.Bundle, root)
		}
		if err := spec.CheckTrustedOwned("root filesystem", root, pol.InPool); err != nil {
			return nil, nil, err
		}
	}
	return b, prev, nil
}

// hardenSpec is Create's second check: it tightens o.Profile by the
// spec's annotations, decides every member of config.json, applies the
// profile's modifiers to the spec in memory (with the filter that hands
// syscalls to the recording agent, if the profile records, or to the
// node's denial agent) and validates the result. It returns the tightened
// profile, the recording agent's configuration (nil if it records
// nothing) and the denial agent's plan (nil if nothing is logged).
func hardenSpec(c Container, o CreateOptions, b *spec.Bundle) (*profiles.Profile, *recorder.AgentConfig, *denialPlan, error) {
	pol, s := o.Policy, b.Spec()
	prof, err := pol.Tighten(o.Profile, s.Annotations)
	if err != nil {
		return nil, nil, nil, err
	}
	// config.json is a closed world: every member the input has must have
	// a decision. It is judged on the input bytes, before any modifier,
	// because the typed view drops the members it does not know.
	if err := members.Check(b.Doc.Original(), members.Options{Allowed: prof.AllowedMembers, StateDir: pol.StateDir}); err != nil {
		return nil, nil, nil, err
	}
	withoutDenialAgent(pol, s)
	mods, err := pol.Modifiers(prof, policy.Env{Bundle: c.Bundle, AppArmor: apparmor.SystemHost{}, ContainerID: c.ID, RuncRoot: c.Root, Delegate: o.Delegate, Caller: o.Caller})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("profile %q: %w", prof.Name, err)
	}
	if err := mods.Modify(s); err != nil {
		return nil, nil, nil, err
	}
	agent, denials, err := prepareAgent(c, pol, prof, s)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("profile %q: %w", prof.Name, err)
	}
	if err := pol.Validate(s); err != nil {
		return nil, nil, nil, fmt.Errorf("profile %q: %w", prof.Name, err)
	}
	return prof, agent, denials, nil
}

// setUpUserns is Create's user-namespace step: it allocates the
// container's ids and makes its id-mapped mounts, writing the mappings
// into s, and pushes their undo on cu. A bundle runcage already rewrote
// for this container keeps the setup prev recorded; a setup prev recorded
// for a container runc no longer knows is undone first.
func setUpUserns(cu *cleanup, c Container, o CreateOptions, prev *record, s *specs.Spec) (*userns.Result, error) {
	setup := newSetup(o.Policy, o.Delegate)
	if prev.injectedFor(s) {
		// create again on a bundle runcage already rewrote for this
		// container: its user namespace and mounts are in place.
		res := prev.Userns
		cu.Add(func() error { return setup.Undo(res, c.ID) })
		return res, nil
	}
	if prev != nil && prev.Userns != nil {
		// Left by a container runc no longer knows (deleted behind
		// runcage's back, or a crash): clean it up first so mounts never
		// stack.
		if err := setup.Undo(prev.Userns, c.ID); err != nil {
			return nil, fmt.Errorf("clean up a stale setup of this container id: %w", err)
		}
	}
	res, err := setup.Apply(s, c.Bundle, c.ID)
	if err != nil {
		return nil, err
	}
	cu.Add(func() error { return setup.Undo(res, c.ID) })
	// The namespaces modifier narrowed ping_group_range for the default
	// range size; fit it to the mappings actually made.
	if s.Linux != nil && len(s.Linux.GIDMappings) > 0 {
		if _, err := namespaces.FitPingGroupRange(s, s.Linux.GIDMappings); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// keepRecord is Create's record step: it saves rec, with the AppArmor
// profile and SELinux label s runs under, for the container's exec,
// update and delete, and pushes its removal on cu.
func keepRecord(cu *cleanup, stateDir string, c Container, rec *record, s *specs.Spec) error {
	if s.Process != nil {
		rec.AppArmor = s.Process.ApparmorProfile
		rec.SelinuxLabel = s.Process.SelinuxLabel
	}
	// Pushed first: a save that fails halfway leaves nothing behind.
	cu.Add(func() error { removeRecord(stateDir, c.Root, c.ID); return nil })
	if err := saveRecord(stateDir, c.Root, c.ID, rec); err != nil {
		return fmt.Errorf("record container state: %w", err)
	}
	return nil
}

// afterDelete makes delete clean up what create set up for the container:
// once the delegate has deleted it (its state directory is gone), the
// id-mapped mounts are unmounted and the ids released. lockfd is the C fast
// path's lock of the container id to adopt (see Ahead), or -1.
func afterDelete(inv *Invocation, pol *policy.Policy, lockfd int) (afterFunc, error) {
	removeDeadAgent(pol.StateDir, inv.Global.Root, inv.ContainerID)
	unlock, err := lockContainerFrom(pol.StateDir, inv.ContainerID, lockfd)
	if err != nil {
		return nil, err
	}
	defer releaseOnPanic(unlock)
	after, err := afterDeleteLocked(pol, inv.Global.Root, inv.ContainerID)
	if err != nil || after == nil {
		unlock()
		return after, err
	}
	return func(code int) error {
		defer unlock()
		if code < 0 {
			return nil
		}
		return after(code)
	}, nil
}

// afterDeleteLocked is afterDelete of container id under runc root root
// (canonical), once the id is locked.
func afterDeleteLocked(pol *policy.Policy, root, id string) (afterFunc, error) {
	rec, err := loadRecord(pol.StateDir, root, id)
	if err != nil || rec == nil || rec.Userns == nil {
		removeRecord(pol.StateDir, root, id)
		if !validID(id) || !orphanSetup(pol, id) {
			return nil, nil
		}
		if _, ok := otherRootRecord(pol.StateDir, root, id); ok {
			// The mounts and ids belong to the container of this id
			// under another runc root, not to an orphan of this one.
			return nil, nil
		}
		// A create killed between the user-namespace setup and saving its
		// record left mounts or an allocation without a record. Engines
		// never reuse container ids, so only this delete can undo them.
		return func(int) error {
			if containerExists(root, id) {
				return nil
			}
			return newSetup(pol, "").UndoOrphan(id)
		}, nil
	}
	return func(int) error {
		if containerExists(root, id) {
			return nil // still there: the delete failed, keep everything
		}
		removeRecord(pol.StateDir, root, id)
		return newSetup(pol, "").Undo(rec.Userns, id)
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
