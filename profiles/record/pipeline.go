package record

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/runcage/runcage/profiles/apparmor"
	"github.com/runcage/runcage/profiles/policy"
	"github.com/runcage/runcage/profiles/seccomp"
)

// GenerateOptions says what Generate reads, and which profile it writes
// where.
type GenerateOptions struct {
	// Name is the profile to write: it must pass policy.ValidName and
	// apparmor.ValidName.
	Name string
	// ProfilesDir is the directory of installed profiles; the profile is
	// written to <ProfilesDir>/<Name>, and inputs that are not files are
	// looked up there (see Load).
	ProfilesDir string
	// Force replaces an existing profile. Without it, an existing
	// <ProfilesDir>/<Name> is left alone and Generate fails with an error
	// that wraps ErrProfileExists.
	Force bool
	// AllowDangerous also allows what the inputs show and runtime/default
	// denies, and capabilities engines do not grant by default
	// (Generated.Dangerous). Without it they are left out
	// (Generated.Excluded) and a warning names each.
	AllowDangerous bool
	// Inputs are the arguments to read and merge, in order.
	Inputs []string
	// FilesOnly: every input is a trace, strace log, audit log or complain
	// log file (runcage profile generate). Otherwise an input may also be a
	// profile directory or a profile name, as Load resolves it (runcage
	// profile merge).
	FilesOnly bool
	// Containers, if not empty, keeps only the events of these container
	// ids from runcage's complain and denials logs (other inputs are
	// refused then, as they name no container).
	Containers []string
	// RecordedOnly allows only what the inputs show (and what every
	// container needs), without the syscalls profiles/analysis finds
	// reachable from the recorded objects (see buildOptions).
	RecordedOnly bool
	// NoLandlock writes no [landlock] table: the profile confines no file
	// or port with Landlock.
	NoLandlock bool
	// Complain writes the profile in complain mode (mode = "complain"):
	// it allows the same syscalls in the kernel and lets the others run,
	// logging each (docs/recording.md). Default: enforce.
	Complain bool
	// Warn, if not nil, is called with each warning as it arises, worded
	// as the CLI prints it after "runcage: " ("warning: ...", or
	// "INPUT: N lines not understood, skipped").
	Warn func(msg string)
}

// Generate is the pipeline of `runcage profile generate` and `merge`: it
// reads every input, merges them into one trace (set union), generates the
// profile (buildProfile), proves its seccomp filter compiles with libseccomp
// and its AppArmor text loads with apparmor_parser (either check is
// skipped, with a warning, where the tool is missing), checks that the
// policy loads it, and installs it as the directory <ProfilesDir>/<Name>
// atomically: a reader sees the old profile or the new one, never a mix.
// The output depends only on the inputs and o. It returns what it wrote.
func Generate(ctx context.Context, o GenerateOptions) (*Generated, error) {
	warn := o.Warn
	if warn == nil {
		warn = func(string) {}
	}
	if err := policy.ValidName(o.Name); err != nil {
		return nil, err
	}
	if err := apparmor.ValidName(o.Name); err != nil {
		return nil, err
	}
	merged := New(o.Name, SourceMerged)
	merged.Complete = true
	merged.PortsAndListings = len(o.Inputs) > 0 // kept if every input has it
	var inputs []inputInfo
	sources := map[string]bool{}
	for _, in := range o.Inputs {
		var l *Loaded
		var err error
		if fi, serr := os.Stat(in); o.FilesOnly || len(o.Containers) > 0 && serr == nil && fi.Mode().IsRegular() {
			var imp *imported
			if imp, err = importPath(in, filepath.Base(in), o.Containers...); err == nil {
				l = &Loaded{Arg: in, Trace: imp.Trace, Format: imp.Format}
				if imp.Skipped > 0 {
					warn(fmt.Sprintf("%s: %d lines not understood, skipped", in, imp.Skipped))
				}
			}
		} else {
			l, err = Load(in, o.ProfilesDir)
		}
		if err != nil {
			return nil, err
		}
		format := l.Format
		if l.IsProfile {
			format = "runcage profile"
		}
		inputs = append(inputs, inputInfo{Path: in, Format: format, Syscalls: len(l.Trace.Syscalls)})
		sources[l.Trace.Source] = true
		merged.Merge(l.Trace)
	}
	if err := refuseEmpty(o, inputs, merged); err != nil {
		return nil, err
	}
	if len(sources) == 1 {
		for s := range sources {
			merged.Source = s
		}
	}
	merged.Name = o.Name
	g, err := buildProfile(merged, buildOptions{Name: o.Name, AllowDangerous: o.AllowDangerous, Inputs: inputs, RecordedOnly: o.RecordedOnly, Complain: o.Complain, NoLandlock: o.NoLandlock})
	if err != nil {
		return nil, err
	}
	for _, d := range g.Dangerous {
		if o.AllowDangerous {
			warn(fmt.Sprintf("warning: allowing %s, which runtime/default denies (--allow-dangerous)", d))
		} else {
			warn(fmt.Sprintf("warning: the inputs show %s, which runtime/default denies; left out (use --allow-dangerous to include it)", d))
		}
	}
	for _, msg := range g.Warnings {
		warn("warning: " + msg)
	}
	if err := seccomp.Compile(g.Seccomp); err != nil {
		if !errors.Is(err, seccomp.ErrSeccompNotEnabled) {
			return nil, fmt.Errorf("generated seccomp filter: %w", err)
		}
		warn(fmt.Sprintf("warning: %v; the filter was not compiled", err))
	}
	if err := apparmor.Validate(ctx, g.Files[fileAppArmor]); err != nil {
		if !errors.Is(err, apparmor.ErrParserMissing) {
			return nil, fmt.Errorf("generated apparmor profile: %w", err)
		}
		warn(fmt.Sprintf("warning: %v; the AppArmor profile was not validated", err))
	}
	check := func(tmpDir string) error {
		pol := &policy.Policy{ProfilesDir: tmpDir}
		prof, err := pol.Profile(o.Name)
		if err != nil {
			return err
		}
		_, err = pol.Seccomp(prof)
		return err
	}
	if err := g.write(o.ProfilesDir, o.Force, check); err != nil {
		return nil, err
	}
	return g, nil
}

// Export renders the seccomp filter of profile (a trace or log file, a
// profile directory, or a profile name in profilesDir; see Load) in
// format: "spo" (exportSPO, in namespace if not empty) or "localhost"
// (exportLocalhost, which takes no namespace). The SPO object is named
// after the profile, or after the file without its extension.
func Export(profile, profilesDir, format, namespace string) ([]byte, error) {
	l, err := Load(profile, profilesDir)
	if err != nil {
		return nil, err
	}
	f, err := l.filter()
	if err != nil {
		return nil, err
	}
	name := filepath.Base(profile)
	if !l.IsProfile {
		if ext := filepath.Ext(name); ext != "" {
			name = name[:len(name)-len(ext)]
		}
	}
	switch format {
	case "spo":
		return exportSPO(f, name, namespace)
	case "localhost":
		if namespace != "" {
			return nil, fmt.Errorf("--namespace applies to --format spo only")
		}
		return exportLocalhost(f)
	}
	return nil, fmt.Errorf("unknown format %q (want spo or localhost)", format)
}
