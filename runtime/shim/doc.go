// Package shim is runcage's containerd shim, the binary
// containerd-shim-runcage-v2: a shim v2 speaking the task API v2
// (containerd.task.v2.Task over ttrpc), which containerd 1.6, 1.7 and 2.x
// can use. It is built on containerd 1.7's shim, process, stdio and
// reaper packages. On Create it runs runcage's create transaction
// in-process (runtime.Create) and drives runc directly; on Delete, and in
// the `delete` cleanup subcommand containerd runs when a shim is gone, it
// releases what the transaction set up (runtime.Release).
//
// # Contract
//
// Registration. runtime_type "io.containerd.runcage.v2" makes containerd
// run the binary containerd-shim-runcage-v2 (in its PATH, or runtime_path
// where containerd supports it); `ctr run --runtime /abs/path/to/shim`
// runs it by path. `start` prints the shim's bare socket address, which
// containerd 1.6 and later accept (2.x takes it as a task API v2 shim).
// On start's standard input containerd 1.6 and 1.7 send the task's runtime
// options, and 2.3 and later BootstrapParams carrying them: when they are
// runc's options with ShimCgroup, the shim server joins that cgroup (a
// cgroup that cannot be joined fails the start), as containerd's runc
// shim does; BootstrapParams' socket_dir, when set, holds the shim's
// socket instead of /run/containerd/s. Containers carrying the annotation
// io.containerd.runcage.v2.group or io.kubernetes.cri.sandbox-id share
// the shim of that group (a pod's containers share one shim).
//
// Options. A task's runtime options (CreateTaskRequest.Options) are one
// of:
//
//   - none: every setting below takes its default.
//   - runtimeoptions.Options (github.com/containerd/containerd/pkg/
//     runtimeoptions/v1), which the CRI sends for any runtime_type that is
//     not runc's (its options table: ConfigPath, ConfigBody) and
//     `ctr run --runtime-config-path` sends. ConfigPath names a TOML file,
//     which must pass the trust checks runcage applies to its policy:
//     owned by root and writable by no one else, nor any directory above it
//     (a pod author must never select a weaker profile). ConfigBody, when
//     ConfigPath is empty, is that file's text (it comes from containerd's
//     own configuration); both set is refused. The file's keys, all
//     optional (any other key is refused):
//     profile = "NAME": the profile (default: the policy's default profile);
//     config = "/abs/policy.toml": runcage's policy file (default
//     /etc/runcage/config.toml, as bin/runcage; RUNCAGE_CONFIG is NOT
//     consulted by the shim);
//     binary_name = "/abs/runc": the delegate runc (default: the policy's
//     runtime, else runc beside the shim binary, else runc in PATH; runcage
//     itself, or a runcage-PROFILE link, is refused);
//     root = "/abs/dir": runc's state root; the task's containerd namespace
//     is appended, as containerd's runc shim does (default
//     /run/containerd/runc, so /run/containerd/runc/<namespace>);
//     systemd_cgroup = true|false: runc's systemd cgroup driver.
//   - runc's options (containerd.runc.v1.Options), which
//     `ctr run --runc-binary` and a runc-style handler's options send:
//     BinaryName selects the profile by its base name exactly as
//     bin/runcage's argv[0] does (runcage-PROFILE; any other name selects
//     the policy's default) and is never run: the delegate is the policy's
//     runtime. Root (namespace appended) and SystemdCgroup are used;
//     NoPivotRoot, NoNewKeyring, IoUid and IoGid are passed to runc as
//     containerd's runc shim does. Other fields are ignored.
//
// Any other options type is refused. Annotations (runcage.dev/profile)
// tighten the profile exactly as through bin/runcage. The policy is
// loaded anew for every Create, so a policy change reaches new containers
// without restarting shims; a container keeps the policy it was created
// under for its exec and update checks.
//
// Enforcement. Everything bin/runcage enforces holds: refusals reach
// containerd's error (and so ctr's and the kubelet's) as "runcage: "ID":
// <reason>" with code FailedPrecondition; an exec's process spec gets the
// checks of `runcage exec --process` (runtime.HardenExecProcess); an
// update's resources the guard of `runcage update` (runtime.GuardUpdate);
// a restore (a Create with a checkpoint) runs the create transaction like
// `runcage restore`, and Checkpoint is forwarded to runc as runcage does.
// A panic in Create refuses the task and releases what was set up; the
// shim goes on serving. A killed shim's cleanup (`delete`) force-deletes
// the container in runc, unmounts the rootfs and releases runcage's user
// namespace ids, mounts and record, from the file runcage-shim.json the
// shim keeps in the task's bundle, and removes the dead shim's socket
// (one that still answers, a group's live shim, is kept). containerd runs
// that cleanup after every task, also when the shim's Delete released
// everything (it then removes runcage-shim.json) and its shutdown removed
// its socket: then the binary answers before the Go runtime starts
// (cmd/containerd-shim-runcage-v2/cleanup.c), with the response Stop
// gives.
package shim
