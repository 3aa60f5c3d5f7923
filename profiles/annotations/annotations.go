// Package annotations checks the runcage.dev/ annotations of a bundle and
// renders annotation values safely for logs. Annotations come from whoever
// wrote the bundle (a Kubernetes pod author, a docker run --annotation), so
// every value is hostile until checked.
package annotations

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/runcage/runcage/profiles"
)

// Prefix is the annotation prefix that runcage owns.
const Prefix = "runcage.dev/"

// The annotations runcage knows. Any other key under Prefix is refused.
const (
	// Profile asks for a profile by name. It is honoured only when the
	// policy lets the profile already chosen be replaced by it.
	Profile = Prefix + "profile"
	// RecordingName names the recording of a container in record mode.
	RecordingName = Prefix + "recording-name"
)

// MaxNameLen is the longest profile or recording name accepted.
const MaxNameLen = 64

// maxEscaped is how many bytes of a value Escape renders before it elides
// the rest.
const maxEscaped = 256

// Escape renders s for a log line or error message: a double-quoted Go
// string literal (as strconv.Quote) in which newlines, escape sequences, NUL,
// other control and format characters, and invalid UTF-8 are escaped, so no
// raw control byte survives. Values longer than 256 bytes are cut at a rune
// boundary and followed by the original length, so one annotation cannot
// flood a log. The result is for people to read; it is not meant to be
// unquoted back.
func Escape(s string) string {
	if len(s) <= maxEscaped {
		return strconv.Quote(s)
	}
	cut := maxEscaped
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s... (%d bytes)", strconv.Quote(s[:cut]), len(s))
}

// Check returns a refusal (errors.Is(err, profiles.ErrRefused)) when
// annotations hold a key under runcage.dev/ that runcage does not know (the
// prefix is compared case-insensitively, so "RunCage.dev/x" is refused too),
// or when runcage.dev/profile or runcage.dev/recording-name is not a valid
// name (see CheckName). Keys are checked in sorted order, so the error is
// deterministic. Other annotations are not looked at. Check does not decide
// whether the requested profile may be selected; that is the policy's job.
func Check(annotations map[string]string) error {
	keys := make([]string, 0, len(annotations))
	for k := range annotations {
		if len(k) >= len(Prefix) && strings.EqualFold(k[:len(Prefix)], Prefix) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := annotations[k]
		switch k {
		case Profile, RecordingName:
			if err := CheckName(v); err != nil {
				return fmt.Errorf("annotation %q: %w", k, err)
			}
		default:
			return profiles.Refusef("annotation %q refused: unknown %s annotation (known: %s, %s)", clip(k), Prefix, Profile, RecordingName)
		}
	}
	return nil
}

// CheckName returns a refusal unless name is a valid profile or recording
// name: 1 to 64 bytes of ASCII letters, digits, '-', '_' and '.', and not "."
// or "..". Such a name is safe as a single path element under
// /etc/runcage/profiles or /var/lib/runcage/recordings.
func CheckName(name string) error {
	switch {
	case name == "":
		return profiles.Refusef("name %q refused: empty", name)
	case len(name) > MaxNameLen:
		return profiles.Refusef("name %q refused: longer than %d bytes (%d)", clip(name), MaxNameLen, len(name))
	case name == "." || name == "..":
		return profiles.Refusef("name %q refused: not a valid name", name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return profiles.Refusef("name %q refused: only letters, digits, '-', '_' and '.' are allowed", clip(name))
		}
	}
	return nil
}

// clip shortens s for an error message that formats it with %q, so a huge
// hostile value cannot make a huge log line.
func clip(s string) string {
	if len(s) <= maxEscaped {
		return s
	}
	cut := maxEscaped
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}
