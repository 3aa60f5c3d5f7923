//go:build integration

package landlock

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/runcage/runcage/integration"
)

// redisArgs are integration.RedisArgs with CONFIG SET dir allowed.
func redisArgs(extra ...string) []string {
	return integration.RedisArgs(append([]string{"--enable-protected-configs", "yes"}, extra...)...)
}

// TestLandlockGeneratedRedis records redis-server on the Debian rootfs
// (merged /usr, shared libraries, the loader reached through the /lib64
// symlink, /etc/localtime a symlink) saving its data into /srv/data, generates its profile and
// runs redis under it: it serves and saves where it saved before, but
// cannot save into /tmp nor listen on another port; under default it
// can do both. Each denial is Landlock's: the same commands with the same
// syscalls work in the recorded directory and port.
func TestLandlockGeneratedRedis(t *testing.T) {
	debian, err := integration.DebianRootfs()
	if err != nil {
		t.Skipf("needs the cached Debian rootfs (integration/rootfs/debian.sh): %v", err)
	}
	e := newEnv(t)
	lab := integration.NewLab(t, e.bin, "runcage-llredis-", "")
	n := 0
	bundle := func(annotations map[string]string, args ...string) string {
		n++
		dir := filepath.Join(lab.Dir, "b"+strconv.Itoa(n))
		root := integration.OverlayOn(t, debian, filepath.Join(dir, "ovl"))
		integration.WriteFiles(t, root, map[string][]byte{"/srv/data/.keep": nil}, 0o644)
		s := spec(args...)
		s.Root.Path = root
		s.Annotations = annotations
		integration.WriteBundle(t, dir, s)
		return dir
	}
	cli := func(pid int, port string, args ...string) string {
		out, _ := integration.InNetns(pid, append([]string{"redis-cli", "-p", port}, args...)...).CombinedOutput()
		return strings.TrimSpace(string(out))
	}
	start := func(rt integration.Runtime, b, port string) (string, int) {
		t.Helper()
		id := newID()
		pid := rt.StartPid(t, b, id)
		if err := integration.WaitFor(20*time.Second, func() error {
			if out := cli(pid, port, "ping"); out != "PONG" {
				return fmt.Errorf("redis-cli ping: %s", out)
			}
			return nil
		}); err != nil {
			t.Fatalf("%v\nlog: %s", err, integration.FileText(rt.Log))
		}
		return id, pid
	}
	// save asks redis to save into dir and returns its answer.
	save := func(pid int, dir string) string {
		if out := cli(pid, "6379", "config", "set", "dir", dir); out != "OK" {
			return "config set dir: " + out
		}
		return cli(pid, "6379", "save")
	}

	rec := lab.Runtime("record")
	id, pid := start(rec, bundle(map[string]string{"runcage.dev/recording-name": "redis"}, redisArgs()...), "6379")
	if out := cli(pid, "6379", "set", "k", "v"); out != "OK" {
		t.Fatalf("set under record: %s", out)
	}
	if out := save(pid, "/srv/data"); out != "OK" {
		t.Fatalf("save under record: %s", out)
	}
	if err := rec.Stop(t, id, "TERM", 20*time.Second); err != nil {
		t.Fatal(err)
	}
	lab.Trace("redis")
	lab.Generate("redis-gen", "redis")
	// diff exits 1 when the profiles differ, as diff(1) does.
	diff := integration.Runtime{Path: lab.Bin.Runcage, Env: []string{"RUNCAGE_CONFIG=" + lab.Policy}}.Exec(time.Minute, "profile", "diff", "default", "redis-gen")
	if diff.Exit != 1 || !strings.Contains(diff.Stdout, "\nlandlock:\n") || !strings.Contains(diff.Stdout, "+ tcp bind 6379\n") || !strings.Contains(diff.Stdout, "+ /srv/data create,") {
		t.Fatalf("profile diff default redis-gen: %s", diff)
	}
	// redis reads /etc/localtime, a symlink to /usr/share/zoneinfo/Etc/UTC
	// in this image: the rule that grants anything names the target, which
	// the recorder resolved inside the container.
	if !strings.Contains(diff.Stdout, "+ /usr/share/zoneinfo/Etc/UTC read\n") {
		t.Errorf("no rule for the target of /etc/localtime:\n%s", diff.Stdout)
	}

	for _, prof := range []string{"redis-gen", "default"} {
		t.Run(prof, func(t *testing.T) {
			rt := lab.Runtime(prof)
			id, pid := start(rt, bundle(nil, redisArgs()...), "6379")
			defer rt.Stop(t, id, "TERM", 20*time.Second)
			if out := cli(pid, "6379", "set", "k", "v"); out != "OK" {
				t.Errorf("set: %s", out)
			}
			if out := save(pid, "/srv/data"); out != "OK" {
				t.Errorf("save into /srv/data, where the recording saved: %s", out)
			}
			tmp := save(pid, "/tmp")
			if prof == "default" && tmp != "OK" || prof != "default" && !strings.HasPrefix(tmp, "ERR") {
				t.Errorf("save into /tmp = %q under %s", tmp, prof)
			}

			// Another port: refused at bind under the generated profile.
			other := bundle(nil, redisArgs("--port", "6380")...)
			if prof == "default" {
				oid, _ := start(rt, other, "6380")
				rt.Stop(t, oid, "TERM", 20*time.Second)
				return
			}
			oid := newID()
			rt.DeleteLater(t, oid)
			res := rt.Exec(timeout, "run", "--bundle", other, oid)
			if res.Exit == 0 || !strings.Contains(res.Stdout+res.Stderr, "Permission denied") {
				t.Errorf("redis on port 6380 under %s: %s", prof, res)
			}
		})
	}
}
