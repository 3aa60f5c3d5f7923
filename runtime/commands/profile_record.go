package commands

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/runcage/runcage/profiles/record"
	"github.com/runcage/runcage/profiles/seccomp"
	"github.com/runcage/runcage/runtime/spec"
)

// profileRecordCommands are the `runcage profile` subcommands that work on
// recordings: generate, merge, diff and export.
func profileRecordCommands(f *Front) []*cli.Command {
	dirFlag := &cli.StringFlag{Name: "profiles-dir", Usage: "directory of installed profiles (default: the policy's profiles_dir)"}
	return []*cli.Command{
		profileWriteCommand(f, dirFlag, "generate", "generate a profile from traces, strace -f logs, audit logs or complain logs", "INPUT", true),
		profileWriteCommand(f, dirFlag, "merge", "write the union of profiles, traces and logs as a new profile", "PROFILE|FILE", false),
		profileWidenCommand(f, dirFlag),
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
				out, err := record.Export(args[0], dir, c.String("format"), c.String("namespace"))
				if err != nil {
					return err
				}
				if o := output; o != "" && o != "-" {
					if err := spec.WriteFileAtomic(o, out, 0o644); err != nil {
						return fmt.Errorf("write %s: %w", o, err)
					}
					return nil
				}
				_, err = c.App.Writer.Write(out)
				return err
			},
		},
	}
}

// profileWriteCommand is `runcage profile generate` (filesOnly: every input
// is a file) or `runcage profile merge` (inputs may also be profiles): both
// write one profile from their inputs through profileGenerate.
func profileWriteCommand(f *Front, dirFlag cli.Flag, name, usage, input string, filesOnly bool) *cli.Command {
	return &cli.Command{
		Name:      name,
		Usage:     usage,
		ArgsUsage: input + "...",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "name", Usage: "name of the profile to write", Required: true},
			dirFlag,
			&cli.BoolFlag{Name: "force", Usage: "replace an existing profile"},
			&cli.StringSliceFlag{Name: "container", Usage: "keep only this container's lines of runcage's complain and denials logs (repeatable)"},
			&cli.BoolFlag{Name: "allow-dangerous", Usage: "also allow syscalls runtime/default denies and capabilities engines do not grant, when the inputs show them"},
			&cli.BoolFlag{Name: "recorded-only", Usage: "allow only the recorded syscalls, not those found reachable in the recorded programs and libraries, and Landlock rules only for the recorded files, not for the workload's data directories"},
			&cli.BoolFlag{Name: "no-landlock", Usage: "write no Landlock rules (by default a recording by runcage's agent gives file and TCP port rules; docs/landlock.md)"},
			&cli.StringFlag{Name: "mode", Value: "enforce", Usage: "enforce, or complain: allow the same syscalls in the kernel, let the others run and log each (try a profile before enforcing it)"},
			&cli.BoolFlag{Name: "install-docker", Usage: "also register the profile as Docker runtime runcage-NAME, as the runcage install docker that --docker-config shows would (then reload dockerd)"},
			&cli.StringFlag{Name: "docker-config", Value: "/etc/docker/daemon.json", Usage: "daemon.json to check (and, with --install-docker, update) for runcage runtimes"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 {
				return fmt.Errorf("usage: runcage profile %s --name NAME [--profiles-dir DIR] [--force] [--mode enforce|complain] [--allow-dangerous] [--install-docker] %s...", name, input)
			}
			dir, err := profilesDir(f, c.String("profiles-dir"))
			if err != nil {
				return err
			}
			if m := c.String("mode"); m != "enforce" && m != "complain" {
				return fmt.Errorf("--mode %q: want enforce or complain", m)
			}
			o := record.GenerateOptions{
				Name: c.String("name"), ProfilesDir: dir, Force: c.Bool("force"),
				AllowDangerous: c.Bool("allow-dangerous"), Inputs: c.Args().Slice(), FilesOnly: filesOnly,
				Containers:   c.StringSlice("container"),
				RecordedOnly: c.Bool("recorded-only"),
				NoLandlock:   c.Bool("no-landlock"),
				Complain:     c.String("mode") == "complain",
			}
			if err := profileGenerate(c, o); err != nil {
				return err
			}
			return dockerNextStep(c, f, o.Name, c.String("docker-config"), c.Bool("install-docker"))
		},
	}
}

// profilesDir returns flag made absolute, or the policy's profiles_dir.
func profilesDir(f *Front, flag string) (string, error) {
	if flag != "" {
		// Absolute, as the policy's is: profiles are loaded by path.
		return filepath.Abs(flag)
	}
	pol, err := f.LoadPolicy()
	if err != nil {
		return "", err
	}
	return pol.ProfilesDir, nil
}

// profileGenerate runs record.Generate for generate and merge, printing its
// warnings to the app's error writer and what it wrote to its writer.
func profileGenerate(c *cli.Context, o record.GenerateOptions) error {
	errw := c.App.ErrWriter
	o.Warn = func(msg string) { fmt.Fprintf(errw, "runcage: %s\n", msg) }
	g, err := record.Generate(context.Background(), o)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "wrote %s: %d syscalls allowed, capabilities %v\n",
		filepath.Join(o.ProfilesDir, o.Name), len(seccomp.AllowedSyscalls(g.Seccomp)), g.Capabilities)
	if l := g.Landlock; l != nil {
		fmt.Fprintf(c.App.Writer, "landlock: %d file rules, TCP bind: %s, connect: %s\n", len(l.FS), record.PortsText(l.Bind), record.PortsText(l.Connect))
	}
	return nil
}

// profileDiff prints how B differs from A and reports whether it does.
func profileDiff(w io.Writer, dir, a, b string) (bool, error) {
	la, err := record.Load(a, dir)
	if err != nil {
		return false, err
	}
	lb, err := record.Load(b, dir)
	if err != nil {
		return false, err
	}
	return record.Diff(w, la, lb)
}
