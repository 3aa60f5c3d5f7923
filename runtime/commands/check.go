package commands

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/runcage/runcage/profiles"
	"github.com/runcage/runcage/profiles/apparmor"
	"github.com/runcage/runcage/profiles/landlock"
	"github.com/runcage/runcage/profiles/policy"
	"github.com/runcage/runcage/profiles/recorder"
	"github.com/runcage/runcage/profiles/seccomp"
	"github.com/runcage/runcage/profiles/userns"
)

// checkCommand is `runcage check`.
func checkCommand(f *Front) *cli.Command {
	return &cli.Command{
		Name:  "check",
		Usage: "report which protections this host supports",
		Action: func(c *cli.Context) error {
			return check(c.App.Writer, f)
		},
	}
}

// check reports, one line per protection, what this host and the
// delegate support and what each profile of the policy will get.
func check(w io.Writer, f *Front) error {
	pol, err := f.LoadPolicy()
	if err != nil {
		return err
	}
	src := pol.Path
	if src == "" {
		src = "built-in default (no " + policy.DefaultPath + ")"
	}
	fmt.Fprintf(w, "policy:          %s\n", src)
	fmt.Fprintf(w, "default profile: %s\n", pol.DefaultProfile)
	fmt.Fprintf(w, "seccomp:         %s\n", seccompStatus())
	if err := seccomp.Compile(seccomp.Default()); err != nil {
		fmt.Fprintf(w, "  runtime/default filter: does not compile: %v\n", err)
	} else {
		fmt.Fprintf(w, "  runtime/default filter: compiles with libseccomp (%d syscalls allowed)\n", len(seccomp.AllowedSyscalls(seccomp.Default())))
	}
	fmt.Fprintf(w, "user namespaces: %s\n", usernsStatus())
	if err := userns.Reachable(pol.StateDir); err != nil {
		fmt.Fprintf(w, "state_dir:       unusable: %v\n", err)
	} else {
		fmt.Fprintf(w, "state_dir:       %s (reachable by containers' root)\n", pol.StateDir)
	}
	for _, dir := range []string{"/var/lib", pol.StateDir} {
		if _, err := os.Stat(dir); err != nil {
			continue
		}
		if err := userns.Probe(dir); err != nil {
			fmt.Fprintf(w, "id-mapped mounts on %s: no (%v)\n", dir, err)
		} else {
			fmt.Fprintf(w, "id-mapped mounts on %s: yes\n", dir)
		}
	}
	ok, why := apparmor.Available()
	state := "absent"
	if ok {
		state = "present"
	}
	fmt.Fprintf(w, "apparmor:        %s (%s)\n", state, why)
	for _, name := range pol.Names() {
		prof, err := pol.Profile(name)
		if err != nil || prof.Passthrough {
			continue
		}
		req := prof.AppArmor.Require
		if req == "" {
			req = profiles.IfAvailable
		}
		switch {
		case req == profiles.Off:
			fmt.Fprintf(w, "  profile %s: AppArmor off\n", name)
		case ok:
			fmt.Fprintf(w, "  profile %s: AppArmor applied (%s)\n", name, apparmor.ProfileName(name))
		case req == profiles.Required:
			fmt.Fprintf(w, "  profile %s: AppArmor required but absent: containers will be refused\n", name)
		default:
			fmt.Fprintf(w, "  profile %s: AppArmor skipped (if-available)\n", name)
		}
	}
	fmt.Fprintf(w, "landlock:        %s\n", landlock.Status())
	fmt.Fprintf(w, "  denials:       %s\n", landlockDenialsStatus(recorder.AuditEnabled))
	for _, name := range pol.Names() {
		if prof, err := pol.Profile(name); err == nil {
			if st := landlock.ProfileStatus(prof); st != "" {
				fmt.Fprintf(w, "  profile %s: %s\n", name, st)
			}
		}
	}
	delegate, err := f.FindDelegate(pol.Runtime)
	if err != nil {
		fmt.Fprintf(w, "delegate:        %v\n", err)
		return nil
	}
	fmt.Fprintf(w, "delegate:        %s\n", delegate)
	if err := f.IDMapMounts(pol.StateDir, delegate); err != nil {
		fmt.Fprintf(w, "  idmap mount option: no (%v)\n", err)
	} else {
		fmt.Fprintf(w, "  idmap mount option: yes\n")
	}
	for _, args := range [][]string{{"--version"}, {"features"}} {
		out, err := f.RunDelegate(delegate, args...)
		if err != nil {
			fmt.Fprintf(w, "  %s %s: %v\n", filepath.Base(delegate), args[0], err)
			continue
		}
		fmt.Fprintf(w, "  %s %s:\n", filepath.Base(delegate), args[0])
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			fmt.Fprintf(w, "    %s\n", l)
		}
	}
	return nil
}

func seccompStatus() string {
	data, err := os.ReadFile("/proc/sys/kernel/seccomp/actions_avail")
	if err != nil {
		return "absent (" + err.Error() + ")"
	}
	acts := strings.Fields(string(data))
	s := "present, actions: " + strings.Join(acts, " ")
	for _, a := range acts {
		if a == "user_notif" {
			return s
		}
	}
	return s + " (no user notification: recording unavailable)"
}

func usernsStatus() string {
	if data, err := os.ReadFile("/proc/sys/user/max_user_namespaces"); err == nil {
		if strings.TrimSpace(string(data)) == "0" {
			return "disabled (user.max_user_namespaces = 0)"
		}
		return "present (max " + strings.TrimSpace(string(data)) + ")"
	}
	if _, err := os.Stat("/proc/self/ns/user"); err == nil {
		return "present"
	}
	return "absent"
}

// landlockDenialsStatus says whether `runcage denials` can show Landlock
// denials on this host: the kernel reports them only through audit, which
// auditEnabled (recorder.AuditEnabled) says is on or off.
func landlockDenialsStatus(auditEnabled func() (bool, error)) string {
	on, err := auditEnabled()
	switch {
	case err != nil:
		return fmt.Sprintf("unknown: the kernel's audit state cannot be read (%v); Landlock denials are reported only while audit is enabled", err)
	case on:
		return "reported (the kernel's audit is enabled): runcage denials shows them"
	default:
		return "not reported: the kernel's audit is disabled, so a Landlock denial is only the workload's EACCES (enable it: " + enableAudit + ")"
	}
}
