package commands

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/runcage/runcage/profiles"
	"github.com/runcage/runcage/profiles/landlock"
	"github.com/runcage/runcage/profiles/record"
	"github.com/runcage/runcage/profiles/recorder"
	"github.com/runcage/runcage/profiles/seccomp"
)

// denialsCommand is `runcage denials`: the syscalls enforced profiles
// denied, and the accesses their Landlock rules denied, from the denial
// agent's log (policy.DenialsLog and its previous generation), so it works
// after the containers are gone. Where the kernel's audit is disabled it
// says, for the containers whose profile has Landlock rules, that their
// Landlock denials are not reported and why.
func denialsCommand(f *Front) *cli.Command {
	return &cli.Command{
		Name:      "denials",
		Usage:     "list the syscalls enforced profiles denied, per container, profile, syscall, errno and executable, and the files and ports their Landlock rules denied (where the kernel's audit is enabled)",
		ArgsUsage: "[ID...]",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "json", Usage: "print JSON lines (the input `runcage profile widen` and `merge` read)"},
			&cli.DurationFlag{Name: "since", Usage: "only denials seen within this long (e.g. 10m)"},
		},
		Action: func(c *cli.Context) error {
			pol, err := f.LoadPolicy()
			if err != nil {
				return err
			}
			var since time.Time
			if d := c.Duration("since"); d > 0 {
				since = time.Now().Add(-d)
			}
			ids := c.Args().Slice()
			ds, err := readDenials(pol.DenialsLog(), ids, since)
			if err != nil {
				return err
			}
			unreported, aerr := landlockUnreported(pol, ids, ds, recorder.AuditEnabled)
			if c.Bool("json") {
				if len(unreported) > 0 {
					writeLandlockUnreported(c.App.ErrWriter, unreported, aerr)
				}
				return writeDenialsJSON(c.App.Writer, ds)
			}
			return writeDenialsTable(c.App.Writer, pol.DenialsLog(), ds, unreported, aerr)
		},
	}
}

// writeDenialsTable prints the syscall denials of ds, then its Landlock
// denials, then why the Landlock denials of the containers unreported are
// not reported (aerr: why the audit state is unknown).
func writeDenialsTable(w io.Writer, log string, ds []record.AuditEvent, unreported []string, aerr error) error {
	syscalls := slices.DeleteFunc(slices.Clone(ds), func(d record.AuditEvent) bool { return d.Landlock != nil })
	landlocks := slices.DeleteFunc(slices.Clone(ds), func(d record.AuditEvent) bool { return d.Landlock == nil })
	if len(ds) == 0 {
		fmt.Fprintf(w, "no denials logged in %s\n", log)
	}
	if len(syscalls) > 0 {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "CONTAINER\tPROFILE\tSYSCALL\tERRNO\tEXE\tCOUNT\tLAST")
		for _, d := range syscalls {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\n", d.Container, d.Profile, d.Syscall, errnoName(d.Errno), d.Exe, d.Count, d.Time.Local().Format(time.DateTime))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(landlocks) > 0 {
		if len(syscalls) > 0 {
			fmt.Fprintln(w)
		}
		if err := writeLandlockTable(w, landlocks); err != nil {
			return err
		}
	}
	if len(unreported) > 0 {
		fmt.Fprintln(w)
		writeLandlockUnreported(w, unreported, aerr)
	}
	return nil
}

// readDenials returns the denied events of the denials log at path (and
// its previous generation path+".1"), one per (container, profile,
// syscall, errno, executable, and for a Landlock denial its path or port
// and access), with the highest count and the latest time, sorted; only
// those of ids (if any) seen at or after since.
func readDenials(path string, ids []string, since time.Time) ([]record.AuditEvent, error) {
	type key struct {
		c, p, s, exe, ll string
		errno            int
	}
	groups := map[key]record.AuditEvent{}
	for _, p := range []string{path + ".1", path} {
		f, err := os.Open(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read denials: %w", err)
		}
		err = record.ScanAuditEvents(f, func(ev record.AuditEvent) {
			if ev.Action != record.ActionDenied || len(ids) > 0 && !slices.Contains(ids, ev.Container) {
				return
			}
			k := key{ev.Container, ev.Profile, ev.Syscall, ev.Exe, landlockKey(ev), ev.Errno}
			g, ok := groups[k]
			if !ok || ev.Count > g.Count {
				g.Count = ev.Count
			}
			if !ok || ev.Time.After(g.Time) {
				count := g.Count
				g = ev
				g.Count = count
			}
			groups[k] = g
		}, nil)
		f.Close()
		if err != nil {
			return nil, err
		}
	}
	var out []record.AuditEvent
	for _, g := range groups {
		if !g.Time.Before(since) {
			out = append(out, g)
		}
	}
	slices.SortFunc(out, func(a, b record.AuditEvent) int {
		return cmp.Or(cmp.Compare(a.Container, b.Container), cmp.Compare(landlockKey(a), landlockKey(b)), cmp.Compare(a.Syscall, b.Syscall), cmp.Compare(a.Errno, b.Errno), cmp.Compare(a.Exe, b.Exe))
	})
	return out, nil
}

func writeDenialsJSON(w io.Writer, ds []record.AuditEvent) error {
	for _, d := range ds {
		b, err := json.Marshal(d)
		if err != nil {
			return err
		}
		if _, err := w.Write(append(b, '\n')); err != nil {
			return err
		}
	}
	return nil
}

// errnoName spells errno as the C name where it is a common one.
func errnoName(e int) string {
	switch e {
	case 1:
		return "EPERM"
	case 13:
		return "EACCES"
	case 38:
		return "ENOSYS"
	case 95:
		return "EOPNOTSUPP"
	}
	return fmt.Sprint(e)
}

// profileWidenCommand is `runcage profile widen PROFILE FILE`: it widens
// the installed profile PROFILE, in place, by exactly the syscalls, and the
// Landlock paths and ports, the denials in FILE (`runcage denials --json`,
// or a complain or denials log) name for one container, and prints each
// addition, or why there is none.
// A verb of its own rather than merge: merge writes the union of its
// inputs under a new --name and reports a total; widen edits one profile
// from one container's denials and must say what it added.
func profileWidenCommand(f *Front, dirFlag cli.Flag) *cli.Command {
	return &cli.Command{
		Name:      "widen",
		Usage:     "allow, in an installed profile, the syscalls and Landlock paths and ports `runcage denials --json` shows it denied to one container, or the Landlock paths and ports given",
		ArgsUsage: "PROFILE FILE|-  or  --landlock-path PATH:ACCESS|--landlock-bind PORT|--landlock-connect PORT... PROFILE",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "container", Usage: "the container whose denials count (needed when FILE names several)"},
			&cli.BoolFlag{Name: "allow-dangerous", Usage: "also allow syscalls runtime/default denies"},
			dirFlag,
		}, landlockWidenFlags...),
		Action: func(c *cli.Context) error {
			if landlockWidenAsked(c) {
				if c.NArg() != 1 {
					return fmt.Errorf("usage: runcage profile widen [--profiles-dir DIR] --landlock-path PATH:ACCESS|--landlock-bind PORT|--landlock-connect PORT... PROFILE (widen syscalls from a FILE in a separate run)")
				}
				want, err := parseLandlockWiden(c.StringSlice("landlock-path"), c.IntSlice("landlock-bind"), c.IntSlice("landlock-connect"))
				if err != nil {
					return err
				}
				dir, err := profilesDir(f, c.String("profiles-dir"))
				if err != nil {
					return err
				}
				return profileWidenLandlock(c, f, dir, c.Args().Get(0), want)
			}
			if c.NArg() != 2 {
				return fmt.Errorf("usage: runcage profile widen [--container ID] [--allow-dangerous] [--profiles-dir DIR] PROFILE FILE|-")
			}
			dir, err := profilesDir(f, c.String("profiles-dir"))
			if err != nil {
				return err
			}
			return profileWiden(c, f, dir, c.Args().Get(0), c.Args().Get(1), c.String("container"), c.Bool("allow-dangerous"))
		},
	}
}

// profileAllows returns the installed generated profile name (in profiles
// directory dir), as the policy loads it, and the syscalls its seccomp
// filter allows. It refuses a profile `runcage profile generate` did not
// write (it has no trace.json): widening regenerates the profile from its
// trace, which would replace everything else a hand-written profile says.
func profileAllows(f *Front, dir, name string) (*profiles.Profile, map[string]bool, error) {
	pol, err := f.LoadPolicy()
	if err != nil {
		return nil, nil, err
	}
	p := *pol
	p.ProfilesDir = dir
	prof, err := p.Profile(name)
	if err != nil {
		return nil, nil, err
	}
	if !strings.HasPrefix(prof.Dir, dir) {
		return nil, nil, profiles.Refusef("widen refused: %s is not an installed profile in %s", name, dir)
	}
	if _, err := os.Lstat(filepath.Join(prof.Dir, "trace.json")); err != nil {
		return nil, nil, profiles.Refusef("widen refused: %s was not written by runcage profile generate (no trace.json): widening regenerates a profile from its trace and would replace the rest of a hand-written one; add the syscalls to its seccomp file instead", name)
	}
	filter, err := p.Seccomp(prof)
	if err != nil {
		return nil, nil, err
	}
	allowed := map[string]bool{}
	for _, s := range seccomp.AllowedSyscalls(filter) {
		allowed[s] = true
	}
	return prof, allowed, nil
}

// recordedOnly reports whether prof was generated without analysis: none
// of its syscalls is there for a static reason. Regenerating it the same
// way adds nothing but what is asked.
func recordedOnly(prof *profiles.Profile) bool {
	for _, r := range prof.SyscallReasons {
		if strings.HasPrefix(r, record.ReasonStatic) {
			return false
		}
	}
	return true
}

// readDenied reads the denial and complain events of the file input and
// returns, per syscall, the event with the highest count, and the Landlock
// denials, for container (or, if it is "", for the one container the input
// names, which it returns). It refuses input that names several containers
// when container is "".
func readDenied(input, container string) (map[string]record.AuditEvent, []record.AuditEvent, string, error) {
	in, err := os.Open(input)
	if err != nil {
		return nil, nil, "", fmt.Errorf("widen: %w", err)
	}
	denied := map[string]record.AuditEvent{}
	var landlocks []record.AuditEvent
	containers := map[string]bool{}
	err = record.ScanAuditEvents(in, func(ev record.AuditEvent) {
		if container != "" && ev.Container != container {
			return
		}
		containers[ev.Container] = true
		if ev.Landlock != nil {
			if ev.Action == record.ActionDenied {
				landlocks = append(landlocks, ev)
			}
			return
		}
		if d, ok := denied[ev.Syscall]; !ok || ev.Count > d.Count {
			denied[ev.Syscall] = ev
		}
	}, nil)
	in.Close()
	if err != nil {
		return nil, nil, "", err
	}
	if len(containers) > 1 {
		return nil, nil, "", profiles.Refusef("widen refused: %s names containers %s; choose one with --container", input, strings.Join(slices.Sorted(maps.Keys(containers)), ", "))
	}
	for id := range containers {
		container = id
	}
	return denied, landlocks, container, nil
}

// reportWiden prints what a widen changed, from the syscalls the profile
// allowed before and allows now, and returns how many of the missing
// denied syscalls it added.
func reportWiden(w io.Writer, denied map[string]record.AuditEvent, missing []string, allowed, now map[string]bool) int {
	added := 0
	for _, s := range missing {
		d := denied[s]
		if !now[s] {
			fmt.Fprintf(w, "not added: %s (left out, see the warning above)\n", s)
			continue
		}
		added++
		fmt.Fprintf(w, "added %s (denied %d times with %s to %s in container %s)\n", s, d.Count, errnoName(d.Errno), cmp.Or(d.Exe, "?"), d.Container)
	}
	// Regenerating from the profile's trace gives back what it allowed;
	// say so if anything else changed (a profile generated with
	// --allow-dangerous, widened without it, loses those syscalls).
	for _, s := range slices.Sorted(maps.Keys(now)) {
		if !allowed[s] && denied[s].Syscall == "" {
			fmt.Fprintf(w, "also allowed now: %s\n", s)
		}
	}
	for _, s := range slices.Sorted(maps.Keys(allowed)) {
		if !now[s] {
			fmt.Fprintf(w, "no longer allowed: %s\n", s)
		}
	}
	return added
}

func profileWiden(c *cli.Context, f *Front, dir, name, input, container string, dangerous bool) error {
	w := c.App.Writer
	if input == "-" {
		// Generate reads its inputs by path: keep stdin in a file until
		// it is done.
		tmp, err := os.CreateTemp("", "runcage-widen-*.json")
		if err != nil {
			return fmt.Errorf("widen: %w", err)
		}
		defer os.Remove(tmp.Name())
		_, err = io.Copy(tmp, io.LimitReader(c.App.Reader, 64<<20))
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("widen: read stdin: %w", err)
		}
		input = tmp.Name()
	}
	denied, landlocks, container, err := readDenied(input, container)
	if err != nil {
		return err
	}
	if len(denied) == 0 && len(landlocks) == 0 {
		who := ""
		if container != "" {
			who = " for container " + container
		}
		fmt.Fprintf(w, "nothing added to %s: %s holds no runcage denial or complain events%s\n", name, input, who)
		return nil
	}
	if len(denied) > 0 {
		if err := profileWidenSyscalls(c, f, dir, name, input, container, dangerous, denied); err != nil {
			return err
		}
	}
	if len(landlocks) == 0 {
		return nil
	}
	want, skipped := landlockWant(landlocks)
	for _, s := range skipped {
		fmt.Fprintf(w, "not added: Landlock %s\n", s)
	}
	if len(want.FS) == 0 && want.Bind == nil && want.Connect == nil {
		return nil
	}
	return profileWidenLandlock(c, f, dir, name, want)
}

// profileWidenSyscalls widens the installed generated profile name by the
// syscalls denied names (the syscall denials of the file input, of
// container) and prints each addition, or why there is none.
func profileWidenSyscalls(c *cli.Context, f *Front, dir, name, input, container string, dangerous bool, denied map[string]record.AuditEvent) error {
	w := c.App.Writer
	prof, allowed, err := profileAllows(f, dir, name)
	if err != nil {
		return err
	}
	var missing []string
	for s := range denied {
		if !allowed[s] {
			missing = append(missing, s)
		}
	}
	slices.Sort(missing)
	if len(missing) == 0 {
		fmt.Fprintf(w, "nothing added to %s: it already allows %s (denied before the profile was last widened, or for their arguments, which widen does not change)\n",
			name, strings.Join(slices.Sorted(maps.Keys(denied)), ", "))
		return nil
	}
	if refused := seccomp.BeyondDefault(missing); !dangerous && len(refused) == len(missing) {
		fmt.Fprintf(w, "nothing added to %s: %s %s denied by runtime/default too (--allow-dangerous adds them)\n",
			name, strings.Join(refused, ", "), map[bool]string{true: "is", false: "are"}[len(refused) == 1])
		return nil
	}
	errw := c.App.ErrWriter
	g, err := record.Generate(context.Background(), record.GenerateOptions{
		Name: name, ProfilesDir: dir, Force: true, AllowDangerous: dangerous,
		Inputs: []string{name, input}, Containers: []string{container},
		RecordedOnly: recordedOnly(prof), Complain: prof.Mode == profiles.ModeComplain,
		NoLandlock: !landlock.Active(prof.Landlock),
		Warn:       func(msg string) { fmt.Fprintf(errw, "runcage: %s\n", msg) },
	})
	if err != nil {
		return err
	}
	now := map[string]bool{}
	for _, s := range seccomp.AllowedSyscalls(g.Seccomp) {
		now[s] = true
	}
	added := reportWiden(w, denied, missing, allowed, now)
	fmt.Fprintf(w, "wrote %s: %d syscalls added, %d allowed\n", filepath.Join(dir, name), added, len(now))
	return nil
}
