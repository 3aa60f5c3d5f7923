package seccomp

import (
	"errors"
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runcage/runcage/profiles"
)

// Modifier sets a spec's seccomp filter to Tighten(Filter, the bundle's
// filter), so the container runs with neither more than the profile's filter
// allows nor more than the bundle's own filter allows. Filter must not be nil
// and is never modified; the spec's previous filter is replaced, not edited.
type Modifier struct {
	// Filter is the filter the profile enforces, such as Default().
	Filter *specs.LinuxSeccomp
}

var _ profiles.Modifier = (*Modifier)(nil)

// NewModifier returns a Modifier that enforces filter.
func NewModifier(filter *specs.LinuxSeccomp) profiles.Modifier {
	return &Modifier{Filter: filter}
}

// Modify sets s.Linux.Seccomp, creating s.Linux if it is nil. It returns an
// error satisfying errors.Is(err, profiles.ErrRefused) if the bundle's filter
// is invalid, and leaves s unchanged on any error.
func (m *Modifier) Modify(s *specs.Spec) error {
	if s == nil {
		return errors.New("seccomp: no spec")
	}
	if m.Filter == nil {
		return errors.New("seccomp: modifier has no filter")
	}
	var bundle *specs.LinuxSeccomp
	if s.Linux != nil {
		bundle = s.Linux.Seccomp
	}
	f, err := Tighten(m.Filter, bundle)
	if err != nil {
		return fmt.Errorf("seccomp: %w", err)
	}
	if s.Linux == nil {
		s.Linux = &specs.Linux{}
	}
	s.Linux.Seccomp = f
	return nil
}
