// Package lowerdir is the one home of the overlay filesystem's legacy
// lowerdir syntax, for the mount rules (which bind sources an overlay
// names) and the user-namespace setup (which layers an overlay has).
package lowerdir

import "strings"

// Split splits a legacy lowerdir option value at the colons a backslash
// does not escape, and removes the backslash escapes, as the kernel's
// ovl_unescape does. It returns every layer in order, empty ones too
// ("a::b" gives "a", "", "b"): the caller decides what an empty layer
// means.
func Split(s string) []string {
	var out []string
	var cur strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
		case c == ':':
			out = append(out, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	return append(out, cur.String())
}
