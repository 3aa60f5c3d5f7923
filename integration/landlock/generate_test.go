//go:build integration

package landlock

import (
	"encoding/json"
	"os"
	"path/filepath"
	stdslices "slices"
	"strings"
	"testing"

	"github.com/runcage/runcage/integration"
	"github.com/runcage/runcage/profiles"
	"github.com/runcage/runcage/profiles/record"
)

// workload is what the recorded container does: read /etc/passwd, write a
// file in /tmp/out, bind TCP 8080. checks adds what its generated profile
// must deny: a file beside the one read, a directory never written to, a
// port never bound. Both use the same commands, so that the generated
// seccomp filter allows the checks and only Landlock can deny them.
const (
	workload = `
try() { k=$1; shift; if out=$("$@" 2>&1); then echo "$k=ok"; else echo "$k=$out"; fi; }
try read-passwd cat /etc/passwd
try write-out sh -c 'echo x > /tmp/out/f'
/bin/bindtest 8080
`
	checks = workload + `
try read-group cat /etc/group
try write-var sh -c 'echo x > /var/f'
/bin/bindtest 8081
`
)

// TestLandlockGenerated records a busybox workload under the record
// profile, generates its profile, and runs the workload and the checks
// under it and under default: the workload works under both, and the
// checks fail only under the generated profile, with Landlock's EACCES.
func TestLandlockGenerated(t *testing.T) {
	e := newEnv(t)
	lab := integration.NewLab(t, e.bin, "runcage-llgen-", "")
	bundle := func(script string, annotations map[string]string) string {
		s := spec("sh", "-c", script)
		s.Annotations = annotations
		b := e.bundle(s, integration.RootfsOptions{})
		out := filepath.Join(b, "rootfs", "tmp", "out")
		if err := os.Mkdir(out, 0o777); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(out, 0o777); err != nil {
			t.Fatal(err)
		}
		return b
	}
	run := func(t *testing.T, rt integration.Runtime, b string) map[string]string {
		t.Helper()
		id := newID()
		rt.DeleteLater(t, id)
		res := rt.Exec(timeout, "run", "--bundle", b, id)
		if res.Exit != 0 {
			t.Fatalf("%s\nlog: %s", res, integration.FileText(rt.Log))
		}
		return results(res.Stdout)
	}

	rec := run(t, lab.Runtime("record"), bundle(workload, map[string]string{"runcage.dev/recording-name": "llw"}))
	for _, k := range []string{"read-passwd", "write-out", "bind8080"} {
		if rec[k] != "ok" {
			t.Fatalf("under record, %s = %q", k, rec[k])
		}
	}
	tr := lab.Trace("llw")
	if !tr.PortsAndListings || !stdslices.Contains(tr.Ports, record.Port{Use: record.PortBind, Family: "AF_INET", Port: 8080}) {
		t.Fatalf("the recording lacks the bind of 8080: ports %v, ports_and_listings %v", tr.Ports, tr.PortsAndListings)
	}
	lab.Generate("llw-gen", "llw")

	var shown struct {
		Landlock *profiles.Landlock `json:"landlock"`
	}
	if err := json.Unmarshal([]byte(lab.Runcage("profile", "show", "llw-gen")), &shown); err != nil {
		t.Fatal(err)
	}
	l := shown.Landlock
	if l == nil || !stdslices.Equal(l.Bind, []int{8080}) || l.Require != profiles.IfAvailable {
		t.Fatalf("generated Landlock rules: %+v", l)
	}
	var rules []string
	for _, r := range l.FS {
		rules = append(rules, r.Path+" "+strings.Join(r.Access, ","))
	}
	t.Logf("generated: bind %v connect %v, %d file rules:\n%s", l.Bind, l.Connect, len(rules), strings.Join(rules, "\n"))
	for _, want := range []string{"/etc/passwd read", "/tmp/out create,list,read,remove,write", "/bin/busybox execute"} {
		if !stdslices.Contains(rules, want) {
			t.Errorf("generated rules lack %q", want)
		}
	}

	want := map[string]map[string]string{
		"llw-gen": {
			"read-passwd": "ok", "write-out": "ok", "bind8080": "ok",
			"read-group": "Permission denied", "write-var": "Permission denied", "bind8081": "errno 13",
		},
		"default": {
			"read-passwd": "ok", "write-out": "ok", "bind8080": "ok",
			"read-group": "ok", "write-var": "ok", "bind8081": "ok",
		},
	}
	for _, prof := range []string{"llw-gen", "default"} {
		t.Run(prof, func(t *testing.T) {
			got := run(t, lab.Runtime(prof), bundle(checks, nil))
			for k, v := range want[prof] {
				if !strings.Contains(got[k], v) {
					t.Errorf("%s: %s = %q, want %q", prof, k, got[k], v)
				}
			}
		})
	}
}
