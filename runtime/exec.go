package runtime

import (
	"fmt"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runcage/runcage/profiles"
	"github.com/runcage/runcage/profiles/caps"
	"github.com/runcage/runcage/profiles/landlock"
	"github.com/runcage/runcage/profiles/members"
	"github.com/runcage/runcage/profiles/policy"
	"github.com/runcage/runcage/profiles/process"
	"github.com/runcage/runcage/runtime/spec"
)

// hardenExec makes sure `exec` cannot give a new process more than the
// container's profile allows: the --cap, --apparmor, --process-label and
// --no-new-privs flags are checked, and a --process file is rewritten
// (capabilities cut to the profile, no_new_privs forced, the container's
// AppArmor profile kept).
func hardenExec(inv *Invocation, pol *policy.Policy, lg *logger) error {
	prof, _, err := pol.Select(inv.Global.RuncageProfile, inv.Argv0)
	if err != nil {
		return err
	}
	prof, rec, err := execProfile(pol, prof, inv.Global.Root, inv.ContainerID)
	if err != nil {
		return err
	}
	if prof.Passthrough {
		return nil
	}
	ef := inv.Exec
	if ef == nil {
		return nil
	}
	for _, c := range ef.Caps {
		if err := caps.CheckName(c); err != nil {
			return fmt.Errorf("exec --cap: %w", err)
		}
		if !slices.Contains(prof.Capabilities, c) {
			return profiles.Refusef("exec --cap %q refused: profile %q does not keep it", c, prof.Name)
		}
	}
	if ef.NoNewPrivs != nil && !*ef.NoNewPrivs {
		return profiles.Refusef("exec --no-new-privs=false refused: profile %q always sets no_new_privs", prof.Name)
	}
	wantAA := ""
	if rec != nil {
		wantAA = rec.AppArmor
	}
	if ef.AppArmorSet && ef.AppArmor != wantAA {
		return profiles.Refusef("exec --apparmor %q refused: the container runs under %q", ef.AppArmor, wantAA)
	}
	if ef.ProcessLabelSet && (rec == nil || ef.ProcessLabel != rec.SelinuxLabel) {
		return profiles.Refusef("exec --process-label %q refused: exec cannot change the container's SELinux label", ef.ProcessLabel)
	}
	if ef.Cwd != "" {
		if err := process.CheckCwd(ef.Cwd); err != nil {
			return fmt.Errorf("exec --cwd: %w", err)
		}
	}
	if ef.Process == "" {
		// The command line's process goes through the Landlock helper too.
		ll, err := execLandlock(prof, rec)
		if err != nil {
			return err
		}
		inv.Args, err = landlock.WrapCommand(ll, inv.Args, ef.Command)
		return err
	}
	pf, err := spec.LoadProcess(ef.Process)
	if err != nil {
		return err
	}
	if err := hardenProcess(pol, prof, rec, pf.Doc, "exec --process "+ef.Process); err != nil {
		return err
	}
	if _, err := pf.Save(); err != nil {
		return err
	}
	lg.debugf("exec: process file %s hardened for profile %q", ef.Process, prof.Name)
	return nil
}

// execProfile returns the profile an exec into container id under root
// enforces, and the container's record (nil if runcage did not create
// it): the profile the container got at create, which an annotation may
// have tightened, else prof.
func execProfile(pol *policy.Policy, prof *profiles.Profile, root, id string) (*profiles.Profile, *record, error) {
	rec, err := loadRecord(pol.StateDir, root, id)
	if err != nil {
		return nil, nil, err
	}
	if rec != nil && rec.Profile != prof.Name {
		if prof, err = pol.Profile(rec.Profile); err != nil {
			return nil, nil, fmt.Errorf("container profile: %w", err)
		}
	}
	return prof, rec, nil
}

// execLandlock returns how an exec'd process of a container of profile
// prof, whose record is rec, is confined by Landlock: as the container was
// created (rec's), else by prof's current rules (a container runcage did
// not create, or whose record predates the field; where prof has rules
// and the container no helper, such an exec fails: closed).
func execLandlock(prof *profiles.Profile, rec *record) (landlock.Exec, error) {
	if rec != nil && rec.Landlock != nil {
		return *rec.Landlock, nil
	}
	return landlock.ExecFor(prof, nil)
}

// hardenProcess is the check of an exec process (a `runc exec --process`
// file, or the process a shim is asked to exec) for a container of profile
// prof, whose record is rec (nil if runcage did not create it): every
// member must have a decision, capabilities are cut to the profile,
// no_new_privs is forced, the SELinux label must stay the container's and
// the AppArmor profile becomes the container's. It changes doc's Value in
// place; what names the process in errors.
func hardenProcess(pol *policy.Policy, prof *profiles.Profile, rec *record, doc *spec.Document[specs.Process], what string) error {
	if err := members.CheckProcess(doc.Original(), members.Options{Allowed: prof.AllowedMembers, StateDir: pol.StateDir}); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	p := doc.Value
	capm, err := caps.New(prof)
	if err != nil {
		return err
	}
	mods := profiles.List{process.New(prof), capm}
	if err := mods.Modify(&specs.Spec{Process: p}); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	ll, err := execLandlock(prof, rec)
	if err != nil {
		return err
	}
	if err := landlock.WrapProcess(ll, p); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if rec != nil {
		if p.SelinuxLabel != "" && p.SelinuxLabel != rec.SelinuxLabel {
			return profiles.Refusef("%s: selinuxLabel %q refused: exec cannot change the container's SELinux label", what, p.SelinuxLabel)
		}
		p.ApparmorProfile = rec.AppArmor
	} else if p.ApparmorProfile == "unconfined" {
		return profiles.Refusef("%s: apparmorProfile %q refused: exec cannot leave the container's confinement", what, p.ApparmorProfile)
	}
	return nil
}
