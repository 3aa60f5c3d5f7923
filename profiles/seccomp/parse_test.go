package seccomp

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    *specs.LinuxSeccomp
		wantErr string // substring; empty means success
	}{
		{
			name: "minimal",
			in:   `{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW"}]}`,
			want: errnoFilt(allow("read")),
		},
		{
			name: "full",
			in: `{"defaultAction":"SCMP_ACT_KILL_PROCESS","defaultErrnoRet":1,"architectures":["SCMP_ARCH_X86_64"],
				"flags":["SECCOMP_FILTER_FLAG_LOG"],"listenerPath":"/run/l.sock","listenerMetadata":"m",
				"syscalls":[{"names":["clone"],"action":"SCMP_ACT_ERRNO","errnoRet":38,
				"args":[{"index":0,"value":2114060288,"valueTwo":0,"op":"SCMP_CMP_MASKED_EQ"}]}]}`,
			want: &specs.LinuxSeccomp{
				DefaultAction: specs.ActKillProcess, DefaultErrnoRet: uintp(1),
				Architectures: []specs.Arch{specs.ArchX86_64},
				Flags:         []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog},
				ListenerPath:  "/run/l.sock", ListenerMetadata: "m",
				Syscalls: []specs.LinuxSyscall{with(errnoRule(38, "clone"), masked())},
			},
		},
		{name: "malformed", in: `{"defaultAction":`, wantErr: "unexpected EOF"},
		{name: "not an object", in: `[]`, wantErr: "cannot unmarshal array"},
		{name: "wrong type", in: `{"defaultAction":1}`, wantErr: "cannot unmarshal number"},
		{name: "unknown top-level field", in: `{"defaultAction":"SCMP_ACT_ERRNO","defaultaction2":"x"}`, wantErr: `unknown field "defaultaction2"`},
		{name: "docker format", in: `{"defaultAction":"SCMP_ACT_ERRNO","archMap":[]}`, wantErr: `unknown field "archMap"`},
		{
			name:    "docker includes",
			in:      `{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["mount"],"action":"SCMP_ACT_ALLOW","includes":{"caps":["CAP_SYS_ADMIN"]}}]}`,
			wantErr: `unknown field "includes"`,
		},
		{name: "trailing data", in: `{"defaultAction":"SCMP_ACT_ERRNO"} {}`, wantErr: "data after the JSON object"},
		{name: "empty", in: ``, wantErr: "EOF"},
		{name: "no default action", in: `{"syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW"}]}`, wantErr: "defaultAction is empty"},
		{name: "unknown default action", in: `{"defaultAction":"SCMP_ACT_MAYBE"}`, wantErr: `unknown defaultAction "SCMP_ACT_MAYBE"`},
		{
			name:    "unknown action",
			in:      `{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"ALLOW"}]}`,
			wantErr: `syscalls[0]: "read": unknown action "ALLOW"`,
		},
		{
			name:    "unknown operator",
			in:      `{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":1,"op":"SCMP_CMP_XOR"}]}]}`,
			wantErr: `unknown operator "SCMP_CMP_XOR"`,
		},
		{
			name:    "argument index",
			in:      `{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","args":[{"index":6,"value":1,"op":"SCMP_CMP_EQ"}]}]}`,
			wantErr: "argument index 6 out of range",
		},
		{name: "unknown architecture", in: `{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_Z80"]}`, wantErr: `unknown architecture "SCMP_ARCH_Z80"`},
		{name: "unknown flag", in: `{"defaultAction":"SCMP_ACT_ERRNO","flags":["SECCOMP_FILTER_FLAG_NEW_LISTENER"]}`, wantErr: `unknown flag "SECCOMP_FILTER_FLAG_NEW_LISTENER"`},
		{name: "no names", in: `{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":[],"action":"SCMP_ACT_ALLOW"}]}`, wantErr: "no names"},
		{name: "empty name", in: `{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read",""],"action":"SCMP_ACT_ALLOW"}]}`, wantErr: "empty syscall name"},
		{name: "errno range", in: `{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":70000}`, wantErr: "70000 out of range"},
		{
			name:    "rule errno range",
			in:      `{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO","errnoRet":4096}]}`,
			wantErr: "4096 out of range",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse([]byte(tt.in))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				if !reflect.DeepEqual(got, tt.want) {
					t.Errorf("Parse = %s, want %s", mustJSON(t, got), mustJSON(t, tt.want))
				}
				return
			}
			if err == nil {
				t.Fatalf("Parse succeeded, want error containing %q", tt.wantErr)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %q does not satisfy errors.Is(err, ErrInvalid)", err)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q, want it to contain %q", err, tt.wantErr)
			}
			if !strings.HasPrefix(err.Error(), "parse seccomp filter: ") {
				t.Errorf("error %q lacks its context", err)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.json")
	if err := os.WriteFile(good, defaultJSON, 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "docker.json")
	docker, err := os.ReadFile("testdata/docker-default.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, docker, 0o600); err != nil {
		t.Fatal(err)
	}

	got, err := Load(good)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if !reflect.DeepEqual(got, defaultFilter()) {
		t.Error("Load(default.json) differs from Default()")
	}

	_, err = Load(bad)
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), `unknown field "archMap"`) {
		t.Errorf("Load(docker format) = %v, want an ErrInvalid naming the file and archMap", err)
	}

	_, err = Load(filepath.Join(dir, "missing.json"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing) = %v, want os.ErrNotExist", err)
	}
}
