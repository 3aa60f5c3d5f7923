//go:build integration

package adversarial

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runcage/runcage/integration"
)

// mountsI64 returns a pointer to n, for device cgroup rule numbers.
func mountsI64(n int64) *int64 { return &n }

// mountsHostDir makes a fresh host directory under e.Dir.
func mountsHostDir(e *Env, name string) string {
	e.T.Helper()
	d := filepath.Join(e.Dir, name)
	os.RemoveAll(d)
	if err := os.MkdirAll(d, 0o755); err != nil {
		e.T.Fatal(err)
	}
	return d
}

// mountsOptsScript prints Pwned unless the mount at dst is nosuid and
// nodev in the container's mountinfo (field 6 is the mount's own options).
func mountsOptsScript(dst string) string {
	return `o=$(awk '$5=="` + dst + `"{print $6}' /proc/self/mountinfo | tail -n1); echo "opts=$o"; ` +
		`case ",$o," in *,nosuid,*) ;; *) echo ` + Pwned + `;; esac; ` +
		`case ",$o," in *,nodev,*) ;; *) echo ` + Pwned + `;; esac; true`
}

// TestMountsAdversarial: issue 9 classes 3 (mount options), 4 (runcage's
// and the engines' own files), 5 (masked and read-only paths) and 6
// (devices).
func TestMountsAdversarial(t *testing.T) {
	RunCases(t, []Case{
		{
			// /etc holds /etc/runcage, which is always refused, so the
			// whole of /etc is: a source that contains a protected path.
			Name: "bind-host-etc-read-shadow", Class: 3, Expect: Refused,
			Script: `head -n1 /hostetc/shadow && echo ` + Pwned,
			Mutate: func(e *Env, s *specs.Spec) { s.Mounts = append(s.Mounts, Bind("/etc", "/hostetc")) },
			Want:   []string{`bind mount "/etc" -> "/hostetc" refused`, "source contains runcage's own files (/etc/runcage)"},
		},
		{
			Name: "bind-policy-dir-rewrite-default-profile", Class: 4, Expect: Refused, Control: "passthrough",
			// The control only appends a comment: a real
			// default_profile = "passthrough" would select passthrough
			// for the hardened run too, which is the attack.
			Script: `f=$(ls /pol/policy-*.toml | head -n1); echo '# forged by the container' >>"$f" && echo ` + Pwned,
			Mutate: func(e *Env, s *specs.Spec) { s.Mounts = append(s.Mounts, Bind(filepath.Dir(e.Policy), "/pol")) },
			Want:   []string{"refused: source contains runcage's own files"},
		},
		{
			Name: "bind-policy-file", Class: 4, Expect: Refused, Control: "passthrough",
			Script: `grep -q state_dir /pol.toml && echo ` + Pwned,
			Mutate: func(e *Env, s *specs.Spec) {
				s.Mounts = append(s.Mounts, specs.Mount{Destination: "/pol.toml", Type: "bind", Source: e.Policy, Options: []string{"bind", "ro"}})
			},
			Want: []string{"refused: source is runcage's own files"},
		},
		{
			Name: "bind-state-dir-rewrite-allocations", Class: 4, Expect: Refused, Control: "passthrough",
			Script: `touch /st/userns-forged && echo ` + Pwned,
			Mutate: func(e *Env, s *specs.Spec) {
				if err := os.MkdirAll(e.StateDir, 0o700); err != nil {
					e.T.Fatal(err)
				}
				s.Mounts = append(s.Mounts, Bind(e.StateDir, "/st"))
			},
			Want: []string{"refused: source is runcage's own files"},
		},
		{
			Name: "bind-delegate-binary", Class: 4, Expect: Refused,
			Script: `test -s /runc && echo ` + Pwned,
			Mutate: func(e *Env, s *specs.Spec) {
				s.Mounts = append(s.Mounts, specs.Mount{Destination: "/runc", Type: "bind", Source: e.Bin.Runc, Options: []string{"bind", "ro"}})
			},
			Want: []string{"refused: source is runcage's own files"},
		},
		{
			// dmesg_restrict stops reads without CAP_SYSLOG, but a
			// write-only open needs no privilege: the container can forge
			// kernel log lines. The control writes one.
			Name: "bind-dev-kmsg-with-rule", Class: 6, Expect: Refused,
			Script: `echo "<3>runcage-adversarial: forged kernel line" >/kmsg && echo ` + Pwned,
			Mutate: func(e *Env, s *specs.Spec) {
				s.Mounts = append(s.Mounts, specs.Mount{Destination: "/kmsg", Type: "bind", Source: "/dev/kmsg", Options: []string{"bind"}})
				s.Linux.Resources.Devices = append(s.Linux.Resources.Devices, specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: mountsI64(1), Minor: mountsI64(11), Access: "rw"})
			},
			Want: []string{`bind mount "/dev/kmsg" -> "/kmsg" refused: source is the host device c 1:11`},
		},
		{
			// The rule alone: under plain runc, root with Docker's
			// CAP_MKNOD makes the node itself.
			Name: "device-rule-kmsg-mknod", Class: 6, Expect: Refused,
			Script: `mknod /tmp/k c 1 11 && echo "<3>runcage-adversarial: forged" >/tmp/k && echo ` + Pwned,
			Mutate: func(e *Env, s *specs.Spec) {
				s.Linux.Resources.Devices = append(s.Linux.Resources.Devices, specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: mountsI64(1), Minor: mountsI64(11), Access: "rwm"})
			},
			Want: []string{`device cgroup rule "c 1:11 rwm" refused`},
		},
		{
			Name: "device-rule-dev-mem", Class: 6, Expect: Refused,
			Script: `mknod /tmp/mem c 1 1 && head -c1 /tmp/mem >/dev/null && echo ` + Pwned,
			Mutate: func(e *Env, s *specs.Spec) {
				s.Linux.Resources.Devices = append(s.Linux.Resources.Devices, specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: mountsI64(1), Minor: mountsI64(1), Access: "rwm"})
			},
			NoControl: "opening /dev/mem needs CAP_SYS_RAWIO, which Docker's default capabilities lack; the rule is what is refused",
			Want:      []string{`device cgroup rule "c 1:1 rwm" refused: it grants access to kernel memory devices`},
		},
		{
			// runc masks the alias, which the kernel resolves through
			// thread-self to a path that does not exist, so /proc/keys
			// stays readable; the bundle's own list lacks /proc/keys.
			Name: "masked-path-alias-thread-self", Class: 5, Expect: Refused,
			Script: `cat /proc/keys >/dev/null && echo ` + Pwned,
			Mutate: func(e *Env, s *specs.Spec) {
				var l []string
				for _, p := range s.Linux.MaskedPaths {
					if p != "/proc/keys" {
						l = append(l, p)
					}
				}
				s.Linux.MaskedPaths = append(l, "/proc/thread-self/../keys")
			},
			Want: []string{`linux.maskedPaths entry "/proc/thread-self/../keys" refused`},
		},
		{
			// Class 3's mount-option part: a volume is nosuid and nodev,
			// so a set-user-ID file a container leaves there is inert on
			// the container's side too.
			Name: "volume-mount-is-nosuid-nodev", Class: 3, Expect: Contained,
			Script: `cp /bin/busybox /vol/bb 2>/dev/null && chmod u+s /vol/bb 2>/dev/null; ` + mountsOptsScript("/vol"),
			Mutate: func(e *Env, s *specs.Spec) { s.Mounts = append(s.Mounts, Bind(mountsHostDir(e, "vol"), "/vol")) },
		},
		{
			Name: "tmpfs-mount-is-nosuid-nodev", Class: 3, Expect: Contained,
			Script: mountsOptsScript("/scratch"),
			Mutate: func(e *Env, s *specs.Spec) {
				s.Mounts = append(s.Mounts, specs.Mount{Destination: "/scratch", Type: "tmpfs", Source: "tmpfs", Options: []string{"rw", "suid", "dev"}})
			},
		},
	})

	// The nodev on /dev and on every mount must not break an ordinary
	// container: device nodes that runc binds in a user namespace keep
	// working, and so does a shell without a terminal.
	for _, profile := range []string{"", "nouserns"} {
		t.Run("dev-still-works/"+profile, func(t *testing.T) { mountsDevStillWorks(t, profile) })
	}
}

// mountsDevStillWorks runs an ordinary container under profile ("": the
// default) and checks that its device nodes work and /dev is nodev
// exactly when the profile has a user namespace (without one runc
// creates the nodes with mknod on the /dev tmpfs).
func mountsDevStillWorks(t *testing.T, profile string) {
	{
		e := NewEnv(t, "[profiles.nouserns]\nuserns = \"off\"\n")
		s := Spec(`set -e; cat /dev/null; head -c 4 /dev/zero | od -An -tx1 | tr -d ' \n'; echo; head -c 1 /dev/urandom >/dev/null; ` +
			`echo x >/dev/null; echo ok-devices; grep ' /dev ' /proc/self/mountinfo | head -n1`)
		rt := e.Runcage(profile)
		res := e.Run(rt, e.Bundle("devs", s, nil, integration.RootfsOptions{}))
		if res.Exit != 0 || !strings.Contains(res.Stdout, "00000000") || !strings.Contains(res.Stdout, "ok-devices") {
			t.Fatalf("container under runcage failed:\n%s\nlog: %s", res, readFile(rt.Log))
		}
		if got, want := strings.Contains(res.Stdout, "nodev"), profile == ""; got != want {
			t.Errorf("/dev nodev = %v, want %v:\n%s", got, want, res.Stdout)
		}
		t.Logf("%s", res.Stdout)
	}
}
