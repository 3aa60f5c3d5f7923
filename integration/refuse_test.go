//go:build integration

package integration

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// matcher checks that a refusal message names what was refused.
type matcher struct {
	desc string
	ok   func(msg string) bool
}

// tok matches v as a whole token (case-insensitively), so that "/" does not
// match inside "/mnt" and "0" does not match inside "100000".
func tok(v string) matcher {
	re := regexp.MustCompile(`(?i)(^|[^A-Za-z0-9_./-])` + regexp.QuoteMeta(v) + `($|[^A-Za-z0-9_./-])`)
	return matcher{fmt.Sprintf("token %q", v), re.MatchString}
}

// sub matches v anywhere, case-insensitively.
func sub(v string) matcher {
	return matcher{fmt.Sprintf("substring %q", v), func(m string) bool { return containsFold(m, v) }}
}

// anyOf matches if one of ms does.
func anyOf(ms ...matcher) matcher {
	var d []string
	for _, m := range ms {
		d = append(d, m.desc)
	}
	return matcher{"one of (" + strings.Join(d, ", ") + ")", func(s string) bool {
		return slices.ContainsFunc(ms, func(m matcher) bool { return m.ok(s) })
	}}
}

// hostileCase is one bundle runcage's default profile must refuse.
type hostileCase struct {
	name   string
	mutate func(e *testEnv, s *specs.Spec) // applied to a base spec running "true"
	raw    string                          // if set, config.json is exactly this
	rootfs RootfsOptions
	want   []matcher // the refusal message must satisfy all
}

func bindMount(src, dst string) specs.Mount {
	return specs.Mount{Destination: dst, Type: "bind", Source: src, Options: []string{"rbind", "rw"}}
}

// volume returns an existing host directory to use as a harmless bind source.
func (e *testEnv) volume() string {
	p := filepath.Join(e.dir, "volume")
	if err := os.MkdirAll(p, 0o755); err != nil {
		e.t.Fatal(err)
	}
	return p
}

func withoutNS(typ specs.LinuxNamespaceType) func(*testEnv, *specs.Spec) {
	return func(_ *testEnv, s *specs.Spec) {
		s.Linux.Namespaces = slices.DeleteFunc(s.Linux.Namespaces, func(n specs.LinuxNamespace) bool { return n.Type == typ })
	}
}

type idmap = specs.LinuxIDMapping

func withMappings(uids, gids []idmap) func(*testEnv, *specs.Spec) {
	return func(_ *testEnv, s *specs.Spec) {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		s.Linux.UIDMappings = uids
		s.Linux.GIDMappings = gids
	}
}

// mapBase is where the bundles' own mappings live: high in runcage's default
// pool (100000 up to 2^31), which allocates from the bottom, so a bundle's
// mapping never collides with the ranges of other live containers.
const mapBase = 2000000000

var goodMap = []idmap{{ContainerID: 0, HostID: mapBase, Size: 65536}}

var hostileCases = []hostileCase{
	{name: "malformed-json", raw: `{"ociVersion": "1.2.0", "process": {"args": ["true"], "cwd": "/"`,
		want: []matcher{sub("config.json")}},
	{name: "malformed-type", raw: `{"ociVersion": "1.2.0", "process": {"args": "true", "cwd": "/"}, "root": {"path": "rootfs"}}`,
		want: []matcher{sub("config.json")}},

	{name: "cap-unknown", mutate: func(_ *testEnv, s *specs.Spec) {
		s.Process.Capabilities.Bounding = append(s.Process.Capabilities.Bounding, "CAP_BOGUS")
	}, want: []matcher{tok("CAP_BOGUS")}},
	{name: "cap-lowercase", mutate: func(_ *testEnv, s *specs.Spec) {
		s.Process.Capabilities.Effective = append(s.Process.Capabilities.Effective, "cap_sys_admin")
	}, want: []matcher{tok("cap_sys_admin")}},
	{name: "cap-duplicate", mutate: func(_ *testEnv, s *specs.Spec) {
		s.Process.Capabilities.Permitted = append(s.Process.Capabilities.Permitted, "CAP_KILL")
	}, want: []matcher{tok("CAP_KILL")}},
	{name: "cap-sys-admin-bounding-only", mutate: func(_ *testEnv, s *specs.Spec) {
		s.Process.Capabilities.Bounding = append(s.Process.Capabilities.Bounding, "CAP_SYS_ADMIN")
	}, want: []matcher{tok("CAP_SYS_ADMIN")}},
	{name: "cap-sys-module-ambient", mutate: func(_ *testEnv, s *specs.Spec) {
		c := s.Process.Capabilities
		c.Bounding = append(c.Bounding, "CAP_SYS_MODULE")
		c.Permitted = append(c.Permitted, "CAP_SYS_MODULE")
		c.Inheritable = []string{"CAP_SYS_MODULE"}
		c.Ambient = []string{"CAP_SYS_MODULE"}
	}, want: []matcher{tok("CAP_SYS_MODULE")}},

	{name: "cwd-relative", mutate: func(_ *testEnv, s *specs.Spec) { s.Process.Cwd = "relative/workdir" },
		want: []matcher{tok("relative/workdir")}},
	{name: "cwd-dotdot", mutate: func(_ *testEnv, s *specs.Spec) { s.Process.Cwd = "/tmp/../../etc" },
		want: []matcher{tok("/tmp/../../etc")}},
	{name: "cwd-proc-self-fd", mutate: func(_ *testEnv, s *specs.Spec) { s.Process.Cwd = "/proc/self/fd/7" },
		want: []matcher{tok("/proc/self/fd/7")}},

	{name: "bind-dest-proc", mutate: func(e *testEnv, s *specs.Spec) {
		s.Mounts = append(s.Mounts, bindMount(e.volume(), "/proc"))
	}, want: []matcher{tok("/proc")}},
	{name: "bind-dest-under-proc", mutate: func(e *testEnv, s *specs.Spec) {
		s.Mounts = append(s.Mounts, bindMount(e.volume(), "/proc/sys/kernel"))
	}, want: []matcher{tok("/proc/sys/kernel")}},
	{name: "bind-dest-under-proc-unclean", mutate: func(e *testEnv, s *specs.Spec) {
		s.Mounts = append(s.Mounts, bindMount(e.volume(), "//proc/./sys/../sys/kernel"))
	}, want: []matcher{tok("//proc/./sys/../sys/kernel")}},
	{name: "bind-dest-sys", mutate: func(e *testEnv, s *specs.Spec) {
		s.Mounts = append(s.Mounts, bindMount(e.volume(), "/sys"))
	}, want: []matcher{tok("/sys")}},
	{name: "bind-dest-under-sys", mutate: func(e *testEnv, s *specs.Spec) {
		s.Mounts = append(s.Mounts, bindMount(e.volume(), "/sys/kernel/security"))
	}, want: []matcher{tok("/sys/kernel/security")}},
	{name: "bind-dest-dev-console", mutate: func(e *testEnv, s *specs.Spec) {
		f := filepath.Join(e.volume(), "console")
		if err := os.WriteFile(f, nil, 0o644); err != nil {
			e.t.Fatal(err)
		}
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/dev/console", Type: "bind", Source: f, Options: []string{"bind"}})
	}, want: []matcher{tok("/dev/console")}},

	{name: "bind-src-root", mutate: func(_ *testEnv, s *specs.Spec) {
		s.Mounts = append(s.Mounts, bindMount("/", "/mnt/host"))
	}, want: []matcher{tok("/")}},
	{name: "bind-src-root-type-none", mutate: func(_ *testEnv, s *specs.Spec) {
		// runc treats any mount with a "bind"/"rbind" option as a bind
		// mount, whatever its type says.
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/mnt/host", Type: "none", Source: "/", Options: []string{"rbind", "ro"}})
	}, want: []matcher{tok("/")}},
	{name: "bind-src-proc", mutate: func(_ *testEnv, s *specs.Spec) {
		s.Mounts = append(s.Mounts, bindMount("/proc", "/mnt/hostproc"))
	}, want: []matcher{tok("/proc")}},
	{name: "bind-src-sys", mutate: func(_ *testEnv, s *specs.Spec) {
		s.Mounts = append(s.Mounts, bindMount("/sys", "/mnt/hostsys"))
	}, want: []matcher{tok("/sys")}},
	{name: "bind-src-docker-sock", mutate: func(_ *testEnv, s *specs.Spec) {
		s.Mounts = append(s.Mounts, bindMount("/var/run/docker.sock", "/var/run/docker.sock"))
	}, want: []matcher{tok("/var/run/docker.sock")}},

	{name: "hook-prestart", mutate: func(_ *testEnv, s *specs.Spec) {
		s.Hooks = &specs.Hooks{Prestart: []specs.Hook{{Path: "/usr/local/bin/evil-prestart-hook"}}}
	}, want: []matcher{tok("/usr/local/bin/evil-prestart-hook")}},
	{name: "hook-create-runtime", mutate: func(_ *testEnv, s *specs.Spec) {
		s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/opt/evil/create-runtime-hook", Args: []string{"x"}}}}
	}, want: []matcher{tok("/opt/evil/create-runtime-hook")}},

	{name: "host-pid-ns", mutate: withoutNS(specs.PIDNamespace), want: []matcher{tok("pid")}},
	{name: "host-ipc-ns", mutate: withoutNS(specs.IPCNamespace), want: []matcher{tok("ipc")}},
	{name: "host-network-ns", mutate: withoutNS(specs.NetworkNamespace), want: []matcher{anyOf(tok("network"), tok("net"))}},

	{name: "uidmap-host-0", mutate: withMappings([]idmap{{ContainerID: 0, HostID: 0, Size: 65536}}, goodMap),
		want: []matcher{sub("uid"), tok("0")}},
	{name: "gidmap-host-0", mutate: withMappings(goodMap, []idmap{{ContainerID: 0, HostID: 0, Size: 65536}}),
		want: []matcher{sub("gid"), tok("0")}},
	{name: "uidmap-host-0-inside-range", mutate: withMappings([]idmap{{ContainerID: 1000, HostID: 0, Size: 10}, {ContainerID: 0, HostID: mapBase, Size: 1000}}, goodMap),
		want: []matcher{sub("uid"), tok("0")}},
	{name: "uidmap-overlap-container", mutate: withMappings([]idmap{{ContainerID: 0, HostID: mapBase, Size: 65536}, {ContainerID: 1000, HostID: mapBase + 300000, Size: 10}}, goodMap),
		want: []matcher{sub("uid"), anyOf(sub("overlap"), tok("2000300000"), tok("1000"))}},
	{name: "uidmap-overlap-host", mutate: withMappings([]idmap{{ContainerID: 0, HostID: mapBase, Size: 1000}, {ContainerID: 1000, HostID: mapBase + 500, Size: 1000}}, goodMap),
		want: []matcher{sub("uid"), anyOf(sub("overlap"), tok("2000000500"))}},
	{name: "gidmap-overlap", mutate: withMappings(goodMap, []idmap{{ContainerID: 0, HostID: mapBase, Size: 65536}, {ContainerID: 1000, HostID: mapBase + 300000, Size: 10}}),
		want: []matcher{sub("gid"), anyOf(sub("overlap"), tok("2000300000"), tok("1000"))}},
	{name: "uidmap-size-0", mutate: withMappings([]idmap{{ContainerID: 0, HostID: mapBase, Size: 65536}, {ContainerID: 70000, HostID: mapBase + 200000, Size: 0}}, goodMap),
		want: []matcher{sub("uid"), anyOf(sub("size"), tok("2000200000"), tok("70000"))}},
	{name: "uidmap-beyond-2^31", mutate: withMappings([]idmap{{ContainerID: 0, HostID: 2147483648, Size: 65536}}, goodMap),
		want: []matcher{sub("uid"), anyOf(tok("2147483648"), tok("2147549184"), tok("2147483647"), sub("2^31"), sub("1<<31"))}},
	{name: "uidmap-end-beyond-2^31", mutate: withMappings([]idmap{{ContainerID: 0, HostID: 2147450000, Size: 65536}}, goodMap),
		want: []matcher{sub("uid"), anyOf(tok("2147450000"), tok("2147515536"), tok("2147483648"), tok("2147483647"), sub("2^31"), sub("1<<31"))}},
	{name: "gidmap-beyond-2^31", mutate: withMappings(goodMap, []idmap{{ContainerID: 0, HostID: 3000000000, Size: 65536}}),
		want: []matcher{sub("gid"), anyOf(tok("3000000000"), tok("3000065536"), tok("2147483648"), tok("2147483647"), sub("2^31"), sub("1<<31"))}},

	{name: "rootfs-proc-symlink", rootfs: RootfsOptions{Symlinks: map[string]string{"/proc": "/etc"}},
		want: []matcher{tok("/proc")}},
	{name: "rootfs-dev-symlink", rootfs: RootfsOptions{Symlinks: map[string]string{"/dev": "../../../../tmp"}},
		want: []matcher{tok("/dev")}},
}

// refusal runs `runcage --root R --log F --log-format json create --bundle B id`
// on a bundle whose config.json is config and checks everything a refusal
// promises: exit 1, exactly one JSON error line in F that starts with
// "runcage: " and carries a time, the same line on stderr, config.json and
// the bundle directory untouched, and no container left behind. It returns
// the message.
func (e *testEnv) refusal(name string, config []byte, opt RootfsOptions) (string, Result) {
	e.t.Helper()
	bundle := e.rawBundle("bundle-"+strconv.Itoa(int(idCounter.Add(1))), config, opt)
	before := dirNames(e.t, bundle)
	rt := e.runcage("")
	rt.Log = filepath.Join(e.dir, name+".log")
	id := newID()
	e.deleteLater(rt, id)

	res := rt.Exec(invokeTimeout, "create", "--bundle", bundle, id)
	if res.Err != nil {
		e.t.Fatalf("%v\n%s", res.Err, res)
	}
	if res.Exit != 1 {
		e.t.Errorf("want exit 1, got\n%s", res)
	}

	raw, lines, err := ReadLogLines(rt.Log)
	if err != nil {
		e.t.Errorf("log file: %v", err)
	}
	var msg string
	if len(lines) == 0 {
		e.t.Errorf("log file %s has no lines; stderr: %q", rt.Log, res.Stderr)
	} else {
		if len(lines) != 1 {
			e.t.Errorf("log file has %d lines, want exactly the one refusal line:\n%s", len(lines), strings.Join(raw, "\n"))
		}
		last := lines[len(lines)-1]
		msg = last.Msg
		if last.Level != "error" {
			e.t.Errorf("level = %q, want error: %s", last.Level, raw[len(raw)-1])
		}
		if !strings.HasPrefix(last.Msg, "runcage: ") {
			e.t.Errorf("msg does not start with %q: %q", "runcage: ", last.Msg)
		}
		if _, err := time.Parse(time.RFC3339Nano, last.Time); err != nil {
			e.t.Errorf("time = %q: %v", last.Time, err)
		}
		if !strings.Contains(res.Stderr, raw[len(raw)-1]) && !strings.Contains(res.Stderr, last.Msg) {
			e.t.Errorf("stderr does not carry the refusal (neither the JSON line nor its msg):\nstderr: %q\nline:   %q", res.Stderr, raw[len(raw)-1])
		}
	}

	after, err := os.ReadFile(filepath.Join(bundle, "config.json"))
	if err != nil {
		e.t.Errorf("config.json after refusal: %v", err)
	} else if !bytes.Equal(after, config) {
		e.t.Errorf("config.json changed by a refused create:\nbefore: %q\nafter:  %q", config, after)
	}
	if got := dirNames(e.t, bundle); !slices.Equal(got, before) {
		e.t.Errorf("bundle directory changed by a refused create: before %v, after %v", before, got)
	}
	quiet := rt
	quiet.Log = "" // keep the refusal log to the refusal alone
	if st := quiet.Exec(invokeTimeout, "state", id); st.Exit == 0 {
		e.t.Errorf("a container %s exists after the refusal:\n%s", id, st.Stdout)
	}
	e.t.Logf("refusal line: %s", msg)
	return msg, res
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// TestRefusals feeds each hostile bundle to runcage's default profile with
// real runc as the delegate.
func TestRefusals(t *testing.T) {
	for _, c := range hostileCases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			config := []byte(c.raw)
			if c.raw == "" {
				s := BaseSpec(RuncSpecCaps, "true")
				if c.mutate != nil {
					c.mutate(e, s)
				}
				var err error
				if config, err = MarshalSpec(s); err != nil {
					t.Fatal(err)
				}
			}
			msg, _ := e.refusal(c.name, config, c.rootfs)
			for _, m := range c.want {
				if !m.ok(msg) {
					t.Errorf("refusal message does not name the offending value (%s): %q", m.desc, msg)
				}
			}
		})
	}
}

// TestRefusalBaseBundleAccepted guards the table above: the bundles the
// hostile cases are variations of must themselves run, or the refusals
// prove nothing.
func TestRefusalBaseBundleAccepted(t *testing.T) {
	variants := []struct {
		name   string
		mutate func(*testEnv, *specs.Spec)
	}{
		{"base", nil},
		{"userns", withMappings(goodMap, goodMap)},
		{"bind-volume", func(e *testEnv, s *specs.Spec) {
			s.Mounts = append(s.Mounts, bindMount(e.volume(), "/mnt/volume"))
		}},
		{"cwd-tmp", func(_ *testEnv, s *specs.Spec) { s.Process.Cwd = "/tmp" }},
	}
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			e := newEnv(t)
			s := BaseSpec(RuncSpecCaps, "true")
			if v.mutate != nil {
				v.mutate(e, s)
			}
			b, _ := e.bundle(v.name, s, RootfsOptions{})
			e.mustRun(e.runcage(""), b, 0)
		})
	}
}

// TestRefusalEscapesHostileBytes checks that newlines and terminal escape
// sequences from a refused bundle never reach the log file or stderr raw:
// the log keeps one JSON object per line and contains no ESC byte, and the
// decoded message itself contains no control characters, because containerd
// shows it to users as is.
func TestRefusalEscapesHostileBytes(t *testing.T) {
	const hostile = "line1\nline2\x1b[31mred\x1b[0m\r"
	cases := []struct {
		name   string
		mutate func(*specs.Spec)
	}{
		{"annotations", func(s *specs.Spec) {
			s.Annotations = map[string]string{
				"org.example.note":    hostile,
				"runcage.dev/profile": "passthrough\n" + hostile,
				"evil\n\x1b[31mkey":   hostile,
			}
			s.Process.Capabilities.Bounding = append(s.Process.Capabilities.Bounding, "CAP_BOGUS")
		}},
		{"capability-name", func(s *specs.Spec) {
			s.Process.Capabilities.Bounding = append(s.Process.Capabilities.Bounding, "CAP_"+hostile)
		}},
		{"hook-path", func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{Prestart: []specs.Hook{{Path: "/evil/" + hostile}}}
		}},
		{"cwd", func(s *specs.Spec) { s.Process.Cwd = "/../" + hostile }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			s := BaseSpec(RuncSpecCaps, "true")
			c.mutate(s)
			config, err := MarshalSpec(s)
			if err != nil {
				t.Fatal(err)
			}
			msg, res := e.refusal("hostile-"+c.name, config, RootfsOptions{})
			logBytes, err := os.ReadFile(filepath.Join(e.dir, "hostile-"+c.name+".log"))
			if err != nil {
				t.Fatal(err)
			}
			if bytes.ContainsAny(logBytes, "\x1b\r") {
				t.Errorf("log file contains a raw ESC or CR byte: %q", logBytes)
			}
			if n := bytes.Count(logBytes, []byte("\n")); n != 1 {
				t.Errorf("log file has %d newlines, want 1 (one line): %q", n, logBytes)
			}
			if strings.ContainsFunc(msg, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
				t.Errorf("decoded msg contains control characters; values from the bundle must be escaped: %q", msg)
			}
			if strings.ContainsAny(res.Stderr, "\x1b\r") || strings.Count(strings.TrimSuffix(res.Stderr, "\n"), "\n") != 0 {
				t.Errorf("stderr is not one clean line: %q", res.Stderr)
			}
		})
	}
}
