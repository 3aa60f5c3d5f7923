package commands

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/runcage/runcage/profiles"
	"github.com/runcage/runcage/profiles/apparmor"
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
		fmt.Fprintf(w, "%s %-16s %s\n", mark, name, prof.Description)
	}
	return nil
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
	if !prof.Passthrough {
		f, err := pol.Seccomp(prof)
		if err != nil {
			return err
		}
		out.SeccompAllowed = seccomp.AllowedSyscalls(f)
		out.AppArmorName = apparmor.ProfileName(prof.Name)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
