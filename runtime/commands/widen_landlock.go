package commands

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/runcage/runcage/profiles"
	"github.com/runcage/runcage/profiles/landlock"
	"github.com/runcage/runcage/profiles/record"
)

// landlockWidenFlags are the flags of `runcage profile widen` that add
// Landlock rules rather than syscalls.
var landlockWidenFlags = []cli.Flag{
	&cli.StringSliceFlag{Name: "landlock-path", Usage: "grant PATH:ACCESS[,ACCESS...] in the profile's Landlock rules (access names as in docs/landlock.md: read, write, execute, list, create, remove, ...; repeatable)"},
	&cli.IntSliceFlag{Name: "landlock-bind", Usage: "allow binding this TCP port under the profile's Landlock rules (repeatable)"},
	&cli.IntSliceFlag{Name: "landlock-connect", Usage: "allow connecting to this TCP port under the profile's Landlock rules (repeatable)"},
}

// landlockWidenAsked reports whether c names any of landlockWidenFlags.
func landlockWidenAsked(c *cli.Context) bool {
	return len(c.StringSlice("landlock-path"))+len(c.IntSlice("landlock-bind"))+len(c.IntSlice("landlock-connect")) > 0
}

// parseLandlockWiden turns the flags into the rules they ask for, checked
// as a profile's rules are (landlock.Check).
func parseLandlockWiden(paths []string, bind, connect []int) (*profiles.Landlock, error) {
	want := &profiles.Landlock{Bind: bind, Connect: connect}
	// The flag package splits a value at its commas: an element that
	// does not start with "/" (never a path, which is absolute) continues
	// the access list of the one before.
	var joined []string
	for _, p := range paths {
		if n := len(joined); n > 0 && !strings.HasPrefix(p, "/") {
			joined[n-1] += "," + p
			continue
		}
		joined = append(joined, p)
	}
	for _, p := range joined {
		i := strings.LastIndexByte(p, ':')
		if i < 0 {
			return nil, fmt.Errorf("--landlock-path %q: want PATH:ACCESS[,ACCESS...]", p)
		}
		want.FS = append(want.FS, profiles.LandlockPath{Path: p[:i], Access: strings.Split(p[i+1:], ",")})
	}
	if err := landlock.Check(want); err != nil {
		return nil, fmt.Errorf("widen: %w", err)
	}
	return want, nil
}

// profileWidenLandlock widens the Landlock rules of the installed
// generated profile name by the rules want asks for: they are added to its
// trace as grants (record.Grant) and ports, and the profile is regenerated
// from it, so that later regenerations keep them. It prints each rule
// added, or why nothing was.
func profileWidenLandlock(c *cli.Context, f *Front, dir, name string, want *profiles.Landlock) error {
	w := c.App.Writer
	prof, _, err := profileAllows(f, dir, name)
	if err != nil {
		return err
	}
	before := prof.Landlock
	if !landlock.Active(before) {
		return profiles.Refusef("widen refused: %s has no Landlock rules to widen (generated with --no-landlock, or from inputs that do not record ports and directory listings); add a [landlock] table to its profile.toml by hand", name)
	}
	// What the request does not restrict stays as the profile has it, so
	// that Covers compares only what was asked.
	asked := *before
	if len(want.FS) > 0 {
		asked.FS = want.FS
	}
	if len(want.Bind) > 0 {
		asked.Bind = want.Bind
	}
	if len(want.Connect) > 0 {
		asked.Connect = want.Connect
	}
	if landlock.Covers(before, &asked) == nil {
		why := "its Landlock rules already grant all of it"
		if len(want.Bind) > 0 && before.Bind == nil || len(want.Connect) > 0 && before.Connect == nil {
			why += " (TCP ports it does not restrict are open to every port)"
		}
		fmt.Fprintf(w, "nothing added to %s: %s\n", name, why)
		return nil
	}
	add := record.New(name, record.SourceRuncage)
	add.PortsAndListings = true
	for _, r := range want.FS {
		add.Grants = append(add.Grants, record.Grant{Path: r.Path, Access: r.Access})
	}
	for _, p := range want.Bind {
		add.Ports = append(add.Ports, record.Port{Use: record.PortBind, Family: "AF_INET", Port: p})
	}
	for _, p := range want.Connect {
		add.Ports = append(add.Ports, record.Port{Use: record.PortConnect, Family: "AF_INET", Port: p})
	}
	data, err := add.Marshal()
	if err != nil {
		return fmt.Errorf("widen: %w", err)
	}
	tmp, err := os.CreateTemp("", "runcage-widen-landlock-*.json")
	if err != nil {
		return fmt.Errorf("widen: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("widen: %w", err)
	}
	errw := c.App.ErrWriter
	g, err := record.Generate(context.Background(), record.GenerateOptions{
		Name: name, ProfilesDir: dir, Force: true,
		Inputs:       []string{name, tmp.Name()},
		RecordedOnly: recordedOnly(prof), Complain: prof.Mode == profiles.ModeComplain,
		Warn: func(msg string) { fmt.Fprintf(errw, "runcage: %s\n", msg) },
	})
	if err != nil {
		return err
	}
	n := reportLandlockWiden(w, before, g.Landlock)
	fmt.Fprintf(w, "wrote %s: %d Landlock rules added\n", filepath.Join(dir, name), n)
	return nil
}

// reportLandlockWiden prints the rights and ports after has that before
// lacks, one line each, and returns how many lines it printed.
func reportLandlockWiden(w io.Writer, before, after *profiles.Landlock) int {
	n := 0
	if after == nil {
		fmt.Fprintf(w, "no longer has Landlock rules (see the warnings above)\n")
		return 0
	}
	had := map[string][]string{}
	for _, r := range before.FS {
		had[r.Path] = r.Access
	}
	for _, r := range after.FS {
		var extra []string
		for _, a := range r.Access {
			if !slices.Contains(had[r.Path], a) {
				extra = append(extra, a)
			}
		}
		if len(extra) > 0 {
			n++
			fmt.Fprintf(w, "added Landlock path %s: %s\n", r.Path, strings.Join(extra, ","))
		}
	}
	for _, p := range []struct {
		what          string
		before, after []int
	}{{"bind", before.Bind, after.Bind}, {"connect", before.Connect, after.Connect}} {
		if p.before == nil {
			continue
		}
		if p.after == nil {
			fmt.Fprintf(w, "TCP %s is no longer restricted\n", p.what)
			continue
		}
		for _, port := range p.after {
			if !slices.Contains(p.before, port) {
				n++
				fmt.Fprintf(w, "added Landlock TCP %s port %d\n", p.what, port)
			}
		}
	}
	for _, r := range before.FS {
		if !slices.ContainsFunc(after.FS, func(a profiles.LandlockPath) bool { return a.Path == r.Path }) {
			fmt.Fprintf(w, "no longer granted: %s\n", r.Path)
		}
	}
	return n
}
