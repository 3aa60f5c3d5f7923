//go:build integration

package integration

import (
	"slices"
	"time"
)

// Median returns the median of ds (the upper one of an even count), 0 for
// none. ds is left as it was.
func Median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
