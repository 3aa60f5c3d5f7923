package policy

import (
	"strings"
	"testing"

	"github.com/runcage/runcage/profiles"
)

func TestAllowedMembers(t *testing.T) {
	p, err := Load(writePolicy(t, "[profiles.rdt]\nallowed_members = [\"linux.intelRdt\"]\n"), true)
	if err != nil {
		t.Fatal(err)
	}
	rdt, err := p.Profile("rdt")
	if err != nil {
		t.Fatal(err)
	}
	if len(rdt.AllowedMembers) != 1 || rdt.AllowedMembers[0] != "linux.intelRdt" {
		t.Fatalf("allowed_members = %q", rdt.AllowedMembers)
	}
	base := &profiles.Profile{Name: "base", UserNS: profiles.Required}
	if err := p.AtLeastAsStrict(rdt, base); err == nil || !strings.Contains(err.Error(), "linux.intelRdt") {
		t.Fatalf("a profile allowing more members passed as at least as strict: %v", err)
	}
	if err := p.AtLeastAsStrict(base, rdt); err != nil {
		t.Fatalf("a profile allowing fewer members is stricter: %v", err)
	}
	if _, err := Load(writePolicy(t, "[profiles.bad]\nallowed_members = [\"linux..x\"]\n"), true); err == nil {
		t.Fatal("a malformed allowed_members entry was accepted")
	}
}
