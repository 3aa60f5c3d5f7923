package caps

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runcage/runcage/profiles"
)

func spec(c *specs.LinuxCapabilities) *specs.Spec {
	return &specs.Spec{Process: &specs.Process{Capabilities: c}}
}

func all5(l ...string) *specs.LinuxCapabilities {
	cp := func() []string { return append([]string(nil), l...) }
	return &specs.LinuxCapabilities{Bounding: cp(), Effective: cp(), Permitted: cp(), Inheritable: cp(), Ambient: cp()}
}

func TestModify(t *testing.T) {
	docker := EngineDefault
	for _, tc := range []struct {
		name    string
		keep    []string
		in      *specs.LinuxCapabilities
		want    *specs.LinuxCapabilities
		wantErr string
	}{
		{name: "engine default dropped in all five sets", in: all5(docker...), want: &specs.LinuxCapabilities{}},
		{name: "ambient is cleared too", in: &specs.LinuxCapabilities{Ambient: []string{"CAP_KILL"}}, want: &specs.LinuxCapabilities{}},
		{name: "allowlist intersected", keep: []string{"CAP_NET_BIND_SERVICE", "CAP_SYS_ADMIN"},
			in:   all5("CAP_CHOWN", "CAP_NET_BIND_SERVICE"),
			want: all5("CAP_NET_BIND_SERVICE")},
		{name: "kept capability is never added", keep: []string{"CAP_NET_BIND_SERVICE"}, in: all5(), want: all5()},
		{name: "explicit extra capability refused", in: all5("CAP_SYS_ADMIN"), wantErr: `capability "CAP_SYS_ADMIN" in process.capabilities.bounding refused: profile "p" does not keep it (it keeps none)`},
		{name: "privileged refused", in: all5(Known...), wantErr: `"CAP_DAC_READ_SEARCH"`},
		{name: "unknown name", in: &specs.LinuxCapabilities{Effective: []string{"CAP_BOGUS"}}, wantErr: `process.capabilities.effective: capability "CAP_BOGUS" refused: unknown capability`},
		{name: "lowercase", in: &specs.LinuxCapabilities{Permitted: []string{"cap_chown"}}, wantErr: `capability "cap_chown" refused: not spelled as the OCI spec requires (did you mean "CAP_CHOWN"?)`},
		{name: "no prefix", in: &specs.LinuxCapabilities{Bounding: []string{"SYS_ADMIN"}}, wantErr: `did you mean "CAP_SYS_ADMIN"`},
		{name: "duplicate", in: &specs.LinuxCapabilities{Inheritable: []string{"CAP_KILL", "CAP_KILL"}}, wantErr: `process.capabilities.inheritable: capability "CAP_KILL" refused: listed twice`},
		{name: "hostile name escaped", in: &specs.LinuxCapabilities{Ambient: []string{"CAP_\n\x1b[31m"}}, wantErr: `"CAP_\n\x1b[31m"`},
		{name: "absent capabilities: runc would keep all; none kept", in: nil, want: &specs.LinuxCapabilities{}},
		{name: "absent capabilities: the keep list in all five sets", keep: []string{"CAP_NET_BIND_SERVICE", "CAP_KILL"}, in: nil,
			want: all5("CAP_NET_BIND_SERVICE", "CAP_KILL")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := New(&profiles.Profile{Name: "p", Capabilities: tc.keep})
			if err != nil {
				t.Fatal(err)
			}
			s := spec(tc.in)
			err = m.Modify(s)
			if tc.wantErr != "" {
				if !errors.Is(err, profiles.ErrRefused) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want refusal containing %s", err, tc.wantErr)
				}
				if strings.ContainsAny(err.Error(), "\n\x1b") {
					t.Fatalf("error carries raw control bytes: %q", err.Error())
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(normalize(s.Process.Capabilities), normalize(tc.want)) {
				t.Fatalf("got %+v, want %+v", s.Process.Capabilities, tc.want)
			}
			// Idempotent.
			if s.Process.Capabilities == nil {
				return
			}
			before := copyCaps(s.Process.Capabilities)
			if err := m.Modify(s); err != nil || !reflect.DeepEqual(s.Process.Capabilities, before) {
				t.Fatalf("second Modify changed the result: %v", err)
			}
		})
	}
}

func TestNewRefusesBadProfile(t *testing.T) {
	if _, err := New(&profiles.Profile{Name: "p", Capabilities: []string{"net_admin"}}); err == nil {
		t.Fatal("profile with a misspelled capability accepted")
	}
}

func TestKnownIsComplete(t *testing.T) {
	if len(Known) != 41 || Known[21] != "CAP_SYS_ADMIN" || Known[40] != "CAP_CHECKPOINT_RESTORE" {
		t.Fatalf("Known is out of kernel order: %d entries", len(Known))
	}
}

// normalize makes empty sets nil, so that "none" compares equal however
// it is spelled; runc treats both the same.
func normalize(c *specs.LinuxCapabilities) *specs.LinuxCapabilities {
	if c == nil {
		return nil
	}
	n := func(l []string) []string {
		if len(l) == 0 {
			return nil
		}
		return l
	}
	return &specs.LinuxCapabilities{Bounding: n(c.Bounding), Effective: n(c.Effective), Permitted: n(c.Permitted), Inheritable: n(c.Inheritable), Ambient: n(c.Ambient)}
}

func TestAbsentCapabilitiesMarshalPresent(t *testing.T) {
	m, err := New(&profiles.Profile{Name: "p"})
	if err != nil {
		t.Fatal(err)
	}
	s := &specs.Spec{Process: &specs.Process{}}
	if err := m.Modify(s); err != nil {
		t.Fatal(err)
	}
	if s.Process.Capabilities == nil {
		t.Fatal("process.capabilities still absent: runc would keep every capability")
	}
	if err := m.Modify(&specs.Spec{}); err != nil {
		t.Fatalf("spec without process: %v", err)
	}
}

func copyCaps(c *specs.LinuxCapabilities) *specs.LinuxCapabilities {
	cp := *c
	return &cp
}
