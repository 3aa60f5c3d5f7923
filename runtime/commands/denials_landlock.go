package commands

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/runcage/runcage/profiles"
	"github.com/runcage/runcage/profiles/landlock"
	"github.com/runcage/runcage/profiles/policy"
	"github.com/runcage/runcage/profiles/record"
	"github.com/runcage/runcage/profiles/recorder"
)

// landlockKey is what tells Landlock denials apart beside the container
// and executable: the path or port and the access ("" for a syscall's).
func landlockKey(ev record.AuditEvent) string {
	if ev.Landlock == nil {
		return ""
	}
	return fmt.Sprintf("%s\x00%d\x00%s", ev.Landlock.Path, ev.Landlock.Port, strings.Join(ev.Landlock.Access, ","))
}

// landlockTarget is the path or port of a Landlock denial as the table
// shows it.
func landlockTarget(l *record.LandlockAccess) string {
	switch {
	case l.Path != "":
		return l.Path
	case l.Port != 0:
		return fmt.Sprintf("tcp port %d", l.Port)
	}
	return "-"
}

// writeLandlockTable prints the Landlock denials of ds.
func writeLandlockTable(w io.Writer, ds []record.AuditEvent) error {
	fmt.Fprintln(w, "Landlock denials (the call failed with EACCES, \"Permission denied\"):")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CONTAINER\tPROFILE\tACCESS\tPATH OR PORT\tSYSCALL\tEXE\tCOUNT\tLAST")
	for _, d := range ds {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", d.Container, d.Profile, strings.Join(d.Landlock.Access, ","), landlockTarget(d.Landlock),
			cmp.Or(d.Syscall, "-"), cmp.Or(d.Exe, "-"), d.Count, d.Time.Local().Format(time.DateTime))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w, "(runcage denials --json ID > FILE; runcage profile widen PROFILE FILE grants them)")
	return err
}

// landlockUnreported returns, when the host's audit is disabled (or its
// state cannot be read), the containers among ids (all, if none) whose
// profile has Landlock rules, as "ID (profile NAME)", with why their
// Landlock denials are not reported; nil when they are, or there is none.
// It looks at the containers that exist (the denial agent's
// configurations) and at those the events ds name.
func landlockUnreported(pol *policy.Policy, ids []string, ds []record.AuditEvent, auditEnabled func() (bool, error)) ([]string, error) {
	on, aerr := auditEnabled()
	if aerr == nil && on {
		return nil, nil
	}
	profileOf := map[string]string{}
	for _, ev := range ds {
		profileOf[ev.Container] = ev.Profile
	}
	for _, cfg := range recorder.ServedContainers(recorder.AgentsDir(pol.StateDir)) {
		if len(ids) == 0 || slices.Contains(ids, cfg.Container) {
			profileOf[cfg.Container] = cfg.Profile
		}
	}
	confined := map[string]bool{}
	var out []string
	for _, id := range slices.Sorted(maps.Keys(profileOf)) {
		name := profileOf[id]
		ok, seen := confined[name]
		if !seen {
			prof, err := pol.Profile(name)
			ok = err == nil && landlock.Active(prof.Landlock)
			confined[name] = ok
		}
		if ok {
			out = append(out, fmt.Sprintf("%s (profile %s)", id, name))
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, aerr
}

// writeLandlockUnreported says plainly why the Landlock denials of
// containers are not shown, what the workload sees instead, and how to
// have them reported. aerr is why the audit state is unknown (nil: audit
// is disabled).
func writeLandlockUnreported(w io.Writer, containers []string, aerr error) {
	if aerr != nil {
		fmt.Fprintf(w, "Landlock denials of %s may not be reported: runcage cannot tell whether the kernel's audit is enabled (%v), and the kernel reports Landlock denials only through audit.\n",
			strings.Join(containers, ", "), aerr)
	} else {
		fmt.Fprintf(w, "Landlock denials of %s are not reported on this host: the kernel's audit is disabled, and the kernel reports Landlock denials only through audit.\n",
			strings.Join(containers, ", "))
	}
	fmt.Fprintln(w, "What the workload sees instead: the denied call fails with EACCES (\"Permission denied\"), and nothing is logged; `runcage profile widen --landlock-path PATH:ACCESS|--landlock-bind PORT|--landlock-connect PORT PROFILE` grants what the workload's error names.")
	fmt.Fprintln(w, "To have them reported, enable the kernel's audit: "+enableAudit+". runcage does not change it.")
}

// enableAudit is how an administrator turns the kernel's audit on, which
// Landlock needs to report denials.
const enableAudit = "`auditctl -e 1` (until reboot) or `audit=1` on the kernel command line"

// landlockWant turns the Landlock denials of evs into the rules that
// grant them, checked as a profile's rules are (landlock.Check), and
// returns, one line each, those it cannot grant: scope denials, denials
// logged without a path or port (past a container's limit), paths or
// accesses a rule cannot name, and denials at / (a rule there would grant
// its rights on every file; the workload picks what it is denied).
func landlockWant(evs []record.AuditEvent) (*profiles.Landlock, []string) {
	want := &profiles.Landlock{}
	byPath := map[string]int{}
	var skipped []string
	for _, ev := range evs {
		l := ev.Landlock
		for _, a := range l.Access {
			switch {
			case a == "bind" && l.Port > 0:
				if !slices.Contains(want.Bind, l.Port) {
					want.Bind = append(want.Bind, l.Port)
				}
			case a == "connect" && l.Port > 0:
				if !slices.Contains(want.Connect, l.Port) {
					want.Connect = append(want.Connect, l.Port)
				}
			case l.Path == "/" && a != "bind" && a != "connect":
				// A rule's rights hold for everything beneath its path.
				// The workload chooses what it is denied: a denial at /
				// must not become a rule on the whole file system
				// without someone asking for it by name.
				skipped = append(skipped, fmt.Sprintf("%s /: a rule on / grants it on every file (name it with --landlock-path if that is meant)", a))
			case l.Path != "" && a != "bind" && a != "connect":
				if err := landlock.Check(&profiles.Landlock{FS: []profiles.LandlockPath{{Path: l.Path, Access: []string{a}}}}); err != nil {
					skipped = append(skipped, fmt.Sprintf("%s %s: %v", a, l.Path, err))
					continue
				}
				i, ok := byPath[l.Path]
				if !ok {
					i = len(want.FS)
					byPath[l.Path] = i
					want.FS = append(want.FS, profiles.LandlockPath{Path: l.Path})
				}
				if !slices.Contains(want.FS[i].Access, a) {
					want.FS[i].Access = append(want.FS[i].Access, a)
				}
			default:
				skipped = append(skipped, fmt.Sprintf("%s %s: widen grants paths and TCP ports only (scopes are set in profile.toml)", a, landlockTarget(l)))
			}
		}
	}
	slices.Sort(want.Bind)
	slices.Sort(want.Connect)
	slices.SortFunc(want.FS, func(a, b profiles.LandlockPath) int { return cmp.Compare(a.Path, b.Path) })
	return want, skipped
}
