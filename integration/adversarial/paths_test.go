//go:build integration

package adversarial

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runcage/runcage/integration"
)

// pathsMarker is the file a case's host directory holds, to tell its bind
// mount from whatever is at the destination otherwise.
const pathsMarker = "runcage-paths-marker"

// pathsHostDir makes a host directory under e.Dir holding pathsMarker.
func pathsHostDir(e *Env, name string) string {
	e.T.Helper()
	d := filepath.Join(e.Dir, name)
	if err := os.MkdirAll(d, 0o755); err != nil {
		e.T.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d, pathsMarker), []byte(pathsMarker+"\n"), 0o644); err != nil {
		e.T.Fatal(err)
	}
	return d
}

// pathsStart starts argv on the host and kills it when the test ends.
func pathsStart(t *testing.T, argv ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd
}

// pathsWaitNS waits until process pid's namespace ns differs from the
// test's own (unshare has switched), and returns its readlink text.
func pathsWaitNS(t *testing.T, pid int, ns string) string {
	t.Helper()
	self, _ := os.Readlink("/proc/self/ns/" + ns)
	for i := 0; i < 200; i++ {
		got, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", pid, ns))
		if err == nil && got != self {
			return got
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("process %d never left the test's %s namespace", pid, ns)
	return ""
}

// pathsHookSource is a stand-in "dockerd": run with -exec-root=DIR (as
// libnetwork-setkey hooks run it) it writes DIR/hook-ran with its uid and
// mount namespace; otherwise it sleeps.
const pathsHookSource = `package main

import (
	"fmt"
	"os"
	"strings"
	"time"
)

func main() {
	if len(os.Args) > 1 && strings.HasPrefix(os.Args[1], "-exec-root=") {
		mnt, _ := os.Readlink("/proc/self/ns/mnt")
		text := fmt.Sprintf("uid=%d mnt=%s\n", os.Getuid(), mnt)
		os.WriteFile(strings.TrimPrefix(os.Args[1], "-exec-root=")+"/hook-ran", []byte(text), 0o644)
		return
	}
	time.Sleep(10 * time.Minute)
}
`

// pathsBuildImpostor builds the stand-in dockerd at e.Dir/dockerd.
func pathsBuildImpostor(e *Env) string {
	e.T.Helper()
	src := filepath.Join(e.Dir, "impostor", "main.go")
	if err := os.MkdirAll(filepath.Dir(src), 0o755); err != nil {
		e.T.Fatal(err)
	}
	if err := os.WriteFile(src, []byte(pathsHookSource), 0o644); err != nil {
		e.T.Fatal(err)
	}
	out := filepath.Join(e.Dir, "dockerd")
	cmd := exec.Command("go", "build", "-o", out, src)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GO111MODULE=off")
	if b, err := cmd.CombinedOutput(); err != nil {
		e.T.Fatalf("build impostor: %v\n%s", err, b)
	}
	return out
}

// TestPathsAdversarial: class 5 (paths decided as text, not as what they
// resolve to) and class 7's cgroup part.
func TestPathsAdversarial(t *testing.T) {
	hostMnt, _ := os.Readlink("/proc/self/ns/mnt")
	RunCases(t, []Case{
		{
			Name: "bind-destination-through-symlink-to-sys", Class: 5,
			Script: `[ -e /sys/kernel/` + pathsMarker + ` ] && echo ` + Pwned + `; true`,
			Rootfs: integration.RootfsOptions{Symlinks: map[string]string{"/s": "/sys"}},
			Mutate: func(e *Env, s *specs.Spec) {
				s.Mounts = append(s.Mounts, Bind(pathsHostDir(e, "src"), "/s/kernel"))
			},
			Expect: Refused, Want: []string{`"/s/kernel" refused: it resolves to "/sys/kernel", which is at or under /sys`},
		},
		{
			Name: "bind-destination-through-symlink-to-console", Class: 5,
			Script: `grep -q ` + pathsMarker + ` /dev/console 2>/dev/null && echo ` + Pwned + `; true`,
			Rootfs: integration.RootfsOptions{Symlinks: map[string]string{"/c": "/dev/console"}},
			Mutate: func(e *Env, s *specs.Spec) {
				m := Bind(filepath.Join(pathsHostDir(e, "src"), pathsMarker), "/c")
				m.Options = []string{"bind", "ro"}
				s.Mounts = append(s.Mounts, m)
			},
			Expect: Refused, Want: []string{`"/c" refused: it resolves to "/dev/console", which is at or under /dev/console`},
		},
		{
			Name: "hook-proc-exe-of-an-impostor-dockerd", Class: 5, Script: `true`,
			Mutate: func(e *Env, s *specs.Spec) {
				exe := pathsBuildImpostor(e)
				// Another mount namespace, as a container's process has.
				cmd := pathsStart(e.T, "unshare", "--mount", "--propagation", "private", exe)
				pathsWaitNS(e.T, cmd.Process.Pid, "mnt")
				root := filepath.Join(e.Dir, "hookroot")
				if err := os.MkdirAll(root, 0o755); err != nil {
					e.T.Fatal(err)
				}
				s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{
					Path: fmt.Sprintf("/proc/%d/exe", cmd.Process.Pid),
					Args: []string{"libnetwork-setkey", "-exec-root=" + root, strings.Repeat("ab", 32), "0123456789ab"},
				}}}
			},
			// The hook ran the impostor on the host, as root, in the host's
			// mount namespace. The marker is consumed, so the control's
			// cannot count for runcage's run.
			Proof: func(e *Env, res integration.Result) bool {
				p := filepath.Join(e.Dir, "hookroot", "hook-ran")
				b, err := os.ReadFile(p)
				os.Remove(p)
				return err == nil && strings.Contains(string(b), "uid=0 mnt="+hostMnt)
			},
			Expect: Refused, Want: []string{`createRuntime hook "/proc/`, `is not in the host's mount namespace`},
		},
		{
			Name: "netns-join-through-task-path", Class: 5,
			Mutate: func(e *Env, s *specs.Spec) {
				cmd := pathsStart(e.T, "unshare", "--net", "sleep", "600")
				victim := pathsWaitNS(e.T, cmd.Process.Pid, "net")
				pid := cmd.Process.Pid
				for i := range s.Linux.Namespaces {
					if s.Linux.Namespaces[i].Type == specs.NetworkNamespace {
						s.Linux.Namespaces[i].Path = fmt.Sprintf("/proc/%d/task/%d/ns/net", pid, pid)
					}
				}
				s.Process.Args = []string{"sh", "-c", `[ "$(readlink /proc/self/ns/net)" = "` + victim + `" ] && echo ` + Pwned + `; true`}
			},
			Expect: Refused, Want: []string{`network namespace path "/proc/`, `joining a namespace that is not the container's own pod's is not allowed`},
		},
		{
			Name: "cgroups-path-inside-another-container", Class: 7,
			Mutate: func(e *Env, s *specs.Spec) {
				victim := "/adv-victim-" + NewID()
				vs := Spec(`exec sleep 600 </dev/null >/dev/null 2>&1`)
				vs.Linux.CgroupsPath = victim
				id := NewID()
				vb := e.Bundle("victim-"+id, vs, nil, integration.RootfsOptions{})
				rt := e.Runc()
				if res := rt.Exec(invokeTimeout, "run", "-d", "--bundle", vb, id); res.Exit != 0 {
					e.T.Fatalf("start victim: %s", res)
				}
				e.T.Cleanup(func() { rt.Exec(invokeTimeout, "delete", "--force", id) })
				s.Linux.CgroupsPath = victim + "/sub"
				s.Process.Args = []string{"sh", "-c", `grep -q '` + victim + `/sub$' /proc/self/cgroup && echo ` + Pwned + `; true`}
			},
			Expect: Refused, Want: []string{`cgroupsPath "/adv-victim-`, `which holds processes (another container's cgroup)`},
		},
	})
}

// TestPathsBenign: what the path checks allow still runs under runcage's
// default profile: a destination through a symlink inside the rootfs
// (rewritten to the resolved path), a bind below an earlier bind, and the
// uts and cgroup namespaces runcage adds when the bundle has none.
func TestPathsBenign(t *testing.T) {
	e := NewEnv(t, "")
	src := pathsHostDir(e, "src")
	if err := os.MkdirAll(filepath.Join(src, "sub", "y"), 0o755); err != nil {
		t.Fatal(err)
	}
	s := Spec(`cat /etc2/x/` + pathsMarker + ` /data/sub/y/` + pathsMarker + ` && readlink /proc/self/ns/cgroup && readlink /proc/self/ns/uts && echo ok`)
	s.Mounts = append(s.Mounts, Bind(src, "/etc2/x"), Bind(src, "/data"), Bind(src, "/data/sub/y"))
	var nss []specs.LinuxNamespace
	for _, ns := range s.Linux.Namespaces {
		if ns.Type != specs.CgroupNamespace && ns.Type != specs.UTSNamespace {
			nss = append(nss, ns)
		}
	}
	s.Linux.Namespaces = nss
	b := e.Bundle("benign", s, nil, integration.RootfsOptions{Symlinks: map[string]string{"/etc2": "/etc"}})
	rt := e.Runcage("")
	res := e.Run(rt, b)
	if res.Exit != 0 || !strings.Contains(res.Stdout, "ok") {
		t.Fatalf("benign bundle failed:\n%s\nlog: %s", res, readFile(rt.Log))
	}
	hostCg, _ := os.Readlink("/proc/self/ns/cgroup")
	hostUts, _ := os.Readlink("/proc/self/ns/uts")
	if strings.Contains(res.Stdout, hostCg) || strings.Contains(res.Stdout, hostUts) {
		t.Errorf("the container shares the host's cgroup or uts namespace:\n%s", res.Stdout)
	}
}
