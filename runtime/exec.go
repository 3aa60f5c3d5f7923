package runtime

import (
	"fmt"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runcage/runcage/profiles"
	"github.com/runcage/runcage/profiles/caps"
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
	rec, err := loadRecord(pol.StateDir, inv.Global.Root, inv.ContainerID)
	if err != nil {
		return err
	}
	if rec != nil && rec.Profile != prof.Name {
		// The container got another profile at create (an annotation
		// tightened it): enforce that one.
		if prof, err = pol.Profile(rec.Profile); err != nil {
			return fmt.Errorf("container profile: %w", err)
		}
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
		return nil
	}
	pf, err := spec.LoadProcess(ef.Process)
	if err != nil {
		return err
	}
	if err := members.CheckProcess(pf.Doc.Original(), members.Options{Allowed: prof.AllowedMembers, StateDir: pol.StateDir}); err != nil {
		return fmt.Errorf("exec --process %s: %w", ef.Process, err)
	}
	p := pf.Doc.Value
	capm, err := caps.New(prof)
	if err != nil {
		return err
	}
	mods := profiles.List{process.New(prof), capm}
	if err := mods.Modify(&specs.Spec{Process: p}); err != nil {
		return fmt.Errorf("exec --process %s: %w", ef.Process, err)
	}
	if rec != nil {
		if p.SelinuxLabel != "" && p.SelinuxLabel != rec.SelinuxLabel {
			return profiles.Refusef("exec --process: selinuxLabel %q refused: exec cannot change the container's SELinux label", p.SelinuxLabel)
		}
		p.ApparmorProfile = rec.AppArmor
	} else if p.ApparmorProfile == "unconfined" {
		return profiles.Refusef("exec --process: apparmorProfile %q refused: exec cannot leave the container's confinement", p.ApparmorProfile)
	}
	if _, err := pf.Save(); err != nil {
		return err
	}
	lg.debugf("exec: process file %s hardened for profile %q", ef.Process, prof.Name)
	return nil
}
