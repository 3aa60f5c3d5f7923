package process

import (
	"reflect"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runcage/runcage/profiles"
	"github.com/runcage/runcage/profiles/internal/testutil"
)

func TestModify(t *testing.T) {
	tests := []struct {
		name    string
		in      *specs.Spec
		profile *profiles.Profile // nil means default
		want    *specs.Spec
		refused string // substring of the refusal; empty means no error
	}{
		{
			name: "nil process is left alone",
			in:   &specs.Spec{},
			want: &specs.Spec{},
		},
		{
			name: "sets no_new_privileges",
			in:   &specs.Spec{Process: &specs.Process{Cwd: "/", Args: []string{"sh"}}},
			want: &specs.Spec{Process: &specs.Process{Cwd: "/", Args: []string{"sh"}, NoNewPrivileges: true, OOMScoreAdj: intp(0)}},
		},
		{
			name: "negative oomScoreAdj raised to 0",
			in:   &specs.Spec{Process: &specs.Process{Cwd: "/", OOMScoreAdj: intp(-1000)}},
			want: &specs.Spec{Process: &specs.Process{Cwd: "/", NoNewPrivileges: true, OOMScoreAdj: intp(0)}},
		},
		{
			name: "kubelet's -997 raised to 0",
			in:   &specs.Spec{Process: &specs.Process{Cwd: "/", OOMScoreAdj: intp(-997)}},
			want: &specs.Spec{Process: &specs.Process{Cwd: "/", NoNewPrivileges: true, OOMScoreAdj: intp(0)}},
		},
		{
			name: "positive oomScoreAdj kept",
			in:   &specs.Spec{Process: &specs.Process{Cwd: "/", OOMScoreAdj: intp(1000)}},
			want: &specs.Spec{Process: &specs.Process{Cwd: "/", NoNewPrivileges: true, OOMScoreAdj: intp(1000)}},
		},
		{
			name:    "negative oomScoreAdj kept when the profile allows the member",
			profile: &profiles.Profile{Name: "k8s", AllowedMembers: []string{"process.oomScoreAdj"}},
			in:      &specs.Spec{Process: &specs.Process{Cwd: "/", OOMScoreAdj: intp(-998)}},
			want:    &specs.Spec{Process: &specs.Process{Cwd: "/", NoNewPrivileges: true, OOMScoreAdj: intp(-998)}},
		},
		{
			name: "keeps no_new_privileges",
			in:   &specs.Spec{Process: &specs.Process{Cwd: "/work", NoNewPrivileges: true}},
			want: &specs.Spec{Process: &specs.Process{Cwd: "/work", NoNewPrivileges: true, OOMScoreAdj: intp(0)}},
		},
		{
			name:    "leaked fd cwd",
			in:      &specs.Spec{Process: &specs.Process{Cwd: "/proc/self/fd/7"}},
			refused: `process cwd "/proc/self/fd/7" refused: at or under a /proc file-descriptor directory`,
		},
		{
			name:    "relative cwd",
			in:      &specs.Spec{Process: &specs.Process{Cwd: "work"}},
			refused: `process cwd "work" refused: not an absolute path`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.profile
			if p == nil {
				p = &profiles.Profile{Name: "default"}
			}
			err := New(p).Modify(tt.in)
			if tt.refused != "" {
				testutil.RequireRefused(t, err, tt.refused)
				return
			}
			if err != nil {
				t.Fatalf("Modify: %v", err)
			}
			if !reflect.DeepEqual(tt.in, tt.want) {
				t.Errorf("spec = %+v, want %+v", tt.in, tt.want)
			}
			// Idempotent.
			if err := New(p).Modify(tt.in); err != nil || !reflect.DeepEqual(tt.in, tt.want) {
				t.Errorf("second Modify changed the spec or failed: %v", err)
			}
		})
	}
}

func intp(i int) *int { return &i }

func TestCheckCwd(t *testing.T) {
	tests := []struct {
		cwd     string
		refused string
	}{
		{cwd: "/"},
		{cwd: "/work"},
		{cwd: "/home/user/src"},
		{cwd: "/proc"},
		{cwd: "/proc/self"},
		{cwd: "/proc/self/cwd"},
		{cwd: "/proc/sys/kernel"},
		{cwd: "/proc/1/root"},
		{cwd: "/proc/selfish/fd"},
		{cwd: "/proc/12a/fd"},
		{cwd: "/srv/proc/self/fd"},
		{cwd: "/proc/self/fdx"},
		{cwd: "/a..b/c.."},
		{cwd: "", refused: "not an absolute path"},
		{cwd: "work", refused: "not an absolute path"},
		{cwd: "./work", refused: "not an absolute path"},
		{cwd: "/work/../proc/self/fd/7", refused: `contains a ".." element`},
		{cwd: "/..", refused: `contains a ".." element`},
		{cwd: "/work/..", refused: `contains a ".." element`},
		{cwd: "/proc/self/fd", refused: "file-descriptor directory"},
		{cwd: "/proc/self/fd/", refused: "file-descriptor directory"},
		{cwd: "/proc/self/fd/7", refused: "CVE-2024-21626"},
		{cwd: "/proc/self/fdinfo", refused: "file-descriptor directory"},
		{cwd: "/proc/thread-self/fd/8", refused: "file-descriptor directory"},
		{cwd: "/proc/1/fd/3", refused: "file-descriptor directory"},
		{cwd: "/proc/4242/fd", refused: "file-descriptor directory"},
		{cwd: "/proc/self/task/12/fd/7", refused: "file-descriptor directory"},
		{cwd: "/proc/1/task/1/fd", refused: "file-descriptor directory"},
		{cwd: "//proc//self/./fd/7", refused: "file-descriptor directory"},
		{cwd: "/proc/self/fd/7/../..", refused: `contains a ".." element`},
		{cwd: "/proc/self/fd/\n\x1b[31m", refused: `"/proc/self/fd/\n\x1b[31m"`},
	}
	for _, tt := range tests {
		t.Run(tt.cwd, func(t *testing.T) {
			err := CheckCwd(tt.cwd)
			if tt.refused == "" {
				if err != nil {
					t.Fatalf("CheckCwd(%q) = %v, want nil", tt.cwd, err)
				}
				return
			}
			testutil.RequireRefused(t, err, tt.refused)
		})
	}
}
