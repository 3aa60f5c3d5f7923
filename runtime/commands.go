package runtime

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/runcage/runcage/profiles"
	"github.com/runcage/runcage/profiles/apparmor"
	"github.com/runcage/runcage/profiles/policy"
	"github.com/runcage/runcage/profiles/seccomp"
	"github.com/runcage/runcage/profiles/userns"
	"github.com/runcage/runcage/runtime/spec"
)

// runOwn runs one of runcage's own subcommands (check, profile, explain).
func runOwn(inv *Invocation) int {
	app := &cli.App{
		Name:      "runcage",
		Usage:     "a drop-in runc front that hardens every container",
		Version:   Version,
		Writer:    os.Stdout,
		ErrWriter: os.Stderr,
		Commands: []*cli.Command{
			installCommand(inv),
			{
				Name:  "check",
				Usage: "report which protections this host supports",
				Action: func(c *cli.Context) error {
					return check(c.App.Writer, inv)
				},
			},
			{
				Name:  "profile",
				Usage: "list, show, generate, merge, diff and export profiles",
				Subcommands: append([]*cli.Command{
					{
						Name:  "list",
						Usage: "list the profiles the policy can select",
						Action: func(c *cli.Context) error {
							return profileList(c.App.Writer, inv)
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
							return profileShow(c.App.Writer, inv, c.Args().First())
						},
					},
				}, profileRecordCommands(inv)...),
			},
			{
				Name:      "explain",
				Usage:     "show what runcage changed in a bundle's config.json",
				ArgsUsage: "BUNDLE",
				Action: func(c *cli.Context) error {
					if c.NArg() != 1 {
						return fmt.Errorf("usage: runcage explain BUNDLE")
					}
					return explain(c.App.Writer, c.Args().First())
				},
			},
		},
	}
	args := append([]string{"runcage"}, inv.Args[inv.VerbIndex:]...)
	if err := app.Run(args); err != nil {
		fmt.Fprintf(os.Stderr, "runcage: %v\n", err)
		return 1
	}
	return 0
}

func check(w io.Writer, inv *Invocation) error {
	pol, err := loadPolicy(inv.Global)
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
	delegate, err := findDelegate(pol.Runtime)
	if err != nil {
		fmt.Fprintf(w, "delegate:        %v\n", err)
		return nil
	}
	fmt.Fprintf(w, "delegate:        %s\n", delegate)
	if err := idmapMountsCheck(pol.StateDir, delegate)(); err != nil {
		fmt.Fprintf(w, "  idmap mount option: no (%v)\n", err)
	} else {
		fmt.Fprintf(w, "  idmap mount option: yes\n")
	}
	for _, args := range [][]string{{"--version"}, {"features"}} {
		out, err := runDelegate(delegate, args...)
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

// runDelegate runs the delegate with a fixed environment and a timeout.
func runDelegate(path string, args ...string) ([]byte, error) {
	cmd := exec.Command(path, args...)
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return out.Bytes(), err
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		return nil, fmt.Errorf("timed out")
	}
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

func profileList(w io.Writer, inv *Invocation) error {
	pol, err := loadPolicy(inv.Global)
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

func profileShow(w io.Writer, inv *Invocation, name string) error {
	pol, err := loadPolicy(inv.Global)
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

// explain prints, path by path, how config.json differs from the original
// runcage kept beside it.
func explain(w io.Writer, bundle string) error {
	path := filepath.Join(bundle, spec.ConfigName)
	cur, _, err := spec.ReadFile(path)
	if err != nil {
		return err
	}
	orig, _, err := spec.ReadFile(path + spec.OrigSuffix)
	if err != nil {
		return fmt.Errorf("no original kept (runcage did not rewrite this bundle, or it changed nothing): %w", err)
	}
	var a, b any
	if err := json.Unmarshal(orig, &a); err != nil {
		return fmt.Errorf("parse %s: %w", path+spec.OrigSuffix, err)
	}
	if err := json.Unmarshal(cur, &b); err != nil {
		return fmt.Errorf("parse %s: %w", path, err)
	}
	var lines []string
	diff("", a, b, &lines)
	if len(lines) == 0 {
		fmt.Fprintln(w, "no differences")
		return nil
	}
	for _, l := range lines {
		fmt.Fprintln(w, l)
	}
	return nil
}

func diff(path string, a, b any, out *[]string) {
	if reflect.DeepEqual(a, b) {
		return
	}
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if aok && bok {
		keys := map[string]bool{}
		for k := range am {
			keys[k] = true
		}
		for k := range bm {
			keys[k] = true
		}
		sorted := make([]string, 0, len(keys))
		for k := range keys {
			sorted = append(sorted, k)
		}
		sort.Strings(sorted)
		for _, k := range sorted {
			av, ain := am[k]
			bv, bin := bm[k]
			p := path + "." + k
			switch {
			case !ain:
				*out = append(*out, fmt.Sprintf("+ %s: %s", p, short(bv)))
			case !bin:
				*out = append(*out, fmt.Sprintf("- %s: %s", p, short(av)))
			default:
				diff(p, av, bv, out)
			}
		}
		return
	}
	al, aok := a.([]any)
	bl, bok := b.([]any)
	if aok && bok {
		if len(al) == len(bl) {
			for i := range al {
				diff(fmt.Sprintf("%s[%d]", path, i), al[i], bl[i], out)
			}
			return
		}
		// Lists of different length: show what was removed and added.
		for _, v := range al {
			if !containsValue(bl, v) {
				*out = append(*out, fmt.Sprintf("- %s[]: %s", path, short(v)))
			}
		}
		for _, v := range bl {
			if !containsValue(al, v) {
				*out = append(*out, fmt.Sprintf("+ %s[]: %s", path, short(v)))
			}
		}
		return
	}
	*out = append(*out, fmt.Sprintf("~ %s: %s -> %s", path, short(a), short(b)))
}

func containsValue(list []any, v any) bool {
	for _, x := range list {
		if reflect.DeepEqual(x, v) {
			return true
		}
	}
	return false
}

func short(v any) string {
	data, _ := json.Marshal(v)
	if len(data) > 160 {
		return string(data[:157]) + "..."
	}
	return string(data)
}
