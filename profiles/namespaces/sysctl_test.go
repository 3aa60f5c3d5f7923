package namespaces

import (
	"errors"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runcage/runcage/profiles"
)

func TestFitPingGroupRange(t *testing.T) {
	m65536 := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	split := []specs.LinuxIDMapping{{ContainerID: 1000, HostID: 300000, Size: 10}, {ContainerID: 0, HostID: 200000, Size: 1000}}
	for _, tc := range []struct {
		name, in string
		gids     []specs.LinuxIDMapping
		want     string // "" means the sysctl is absent afterwards too
		changed  bool
		refused  bool
	}{
		{name: "docker default", in: "0 2147483647", gids: m65536, want: "0 65535", changed: true},
		{name: "already inside", in: "0 1000", gids: m65536, want: "0 1000"},
		{name: "no user namespace", in: "0 2147483647", want: "0 2147483647"},
		{name: "contiguous run over two mappings", in: "5 2147483647", gids: split, want: "5 1009", changed: true},
		{name: "low bound unmapped", in: "70000 80000", gids: m65536, want: "1 0", changed: true},
		{name: "empty range kept", in: "1 0", gids: m65536, want: "1 0"},
		{name: "garbage", in: "0", gids: m65536, refused: true},
		{name: "not numbers", in: "a b", gids: m65536, refused: true},
		{name: "absent", gids: m65536},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &specs.Spec{Linux: &specs.Linux{Sysctl: map[string]string{"net.core.somaxconn": "128"}}}
			if tc.in != "" {
				s.Linux.Sysctl[PingGroupRange] = tc.in
			}
			changed, err := FitPingGroupRange(s, tc.gids)
			if tc.refused {
				if !errors.Is(err, profiles.ErrRefused) {
					t.Fatalf("err = %v, want a refusal", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if changed != tc.changed || s.Linux.Sysctl[PingGroupRange] != tc.want {
				t.Errorf("got %q (changed %v), want %q (changed %v)", s.Linux.Sysctl[PingGroupRange], changed, tc.want, tc.changed)
			}
			if s.Linux.Sysctl["net.core.somaxconn"] != "128" {
				t.Error("another sysctl changed")
			}
		})
	}
}

func TestModifierFitsPingGroupRangeForInjectedUserns(t *testing.T) {
	s := &specs.Spec{Linux: &specs.Linux{
		Sysctl: map[string]string{PingGroupRange: "0 2147483647"},
		Namespaces: []specs.LinuxNamespace{
			{Type: specs.PIDNamespace}, {Type: specs.NetworkNamespace}, {Type: specs.IPCNamespace},
			{Type: specs.MountNamespace}, {Type: specs.UTSNamespace},
		},
	}}
	if err := New(&profiles.Profile{Name: "off", UserNS: profiles.Off}, Owner{}).Modify(s); err != nil {
		t.Fatal(err)
	}
	if got := s.Linux.Sysctl[PingGroupRange]; got != "0 2147483647" {
		t.Errorf("userns off: %q, want unchanged", got)
	}
	if err := New(&profiles.Profile{Name: "default", UserNS: profiles.Required}, Owner{}).Modify(s); err != nil {
		t.Fatal(err)
	}
	if got := s.Linux.Sysctl[PingGroupRange]; got != "0 65535" {
		t.Errorf("userns required: %q, want 0 65535", got)
	}
}
