package record

import (
	"regexp"
	"sync"
)

// lazyRE is a regular expression compiled on its first use. Every runcage
// invocation links this package, and few use its importers and writers:
// compiling their expressions at init cost each invocation about 0.5 ms.
type lazyRE struct {
	re func() *regexp.Regexp
}

// lazyRegexp returns expr, compiled (by regexp.MustCompile) on first use.
func lazyRegexp(expr string) *lazyRE {
	return &lazyRE{re: sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })}
}

func (l *lazyRE) MatchString(s string) bool            { return l.re().MatchString(s) }
func (l *lazyRE) FindString(s string) string           { return l.re().FindString(s) }
func (l *lazyRE) FindStringSubmatch(s string) []string { return l.re().FindStringSubmatch(s) }
