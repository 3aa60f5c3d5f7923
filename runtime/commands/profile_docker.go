package commands

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/runcage/runcage/runtime/engines"
)

// dockerNextStep tells the user of `profile generate` and `merge` what
// Docker needs before `docker run --runtime runcage-NAME` works: dockerd
// knows only the runtimes its daemon.json named when it last loaded, so a
// new profile needs `runcage install docker` and a reload. It reads the
// daemon.json at config; when that registers runcage runtimes but not
// runcage-NAME it prints the exact install command (the registered
// binary, policy and profiles plus NAME) or, with install, runs that
// install through the engines installer, which says how to reload dockerd.
// A daemon.json without runcage runtimes (Docker not set up for runcage)
// prints nothing; with install it is an error.
func dockerNextStep(c *cli.Context, f *Front, name, config string, install bool) error {
	w := c.App.Writer
	in, err := engines.ReadDockerInstalled(config)
	switch {
	case err != nil && install:
		return fmt.Errorf("--install-docker: %w", err)
	case err != nil:
		fmt.Fprintf(c.App.ErrWriter, "runcage: warning: cannot tell whether Docker needs runtime runcage-%s registered: %v\n", name, err)
		return nil
	case in == nil && install:
		return fmt.Errorf("--install-docker: %s registers no runcage runtime: run `runcage install docker` first", config)
	case in == nil:
		return nil
	case in.Has(name):
		fmt.Fprintf(w, "docker: runtime runcage-%s is registered in %s: new containers get the new profile\n", name, config)
		return nil
	}
	d := in.Adding(name)
	if !install {
		fmt.Fprintf(w, "docker: dockerd does not know runtime runcage-%s yet; register it and reload dockerd:\n", name)
		fmt.Fprintf(w, "  %s\n  systemctl reload docker   # or: kill -HUP $(pidof dockerd)\n", shellWords(d.Argv()))
		fmt.Fprintf(w, "(or give generate --install-docker to run that install)\n")
		return nil
	}
	load, err := dockerPolicy(f, d.Policy)
	if err != nil {
		return fmt.Errorf("--install-docker: %w", err)
	}
	req, err := engines.NewRequest(d.Binary, strings.Join(d.Profiles, ","), false, load)
	if err != nil {
		return fmt.Errorf("--install-docker: %w", err)
	}
	d.Request = req
	return d.Install(w)
}

// plainWord matches the arguments shellWords prints unquoted.
var plainWord = regexp.MustCompile(`^[A-Za-z0-9_./=,:@%+-]+$`)

// shellWords renders argv for a user to copy into a POSIX shell: plain
// words as they are, anything else single-quoted. It is only printed,
// never run.
func shellWords(argv []string) string {
	out := make([]string, len(argv))
	for i, a := range argv {
		if plainWord.MatchString(a) {
			out[i] = a
		} else {
			out[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(out, " ")
}
