package commands

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/runcage/runcage/runtime/spec"
)

// explainCommand is `runcage explain BUNDLE`.
func explainCommand(*Front) *cli.Command {
	return &cli.Command{
		Name:      "explain",
		Usage:     "show what runcage changed in a bundle's config.json",
		ArgsUsage: "BUNDLE",
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return fmt.Errorf("usage: runcage explain BUNDLE")
			}
			return explain(c.App.Writer, c.Args().First())
		},
	}
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
	spec.Diff("", a, b, &lines)
	if len(lines) == 0 {
		fmt.Fprintln(w, "no differences")
		return nil
	}
	for _, l := range lines {
		fmt.Fprintln(w, l)
	}
	return nil
}
