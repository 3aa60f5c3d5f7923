package seccomp

import (
	"errors"
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runcage/runcage/profiles"
)

// Modifier sets a spec's seccomp filter to Tighten(Filter, the bundle's
// filter), so the container runs with neither more than the profile's filter
// allows nor more than the bundle's own filter allows. Filter (or Source)
// must be set, and is never modified; the spec's previous filter is
// replaced, not edited.
type Modifier struct {
	// Filter is the filter the profile enforces, such as Default().
	Filter *specs.LinuxSeccomp
	// Source, if Filter is nil, gives the filter the profile enforces,
	// built only when the cache does not have the result (see
	// TightenCached and Source).
	Source Source
	// CacheDir, if set, caches Tighten's results (see TightenCached).
	CacheDir string
}

var _ profiles.Modifier = (*Modifier)(nil)

// NewModifier returns a Modifier that enforces filter.
func NewModifier(filter *specs.LinuxSeccomp) profiles.Modifier {
	return &Modifier{Filter: filter}
}

// NewCachedModifier returns a Modifier that enforces the filter of src and
// caches its results in cacheDir (see TightenCached).
func NewCachedModifier(src Source, cacheDir string) profiles.Modifier {
	return &Modifier{Source: src, CacheDir: cacheDir}
}

// Modify sets s.Linux.Seccomp, creating s.Linux if it is nil. It returns an
// error satisfying errors.Is(err, profiles.ErrRefused) if the bundle's filter
// is invalid, and leaves s unchanged on any error.
func (m *Modifier) Modify(s *specs.Spec) error {
	if s == nil {
		return errors.New("seccomp: no spec")
	}
	src := m.Source
	if m.Filter != nil {
		src = Source{Filter: m.Filter}
	}
	if src.Filter == nil && src.Build == nil {
		return errors.New("seccomp: modifier has no filter")
	}
	var bundle *specs.LinuxSeccomp
	if s.Linux != nil {
		bundle = s.Linux.Seccomp
	}
	f, err := tightenCached(src, bundle, m.CacheDir)
	if err != nil {
		return fmt.Errorf("seccomp: %w", err)
	}
	if s.Linux == nil {
		s.Linux = &specs.Linux{}
	}
	s.Linux.Seccomp = f
	return nil
}
