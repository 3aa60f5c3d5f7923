package record

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestGeneratePipeline runs Generate as `runcage profile generate` and
// `merge` do, and checks what it writes, what it warns about and what it
// refuses.
func TestGeneratePipeline(t *testing.T) {
	dir := t.TempDir()
	noisy := filepath.Join(t.TempDir(), "noisy.strace")
	data, err := os.ReadFile(straceLog)
	if err != nil {
		t.Fatal(err)
	}
	// A line the strace importer does not understand is skipped, with a
	// warning.
	if err := os.WriteFile(noisy, append(data, []byte("this is not strace\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	tr := New("t", SourceRuncage)
	tr.Syscalls = map[string]uint64{"read": 1, "ptrace": 1}
	trPath := filepath.Join(t.TempDir(), "t.json")
	tj, _ := tr.Marshal()
	if err := os.WriteFile(trPath, tj, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		o        GenerateOptions
		wantErr  error  // errors.Is
		errText  string // substring, when wantErr is nil
		warn     string // a warning that must be given
		syscall  string // a syscall the written filter allows
		notAllow string // one it does not
	}{
		{name: "generate", o: GenerateOptions{Name: "bb", Inputs: []string{straceLog}, FilesOnly: true}, syscall: "execve"},
		{name: "exists", o: GenerateOptions{Name: "bb", Inputs: []string{straceLog}, FilesOnly: true}, wantErr: ErrProfileExists},
		{name: "force", o: GenerateOptions{Name: "bb", Inputs: []string{noisy}, FilesOnly: true, Force: true}, warn: "lines not understood, skipped", syscall: "execve"},
		{name: "dangerous left out", o: GenerateOptions{Name: "d1", Inputs: []string{trPath}, FilesOnly: true}, warn: "warning: the inputs show ptrace", syscall: "read", notAllow: "ptrace"},
		{name: "dangerous allowed", o: GenerateOptions{Name: "d2", Inputs: []string{trPath}, FilesOnly: true, AllowDangerous: true}, warn: "warning: allowing ptrace", syscall: "ptrace"},
		{name: "merge a profile", o: GenerateOptions{Name: "m", Inputs: []string{"bb", trPath}}, syscall: "execve"},
		{name: "generate takes files only", o: GenerateOptions{Name: "m2", Inputs: []string{"bb"}, FilesOnly: true}, errText: "import"},
		{name: "bad name", o: GenerateOptions{Name: "../x", Inputs: []string{straceLog}, FilesOnly: true}, errText: `profile name "../x" refused`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var warnings []string
			tc.o.ProfilesDir = dir
			tc.o.Warn = func(m string) { warnings = append(warnings, m) }
			g, err := Generate(context.Background(), tc.o)
			switch {
			case tc.wantErr != nil:
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err %v, want %v", err, tc.wantErr)
				}
				return
			case tc.errText != "":
				if err == nil || !strings.Contains(err.Error(), tc.errText) {
					t.Fatalf("err %v, want one with %q", err, tc.errText)
				}
				if _, serr := os.Stat(filepath.Join(dir, tc.o.Name)); serr == nil {
					t.Fatalf("a refused profile was written")
				}
				return
			case err != nil:
				t.Fatal(err)
			}
			if tc.warn != "" && !strings.Contains(strings.Join(warnings, "\n"), tc.warn) {
				t.Errorf("warnings %q lack %q", warnings, tc.warn)
			}
			written, err := os.ReadFile(filepath.Join(dir, tc.o.Name, fileSeccomp))
			if err != nil {
				t.Fatal(err)
			}
			if string(written) != string(g.Files[fileSeccomp]) {
				t.Errorf("%s on disk is not the generated one", fileSeccomp)
			}
			l, err := Load(tc.o.Name, dir)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(" "+strings.Join(l.summary.Syscalls, " ")+" ", " "+tc.syscall+" ") {
				t.Errorf("profile does not allow %s", tc.syscall)
			}
			if tc.notAllow != "" && strings.Contains(" "+strings.Join(l.summary.Syscalls, " ")+" ", " "+tc.notAllow+" ") {
				t.Errorf("profile allows %s", tc.notAllow)
			}
		})
	}
}

func TestExportFormats(t *testing.T) {
	for _, tc := range []struct {
		format, namespace string
		want, errText     string
	}{
		{format: "spo", namespace: "ns", want: "kind: SeccompProfile"},
		{format: "spo", want: "name: busybox-f-tt-t"},
		{format: "localhost", want: `"defaultAction": "SCMP_ACT_ERRNO"`},
		{format: "localhost", namespace: "ns", errText: "--namespace applies to --format spo only"},
		{format: "yaml", errText: `unknown format "yaml"`},
	} {
		out, err := Export(straceLog, t.TempDir(), tc.format, tc.namespace)
		if tc.errText != "" {
			if err == nil || !strings.Contains(err.Error(), tc.errText) {
				t.Errorf("%s/%s: err %v, want %q", tc.format, tc.namespace, err, tc.errText)
			}
			continue
		}
		if err != nil || !strings.Contains(string(out), tc.want) {
			t.Errorf("%s/%s: err %v, output lacks %q:\n%.300s", tc.format, tc.namespace, err, tc.want, out)
		}
	}
}
