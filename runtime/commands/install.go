package commands

import (
	"fmt"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/runcage/runcage/profiles/policy"
	"github.com/runcage/runcage/runtime/engines"
)

// installCommand is `runcage install docker|containerd`: it picks the
// engine and hands it the request the common flags describe. The engine
// merges into its own config files; it never restarts or signals the
// engine, and says what to reload.
func installCommand(f *Front) *cli.Command {
	common := []cli.Flag{
		&cli.StringFlag{Name: "binary", Usage: "absolute path of the runcage binary the engine runs (default: this executable)"},
		&cli.StringFlag{Name: "profiles", Usage: "comma-separated profiles to register as runcage-<profile> (default: every profile of the policy except passthrough)"},
		&cli.BoolFlag{Name: "force", Usage: "replace existing runcage entries that differ"},
	}
	return &cli.Command{
		Name:  "install",
		Usage: "register runcage with a container engine (docker, containerd)",
		Subcommands: []*cli.Command{
			{
				Name:  "docker",
				Usage: "add runcage runtimes to dockerd's daemon.json",
				Flags: append([]cli.Flag{
					&cli.StringFlag{Name: "config", Value: "/etc/docker/daemon.json", Usage: "daemon.json to merge into"},
					&cli.StringFlag{Name: "policy", Usage: "runcage policy file the runtimes pass as --runcage-config (default: none, so runcage reads " + policy.DefaultPath + ")"},
				}, common...),
				Action: func(c *cli.Context) error {
					pol := c.String("policy")
					load, err := dockerPolicy(f, pol)
					if err != nil {
						return err
					}
					return install(c, load, func(req engines.Request) engines.Engine {
						return &engines.Docker{Request: req, Config: c.String("config"), Policy: pol}
					})
				},
			},
			{
				Name:  "containerd",
				Usage: "register runcage CRI runtime handlers with containerd through a drop-in",
				Flags: append([]cli.Flag{
					&cli.StringFlag{Name: "config", Value: "/etc/containerd/config.toml", Usage: "containerd's main config (gets an imports entry if it lacks one)"},
					&cli.StringFlag{Name: "dropin", Value: "/etc/containerd/conf.d/runcage.toml", Usage: "drop-in file to write"},
					&cli.StringFlag{Name: "containerd", Value: "containerd", Usage: "containerd binary used to learn its version and verify the merged config with its config dump command; empty skips both"},
					&cli.BoolFlag{Name: "shim", Value: true, Usage: "register the handlers with " + engines.ShimBinaryName + " (false: containerd's runc shim with runcage as its runc binary, also used when the default shim is missing)"},
					&cli.StringFlag{Name: "shim-binary", Usage: "absolute path of " + engines.ShimBinaryName + " (default: beside --binary; must exist when given)"},
					&cli.StringFlag{Name: "options-dir", Value: engines.DefaultOptionsDir, Usage: "directory for the shim handlers' options files"},
					&cli.StringFlag{Name: "shim-link-dir", Usage: "containerd 1.6 (no runtime_path): directory of the " + engines.ShimBinaryName + " link it finds the shim by (default: the containerd binary's directory)"},
				}, common...),
				Action: func(c *cli.Context) error {
					return install(c, f.LoadPolicy, func(req engines.Request) engines.Engine {
						ctrd := &engines.Containerd{
							Request:     req,
							Config:      c.String("config"),
							Dropin:      c.String("dropin"),
							Containerd:  c.String("containerd"),
							OptionsDir:  c.String("options-dir"),
							ShimLinkDir: c.String("shim-link-dir"),
						}
						if c.Bool("shim") {
							ctrd.Shim = c.String("shim-binary")
							if ctrd.Shim == "" {
								ctrd.Shim, ctrd.ShimOptional = filepath.Join(filepath.Dir(req.Binary), engines.ShimBinaryName), true
							}
						}
						return ctrd
					})
				},
			},
		},
	}
}

// install builds the request from the common flags, resolving the
// profiles against the policy load returns, and installs into the engine
// that engine makes of it.
func install(c *cli.Context, load func() (*policy.Policy, error), engine func(engines.Request) engines.Engine) error {
	req, err := engines.NewRequest(c.String("binary"), c.String("profiles"), c.Bool("force"), load)
	if err != nil {
		return err
	}
	return engine(req).Install(c.App.Writer)
}

// dockerPolicy returns the loader of the policy whose profiles a Docker
// install registers: the file the runtimes will pass as --runcage-config
// when path is set (it must be absolute, since dockerd runs runcage from
// its own working directory, and must load), else the global policy.
func dockerPolicy(f *Front, path string) (func() (*policy.Policy, error), error) {
	if path == "" {
		return f.LoadPolicy, nil
	}
	if !filepath.IsAbs(path) {
		return nil, fmt.Errorf("--policy %q refused: dockerd runs runcage from its own directory, so give an absolute path", path)
	}
	return func() (*policy.Policy, error) {
		pol, err := policy.Load(path, true)
		if err != nil {
			return nil, fmt.Errorf("load --policy: %w", err)
		}
		return pol, nil
	}, nil
}
