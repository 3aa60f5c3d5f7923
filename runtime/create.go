package runtime

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/runcage/runcage/profiles/apparmor"
	"github.com/runcage/runcage/profiles/policy"
	"github.com/runcage/runcage/runtime/spec"
)

// hardenBundle is the shared path of create, run and restore: select the
// profile, load config.json losslessly, apply the profile, validate the
// result, write it atomically (keeping the original), and record what was
// applied so that exec can enforce the same profile.
func hardenBundle(inv *Invocation, pol *policy.Policy, lg *logger) error {
	prof, src, err := pol.Select(inv.Global.RuncageProfile, inv.Argv0)
	if err != nil {
		return err
	}
	if prof.Passthrough {
		lg.debugf("profile %q (from %s): forwarding unchanged", prof.Name, src)
		return nil
	}
	dir := inv.Bundle
	if dir == "" {
		if dir, err = os.Getwd(); err != nil {
			return fmt.Errorf("find bundle: %w", err)
		}
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return fmt.Errorf("find bundle: %w", err)
	}
	b, err := spec.LoadBundle(dir)
	if err != nil {
		return err
	}
	s := b.Spec()
	if prof, err = pol.Tighten(prof, s.Annotations); err != nil {
		return err
	}
	mods, err := pol.Modifiers(prof, policy.Env{Bundle: dir, AppArmor: apparmor.SystemHost{}})
	if err != nil {
		return fmt.Errorf("profile %q: %w", prof.Name, err)
	}
	if err := mods.Modify(s); err != nil {
		return err
	}
	if err := pol.Validate(s); err != nil {
		return fmt.Errorf("profile %q: %w", prof.Name, err)
	}
	wrote, err := b.Save()
	if err != nil {
		return err
	}
	lg.debugf("profile %q (from %s) applied to %s (rewritten: %v)", prof.Name, src, dir, wrote)
	rec := &record{Profile: prof.Name, Bundle: dir}
	if s.Process != nil {
		rec.AppArmor = s.Process.ApparmorProfile
		rec.SelinuxLabel = s.Process.SelinuxLabel
	}
	if err := saveRecord(pol.StateDir, inv.Global.Root, inv.ContainerID, rec); err != nil {
		return fmt.Errorf("record container state: %w", err)
	}
	return nil
}
