//go:build integration

package workloads

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/runcage/runcage/integration"
)

// TestRecordCapabilities records, in one pass each, two busybox servers
// that need a capability: httpd binding port 80 as root
// (CAP_NET_BIND_SERVICE), and httpd that binds as root and then switches to
// nobody (-u: setgroups, setgid, setuid: CAP_SETGID, CAP_SETUID). For each:
// the control shows the server dies under record with
// record_capabilities = false (record as it was: no capabilities); under
// record with the default policy it serves; the generated profile keeps
// exactly the capabilities the trace proved, not the others the bundle
// asked for; and under that profile the server serves again with only
// those capabilities.
func TestRecordCapabilities(t *testing.T) {
	page := []byte("runcage recorded a server that needs a capability\n")
	for _, tc := range []struct {
		name string
		caps []string // what the bundle asks for, as an engine would
		args []string
		url  string
		want []string // capabilities the generated profile must keep
		uid  uint32   // the server's uid in the container once it serves
	}{
		{"port80", integration.RuncSpecCaps, []string{"httpd", "-f", "-p", "80", "-h", "/www"},
			"http://127.0.0.1:80/index.html", []string{"CAP_NET_BIND_SERVICE"}, 0},
		{"setuid", integration.DockerDefaultCaps, []string{"httpd", "-f", "-p", "8080", "-u", "nobody:nobody", "-h", "/www"},
			"http://127.0.0.1:8080/index.html", []string{"CAP_SETGID", "CAP_SETUID"}, 65534},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lay := layout{Files: map[string][]byte{"/www/index.html": page}, Caps: tc.caps, Args: tc.args}

			// Control: record without capabilities, as it was.
			off := newLab(t, "record_capabilities = false\n")
			b := off.start("record", "control", lay)
			if err := b.rt.WaitStopped(b.id, 15*time.Second); err != nil {
				t.Fatalf("record_capabilities = false: the server still runs (%v); it should die for want of a capability", err)
			}
			b.stop("", time.Second)

			l := newLab(t, "")
			lay.Recording = "httpd-" + tc.name
			b = l.start("record", "record", lay)
			if err := b.waitGet(tc.url, page); err != nil {
				t.Fatalf("under record: %v", err)
			}
			b.stop("", time.Second) // httpd as pid 1 ignores SIGTERM
			tr := l.Trace(lay.Recording)
			for _, c := range tc.want {
				if len(tr.Capabilities[c]) == 0 {
					t.Errorf("trace has no evidence for %s: %v", c, tr.Capabilities)
				}
			}
			t.Logf("capability evidence: %v", tr.Capabilities)

			l.generate("httpd-"+tc.name+"-gen", lay.Recording)
			_, kept := l.installed("httpd-" + tc.name + "-gen")
			slices.Sort(kept)
			if !slices.Equal(kept, tc.want) {
				t.Fatalf("generated profile keeps %q, want exactly %q (the bundle asked for %q)", kept, tc.want, tc.caps)
			}

			lay.Recording = ""
			b = l.start("httpd-"+tc.name+"-gen", "enforce", lay)
			if err := b.waitGet(tc.url, page); err != nil {
				t.Fatalf("under the generated profile: %v\nruncage log:\n%s", err, tail(integration.FileText(b.rt.Log), 10))
			}
			status := integration.FileText(fmt.Sprintf("/proc/%d/status", b.pid))
			// The bounding set: a server that switched to a user has
			// no effective capabilities left.
			if got, want := field(status, "CapBnd"), integration.CapMask(tc.want); got != want {
				t.Errorf("CapBnd of the server = %s, want %s (%v)", got, want, tc.want)
			}
			if tc.uid != 0 {
				// The server's host uid is its container uid plus the
				// base of the container's mapping.
				m := strings.Fields(integration.FileText(fmt.Sprintf("/proc/%d/uid_map", b.pid)))
				base, err := strconv.ParseUint(m[1], 10, 32)
				if err != nil || m[0] != "0" {
					t.Fatalf("uid_map %q", m)
				}
				if got := strings.Fields(field(status, "Uid")); len(got) == 0 || got[0] != strconv.FormatUint(base+uint64(tc.uid), 10) {
					t.Errorf("server Uid = %v, want container uid %d (host %d)", got, tc.uid, base+uint64(tc.uid))
				}
			}
			b.stop("", time.Second)
		})
	}
}

// field returns the value of a "Name:\tvalue" line of a /proc status file.
func field(status, name string) string {
	for _, l := range strings.Split(status, "\n") {
		if v, ok := strings.CutPrefix(l, name+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
