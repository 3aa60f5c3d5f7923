package record

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runcage/runcage/profiles"
	"github.com/runcage/runcage/profiles/apparmor"
	"github.com/runcage/runcage/profiles/seccomp"
)

// SourceProfile is the Source of a trace rebuilt from a profile directory
// that has no trace.json: it holds the syscalls the profile's filter allows
// and the capabilities it keeps, and no files or sockets.
const SourceProfile = "profile"

// Loaded is one argument of merge or diff: a trace or log file, or a
// profile.
type Loaded struct {
	// Arg is the argument as given.
	Arg string
	// Trace is the input's trace: the imported file, the profile's
	// trace.json, or a trace rebuilt from the profile (SourceProfile).
	Trace *Trace
	// Format is the format of an imported file; empty for a profile.
	Format Format
	// ProfileDir is the profile's directory; empty for a file and for the
	// built-in "default".
	ProfileDir string
	// IsProfile tells a profile from a file.
	IsProfile bool
	// Summary is what the input allows (a profile) or shows (a trace).
	summary summary
}

// Load resolves arg: an existing regular file is a trace or log (importData);
// an existing directory is a profile directory; anything else is the name
// of a profile in profilesDir, or the built-in "default" (runtime/default,
// no capabilities).
func Load(arg, profilesDir string) (*Loaded, error) {
	l := &Loaded{Arg: arg}
	fi, err := os.Stat(arg)
	switch {
	case err == nil && fi.Mode().IsRegular():
		imp, err := importPath(arg, filepath.Base(arg))
		if err != nil {
			return nil, err
		}
		l.Trace, l.Format = imp.Trace, imp.Format
		l.summary = traceSummary(imp.Trace)
		return l, nil
	case err == nil && fi.IsDir():
		return loadProfileDir(l, arg)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("load %s: %w", arg, err)
	}
	if strings.ContainsRune(arg, '/') || apparmor.ValidName(arg) != nil {
		return nil, fmt.Errorf("load %s: no such file, directory or profile name", arg)
	}
	dir := filepath.Join(profilesDir, arg)
	if _, err := os.Stat(dir); err == nil {
		return loadProfileDir(l, dir)
	}
	if arg == "default" {
		l.IsProfile = true
		l.Trace = New("default", SourceProfile)
		for _, n := range seccomp.AllowedSyscalls(seccomp.Default()) {
			l.Trace.Syscalls[n] = 0
		}
		l.summary = summary{Syscalls: l.Trace.SyscallNames()}
		return l, nil
	}
	return nil, fmt.Errorf("load %s: no such file, directory, or profile in %s", arg, profilesDir)
}

// profileFile is the part of profile.toml that merge and diff read.
type profileFile struct {
	Capabilities []string           `toml:"capabilities"`
	Seccomp      string             `toml:"seccomp"`
	Landlock     *profiles.Landlock `toml:"landlock"`
}

func loadProfileDir(l *Loaded, dir string) (*Loaded, error) {
	l.IsProfile, l.ProfileDir = true, dir
	name := filepath.Base(dir)
	var pf profileFile
	data, err := os.ReadFile(filepath.Join(dir, fileProfile))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("load profile %s: %w", dir, err)
	}
	if err == nil {
		if _, err := toml.Decode(string(data), &pf); err != nil {
			return nil, fmt.Errorf("load profile %s: %w", dir, err)
		}
	}
	filter := seccomp.Default()
	switch {
	case pf.Seccomp != "" && pf.Seccomp != "runtime/default":
		p := pf.Seccomp
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		if filter, err = seccomp.Load(p); err != nil {
			return nil, fmt.Errorf("load profile %s: %w", dir, err)
		}
	case pf.Seccomp == "":
		if f, err := seccomp.Load(filepath.Join(dir, fileSeccomp)); err == nil {
			filter = f
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("load profile %s: %w", dir, err)
		}
	}
	l.summary.Syscalls = seccomp.AllowedSyscalls(filter)
	l.summary.Capabilities = slices.Sorted(slices.Values(pf.Capabilities))
	l.summary.Landlock = landlockSummary(pf.Landlock)
	if aa, err := os.ReadFile(filepath.Join(dir, fileAppArmor)); err == nil {
		l.summary.Files, l.summary.Sockets = appArmorSummary(aa)
	}

	if td, err := os.ReadFile(filepath.Join(dir, fileTrace)); err == nil {
		if l.Trace, err = Parse(td); err != nil {
			return nil, fmt.Errorf("load profile %s: %s: %w", dir, fileTrace, err)
		}
		return l, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("load profile %s: %w", dir, err)
	}
	// No trace: rebuild one from what the profile allows.
	t := New(name, SourceProfile)
	for _, n := range l.summary.Syscalls {
		t.Syscalls[n] = 0
	}
	for _, c := range pf.Capabilities {
		if t.Capabilities == nil {
			t.Capabilities = map[string][]string{}
		}
		t.Capabilities[c] = []string{"kept by profile " + strconv.Quote(name)}
	}
	l.Trace = t
	return l, nil
}

var (
	aaFileRE = lazyRegexp(`^\s*(/\S*)\s+([a-z]+),\s*$`)
	aaNetRE  = lazyRegexp(`^\s*network\s+([a-z0-9]+),\s*$`)
)

// appArmorSummary lists the file rules ("path perms") and network families
// of an AppArmor profile text, one per rule line.
func appArmorSummary(text []byte) (files, sockets []string) {
	for _, l := range strings.Split(string(text), "\n") {
		if m := aaFileRE.FindStringSubmatch(l); m != nil {
			files = append(files, m[1]+" "+m[2])
		} else if m := aaNetRE.FindStringSubmatch(l); m != nil {
			sockets = append(sockets, m[1])
		}
	}
	slices.Sort(files)
	slices.Sort(sockets)
	return slices.Compact(files), slices.Compact(sockets)
}

// summary is what diff compares: sorted sets of strings.
type summary struct {
	Syscalls     []string
	Capabilities []string
	// Files are "path access" for a trace, "rule perms" for a profile.
	Files []string
	// Sockets are "family type protocol" for a trace, AppArmor network
	// families for a profile.
	Sockets []string
	// Landlock are the rules of a profile's [landlock] table
	// (landlockSummary), the ports a trace shows ("tcp bind 8080").
	Landlock []string
}

// landlockSummary lists the rules of l, one per line: "PATH ACCESS,...",
// "tcp bind PORT" (or "tcp bind any port" when bind is not restricted),
// the same for connect, "scope NAME" and "require REQUIREMENT".
func landlockSummary(l *profiles.Landlock) []string {
	if l == nil {
		return nil
	}
	var out []string
	for _, r := range l.FS {
		out = append(out, r.Path+" "+strings.Join(r.Access, ","))
	}
	for _, p := range []struct {
		what  string
		ports []int
	}{{"bind", l.Bind}, {"connect", l.Connect}} {
		if p.ports == nil {
			out = append(out, "tcp "+p.what+" any port")
		}
		for _, port := range p.ports {
			out = append(out, fmt.Sprintf("tcp %s %d", p.what, port))
		}
	}
	for _, sc := range l.Scopes {
		out = append(out, "scope "+sc)
	}
	out = append(out, "require "+string(cmp.Or(l.Require, profiles.IfAvailable)))
	slices.Sort(out)
	return slices.Compact(out)
}

// traceSummary summarises what a trace shows.
func traceSummary(t *Trace) summary {
	s := summary{
		Syscalls:     t.SyscallNames(),
		Capabilities: slices.Sorted(maps.Keys(t.Capabilities)),
	}
	for _, f := range t.Files {
		s.Files = append(s.Files, f.Path+" ("+f.Access+")")
	}
	for _, so := range t.Sockets {
		s.Sockets = append(s.Sockets, fmt.Sprintf("%s %s %d", so.Family, so.Type, so.Protocol))
	}
	for _, p := range t.Ports {
		s.Landlock = append(s.Landlock, fmt.Sprintf("tcp %s %d", p.Use, p.Port))
	}
	slices.Sort(s.Files)
	slices.Sort(s.Sockets)
	slices.Sort(s.Landlock)
	s.Landlock = slices.Compact(s.Landlock)
	return s
}

// generatedSummary summarises what a generated profile allows, as Load
// summarises a profile directory.
func generatedSummary(g *Generated) summary {
	s := summary{
		Syscalls:     seccomp.AllowedSyscalls(g.Seccomp),
		Capabilities: slices.Clone(g.Capabilities),
	}
	s.Files, s.Sockets = appArmorSummary(g.Files[fileAppArmor])
	s.Landlock = landlockSummary(g.Landlock)
	return s
}

// Diff writes, section by section, what b has that a lacks ("+") and what a
// has that b lacks ("-"), and reports whether they differ. When one side is
// a profile and the other a trace, the trace is first turned into the
// profile buildProfile would make of it, so that like is compared with like.
func Diff(w io.Writer, a, b *Loaded) (bool, error) {
	sa, sb := a.summary, b.summary
	if a.IsProfile != b.IsProfile {
		for _, side := range []struct {
			l *Loaded
			s *summary
		}{{a, &sa}, {b, &sb}} {
			if side.l.IsProfile {
				continue
			}
			g, err := buildProfile(side.l.Trace, buildOptions{Name: "diff"})
			if err != nil {
				return false, fmt.Errorf("diff: %w", err)
			}
			*side.s = generatedSummary(g)
		}
	}
	different := false
	for _, sec := range []struct {
		title string
		a, b  []string
	}{
		{"syscalls", sa.Syscalls, sb.Syscalls},
		{"capabilities", sa.Capabilities, sb.Capabilities},
		{"files", sa.Files, sb.Files},
		{"sockets", sa.Sockets, sb.Sockets},
		{"landlock", sa.Landlock, sb.Landlock},
	} {
		added, removed := setDiff(sec.b, sec.a), setDiff(sec.a, sec.b)
		if len(added) == 0 && len(removed) == 0 {
			continue
		}
		different = true
		fmt.Fprintf(w, "%s:\n", sec.title)
		for _, s := range removed {
			fmt.Fprintf(w, "- %s\n", s)
		}
		for _, s := range added {
			fmt.Fprintf(w, "+ %s\n", s)
		}
	}
	return different, nil
}

// setDiff returns the elements of a that are not in b.
func setDiff(a, b []string) []string {
	var out []string
	for _, s := range a {
		if !slices.Contains(b, s) && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// filter returns the seccomp filter a loaded profile enforces, for export.
// A trace or log is first turned into the profile buildProfile would make.
func (l *Loaded) filter() (*specs.LinuxSeccomp, error) {
	if !l.IsProfile {
		g, err := buildProfile(l.Trace, buildOptions{Name: "export"})
		if err != nil {
			return nil, err
		}
		return g.Seccomp, nil
	}
	if l.ProfileDir == "" {
		return seccomp.Default(), nil
	}
	var pf profileFile
	if data, err := os.ReadFile(filepath.Join(l.ProfileDir, fileProfile)); err == nil {
		if _, err := toml.Decode(string(data), &pf); err != nil {
			return nil, fmt.Errorf("load profile %s: %w", l.ProfileDir, err)
		}
	}
	p := pf.Seccomp
	switch {
	case p == "runtime/default":
		return seccomp.Default(), nil
	case p == "":
		p = fileSeccomp
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(l.ProfileDir, p)
	}
	f, err := seccomp.Load(p)
	if errors.Is(err, fs.ErrNotExist) && pf.Seccomp == "" {
		return seccomp.Default(), nil
	}
	return f, err
}
