// Package apparmor generates, validates and loads the AppArmor profile that
// runcage puts on every container, and provides the Modifier that sets it in
// an OCI spec.
//
// A runcage profile named X is confined by the AppArmor profile
// "runcage-X" (see ProfileName). The text of that profile comes from
// Generate, which renders a text/template after validating every input, or
// from the profile's own apparmor file. Validate proves that a text compiles
// with apparmor_parser without loading it; a Host loads it into the kernel
// where the host has AppArmor.
//
// Every call of apparmor_parser is made with exec directly (never a shell),
// from the root directory, with a fixed minimal environment and a timeout.
package apparmor

import (
	"errors"
	"fmt"
)

// NamePrefix is the prefix of every AppArmor profile that runcage generates.
const NamePrefix = "runcage-"

// MaxNameLen is the maximum length of a runcage profile name.
const MaxNameLen = 64

// ProfileName returns the name of the AppArmor profile that confines
// containers of the runcage profile named profile: "runcage-" + profile.
// It does not validate profile; callers that take the name from input check
// it with ValidName first (Generate and NewModifier do).
func ProfileName(profile string) string { return NamePrefix + profile }

// ValidName reports whether name may be used as a runcage profile name inside
// AppArmor policy. A valid name has 1 to 64 characters, each an ASCII letter,
// a digit, '-', '_' or '.', and is not "." or "..". Anything else (a '/',
// white space, quotes, newlines, control bytes, non-ASCII) is rejected, so a
// valid name can never change the meaning of the profile text it is put in.
func ValidName(name string) error {
	switch {
	case name == "":
		return errors.New("invalid profile name: empty")
	case len(name) > MaxNameLen:
		return fmt.Errorf("invalid profile name %q: longer than %d characters", name, MaxNameLen)
	case name == "." || name == "..":
		return fmt.Errorf("invalid profile name %q", name)
	}
	for _, r := range name {
		if r >= 0x80 || !isNameByte(byte(r)) {
			return fmt.Errorf("invalid profile name %q: character %q is not allowed (use letters, digits, '-', '_' and '.')", name, r)
		}
	}
	return nil
}

func isNameByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '_' || c == '.'
}
