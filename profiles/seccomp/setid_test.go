package seccomp

import (
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestAllowSetIDModes(t *testing.T) {
	def := Default()
	cond := func(f *specs.LinuxSeccomp, name string) (conditional, unconditional bool) {
		for _, s := range f.Syscalls {
			if !slices.Contains(s.Names, name) || s.Action != specs.ActAllow {
				continue
			}
			if len(s.Args) > 0 {
				conditional = true
			} else {
				unconditional = true
			}
		}
		return
	}
	for _, n := range setIDCalls {
		if c, u := cond(def, n); !c || u {
			t.Fatalf("runtime/default: %s conditional=%v unconditional=%v, want only conditional rules", n, c, u)
		}
	}
	got, err := AllowSetIDModes(def)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range setIDCalls {
		if c, u := cond(got, n); c || !u {
			t.Errorf("widened: %s conditional=%v unconditional=%v, want one unconditional allow", n, c, u)
		}
	}
	// Nothing else changes: the filter still covers no more than default
	// plus the set-ID calls, and default still covers it minus them.
	if err := Covers(got, def); err != nil {
		t.Errorf("widened filter does not cover default: %v", err)
	}
	if err := Covers(def, got); err == nil {
		t.Error("default covers the widened filter: nothing was widened")
	}
	if c, _ := cond(got, "socket"); !c {
		t.Error("socket rules lost their conditions")
	}
}
