package runtime

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

// argvFuzzSep separates the elements of argv in FuzzScan's input. A NUL
// cannot occur in a real argument, so every real argv has an encoding.
const argvFuzzSep = "\x00"

// argvFuzzIsRuncage reports whether a looks like one of runcage's flags.
func argvFuzzIsRuncage(a string) bool {
	return strings.HasPrefix(a, "-runcage-") || strings.HasPrefix(a, "--runcage-")
}

// FuzzScan checks Scan's contract on arbitrary command lines:
//   - it never panics, and returns an Invocation exactly when it returns no
//     error;
//   - with no argument that looks like a runcage flag, Args is argv[1:];
//   - Args is argv[1:] with only runcage flags and their values removed;
//   - no runcage flag is left in global position: scanning Argv0 + Args
//     again finds none, and reads the same verb, bundle and container id.
func FuzzScan(f *testing.F) {
	for _, tc := range slices.Concat(argvTestCallers, argvTestSemantics) {
		f.Add(strings.Join(tc.argv, argvFuzzSep))
	}
	f.Fuzz(func(t *testing.T, in string) {
		argv := strings.Split(in, argvFuzzSep)
		orig := slices.Clone(argv)
		inv, err := Scan(argv)
		if !slices.Equal(argv, orig) {
			t.Fatalf("Scan changed argv")
		}
		if err != nil {
			if inv != nil {
				t.Fatalf("Scan(%q) returned an Invocation and error %v", argv, err)
			}
			return
		}
		if inv == nil {
			t.Fatalf("Scan(%q) returned neither Invocation nor error", argv)
		}
		rest := argv[1:]
		if !slices.ContainsFunc(rest, argvFuzzIsRuncage) && !slices.Equal(inv.Args, rest) {
			t.Fatalf("Scan(%q).Args = %q, want argv[1:]", argv, inv.Args)
		}

		// Args is rest minus runcage flags, each with its value when not
		// in "=" form.
		j := 0
		for k := 0; k < len(rest); k++ {
			if j < len(inv.Args) && inv.Args[j] == rest[k] {
				j++
				continue
			}
			if !argvFuzzIsRuncage(rest[k]) {
				t.Fatalf("Scan(%q) dropped %q, not a runcage flag; Args = %q", argv, rest[k], inv.Args)
			}
			if !strings.Contains(rest[k], "=") {
				k++ // its value
			}
		}
		if j != len(inv.Args) {
			t.Fatalf("Scan(%q).Args = %q is not argv[1:] minus runcage flags", argv, inv.Args)
		}

		if inv.VerbIndex >= len(inv.Args) || inv.VerbIndex < -1 ||
			inv.VerbIndex >= 0 && inv.Args[inv.VerbIndex] != inv.Verb ||
			inv.VerbIndex == -1 && inv.Verb != "" {
			t.Fatalf("Scan(%q): Verb %q at %d in %q", argv, inv.Verb, inv.VerbIndex, inv.Args)
		}
		if e := inv.Exec; e != nil && e.ProcessIndex >= len(inv.Args) {
			t.Fatalf("Scan(%q): ProcessIndex %d out of range", argv, e.ProcessIndex)
		}

		again, err := Scan(append([]string{inv.Argv0}, inv.Args...))
		if err != nil {
			t.Fatalf("rescan of %q: %v", inv.Args, err)
		}
		if again.Global.RuncageProfile != "" || again.Global.RuncageConfig != "" {
			t.Fatalf("Scan(%q) left a runcage flag in Args %q", argv, inv.Args)
		}
		g := inv.Global
		g.RuncageProfile, g.RuncageConfig = "", ""
		if !slices.Equal(again.Args, inv.Args) || again.Verb != inv.Verb || again.VerbIndex != inv.VerbIndex ||
			again.Bundle != inv.Bundle || again.ContainerID != inv.ContainerID ||
			again.Help != inv.Help || again.Version != inv.Version || !reflect.DeepEqual(again.Global, g) ||
			!reflect.DeepEqual(again.Exec, inv.Exec) {
			t.Fatalf("rescan of %q differs:\n%+v\n%+v", inv.Args, inv, again)
		}
	})
}
