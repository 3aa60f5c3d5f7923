// Package profiles holds runcage's profile model: the policy file, the
// built-in profiles, profile selection, and the Modifier contract that every
// hardening concern implements.
package profiles

import (
	"errors"
	"fmt"
	"io/fs"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Modifier changes or checks one concern of an OCI spec. Modify must either
// leave the spec at least as strict as it found it and return nil, or return
// an error and leave the caller free to discard the spec. A Modifier never
// widens what the bundle asked for. Modifiers are applied in order by List.
type Modifier interface {
	Modify(*specs.Spec) error
}

// ModifierFunc adapts a plain function to the Modifier interface.
type ModifierFunc func(*specs.Spec) error

// Modify calls f(s).
func (f ModifierFunc) Modify(s *specs.Spec) error { return f(s) }

// List applies its modifiers in order and stops at the first error. Nil
// entries are skipped, so optional concerns can be composed without branches.
type List []Modifier

// Modify applies every non-nil modifier of l to s, in order.
func (l List) Modify(s *specs.Spec) error {
	for _, m := range l {
		if m == nil {
			continue
		}
		if err := m.Modify(s); err != nil {
			return err
		}
	}
	return nil
}

// ErrRefused classifies errors that mean "the bundle asks for something the
// selected profile does not permit". Callers test for it with errors.Is; the
// error text itself says what was refused and why.
var ErrRefused = errors.New("refused")

type refusal struct{ msg string }

func (r *refusal) Error() string        { return r.msg }
func (r *refusal) Is(target error) bool { return target == ErrRefused }

// Refusef returns an error that satisfies errors.Is(err, ErrRefused) and whose
// text is the formatted message. The message should name what was refused and
// why, for example: `capability "CAP_SYS_ADMIN" refused: profile "default" keeps none`.
// Values that come from the bundle must be formatted with %q so that hostile
// bytes (newlines, escape sequences) are escaped.
func Refusef(format string, args ...any) error {
	return &refusal{msg: fmt.Sprintf(format, args...)}
}

// PathCause strips the path from a *fs.PathError, so that a refusal built
// from it (with Refusef) carries no unescaped path bytes of the bundle.
// Other errors are returned as they are.
func PathCause(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
