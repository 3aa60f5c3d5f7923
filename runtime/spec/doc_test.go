package spec

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

var update = flag.Bool("update", false, "rewrite golden files")

// harden applies the kind of changes runcage's modifiers make.
func harden(s *specs.Spec) {
	c := s.Process.Capabilities
	c.Bounding, c.Effective, c.Permitted, c.Inheritable, c.Ambient = nil, nil, nil, nil, nil
	s.Process.NoNewPrivileges = true
	s.Linux.MaskedPaths = append(s.Linux.MaskedPaths, "/proc/keys")
	s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActAllow}}}
	s.Mounts[1].Options[3] = "ro"
}

func TestGoldenRoundTrip(t *testing.T) {
	in, err := os.ReadFile("testdata/future.json")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := Parse(in)
	if err != nil {
		t.Fatal(err)
	}
	harden(doc.Value)
	out, err := doc.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "future.golden.json")
	if *update {
		if err := os.WriteFile(golden, out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, want) {
		t.Errorf("output differs from %s (run with -update after checking):\n got %s\nwant %s", golden, out, want)
	}

	// Every untouched member survives byte for byte, unknown ones included.
	for _, keep := range []string{
		`"x-vendor-extension": {"keep": [1, 2.50, 1e3, 18446744073709551616]}`,
		`"futureProcessField": {"nested": true}`,
		`"args": ["sh", "-c", "echo \u00e9 \u2028"]`,
		`{"destination": "/proc", "type": "proc", "source": "proc", "futureMountField": "kept"}`,
		`"futureLinuxField": [{"a": 1}]`,
		`"memoryPolicy": {"mode": "MPOL_INTERLEAVE", "nodes": "0-1"}`,
		`"root": {"path": "rootfs", "readonly": true}`,
		`"rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}]`,
	} {
		if !bytes.Contains(out, []byte(keep)) {
			t.Errorf("output lost %s", keep)
		}
	}
	// The output decodes to exactly the typed view.
	var got specs.Spec
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&got, doc.Value) {
		t.Errorf("decoded output differs from the typed view")
	}
	if bytes.Contains(out, []byte("ambient")) || bytes.Contains(out, []byte("CAP_CHOWN")) {
		t.Errorf("cleared capabilities survived: %s", out)
	}
	// Parsing the output again and changing nothing gives the same bytes.
	doc2, err := Parse(out)
	if err != nil {
		t.Fatal(err)
	}
	harden(doc2.Value)
	doc2.Value.Linux.MaskedPaths = doc2.Value.Linux.MaskedPaths[:2]
	out2, err := doc2.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, out2) {
		t.Errorf("second rewrite changed the output:\n%s\n%s", out, out2)
	}
}

func TestUnchangedKeepsBytes(t *testing.T) {
	in := []byte("{\n  \"ociVersion\": \"1.0.2\",  \"zzz\": 1.000 }\n")
	doc, err := Parse(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := doc.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(in, out) {
		t.Errorf("unchanged document was rewritten: %q", out)
	}
	if ch, _ := doc.Changed(); ch {
		t.Error("Changed() = true for an untouched document")
	}
}

func TestCaseFoldedKeysAreMerged(t *testing.T) {
	// encoding/json (and so runc) matches "Process" to the process field.
	in := []byte(`{"ociVersion":"1.0.2","Process":{"cwd":"/","noNewPrivileges":false,"user":{"uid":0,"gid":0}}}`)
	doc, err := Parse(in)
	if err != nil {
		t.Fatal(err)
	}
	doc.Value.Process.NoNewPrivileges = true
	out, err := doc.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(strings.ToLower(string(out)), `"process"`) != 1 {
		t.Fatalf("process member duplicated: %s", out)
	}
	var got specs.Spec
	if err := json.Unmarshal(out, &got); err != nil || !got.Process.NoNewPrivileges {
		t.Fatalf("change lost: %s (%v)", out, err)
	}
}

func TestMalformed(t *testing.T) {
	for name, in := range map[string]string{
		"not json":                `{"ociVersion": `,
		"array":                   `[]`,
		"trailing":                `{"ociVersion":"1.0.2"} {}`,
		"duplicate key":           `{"process":{"cwd":"/"},"process":{"cwd":"/tmp"}}`,
		"case duplicate":          `{"process":{"cwd":"/"},"Process":{"cwd":"/tmp"}}`,
		"fold duplicate (long s)": `{"linux":{"netDevices":{},"netDeviceſ":{}}}`,
		"fold duplicate (Kelvin)": `{"linux":{"maskedPaths":[],"masKedPaths":["/x"]}}`,
		"nested duplicate":        `{"process":{"capabilities":{"bounding":[],"bounding":["CAP_SYS_ADMIN"]}}}`,
		"wrong type":              `{"process":{"cwd":7}}`,
		"duplicate in array":      `{"mounts":[{"destination":"/a","destination":"/b"}]}`,
		"empty":                   ``,
		"string":                  `"x"`,
		"bad unicode literal":     `{"ociVersion":"\x"}`,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse([]byte(in))
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Parse(%q) = %v, want ErrMalformed", in, err)
			}
		})
	}
}

func TestSaveKeepsOriginalAndIsAtomic(t *testing.T) {
	dir := t.TempDir()
	in, _ := os.ReadFile("testdata/future.json")
	if err := os.WriteFile(filepath.Join(dir, ConfigName), in, 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := LoadBundle(dir)
	if err != nil {
		t.Fatal(err)
	}
	harden(b.Doc.Value)
	wrote, err := b.Save()
	if err != nil || !wrote {
		t.Fatalf("Save() = %v, %v", wrote, err)
	}
	orig, _ := os.ReadFile(filepath.Join(dir, ConfigName+OrigSuffix))
	if !bytes.Equal(orig, in) {
		t.Error("original not kept byte for byte")
	}
	st, _ := os.Stat(filepath.Join(dir, ConfigName))
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, want 0600", st.Mode().Perm())
	}
	// A second load of the rewritten config that changes nothing writes nothing
	// and keeps the true original.
	b2, err := LoadBundle(dir)
	if err != nil {
		t.Fatal(err)
	}
	harden(b2.Doc.Value)
	b2.Doc.Value.Linux.MaskedPaths = b2.Doc.Value.Linux.MaskedPaths[:2]
	if wrote, err := b2.Save(); err != nil || wrote {
		t.Fatalf("second Save() = %v, %v; want no write", wrote, err)
	}
	orig2, _ := os.ReadFile(filepath.Join(dir, ConfigName+OrigSuffix))
	if !bytes.Equal(orig2, in) {
		t.Error("second create replaced the original")
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 3 {
		t.Errorf("want config.json, its -orig and -rewritten copies and no temp files; have %v", ents)
	}
	cur, _ := os.ReadFile(filepath.Join(dir, ConfigName))
	rew, _ := os.ReadFile(filepath.Join(dir, ConfigName+RewrittenSuffix))
	if !bytes.Equal(cur, rew) {
		t.Error("config.json.runcage-rewritten differs from what was written")
	}
}

// Save keeps the original config.json by a hard link when it is the only
// name of an unchanged file, and by a copy when another name could change
// it in place or it changed since it was read.
func TestSaveKeepsOriginalByLink(t *testing.T) {
	in, _ := os.ReadFile("testdata/future.json")
	for _, tc := range []struct {
		name     string
		spoil    func(t *testing.T, config string)
		wantLink bool
	}{
		{"one name", nil, true},
		{"another name", func(t *testing.T, config string) {
			if err := os.Link(config, config+".engine"); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"changed after the read", func(t *testing.T, config string) {
			f, err := os.OpenFile(config, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.WriteString("\n"); err != nil {
				t.Fatal(err)
			}
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			config := filepath.Join(dir, ConfigName)
			if err := os.WriteFile(config, in, 0o640); err != nil {
				t.Fatal(err)
			}
			b, err := LoadBundle(dir)
			if err != nil {
				t.Fatal(err)
			}
			if tc.spoil != nil {
				tc.spoil(t, config)
			}
			before, err := os.Stat(config)
			if err != nil {
				t.Fatal(err)
			}
			harden(b.Doc.Value)
			if wrote, err := b.Save(); err != nil || !wrote {
				t.Fatalf("Save() = %v, %v", wrote, err)
			}
			orig, err := os.Stat(config + OrigSuffix)
			if err != nil {
				t.Fatal(err)
			}
			if linked := os.SameFile(before, orig); linked != tc.wantLink {
				t.Errorf("-orig is the loaded file: %v, want %v", linked, tc.wantLink)
			}
			if orig.Mode().Perm() != 0o640 {
				t.Errorf("-orig mode %v, want 0640", orig.Mode().Perm())
			}
			if got, _ := os.ReadFile(config + OrigSuffix); !bytes.Equal(got, in) {
				t.Errorf("-orig is not the loaded bytes: %q", got)
			}
			if cur, _ := os.Stat(config); os.SameFile(cur, orig) {
				t.Error("config.json still shares the original's inode")
			}
			ents, _ := os.ReadDir(dir)
			for _, e := range ents {
				if strings.HasPrefix(e.Name(), ".") {
					t.Errorf("temp file left: %s", e.Name())
				}
			}
		})
	}
}

// A bundle used again after its container is gone starts from the
// original, and keeps the edits made to config.json since the rewrite.
func TestLoadBundleAgainKeepsEdits(t *testing.T) {
	dir := t.TempDir()
	in := []byte(`{"ociVersion":"1.0.2","process":{"args":["echo","first"],"cwd":"/"},"root":{"path":"rootfs"},"x-future":{"keep":[1,2.50]}}`)
	if err := os.WriteFile(filepath.Join(dir, ConfigName), in, 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := LoadBundle(dir)
	if err != nil {
		t.Fatal(err)
	}
	b.Doc.Value.Root.Path = "/run/runcage/mnt/c1/rootfs" // what runcage injects
	if _, err := b.Save(); err != nil {
		t.Fatal(err)
	}

	loadAgain := func() (*Bundle, error) {
		cur, err := LoadBundle(dir)
		if err != nil {
			return nil, err
		}
		return LoadBundleAgain(cur)
	}

	// Unedited: exactly the original comes back.
	again, err := loadAgain()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again.Doc.Original(), in) {
		t.Errorf("unedited bundle: got %s, want the original", again.Doc.Original())
	}

	// Edited after the rewrite: the edit survives, the injection does not.
	cur, _ := os.ReadFile(filepath.Join(dir, ConfigName))
	edited := bytes.Replace(cur, []byte(`"first"`), []byte(`"second"`), 1)
	if bytes.Equal(edited, cur) {
		t.Fatal("test bug: nothing edited")
	}
	if err := os.WriteFile(filepath.Join(dir, ConfigName), edited, 0o600); err != nil {
		t.Fatal(err)
	}
	again, err = loadAgain()
	if err != nil {
		t.Fatal(err)
	}
	s := again.Doc.Value
	if got := s.Process.Args; len(got) != 2 || got[1] != "second" {
		t.Errorf("edit lost: args %v", got)
	}
	if s.Root.Path != "rootfs" {
		t.Errorf("root.path %q: want the original's", s.Root.Path)
	}
	if !bytes.Contains(again.Doc.Original(), []byte(`2.50`)) {
		t.Errorf("unknown member not kept exactly: %s", again.Doc.Original())
	}

	// Without the copy of what runcage wrote, edits can't be told apart
	// from runcage's own changes: refused, never silently dropped.
	if err := os.Remove(filepath.Join(dir, ConfigName+RewrittenSuffix)); err != nil {
		t.Fatal(err)
	}
	if _, err := loadAgain(); err == nil || !strings.Contains(err.Error(), "restore config.json.runcage-orig") {
		t.Errorf("without the rewritten copy: err = %v, want a refusal saying what to do", err)
	}
}

func TestLoadRefusesSymlinkConfig(t *testing.T) {
	dir := t.TempDir()
	if err := os.Symlink("/etc/hostname", filepath.Join(dir, ConfigName)); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadBundle(dir); err == nil {
		t.Fatal("LoadBundle followed a symlinked config.json")
	}
}
