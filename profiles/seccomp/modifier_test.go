package seccomp

import (
	"errors"
	"reflect"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runcage/runcage/profiles"
)

func TestModifier(t *testing.T) {
	profile := baseProfile()
	tightened, err := Tighten(profile, errnoFilt(allow("read")))
	if err != nil {
		t.Fatal(err)
	}
	// With no bundle filter the result is the profile in canonical form.
	canonical, err := Tighten(profile, profile)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		in      *specs.Spec
		want    *specs.Spec
		wantErr error // checked with errors.Is; nil means success
	}{
		{
			name: "no linux section",
			in:   &specs.Spec{Version: "1.2.0"},
			want: &specs.Spec{Version: "1.2.0", Linux: &specs.Linux{Seccomp: canonical}},
		},
		{
			name: "no filter",
			in:   &specs.Spec{Linux: &specs.Linux{MaskedPaths: []string{"/proc/kcore"}}},
			want: &specs.Spec{Linux: &specs.Linux{MaskedPaths: []string{"/proc/kcore"}, Seccomp: canonical}},
		},
		{
			name: "bundle filter is tightened",
			in:   &specs.Spec{Linux: &specs.Linux{Seccomp: errnoFilt(allow("read"))}},
			want: &specs.Spec{Linux: &specs.Linux{Seccomp: tightened}},
		},
		{
			name:    "invalid bundle filter is refused and the spec kept",
			in:      &specs.Spec{Linux: &specs.Linux{Seccomp: errnoFilt(sc("SCMP_ACT_NOPE", "read"))}},
			want:    &specs.Spec{Linux: &specs.Linux{Seccomp: errnoFilt(sc("SCMP_ACT_NOPE", "read"))}},
			wantErr: profiles.ErrRefused,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewModifier(profile)
			err := m.Modify(tt.in)
			if !errors.Is(err, tt.wantErr) || (err != nil) != (tt.wantErr != nil) {
				t.Fatalf("Modify = %v, want %v", err, tt.wantErr)
			}
			if !reflect.DeepEqual(tt.in, tt.want) {
				t.Errorf("spec:\n got %s\nwant %s", mustJSON(t, tt.in), mustJSON(t, tt.want))
			}
		})
	}
	if !reflect.DeepEqual(profile, baseProfile()) {
		t.Error("Modify changed the modifier's filter")
	}
}

func TestModifierMisuse(t *testing.T) {
	if err := (&Modifier{}).Modify(&specs.Spec{}); err == nil {
		t.Error("Modify without a filter succeeded")
	}
	if err := NewModifier(Default()).Modify(nil); err == nil {
		t.Error("Modify(nil) succeeded")
	}
}

func TestModifierInList(t *testing.T) {
	s := &specs.Spec{}
	l := profiles.List{nil, NewModifier(Default())}
	if err := l.Modify(s); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(s.Linux.Seccomp, Default()) {
		t.Error("seccomp filter is not Default()")
	}
}
