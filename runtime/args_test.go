package runtime

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// argvTestCase is one command line and what Scan must make of it. Unless
// wantArgs is set, Args must be argv[1:] exactly.
type argvTestCase struct {
	name string
	argv []string

	wantErr     error // when set, Scan must fail with it and nothing else is checked
	wantArgs    []string
	verb        string
	verbIndex   int // checked only when verb != ""; 0 for most
	bundle      string
	id          string
	global      GlobalFlags
	exec        *ExecFlags
	resources   string
	pidsLimit   *int64
	help, versn bool
}

func argvTestBool(b bool) *bool      { return &b }
func argvTestInt(n int64) *int64     { return &n }
func argvTestArgs(s string) []string { return strings.Fields(s) }

// Paths the callers below use. containerd's shim v2 keeps the bundle, the
// log and the pid file in one task directory per container; Docker is the
// same shim with the "moby" namespace and runc root /var/run/docker/runtime-runc.
const (
	argvTestID     = "3f1c0f0a5b9e"
	argvTestK8sDir = "/run/containerd/io.containerd.runtime.v2.task/k8s.io/" + argvTestID
	argvTestMobDir = "/run/containerd/io.containerd.runtime.v2.task/moby/" + argvTestID
	argvTestPodDir = "/var/lib/containers/storage/overlay-containers/" + argvTestID + "/userdata"
	argvTestPodRun = "/run/containers/storage/overlay-containers/" + argvTestID + "/userdata"
)

// argvTestCallers are the exact command lines real callers produce.
//
// Sources (read with the search tool, not vendored):
//   - containerd/go-runc runc.go: (*Runc).args() puts --root, --debug, --log,
//     --log-format, --systemd-cgroup, --rootless=BOOL first (older versions:
//     --criu PATH before --systemd-cgroup); Create is "create --bundle B"
//     then --pid-file, --console-socket, --no-pivot, --no-new-keyring,
//     --detach, --preserve-fds N, then the id; Exec is "exec --process F"
//     then --console-socket, --detach, --pid-file, then the id; Delete
//     "delete [--force] ID"; Kill "kill [--all] ID SIG"; Ps "ps --format json
//     ID"; Top "ps --format table ID OPTS"; Events "events --interval=Ns ID",
//     Stats "events --stats ID"; List "list --format=json"; Update "update
//     --resources=- ID" (older: "--resources - ID"); Checkpoint options, then
//     actions (--leave-running), then the id; Restore "restore [checkpoint
//     opts] [--detach] [--pid-file P] [--console-socket S] [--no-pivot]
//     [-no-subreaper] --bundle B ID"; Version "--version"; Features "features".
//   - containerd cmd/containerd-shim-runc-v2/process/init.go NewRunc: Log is
//     <bundle>/log.json, LogFormat json, Root <root>/<namespace>; the init
//     pid file is <bundle>/init.pid.
//   - moby daemon/runtime_unix.go: the runc root is <exec-root>/runtime-runc
//     (so /var/run/docker/runtime-runc/moby), and a runtime with runtimeArgs
//     becomes a script "#!/bin/sh\n<path> <args> $@", so runtimeArgs come
//     before everything the shim passes. Docker also runs "<path> <args>
//     features" to probe the runtime.
//   - containers/conmon src/runtime_args.c: [--systemd-cgroup (not for exec)]
//     [--runtime-arg values] then "create|restore --bundle B --pid-file P
//     [--no-pivot] [--no-new-keyring]", for restore "--detach --image-path I
//     --work-path B", then --runtime-opt values, [--console-socket S], id;
//     exec is "exec --pid-file P --process F --detach [opts]
//     [--console-socket S] ID".
//   - containers/podman libpod/oci_conmon_*.go: runtime args
//     "--log-format=json --log <oci-log>"; direct calls "kill [--all] ID SIG",
//     "delete --force ID" with runtime flags first.
//   - cri-o internal/oci/runtime_oci.go: "<runtime> --root R update
//     --resources - ID".
//   - opencontainers/runc v1.5.2 tests/integration: helpers.bash puts
//     [--systemd-cgroup] [--root $ROOT/state] first; the .bats files' forms.
var argvTestCallers = []argvTestCase{
	// containerd shim v2 (Kubernetes via CRI), through go-runc.
	{
		name: "containerd create",
		argv: append(argvTestArgs("/usr/bin/runc --root /run/containerd/runc/k8s.io --log "+argvTestK8sDir+"/log.json --log-format json --systemd-cgroup create --bundle "+argvTestK8sDir+" --pid-file "+argvTestK8sDir+"/init.pid"), argvTestID),
		verb: "create", verbIndex: 7, bundle: argvTestK8sDir, id: argvTestID,
		global: GlobalFlags{Root: "/run/containerd/runc/k8s.io", RootSet: true, Log: argvTestK8sDir + "/log.json", LogSet: true, LogFormat: "json", LogFormatSet: true, SystemdCgroup: true},
	},
	{
		name: "containerd create with tty, no-pivot, no-new-keyring, preserve-fds",
		argv: argvTestArgs("runc --root /run/containerd/runc/k8s.io --log " + argvTestK8sDir + "/log.json --log-format json create --bundle " + argvTestK8sDir + " --pid-file " + argvTestK8sDir + "/init.pid --console-socket /tmp/pty2215806371/pty.sock --no-pivot --no-new-keyring --preserve-fds 2 " + argvTestID),
		verb: "create", verbIndex: 6, bundle: argvTestK8sDir, id: argvTestID,
		global: GlobalFlags{Root: "/run/containerd/runc/k8s.io", RootSet: true, Log: argvTestK8sDir + "/log.json", LogSet: true, LogFormat: "json", LogFormatSet: true},
	},
	{
		name: "go-runc rootless and debug",
		argv: argvTestArgs("runc --root /run/user/1000/runc --debug --log /tmp/log.json --log-format json --rootless=true run --bundle /tmp/b --detach " + argvTestID),
		verb: "run", verbIndex: 8, bundle: "/tmp/b", id: argvTestID,
		global: GlobalFlags{Root: "/run/user/1000/runc", RootSet: true, Debug: true, Log: "/tmp/log.json", LogSet: true, LogFormat: "json", LogFormatSet: true, Rootless: "true", RootlessSet: true},
	},
	{
		name: "older go-runc with --criu",
		argv: argvTestArgs("runc --root /run/containerd/runc/default --log /l.json --log-format json --criu /usr/sbin/criu --systemd-cgroup run --bundle /b --detach " + argvTestID),
		verb: "run", verbIndex: 9, bundle: "/b", id: argvTestID,
		global: GlobalFlags{Root: "/run/containerd/runc/default", RootSet: true, Log: "/l.json", LogSet: true, LogFormat: "json", LogFormatSet: true, Criu: "/usr/sbin/criu", CriuSet: true, SystemdCgroup: true},
	},
	{
		name: "containerd exec",
		argv: argvTestArgs("runc --root /run/containerd/runc/k8s.io --log " + argvTestK8sDir + "/log.json --log-format json exec --process /tmp/runc-process3326433370 --console-socket /tmp/pty1/pty.sock --detach --pid-file " + argvTestK8sDir + "/e7a1.pid " + argvTestID),
		verb: "exec", verbIndex: 6, id: argvTestID,
		global: GlobalFlags{Root: "/run/containerd/runc/k8s.io", RootSet: true, Log: argvTestK8sDir + "/log.json", LogSet: true, LogFormat: "json", LogFormatSet: true},
		exec:   &ExecFlags{Process: "/tmp/runc-process3326433370", ProcessIndex: 8, Detach: true},
	},
	{
		name: "containerd delete", argv: argvTestArgs("runc --root /run/containerd/runc/k8s.io --log " + argvTestK8sDir + "/log.json --log-format json delete --force " + argvTestID),
		verb: "delete", verbIndex: 6, id: argvTestID,
		global: GlobalFlags{Root: "/run/containerd/runc/k8s.io", RootSet: true, Log: argvTestK8sDir + "/log.json", LogSet: true, LogFormat: "json", LogFormatSet: true},
	},
	{
		name: "containerd kill", argv: argvTestArgs("runc --root /run/containerd/runc/k8s.io kill --all " + argvTestID + " 9"),
		verb: "kill", verbIndex: 2, id: argvTestID, global: GlobalFlags{Root: "/run/containerd/runc/k8s.io", RootSet: true},
	},
	{name: "containerd state", argv: argvTestArgs("runc --root /r state " + argvTestID), verb: "state", verbIndex: 2, id: argvTestID, global: GlobalFlags{Root: "/r", RootSet: true}},
	{name: "containerd start", argv: argvTestArgs("runc --root /r start " + argvTestID), verb: "start", verbIndex: 2, id: argvTestID, global: GlobalFlags{Root: "/r", RootSet: true}},
	{name: "containerd pause", argv: argvTestArgs("runc --root /r pause " + argvTestID), verb: "pause", verbIndex: 2, id: argvTestID, global: GlobalFlags{Root: "/r", RootSet: true}},
	{name: "containerd resume", argv: argvTestArgs("runc --root /r resume " + argvTestID), verb: "resume", verbIndex: 2, id: argvTestID, global: GlobalFlags{Root: "/r", RootSet: true}},
	{name: "containerd ps", argv: argvTestArgs("runc --root /r ps --format json " + argvTestID), verb: "ps", verbIndex: 2, id: argvTestID, global: GlobalFlags{Root: "/r", RootSet: true}},
	{name: "go-runc top", argv: argvTestArgs("runc --root /r ps --format table " + argvTestID + " -ef"), verb: "ps", verbIndex: 2, id: argvTestID, global: GlobalFlags{Root: "/r", RootSet: true}},
	{name: "containerd stats", argv: argvTestArgs("runc --root /r events --stats " + argvTestID), verb: "events", verbIndex: 2, id: argvTestID, global: GlobalFlags{Root: "/r", RootSet: true}},
	{name: "go-runc events", argv: argvTestArgs("runc --root /r events --interval=5s " + argvTestID), verb: "events", verbIndex: 2, id: argvTestID, global: GlobalFlags{Root: "/r", RootSet: true}},
	{name: "go-runc list", argv: argvTestArgs("runc --root /r list --format=json"), verb: "list", verbIndex: 2, global: GlobalFlags{Root: "/r", RootSet: true}},
	{
		name: "go-runc update", argv: argvTestArgs("runc --root /r --log /l --log-format json update --resources=- " + argvTestID),
		verb: "update", verbIndex: 6, id: argvTestID, resources: "-",
		global: GlobalFlags{Root: "/r", RootSet: true, Log: "/l", LogSet: true, LogFormat: "json", LogFormatSet: true},
	},
	{
		name: "older go-runc update", argv: argvTestArgs("runc --root /r update --resources - " + argvTestID),
		verb: "update", verbIndex: 2, id: argvTestID, resources: "-", global: GlobalFlags{Root: "/r", RootSet: true},
	},
	{
		name: "go-runc checkpoint",
		argv: argvTestArgs("runc --root /r checkpoint --image-path /ck/img --work-path /ck/work --tcp-established --ext-unix-sk --shell-job --file-locks --manage-cgroups-mode soft --empty-ns network --lazy-pages --status-fd 3 --leave-running " + argvTestID),
		verb: "checkpoint", verbIndex: 2, id: argvTestID, global: GlobalFlags{Root: "/r", RootSet: true},
	},
	{
		name: "go-runc restore",
		argv: argvTestArgs("runc --root /r --log /l --log-format json restore --image-path /ck/img --work-path /ck/work --tcp-established --detach --pid-file /b/init.pid --console-socket /tmp/pty9/pty.sock --no-pivot -no-subreaper --bundle /b " + argvTestID),
		verb: "restore", verbIndex: 6, bundle: "/b", id: argvTestID,
		global: GlobalFlags{Root: "/r", RootSet: true, Log: "/l", LogSet: true, LogFormat: "json", LogFormatSet: true},
	},
	{name: "go-runc version", argv: argvTestArgs("runc --version"), versn: true},
	{name: "go-runc features", argv: argvTestArgs("runc features"), verb: "features", verbIndex: 0},

	// Docker: containerd-shim-runc-v2 again, namespace moby, with the
	// daemon.json runtimeArgs of a runcage runtime first.
	{
		name:     "docker create with runtimeArgs",
		argv:     argvTestArgs("/usr/local/bin/runcage --runcage-profile=strict --root /var/run/docker/runtime-runc/moby --log " + argvTestMobDir + "/log.json --log-format json create --bundle " + argvTestMobDir + " --pid-file " + argvTestMobDir + "/init.pid " + argvTestID),
		wantArgs: argvTestArgs("--root /var/run/docker/runtime-runc/moby --log " + argvTestMobDir + "/log.json --log-format json create --bundle " + argvTestMobDir + " --pid-file " + argvTestMobDir + "/init.pid " + argvTestID),
		verb:     "create", verbIndex: 6, bundle: argvTestMobDir, id: argvTestID,
		global: GlobalFlags{RuncageProfile: "strict", Root: "/var/run/docker/runtime-runc/moby", RootSet: true, Log: argvTestMobDir + "/log.json", LogSet: true, LogFormat: "json", LogFormatSet: true},
	},
	{
		name:     "docker create, systemd driver, runtimeArgs as two words",
		argv:     argvTestArgs("runcage --runcage-profile strict --runcage-config /etc/runcage/config.toml --root /var/run/docker/runtime-runc/moby --log " + argvTestMobDir + "/log.json --log-format json --systemd-cgroup create --bundle " + argvTestMobDir + " --pid-file " + argvTestMobDir + "/init.pid --console-socket /tmp/pty77/pty.sock " + argvTestID),
		wantArgs: argvTestArgs("--root /var/run/docker/runtime-runc/moby --log " + argvTestMobDir + "/log.json --log-format json --systemd-cgroup create --bundle " + argvTestMobDir + " --pid-file " + argvTestMobDir + "/init.pid --console-socket /tmp/pty77/pty.sock " + argvTestID),
		verb:     "create", verbIndex: 7, bundle: argvTestMobDir, id: argvTestID,
		global: GlobalFlags{RuncageProfile: "strict", RuncageConfig: "/etc/runcage/config.toml", Root: "/var/run/docker/runtime-runc/moby", RootSet: true, Log: argvTestMobDir + "/log.json", LogSet: true, LogFormat: "json", LogFormatSet: true, SystemdCgroup: true},
	},
	{
		name:     "docker exec with runtimeArgs",
		argv:     argvTestArgs("runcage --runcage-profile=strict --root /var/run/docker/runtime-runc/moby --log " + argvTestMobDir + "/log.json --log-format json exec --process /tmp/runc-process1 --console-socket /tmp/pty3/pty.sock --detach --pid-file " + argvTestMobDir + "/9a8b.pid " + argvTestID),
		wantArgs: argvTestArgs("--root /var/run/docker/runtime-runc/moby --log " + argvTestMobDir + "/log.json --log-format json exec --process /tmp/runc-process1 --console-socket /tmp/pty3/pty.sock --detach --pid-file " + argvTestMobDir + "/9a8b.pid " + argvTestID),
		verb:     "exec", verbIndex: 6, id: argvTestID,
		global: GlobalFlags{RuncageProfile: "strict", Root: "/var/run/docker/runtime-runc/moby", RootSet: true, Log: argvTestMobDir + "/log.json", LogSet: true, LogFormat: "json", LogFormatSet: true},
		exec:   &ExecFlags{Process: "/tmp/runc-process1", ProcessIndex: 8, Detach: true},
	},
	{
		name:     "docker features probe",
		argv:     argvTestArgs("/usr/local/bin/runcage --runcage-profile=strict features"),
		wantArgs: []string{"features"},
		verb:     "features", verbIndex: 0, global: GlobalFlags{RuncageProfile: "strict"},
	},
	{
		name:     "docker delete with runtimeArgs",
		argv:     argvTestArgs("runcage --runcage-profile=strict --root /var/run/docker/runtime-runc/moby --log " + argvTestMobDir + "/log.json --log-format json delete " + argvTestID),
		wantArgs: argvTestArgs("--root /var/run/docker/runtime-runc/moby --log " + argvTestMobDir + "/log.json --log-format json delete " + argvTestID),
		verb:     "delete", verbIndex: 6, id: argvTestID,
		global: GlobalFlags{RuncageProfile: "strict", Root: "/var/run/docker/runtime-runc/moby", RootSet: true, Log: argvTestMobDir + "/log.json", LogSet: true, LogFormat: "json", LogFormatSet: true},
	},

	// Podman through conmon.
	{
		name: "conmon create",
		argv: argvTestArgs("/usr/bin/runc --systemd-cgroup --log-format=json --log " + argvTestPodDir + "/oci-log create --bundle " + argvTestPodDir + " --pid-file " + argvTestPodRun + "/pidfile " + argvTestID),
		verb: "create", verbIndex: 4, bundle: argvTestPodDir, id: argvTestID,
		global: GlobalFlags{SystemdCgroup: true, LogFormat: "json", LogFormatSet: true, Log: argvTestPodDir + "/oci-log", LogSet: true},
	},
	{
		name: "conmon create with runtime flags, no-pivot, no-new-keyring, console",
		argv: argvTestArgs("/usr/bin/runc --systemd-cgroup --root /run/runc --log-format=json --log " + argvTestPodDir + "/oci-log create --bundle " + argvTestPodDir + " --pid-file " + argvTestPodRun + "/pidfile --no-pivot --no-new-keyring --console-socket /var/lib/containers/storage/overlay-containers/" + argvTestID + "/userdata/console.sock " + argvTestID),
		verb: "create", verbIndex: 6, bundle: argvTestPodDir, id: argvTestID,
		global: GlobalFlags{SystemdCgroup: true, Root: "/run/runc", RootSet: true, LogFormat: "json", LogFormatSet: true, Log: argvTestPodDir + "/oci-log", LogSet: true},
	},
	{
		name: "conmon exec",
		argv: argvTestArgs("/usr/bin/runc --log-format=json --log " + argvTestPodDir + "/oci-log exec --pid-file " + argvTestPodDir + "/e1/exec_pid --process " + argvTestPodDir + "/e1/exec-process-291 --detach --console-socket /tmp/conmon-term.1/s " + argvTestID),
		verb: "exec", verbIndex: 3, id: argvTestID,
		global: GlobalFlags{LogFormat: "json", LogFormatSet: true, Log: argvTestPodDir + "/oci-log", LogSet: true},
		exec:   &ExecFlags{Process: argvTestPodDir + "/e1/exec-process-291", ProcessIndex: 7, Detach: true},
	},
	{
		name: "conmon restore",
		argv: argvTestArgs("/usr/bin/runc --systemd-cgroup --log-format=json --log " + argvTestPodDir + "/oci-log restore --bundle " + argvTestPodDir + " --pid-file " + argvTestPodRun + "/pidfile --detach --image-path " + argvTestPodDir + "/checkpoint --work-path " + argvTestPodDir + " --tcp-established " + argvTestID),
		verb: "restore", verbIndex: 4, bundle: argvTestPodDir, id: argvTestID,
		global: GlobalFlags{SystemdCgroup: true, LogFormat: "json", LogFormatSet: true, Log: argvTestPodDir + "/oci-log", LogSet: true},
	},
	{name: "podman kill", argv: argvTestArgs("/usr/bin/runc kill --all " + argvTestID + " 15"), verb: "kill", verbIndex: 0, id: argvTestID},
	{name: "podman delete", argv: argvTestArgs("/usr/bin/runc delete --force " + argvTestID), verb: "delete", verbIndex: 0, id: argvTestID},
	{
		name: "cri-o update", argv: argvTestArgs("/usr/bin/runc --root /run/runc update --resources - " + argvTestID),
		verb: "update", verbIndex: 2, id: argvTestID, resources: "-", global: GlobalFlags{Root: "/run/runc", RootSet: true},
	},

	// runc's own integration tests (tests/integration/*.bats).
	{
		name: "bats run -d --console-socket", argv: argvTestArgs("runc --root /tmp/bats.x/state run -d --console-socket /tmp/bats.x/sock test_busybox"),
		verb: "run", verbIndex: 2, id: "test_busybox", global: GlobalFlags{Root: "/tmp/bats.x/state", RootSet: true},
	},
	{
		name: "bats systemd run", argv: argvTestArgs("runc --systemd-cgroup --root /tmp/bats.x/state run --pid-file pid.txt -d -b /tmp/bats.x/bundle --console-socket /tmp/s test_busybox"),
		verb: "run", verbIndex: 3, bundle: "/tmp/bats.x/bundle", id: "test_busybox", global: GlobalFlags{SystemdCgroup: true, Root: "/tmp/bats.x/state", RootSet: true},
	},
	{name: "bats run --bundle", argv: argvTestArgs("runc run --bundle /tmp/hello test_hello"), verb: "run", verbIndex: 0, bundle: "/tmp/hello", id: "test_hello"},
	{
		name: "bats create -b", argv: argvTestArgs("runc --root /tmp/r create --pid-file pid.txt -b /tmp/bundle --console-socket /tmp/s test_busybox"),
		verb: "create", verbIndex: 2, bundle: "/tmp/bundle", id: "test_busybox", global: GlobalFlags{Root: "/tmp/r", RootSet: true},
	},
	{name: "brief create -b", argv: argvTestArgs("runc --root /tmp/r create -b /tmp/b id"), verb: "create", verbIndex: 2, bundle: "/tmp/b", id: "id", global: GlobalFlags{Root: "/tmp/r", RootSet: true}},
	{
		name: "bats exec ls -la", argv: argvTestArgs("runc exec test_busybox ls -la"),
		verb: "exec", verbIndex: 0, id: "test_busybox", exec: &ExecFlags{ProcessIndex: -1, Command: []string{"ls", "-la"}},
	},
	{
		name: "bats exec sh -c", argv: []string{"runc", "exec", "test_busybox", "/bin/sh", "-c", "echo --cap CAP_SYS_ADMIN"},
		verb: "exec", verbIndex: 0, id: "test_busybox", exec: &ExecFlags{ProcessIndex: -1, Command: []string{"/bin/sh", "-c", "echo --cap CAP_SYS_ADMIN"}},
	},
	{
		name: "bats exec --cap", argv: argvTestArgs("runc exec --cap CAP_KILL --cap CAP_AUDIT_WRITE test_exec_cap cat /proc/self/status"),
		verb: "exec", verbIndex: 0, id: "test_exec_cap", exec: &ExecFlags{ProcessIndex: -1, Caps: []string{"CAP_KILL", "CAP_AUDIT_WRITE"}, Command: []string{"cat", "/proc/self/status"}},
	},
	{
		name: "bats exec --user --additional-gids", argv: argvTestArgs("runc exec --user 1000:1000 --additional-gids 100 --additional-gids 65534 test_busybox id -G"),
		verb: "exec", verbIndex: 0, id: "test_busybox", exec: &ExecFlags{ProcessIndex: -1, User: "1000:1000", Command: []string{"id", "-G"}},
	},
	{
		name: "bats exec -u", argv: argvTestArgs("runc exec -u 2000 test sh -c true"),
		verb: "exec", verbIndex: 0, id: "test", exec: &ExecFlags{ProcessIndex: -1, User: "2000", Command: []string{"sh", "-c", "true"}},
	},
	{
		name: "bats exec -d --user", argv: argvTestArgs("runc exec -d --user 1000:1000 test_busybox id"),
		verb: "exec", verbIndex: 0, id: "test_busybox", exec: &ExecFlags{ProcessIndex: -1, Detach: true, User: "1000:1000", Command: []string{"id"}},
	},
	{
		name: "bats exec --cwd", argv: argvTestArgs("runc exec --cwd /bin test_busybox pwd"),
		verb: "exec", verbIndex: 0, id: "test_busybox", exec: &ExecFlags{ProcessIndex: -1, Cwd: "/bin", Command: []string{"pwd"}},
	},
	{
		name: "bats exec --env", argv: argvTestArgs("runc exec --env RUNC_EXEC_TEST=true test_busybox env"),
		verb: "exec", verbIndex: 0, id: "test_busybox", exec: &ExecFlags{ProcessIndex: -1, Env: []string{"RUNC_EXEC_TEST=true"}, Command: []string{"env"}},
	},
	{
		name: "bats exec -t", argv: argvTestArgs("runc exec -t test_exec sh -c tty"),
		verb: "exec", verbIndex: 0, id: "test_exec", exec: &ExecFlags{ProcessIndex: -1, Tty: true, Command: []string{"sh", "-c", "tty"}},
	},
	{
		name: "bats exec -p", argv: argvTestArgs("runc exec -p process.json test_busybox"),
		verb: "exec", verbIndex: 0, id: "test_busybox", exec: &ExecFlags{Process: "process.json", ProcessIndex: 2},
	},
	{name: "bats update -r -", argv: argvTestArgs("runc update -r - test_update"), verb: "update", verbIndex: 0, id: "test_update", resources: "-"},
	{name: "bats update flag after id", argv: argvTestArgs("runc update test_update --pids-limit -1"), verb: "update", verbIndex: 0, id: "test_update", pidsLimit: argvTestInt(-1)},
	{name: "bats update --pids-limit", argv: argvTestArgs("runc update --pids-limit 30 test_update"), verb: "update", verbIndex: 0, id: "test_update", pidsLimit: argvTestInt(30)},
	{name: "bats restore", argv: argvTestArgs("runc restore -d --work-path ./work-dir --console-socket /tmp/s test_busybox"), verb: "restore", verbIndex: 0, id: "test_busybox"},
	{name: "bats checkpoint", argv: argvTestArgs("runc checkpoint --work-path ./work-dir test_busybox"), verb: "checkpoint", verbIndex: 0, id: "test_busybox"},
	{name: "bats delete -f", argv: argvTestArgs("runc delete -f test_busybox"), verb: "delete", verbIndex: 0, id: "test_busybox"},
	{name: "bats kill", argv: argvTestArgs("runc kill test_busybox KILL"), verb: "kill", verbIndex: 0, id: "test_busybox"},
	{name: "bats ps", argv: argvTestArgs("runc ps test_busybox"), verb: "ps", verbIndex: 0, id: "test_busybox"},
	{name: "bats spec --rootless", argv: argvTestArgs("runc spec --rootless"), verb: "spec", verbIndex: 0},
	{name: "bats unknown verb with -h", argv: argvTestArgs("runc foo -h"), verb: "foo", verbIndex: 0},
}

// argvTestSemantics pins down how Scan reads runc's syntax.
var argvTestSemantics = []argvTestCase{
	// The bundle in every spelling, before and after the id.
	{name: "-b X", argv: argvTestArgs("runc create -b /b id"), verb: "create", bundle: "/b", id: "id"},
	{name: "-b=X", argv: argvTestArgs("runc create -b=/b id"), verb: "create", bundle: "/b", id: "id"},
	{name: "--bundle X", argv: argvTestArgs("runc create --bundle /b id"), verb: "create", bundle: "/b", id: "id"},
	{name: "--bundle=X", argv: argvTestArgs("runc create --bundle=/b id"), verb: "create", bundle: "/b", id: "id"},
	{name: "-bundle X", argv: argvTestArgs("runc create -bundle /b id"), verb: "create", bundle: "/b", id: "id"},
	{name: "--b X", argv: argvTestArgs("runc create --b /b id"), verb: "create", bundle: "/b", id: "id"},
	{name: "bundle after id", argv: argvTestArgs("runc run id -b /b"), verb: "run", bundle: "/b", id: "id"},
	{name: "bundle= after id", argv: argvTestArgs("runc restore id --bundle=/b"), verb: "restore", bundle: "/b", id: "id"},
	{name: "bundle among flags after id", argv: argvTestArgs("runc create id --pid-file /p --bundle /b --no-pivot"), verb: "create", bundle: "/b", id: "id"},
	{name: "no bundle", argv: argvTestArgs("runc run id"), verb: "run", id: "id"},
	{name: "empty bundle", argv: []string{"runc", "create", "--bundle=", "id"}, verb: "create", id: "id"},
	{name: "last bundle wins", argv: argvTestArgs("runc create -b /one -b /two id"), verb: "create", bundle: "/two", id: "id"},
	{name: "two spellings", argv: argvTestArgs("runc create -b /one --bundle /two id"), wantErr: ErrConflictingFlags},
	{name: "bundle value is --", argv: argvTestArgs("runc create -b -- id"), verb: "create", bundle: "--", id: "id"},
	{name: "bundle value looks like a flag", argv: argvTestArgs("runc create --bundle --no-pivot id"), verb: "create", bundle: "--no-pivot", id: "id"},
	{name: "-- before id", argv: argvTestArgs("runc create -b /b -- -odd-id"), verb: "create", bundle: "/b", id: "-odd-id"},
	{name: "-- keeps -b as the id", argv: argvTestArgs("runc create -- -b"), verb: "create", id: "-b"},
	// A bool flag takes the next non-flag as its "value" in urfave's
	// reordering, which then ends flag parsing: runc sees three arguments.
	// Argument-count errors are runc's to report; runcage forwards them.
	{name: "bool before id then bundle", argv: argvTestArgs("runc create --no-pivot id -b /b"), verb: "create", id: "id"},
	{name: "bundle missing value", argv: argvTestArgs("runc create -b"), wantErr: ErrMissingValue},
	// Reordered, "-b" goes first and takes "id" as its value.
	{name: "id becomes the bundle", argv: argvTestArgs("runc create id -b"), verb: "create", bundle: "id"},
	{name: "no id", argv: argvTestArgs("runc create -b /b"), verb: "create", bundle: "/b"},
	{name: "two ids", argv: argvTestArgs("runc run -b /b id other"), verb: "run", bundle: "/b", id: "id"},
	{name: "create --help needs no id", argv: argvTestArgs("runc create --help"), verb: "create", help: true},
	{name: "create -h=false", argv: argvTestArgs("runc create -h=false -b /b id"), verb: "create", bundle: "/b", id: "id"},
	// Flags of a newer runc are forwarded, never rejected.
	{name: "unknown create flag", argv: argvTestArgs("runc create --frobnicate -b /b id"), verb: "create", bundle: "/b", id: "id"},
	{name: "unknown create flag with value", argv: argvTestArgs("runc create --frobnicate 7 -b /b id"), verb: "create", bundle: "/b", id: "id"},
	{name: "unknown create flag with = value", argv: argvTestArgs("runc create --frobnicate=7 --bundle /b id"), verb: "create", bundle: "/b", id: "id"},
	// After the id an unknown flag is not reordered, so runc counts it as a
	// second positional argument.
	{name: "unknown create flag after id", argv: argvTestArgs("runc create -b /b id --frobnicate"), verb: "create", bundle: "/b", id: "id"},
	{name: "bad flag syntax", argv: argvTestArgs("runc create ---b /b id"), wantErr: ErrBadFlagSyntax},
	{name: "bad bool", argv: argvTestArgs("runc create --no-pivot=yes -b /b id"), wantErr: ErrBadBool},
	{name: "bad int", argv: argvTestArgs("runc create --preserve-fds two -b /b id"), wantErr: ErrBadNumber},

	// Global flags.
	{name: "global = forms", argv: argvTestArgs("runc -root=/r -log=/l --log-format=text create -b /b id"), verb: "create", verbIndex: 3, bundle: "/b", id: "id", global: GlobalFlags{Root: "/r", RootSet: true, Log: "/l", LogSet: true, LogFormat: "text", LogFormatSet: true}},
	{name: "empty root", argv: []string{"runc", "--root=", "state", "x"}, verb: "state", verbIndex: 1, id: "x", global: GlobalFlags{RootSet: true}},
	{name: "bool =false", argv: argvTestArgs("runc --debug=false --systemd-cgroup=1 state x"), verb: "state", verbIndex: 2, id: "x", global: GlobalFlags{SystemdCgroup: true}},
	{name: "bad global bool", argv: argvTestArgs("runc --debug=maybe state x"), wantErr: ErrBadBool},
	{name: "value flag takes a flag-like value", argv: argvTestArgs("runc --root --debug create -b /b id"), verb: "create", verbIndex: 2, bundle: "/b", id: "id", global: GlobalFlags{Root: "--debug", RootSet: true}},
	{name: "root at the end", argv: argvTestArgs("runc --root"), wantErr: ErrMissingValue},
	{name: "log at the end", argv: argvTestArgs("runc --debug --log"), wantErr: ErrMissingValue},
	{name: "-- ends global flags", argv: argvTestArgs("runc --root /r -- create -b /b id"), verb: "create", verbIndex: 3, bundle: "/b", id: "id", global: GlobalFlags{Root: "/r", RootSet: true}},
	{name: "unknown global bool forwarded", argv: argvTestArgs("runc --newflag create -b /b id"), verb: "create", verbIndex: 1, bundle: "/b", id: "id", global: GlobalFlags{Unknown: []string{"--newflag"}}},
	{name: "unknown global = forwarded", argv: argvTestArgs("runc --new=v -x create -b /b id"), verb: "create", verbIndex: 2, bundle: "/b", id: "id", global: GlobalFlags{Unknown: []string{"--new=v", "-x"}}},
	{name: "unknown verb forwarded", argv: argvTestArgs("runc --root /r frob --bundle /b id"), verb: "frob", verbIndex: 2, global: GlobalFlags{Root: "/r", RootSet: true}},
	{name: "dash verb", argv: argvTestArgs("runc -"), verb: "-", verbIndex: 0},
	{name: "nothing", argv: []string{"runc"}},
	{name: "empty argv", argv: []string{}, wantErr: ErrEmptyArgv},
	{name: "version", argv: argvTestArgs("runc -v"), versn: true},
	{name: "version with verb", argv: argvTestArgs("runc --version create -b /b id"), versn: true},
	{name: "help", argv: argvTestArgs("runc --help"), help: true},
	{name: "help with verb", argv: argvTestArgs("runc -h run id"), help: true},
	{name: "help=false", argv: argvTestArgs("runc --help=false run id"), verb: "run", verbIndex: 1, id: "id"},
	{name: "help two spellings", argv: argvTestArgs("runc -h --help"), wantErr: ErrConflictingFlags},

	// runcage's own flags.
	{name: "profile =", argv: argvTestArgs("runcage --runcage-profile=p state x"), wantArgs: argvTestArgs("state x"), verb: "state", verbIndex: 0, id: "x", global: GlobalFlags{RuncageProfile: "p"}},
	{name: "profile single dash", argv: argvTestArgs("runcage -runcage-profile p state x"), wantArgs: argvTestArgs("state x"), verb: "state", verbIndex: 0, id: "x", global: GlobalFlags{RuncageProfile: "p"}},
	{name: "profile single dash =", argv: argvTestArgs("runcage -runcage-profile=p state x"), wantArgs: argvTestArgs("state x"), verb: "state", verbIndex: 0, id: "x", global: GlobalFlags{RuncageProfile: "p"}},
	{name: "config among runc flags", argv: argvTestArgs("runcage --root /r --runcage-config /c.toml --debug state x"), wantArgs: argvTestArgs("--root /r --debug state x"), verb: "state", verbIndex: 3, id: "x", global: GlobalFlags{Root: "/r", RootSet: true, Debug: true, RuncageConfig: "/c.toml"}},
	{name: "profile after --", argv: argvTestArgs("runcage -- --runcage-profile p"), verb: "--runcage-profile", verbIndex: 1},
	{name: "profile as root's value", argv: argvTestArgs("runcage --root --runcage-profile state x"), verb: "state", verbIndex: 2, id: "x", global: GlobalFlags{Root: "--runcage-profile", RootSet: true}},
	{name: "profile at the end", argv: argvTestArgs("runcage --runcage-profile"), wantErr: ErrMissingValue},
	{name: "profile empty =", argv: []string{"runcage", "--runcage-profile=", "state", "x"}, wantErr: ErrEmptyValue},
	{name: "profile empty word", argv: []string{"runcage", "--runcage-profile", "", "state", "x"}, wantErr: ErrEmptyValue},
	{name: "profile value is a flag", argv: argvTestArgs("runcage --runcage-profile --root /r state x"), wantErr: ErrMissingValue},
	{name: "profile twice", argv: argvTestArgs("runcage --runcage-profile=a --runcage-profile=b state x"), wantErr: ErrConflictingFlags},
	{name: "unknown runcage flag", argv: argvTestArgs("runcage --runcage-profle=a state x"), wantErr: ErrUnknownFlag},
	{name: "profile after the verb", argv: argvTestArgs("runcage create --runcage-profile p -b /b id"), wantErr: ErrMisplacedFlag},
	{name: "profile after a lenient verb", argv: argvTestArgs("runcage delete --runcage-profile=p id"), wantErr: ErrMisplacedFlag},
	{
		name: "profile in exec's command is the command's", argv: argvTestArgs("runcage exec id sh --runcage-profile p"),
		verb: "exec", verbIndex: 0, id: "id", exec: &ExecFlags{ProcessIndex: -1, Command: []string{"sh", "--runcage-profile", "p"}},
	},

	// exec.
	{name: "nnp given", argv: argvTestArgs("runc exec --no-new-privs id true"), verb: "exec", id: "id", exec: &ExecFlags{ProcessIndex: -1, NoNewPrivs: argvTestBool(true), Command: []string{"true"}}},
	{name: "nnp explicit false", argv: argvTestArgs("runc exec --no-new-privs=false id true"), verb: "exec", id: "id", exec: &ExecFlags{ProcessIndex: -1, NoNewPrivs: argvTestBool(false), Command: []string{"true"}}},
	{name: "nnp single dash =0", argv: argvTestArgs("runc exec -no-new-privs=0 id true"), verb: "exec", id: "id", exec: &ExecFlags{ProcessIndex: -1, NoNewPrivs: argvTestBool(false), Command: []string{"true"}}},
	{name: "nnp false is not a value", argv: argvTestArgs("runc exec --no-new-privs false id"), verb: "exec", id: "false", exec: &ExecFlags{ProcessIndex: -1, NoNewPrivs: argvTestBool(true), Command: []string{"id"}}},
	{
		name: "apparmor and label", argv: []string{"runc", "exec", "--apparmor=", "--process-label", "system_u:system_r:spc_t:s0", "-c", "CAP_SYS_ADMIN", "--cap=CAP_NET_RAW", "id", "sh"},
		wantErr: ErrConflictingFlags,
	},
	{
		name: "apparmor empty, label, caps", argv: []string{"runc", "exec", "--apparmor=", "--process-label", "system_u:system_r:spc_t:s0", "-c", "CAP_SYS_ADMIN", "-c=CAP_NET_RAW", "id", "sh"},
		verb: "exec", id: "id", exec: &ExecFlags{ProcessIndex: -1, AppArmorSet: true, ProcessLabel: "system_u:system_r:spc_t:s0", ProcessLabelSet: true, Caps: []string{"CAP_SYS_ADMIN", "CAP_NET_RAW"}, Command: []string{"sh"}},
	},
	{name: "process =", argv: argvTestArgs("runc exec --process=/p.json id"), verb: "exec", id: "id", exec: &ExecFlags{Process: "/p.json", ProcessIndex: 1, ProcessInline: true}},
	{name: "process -p=", argv: argvTestArgs("runc exec -d -p=/p.json id"), verb: "exec", id: "id", exec: &ExecFlags{Process: "/p.json", ProcessIndex: 2, ProcessInline: true, Detach: true}},
	{name: "exec flags after id are the command", argv: argvTestArgs("runc exec id --cap CAP_SYS_ADMIN -p /p.json"), verb: "exec", id: "id", exec: &ExecFlags{ProcessIndex: -1, Command: []string{"--cap", "CAP_SYS_ADMIN", "-p", "/p.json"}}},
	{name: "exec -- then id", argv: argvTestArgs("runc exec -t -- id sh"), verb: "exec", id: "id", exec: &ExecFlags{ProcessIndex: -1, Tty: true, Command: []string{"sh"}}},
	{name: "exec unknown flag", argv: argvTestArgs("runc exec --privileged id sh"), verb: "exec", id: "id", exec: &ExecFlags{ProcessIndex: -1, Command: []string{"sh"}}},
	{name: "exec no id", argv: argvTestArgs("runc exec -p /p.json"), verb: "exec", exec: &ExecFlags{Process: "/p.json", ProcessIndex: 2}},
	{name: "exec process at the end", argv: argvTestArgs("runc exec -p"), wantErr: ErrMissingValue},
	{name: "exec bad gid", argv: argvTestArgs("runc exec -g 0x10 id sh"), wantErr: ErrBadNumber},
	{name: "exec --help", argv: argvTestArgs("runc exec --help"), verb: "exec", help: true, exec: &ExecFlags{ProcessIndex: -1}},

	// update and the lenient verbs.
	{name: "pids-limit hex", argv: argvTestArgs("runc update --pids-limit=0x10 id"), verb: "update", id: "id", pidsLimit: argvTestInt(16)},
	{name: "pids-limit bad", argv: argvTestArgs("runc update --pids-limit lots id"), wantErr: ErrBadNumber},
	{name: "update unknown flag", argv: argvTestArgs("runc update --memory-high 1G id"), verb: "update", id: "id"},
	{name: "update two ids", argv: argvTestArgs("runc update -r - a b"), verb: "update", id: "a", resources: "-"},
	{name: "delete unknown flag forwarded", argv: argvTestArgs("runc delete --newflag id"), verb: "delete", id: "id"},
	{name: "delete unknown = flag forwarded", argv: argvTestArgs("runc delete id --newflag=3"), verb: "delete", id: "id"},
	{name: "delete bad syntax", argv: argvTestArgs("runc delete -=x id"), wantErr: ErrBadFlagSyntax},
	{name: "events bad interval", argv: argvTestArgs("runc events --interval 5 id"), wantErr: ErrBadNumber},
	{name: "ps options after id", argv: argvTestArgs("runc ps id -o pid,cmd"), verb: "ps", id: "id"},
}

func TestScanCallers(t *testing.T)   { argvTestRun(t, argvTestCallers) }
func TestScanSemantics(t *testing.T) { argvTestRun(t, argvTestSemantics) }

func argvTestRun(t *testing.T, cases []argvTestCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			orig := slices.Clone(tc.argv)
			inv, err := Scan(tc.argv)
			if !slices.Equal(orig, tc.argv) {
				t.Fatalf("Scan changed argv: %q", tc.argv)
			}
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Scan(%q) error = %v, want %v", tc.argv, err, tc.wantErr)
				}
				if inv != nil {
					t.Errorf("Scan(%q) returned an Invocation with an error", tc.argv)
				}
				return
			}
			if err != nil {
				t.Fatalf("Scan(%q): %v", tc.argv, err)
			}
			wantArgs := tc.wantArgs
			if wantArgs == nil {
				wantArgs = tc.argv[1:]
			}
			if !slices.Equal(inv.Args, wantArgs) || len(inv.Args) != len(wantArgs) {
				t.Errorf("Args = %q, want %q", inv.Args, wantArgs)
			}
			if inv.Argv0 != tc.argv[0] {
				t.Errorf("Argv0 = %q, want %q", inv.Argv0, tc.argv[0])
			}
			if inv.Verb != tc.verb {
				t.Errorf("Verb = %q, want %q", inv.Verb, tc.verb)
			}
			switch {
			case tc.verb == "" && inv.VerbIndex != -1:
				t.Errorf("VerbIndex = %d, want -1", inv.VerbIndex)
			case tc.verb != "" && inv.VerbIndex != tc.verbIndex:
				t.Errorf("VerbIndex = %d, want %d", inv.VerbIndex, tc.verbIndex)
			case tc.verb != "" && inv.Args[inv.VerbIndex] != tc.verb:
				t.Errorf("Args[VerbIndex] = %q, want %q", inv.Args[inv.VerbIndex], tc.verb)
			}
			if inv.Bundle != tc.bundle {
				t.Errorf("Bundle = %q, want %q", inv.Bundle, tc.bundle)
			}
			if inv.ContainerID != tc.id {
				t.Errorf("ContainerID = %q, want %q", inv.ContainerID, tc.id)
			}
			if !reflect.DeepEqual(inv.Global, tc.global) {
				t.Errorf("Global = %+v,\nwant     %+v", inv.Global, tc.global)
			}
			if inv.Help != tc.help || inv.Version != tc.versn {
				t.Errorf("Help, Version = %v, %v, want %v, %v", inv.Help, inv.Version, tc.help, tc.versn)
			}
			if inv.Resources != tc.resources {
				t.Errorf("Resources = %q, want %q", inv.Resources, tc.resources)
			}
			if !reflect.DeepEqual(inv.PidsLimit, tc.pidsLimit) {
				t.Errorf("PidsLimit = %v, want %v", argvTestDeref(inv.PidsLimit), argvTestDeref(tc.pidsLimit))
			}
			if !reflect.DeepEqual(inv.Exec, tc.exec) {
				t.Errorf("Exec = %+v,\nwant   %+v", inv.Exec, tc.exec)
			}
			if inv.Exec != nil && inv.Exec.ProcessIndex >= 0 {
				e := inv.Exec
				got := inv.Args[e.ProcessIndex]
				if !e.ProcessInline && got != e.Process || e.ProcessInline && !strings.HasSuffix(got, "="+e.Process) {
					t.Errorf("Args[ProcessIndex] = %q does not hold %q", got, e.Process)
				}
			}
		})
	}
}

func argvTestDeref(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}

func TestScanVerbFlags(t *testing.T) {
	inv, err := Scan(argvTestArgs("runc create id --pid-file /p -b=/b --no-pivot --preserve-fds 3"))
	if err != nil {
		t.Fatal(err)
	}
	want := []VerbFlag{
		{Name: "pid-file", Value: "/p", Index: 2, ValueIndex: 3},
		{Name: "bundle", Value: "/b", Index: 4, ValueIndex: 4},
		{Name: "no-pivot", Value: "true", Index: 5, ValueIndex: 5},
		{Name: "preserve-fds", Value: "3", Index: 6, ValueIndex: 7},
	}
	if !reflect.DeepEqual(inv.VerbFlags, want) {
		t.Errorf("VerbFlags = %+v\nwant %+v", inv.VerbFlags, want)
	}
	inv, err = Scan(argvTestArgs("runc kill --newbool id KILL"))
	if err != nil {
		t.Fatal(err)
	}
	want = []VerbFlag{{Name: "newbool", Index: 1, ValueIndex: 1, Unknown: true}}
	if !reflect.DeepEqual(inv.VerbFlags, want) {
		t.Errorf("VerbFlags = %+v\nwant %+v", inv.VerbFlags, want)
	}
}

func TestScanArgsIsACopy(t *testing.T) {
	argv := argvTestArgs("runc --root /r create -b /b id")
	inv, err := Scan(argv)
	if err != nil {
		t.Fatal(err)
	}
	argv[1] = "--changed"
	if inv.Args[0] != "--root" {
		t.Errorf("Args shares argv's array: Args[0] = %q", inv.Args[0])
	}
}

func TestWithExecProcess(t *testing.T) {
	for _, tc := range []struct {
		argv string
		want string
	}{
		{"runc --root /r exec --process /tmp/p1 --detach id", "--root /r exec --process /new.json --detach id"},
		{"runc exec -p /tmp/p1 id", "exec -p /new.json id"},
		{"runc exec --process=/tmp/p1 id", "exec --process=/new.json id"},
		{"runc exec -p=/tmp/p1 -d id", "exec -p=/new.json -d id"},
		{"runc exec -p /a -p /b id", "exec -p /a -p /new.json id"},
	} {
		inv, err := Scan(argvTestArgs(tc.argv))
		if err != nil {
			t.Fatalf("Scan(%q): %v", tc.argv, err)
		}
		before := slices.Clone(inv.Args)
		got, err := inv.WithExecProcess("/new.json")
		if err != nil {
			t.Fatalf("%q: WithExecProcess: %v", tc.argv, err)
		}
		if want := argvTestArgs(tc.want); !slices.Equal(got, want) {
			t.Errorf("%q: WithExecProcess = %q, want %q", tc.argv, got, want)
		}
		if !slices.Equal(inv.Args, before) {
			t.Errorf("%q: WithExecProcess changed Args", tc.argv)
		}
		again, err := Scan(append([]string{"runc"}, got...))
		if err != nil || again.Exec.Process != "/new.json" {
			t.Errorf("%q: rescan of %q: process %q, err %v", tc.argv, got, again.Exec.Process, err)
		}
	}
	for _, argv := range []string{"runc exec id ls", "runc create -b /b id", "runc --version"} {
		inv, err := Scan(argvTestArgs(argv))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := inv.WithExecProcess("/new.json"); !errors.Is(err, ErrNoProcessFlag) {
			t.Errorf("%q: WithExecProcess error = %v, want ErrNoProcessFlag", argv, err)
		}
	}
	inv, _ := Scan(argvTestArgs("runc exec -p /p id"))
	if _, err := inv.WithExecProcess(""); !errors.Is(err, ErrEmptyValue) {
		t.Errorf("WithExecProcess(\"\") error = %v, want ErrEmptyValue", err)
	}
}

// TestScanErrorText checks that errors carry short lowercase context and
// the argument at fault.
func TestScanErrorText(t *testing.T) {
	for argv, want := range map[string]string{
		"runc --root":                       `scan argv: "--root": flag needs a value`,
		"runcage --runcage-bogus=1 state x": `scan argv: "--runcage-bogus=1": unknown flag`,
		"runcage --runcage-profile=":        `scan argv: "--runcage-profile=": flag value is empty`,
	} {
		_, err := Scan(argvTestArgs(argv))
		if err == nil || err.Error() != want {
			t.Errorf("Scan(%q) error = %v, want %q", argv, err, want)
		}
	}
}

// TestScanTables checks the flag tables against themselves: every verb has
// urfave's help flag, and no name is used twice in one table.
func TestScanTables(t *testing.T) {
	check := func(name string, s *argvFlagSet) {
		seen := map[string]bool{}
		for _, f := range s.flags {
			for _, n := range f.names {
				if seen[n] {
					t.Errorf("%s: flag name %q twice", name, n)
				}
				seen[n] = true
			}
		}
		if i, ok := s.lookup("h"); !ok || s.flags[i].names[0] != "help" {
			t.Errorf("%s: no help flag", name)
		}
	}
	check("global", argvGlobal)
	for verb, v := range argvVerbs {
		check(verb, v.flags)
	}
}
