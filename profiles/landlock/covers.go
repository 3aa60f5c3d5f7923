package landlock

import (
	"fmt"
	"slices"
	"strings"

	"github.com/runcage/runcage/profiles"
)

// Covers returns nil when narrow's rules permit nothing that wide's deny,
// so that a profile with narrow may replace one with wide (an annotation
// may only tighten), and otherwise an error naming the first difference:
//   - narrow's requirement must be at least wide's (required above
//     if-available), when wide has rules;
//   - where wide restricts files, narrow must too, and every rule of
//     narrow must grant no right that wide's rules on the same path or an
//     ancestor do not grant (Landlock adds up the rights of a file's
//     ancestors, and the helper follows no symlink, so this is exact);
//   - where wide restricts TCP bind or connect, narrow must too, with a
//     subset of its ports;
//   - narrow must keep every scope of wide.
func Covers(wide, narrow *profiles.Landlock) error {
	if !Active(wide) {
		return nil
	}
	if !Active(narrow) {
		return fmt.Errorf("it has none")
	}
	if Required(wide) && !Required(narrow) {
		return fmt.Errorf("they are if-available, not required")
	}
	if len(wide.FS) > 0 {
		if len(narrow.FS) == 0 {
			return fmt.Errorf("they do not restrict files")
		}
		for _, r := range narrow.FS {
			var granted uint64
			for _, w := range wide.FS {
				if w.Path == "/" || r.Path == w.Path || strings.HasPrefix(r.Path, w.Path+"/") {
					granted |= accessMask(w.Access)
				}
			}
			if extra := accessMask(r.Access) &^ granted; extra != 0 {
				return fmt.Errorf("they grant %s on %s", strings.Join(names(extra), ", "), r.Path)
			}
		}
	}
	for _, p := range []struct {
		what         string
		wide, narrow []int
	}{{"bind", wide.Bind, narrow.Bind}, {"connect", wide.Connect, narrow.Connect}} {
		if p.wide == nil {
			continue
		}
		if p.narrow == nil {
			return fmt.Errorf("they do not restrict TCP %s", p.what)
		}
		for _, port := range p.narrow {
			if !slices.Contains(p.wide, port) {
				return fmt.Errorf("they allow TCP %s to port %d", p.what, port)
			}
		}
	}
	for _, s := range wide.Scopes {
		if !slices.Contains(narrow.Scopes, s) {
			return fmt.Errorf("they do not keep scope %s", s)
		}
	}
	return nil
}

// names returns the single-right names of the rights in m, sorted.
func names(m uint64) []string {
	var out []string
	for n, r := range accessNames {
		if r&(r-1) == 0 && m&r != 0 && n != "readdir" {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}
