package commands

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/runcage/runcage/profiles"
	"github.com/runcage/runcage/profiles/apparmor"
	"github.com/runcage/runcage/profiles/policy"
	"github.com/runcage/runcage/profiles/seccomp"
)

// profileCommand is `runcage profile`: list and show here, the subcommands
// that work on recordings in profile_record.go.
func profileCommand(f *Front) *cli.Command {
	return &cli.Command{
		Name:  "profile",
		Usage: "list, show, generate, merge, diff and export profiles",
		Subcommands: append([]*cli.Command{
			{
				Name:  "list",
				Usage: "list the profiles the policy can select",
				Action: func(c *cli.Context) error {
					return profileList(c.App.Writer, f)
				},
			},
			{
				Name:      "show",
				Usage:     "show one profile as JSON",
				ArgsUsage: "NAME",
				Action: func(c *cli.Context) error {
					if c.NArg() != 1 {
						return fmt.Errorf("usage: runcage profile show NAME")
					}
					return profileShow(c.App.Writer, f, c.Args().First())
				},
			},
		}, profileRecordCommands(f)...),
	}
}

func profileList(w io.Writer, f *Front) error {
	pol, err := f.LoadPolicy()
	if err != nil {
		return err
	}
	for _, name := range pol.Names() {
		prof, err := pol.Profile(name)
		if err != nil {
			fmt.Fprintf(w, "%-16s (broken: %v)\n", name, err)
			continue
		}
		mark := " "
		if name == pol.DefaultProfile {
			mark = "*"
		}
		count := "unfiltered"
		if allowed, err := allowedSyscalls(pol, prof); err != nil {
			count = "seccomp broken: " + err.Error()
		} else if allowed != nil {
			count = fmt.Sprintf("%d syscalls", len(allowed))
		}
		fmt.Fprintf(w, "%s %-16s %-13s %s\n", mark, name, count, prof.Description)
	}
	return nil
}

// allowedSyscalls returns the syscalls the seccomp filter pol enforces for
// prof allows (seccomp.AllowedSyscalls of the filter itself, so runc's own
// syscalls and argument-restricted ones count), or nil for passthrough.
// Every command that states how many syscalls a profile allows counts them
// here.
func allowedSyscalls(pol *policy.Policy, prof *profiles.Profile) ([]string, error) {
	if prof.Passthrough {
		return nil, nil
	}
	f, err := pol.Seccomp(prof)
	if err != nil {
		return nil, err
	}
	return seccomp.AllowedSyscalls(f), nil
}

func profileShow(w io.Writer, f *Front, name string) error {
	pol, err := f.LoadPolicy()
	if err != nil {
		return err
	}
	prof, err := pol.Profile(name)
	if err != nil {
		return err
	}
	out := struct {
		*profiles.Profile
		SeccompAllowed []string `json:"seccomp_allowed_syscalls,omitempty"`
		AppArmorName   string   `json:"apparmor_profile,omitempty"`
	}{Profile: prof}
	if out.SeccompAllowed, err = allowedSyscalls(pol, prof); err != nil {
		return err
	}
	if !prof.Passthrough {
		out.AppArmorName = apparmor.ProfileName(prof.Name)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
