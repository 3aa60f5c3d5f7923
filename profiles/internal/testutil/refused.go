// Package testutil holds assertions that the tests of several profiles
// packages share.
package testutil

import (
	"errors"
	"strings"
	"testing"

	"github.com/runcage/runcage/profiles"
)

// RequireRefused fails t unless err is a refusal: non-nil (else the test
// stops), errors.Is(err, profiles.ErrRefused), its message containing
// substr and no raw newline, escape or NUL byte.
func RequireRefused(t testing.TB, err error, substr string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want refusal containing %q", substr)
	}
	if !errors.Is(err, profiles.ErrRefused) {
		t.Errorf("error %q is not ErrRefused", err)
	}
	if !strings.Contains(err.Error(), substr) {
		t.Errorf("error %q does not contain %q", err, substr)
	}
	if strings.ContainsAny(err.Error(), "\n\x1b\x00") {
		t.Errorf("error %q contains raw control bytes", err)
	}
}
