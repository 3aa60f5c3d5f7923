package commands

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/runcage/runcage/profiles/apparmor"
	"github.com/runcage/runcage/profiles/policy"
	recording "github.com/runcage/runcage/profiles/record"
	"github.com/runcage/runcage/profiles/seccomp"
)

// profileRecordCommands are the `runcage profile` subcommands that work on
// recordings: generate, merge, diff and export.
func profileRecordCommands(f *Front) []*cli.Command {
	dirFlag := &cli.StringFlag{Name: "profiles-dir", Usage: "directory of installed profiles (default: the policy's profiles_dir)"}
	writeFlags := []cli.Flag{
		&cli.StringFlag{Name: "name", Usage: "name of the profile to write", Required: true},
		dirFlag,
		&cli.BoolFlag{Name: "force", Usage: "replace an existing profile"},
		&cli.BoolFlag{Name: "allow-dangerous", Usage: "also allow syscalls runtime/default denies and capabilities engines do not grant, when the inputs show them"},
	}
	return []*cli.Command{
		{
			Name:      "generate",
			Usage:     "generate a profile from traces, strace -f logs, audit logs or complain logs",
			ArgsUsage: "INPUT...",
			Flags:     writeFlags,
			Action: func(c *cli.Context) error {
				if c.NArg() == 0 {
					return fmt.Errorf("usage: runcage profile generate --name NAME [--profiles-dir DIR] [--force] [--allow-dangerous] INPUT...")
				}
				dir, err := profilesDir(f, c.String("profiles-dir"))
				if err != nil {
					return err
				}
				return profileWrite(c.App.Writer, c.App.ErrWriter, writeRequest{
					name: c.String("name"), dir: dir, force: c.Bool("force"),
					allowDangerous: c.Bool("allow-dangerous"), inputs: c.Args().Slice(), filesOnly: true,
				})
			},
		},
		{
			Name:      "merge",
			Usage:     "write the union of profiles, traces and logs as a new profile",
			ArgsUsage: "PROFILE|FILE...",
			Flags:     writeFlags,
			Action: func(c *cli.Context) error {
				if c.NArg() == 0 {
					return fmt.Errorf("usage: runcage profile merge --name NAME [--profiles-dir DIR] [--force] A B...")
				}
				dir, err := profilesDir(f, c.String("profiles-dir"))
				if err != nil {
					return err
				}
				return profileWrite(c.App.Writer, c.App.ErrWriter, writeRequest{
					name: c.String("name"), dir: dir, force: c.Bool("force"),
					allowDangerous: c.Bool("allow-dangerous"), inputs: c.Args().Slice(),
				})
			},
		},
		{
			Name:      "diff",
			Usage:     "show what two profiles or traces allow differently (exit 0: same, 1: different, 2: trouble)",
			ArgsUsage: "A B",
			Flags:     []cli.Flag{dirFlag},
			Action: func(c *cli.Context) error {
				if c.NArg() != 2 {
					return cli.Exit("runcage: usage: runcage profile diff [--profiles-dir DIR] A B", 2)
				}
				dir, err := profilesDir(f, c.String("profiles-dir"))
				if err != nil {
					return cli.Exit("runcage: "+err.Error(), 2)
				}
				different, err := profileDiff(c.App.Writer, dir, c.Args().Get(0), c.Args().Get(1))
				switch {
				case err != nil:
					return cli.Exit("runcage: "+err.Error(), 2)
				case different:
					return cli.Exit("", 1)
				}
				return nil
			},
		},
		{
			Name:      "export",
			Usage:     "export a profile's seccomp filter for Kubernetes",
			ArgsUsage: "NAME",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "format", Usage: "spo (security-profiles-operator SeccompProfile YAML) or localhost (kubelet seccomp JSON)", Required: true},
				&cli.StringFlag{Name: "namespace", Usage: "namespace of the SeccompProfile (spo)"},
				&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write to FILE instead of stdout"},
				dirFlag,
			},
			Action: func(c *cli.Context) error {
				// The flag parser stops at NAME, so "NAME -o FILE" is
				// taken apart here.
				args, output := c.Args().Slice(), c.String("output")
				if len(args) == 3 && (args[1] == "-o" || args[1] == "--output") {
					args, output = args[:1], args[2]
				} else if len(args) == 2 && (strings.HasPrefix(args[1], "-o=") || strings.HasPrefix(args[1], "--output=")) {
					_, output, _ = strings.Cut(args[1], "=")
					args = args[:1]
				}
				if len(args) != 1 {
					return fmt.Errorf("usage: runcage profile export --format spo|localhost [--namespace NS] NAME [-o FILE]")
				}
				dir, err := profilesDir(f, c.String("profiles-dir"))
				if err != nil {
					return err
				}
				out, err := profileExport(dir, args[0], c.String("format"), c.String("namespace"))
				if err != nil {
					return err
				}
				if o := output; o != "" && o != "-" {
					return writeFileAtomic(o, out)
				}
				_, err = c.App.Writer.Write(out)
				return err
			},
		},
	}
}

// profilesDir returns flag, or the policy's profiles_dir.
func profilesDir(f *Front, flag string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	pol, err := f.LoadPolicy()
	if err != nil {
		return "", err
	}
	return pol.ProfilesDir, nil
}

type writeRequest struct {
	name           string
	dir            string
	force          bool
	allowDangerous bool
	inputs         []string
	// filesOnly: inputs must be files (generate); otherwise they may also
	// be profiles (merge).
	filesOnly bool
}

// profileWrite implements generate and merge: it loads every input, merges
// them, generates the profile, proves its seccomp filter compiles with
// libseccomp and its AppArmor text with apparmor_parser, checks the policy
// loads it, and installs it. Warnings go to errw.
func profileWrite(w, errw io.Writer, r writeRequest) error {
	if err := policy.ValidName(r.name); err != nil {
		return err
	}
	if err := apparmor.ValidName(r.name); err != nil {
		return err
	}
	merged := recording.New(r.name, recording.SourceMerged)
	merged.Complete = true
	var inputs []recording.Input
	sources := map[string]bool{}
	for _, in := range r.inputs {
		var l *recording.Loaded
		var err error
		if r.filesOnly {
			var imp *recording.Imported
			if imp, err = recording.ImportFile(in, filepath.Base(in)); err == nil {
				l = &recording.Loaded{Arg: in, Trace: imp.Trace, Format: imp.Format}
				if imp.Skipped > 0 {
					fmt.Fprintf(errw, "runcage: %s: %d lines not understood, skipped\n", in, imp.Skipped)
				}
			}
		} else {
			l, err = recording.Load(in, r.dir)
		}
		if err != nil {
			return err
		}
		format := l.Format
		if l.IsProfile {
			format = "runcage profile"
		}
		inputs = append(inputs, recording.Input{Path: in, Format: format, Syscalls: len(l.Trace.Syscalls)})
		sources[l.Trace.Source] = true
		merged.Merge(l.Trace)
	}
	if len(sources) == 1 {
		for s := range sources {
			merged.Source = s
		}
	}
	merged.Name = r.name
	g, err := recording.Generate(merged, recording.GenerateOptions{Name: r.name, AllowDangerous: r.allowDangerous, Inputs: inputs})
	if err != nil {
		return err
	}
	for _, d := range g.Dangerous {
		if r.allowDangerous {
			fmt.Fprintf(errw, "runcage: warning: allowing %s, which runtime/default denies (--allow-dangerous)\n", d)
		} else {
			fmt.Fprintf(errw, "runcage: warning: the inputs show %s, which runtime/default denies; left out (use --allow-dangerous to include it)\n", d)
		}
	}
	for _, msg := range g.Warnings {
		fmt.Fprintf(errw, "runcage: warning: %s\n", msg)
	}
	if err := seccomp.Compile(g.Seccomp); err != nil {
		if !errors.Is(err, seccomp.ErrSeccompNotEnabled) {
			return fmt.Errorf("generated seccomp filter: %w", err)
		}
		fmt.Fprintf(errw, "runcage: warning: %v; the filter was not compiled\n", err)
	}
	if err := apparmor.Validate(context.Background(), g.Files[recording.FileAppArmor]); err != nil {
		if !errors.Is(err, apparmor.ErrParserMissing) {
			return fmt.Errorf("generated apparmor profile: %w", err)
		}
		fmt.Fprintf(errw, "runcage: warning: %v; the AppArmor profile was not validated\n", err)
	}
	check := func(tmpDir string) error {
		pol := &policy.Policy{ProfilesDir: tmpDir}
		prof, err := pol.Profile(r.name)
		if err != nil {
			return err
		}
		_, err = pol.Seccomp(prof)
		return err
	}
	if err := g.Write(r.dir, r.force, check); err != nil {
		return err
	}
	fmt.Fprintf(w, "wrote %s: %d syscalls allowed, capabilities %v\n",
		filepath.Join(r.dir, r.name), len(seccomp.AllowedSyscalls(g.Seccomp)), g.Capabilities)
	return nil
}

// profileDiff prints how B differs from A and reports whether it does.
func profileDiff(w io.Writer, dir, a, b string) (bool, error) {
	la, err := recording.Load(a, dir)
	if err != nil {
		return false, err
	}
	lb, err := recording.Load(b, dir)
	if err != nil {
		return false, err
	}
	return recording.Diff(w, la, lb)
}

// profileExport renders profile (a name, a directory, or a trace) in format.
func profileExport(dir, profile, format, namespace string) ([]byte, error) {
	l, err := recording.Load(profile, dir)
	if err != nil {
		return nil, err
	}
	f, err := l.Filter()
	if err != nil {
		return nil, err
	}
	name := filepath.Base(profile)
	if !l.IsProfile {
		name = filepath.Base(profile)
		if ext := filepath.Ext(name); ext != "" {
			name = name[:len(name)-len(ext)]
		}
	}
	switch format {
	case "spo":
		return recording.ExportSPO(f, name, namespace)
	case "localhost":
		if namespace != "" {
			return nil, fmt.Errorf("--namespace applies to --format spo only")
		}
		return recording.ExportLocalhost(f)
	}
	return nil, fmt.Errorf("unknown format %q (want spo or localhost)", format)
}

// writeFileAtomic writes data to path through a new temporary file beside
// it (O_EXCL) and a rename, so that path never holds a partial file.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	_, werr := io.Copy(f, bytes.NewReader(data))
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr, os.Chmod(tmp, 0o644)); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := unix.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
