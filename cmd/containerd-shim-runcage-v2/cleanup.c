//go:build linux && cgo

/*
 * The shim's `delete` before Go starts.
 *
 * containerd runs `containerd-shim-runcage-v2 ... -id ID delete` in the
 * task's bundle after every task whose shim connection closed (containerd
 * 1.6 and 1.7: each `ctr run --rm`, each pod), and waits for it. After a
 * normal Delete the shim left nothing to clean up: its Delete removed the
 * state file runcage-shim.json (runc deleted the container, runcage
 * released it) and its shutdown removed its socket, or, for a pod's
 * container deleted before the pod, the pod's shim still serves on it.
 * Go's `delete` (manager.Stop) then only reads init.pid and prints the
 * DeleteResponse, but starting the Go runtime of this binary costs about
 * 20 ms of CPU and wall time on the benchmark machine, on containerd's
 * path back to its client. This constructor prints the same response
 * itself when it is certain Go would do nothing else, and exits; whenever
 * it is not certain (any other verb or flag, a state file left, a socket
 * nothing accepts on, which Go removes, an init.pid it cannot parse, an
 * invalid id or namespace) it returns and Go handles the invocation as
 * before.
 *
 * RUNCAGE_SHIM_NO_FASTPATH=1 turns it off; RUNCAGE_SHIM_FASTPATH_TRACE=1
 * makes it write one line to stderr when it answered.
 *
 * glibc passes argc, argv and envp to the constructors of the executable;
 * with another libc argv may be absent, and then this does nothing.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "shimc.h"

/* The state file runtime/shim keeps in a task's bundle (stateFile). */
#define STATE_FILE "runcage-shim.json"

/* nothingleft reports whether manager.Stop would find nothing to clean up
 * in bundle: no state file, and at the address the shim wrote no socket
 * or one a server still accepts on. */
static int nothingleft(const char *bundle)
{
	char path[PATH_MAX], addr[PATH_MAX + 8];
	struct stat st;
	if (!shim_join(path, bundle, STATE_FILE) || lstat(path, &st) == 0 || errno != ENOENT)
		return 0;
	if (!shim_join(path, bundle, "address"))
		return 0;
	ssize_t n = shim_readsmall(path, addr, sizeof(addr));
	if (n == -1 && errno == ENOENT)
		return 1; /* Go: no address, nothing to remove */
	if (n < 0)
		return 0;
	const char *sock = addr;
	int isunix = strncmp(sock, "unix://", 7) == 0;
	if (isunix)
		sock += 7;
	if (*sock == '\0' || strlen(sock) >= PATH_MAX)
		return 0;
	if (lstat(sock, &st) != 0)
		return errno == ENOENT;
	/* A socket a server still accepts on (the pod's shim, serving the
	 * pod's other tasks): Go's removeDeadSocket leaves it alone. */
	return isunix && S_ISSOCK(st.st_mode) && shim_connect(sock) == 0;
}

/* readpid reads the init.pid the shim's runc wrote, as go-runc's
 * ReadPidFile and strconv.Atoi would, accepting only plain digits. */
static int readpid(const char *bundle, uint32_t *pid)
{
	char path[PATH_MAX], buf[32];
	if (!shim_join(path, bundle, "init.pid"))
		return 0;
	ssize_t n = shim_readsmall(path, buf, sizeof(buf));
	if (n <= 0 || n > 10)
		return 0;
	uint64_t v = 0;
	for (ssize_t i = 0; i < n; i++) {
		if (buf[i] < '0' || buf[i] > '9')
			return 0;
		v = v * 10 + (uint64_t)(buf[i] - '0');
	}
	if (v > INT_MAX)
		return 0;
	*pid = (uint32_t)v;
	return 1;
}

static size_t varint(unsigned char *p, uint64_t v)
{
	size_t n = 0;
	while (v >= 0x80) {
		p[n++] = (unsigned char)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (unsigned char)v;
	return n;
}

/* response encodes task.DeleteResponse{pid = 1, exit_status = 2,
 * exited_at = 3 (google.protobuf.Timestamp{seconds = 1, nanos = 2})} as
 * proto.Marshal does: fields in order, zero values left out. */
static size_t response(unsigned char *out, uint32_t pid, uint32_t status, const struct timespec *at)
{
	unsigned char ts[32];
	size_t t = 0, n = 0;
	if (at->tv_sec != 0) {
		ts[t++] = 0x08;
		t += varint(ts + t, (uint64_t)(int64_t)at->tv_sec);
	}
	if (at->tv_nsec != 0) {
		ts[t++] = 0x10;
		t += varint(ts + t, (uint64_t)at->tv_nsec);
	}
	if (pid != 0) {
		out[n++] = 0x08;
		n += varint(out + n, pid);
	}
	if (status != 0) {
		out[n++] = 0x10;
		n += varint(out + n, status);
	}
	out[n++] = 0x1a;
	n += varint(out + n, t);
	memcpy(out + n, ts, t);
	return n + t;
}

__attribute__((constructor)) static void shim_delete_fastpath(int argc, char **argv, char **envp)
{
	struct shimflags f;
	const char *v;
	char cwd[PATH_MAX], bundle[PATH_MAX];
	uint32_t pid;
	struct timespec now;
	unsigned char out[64];

	if (argc < 2 || !argv || !envp)
		return;
	if ((v = shim_envget(envp, "RUNCAGE_SHIM_NO_FASTPATH")) && shim_streq(v, "1"))
		return;
	/* Known flags, -debug at most in its bare form, and "delete". */
	if (!shim_parse(argc, argv, &f) || !shim_streq(f.verb, "delete") || !f.ns || !shim_validident(f.ns) || !f.id || !shim_validident(f.id))
		return;
	if (!getcwd(cwd, sizeof(cwd)) || cwd[0] != '/')
		return;
	/* manager.Stop's bundle: filepath.Join(filepath.Dir(cwd), id). */
	char *slash = strrchr(cwd, '/');
	if (slash == cwd)
		slash[1] = '\0';
	else
		*slash = '\0';
	if (!shim_join(bundle, cwd, f.id) || !nothingleft(bundle) || !readpid(bundle, &pid))
		return;
	if (clock_gettime(CLOCK_REALTIME, &now) != 0)
		return;
	/* 128 + SIGKILL, as manager.Stop reports. */
	size_t n = response(out, pid, 128 + 9, &now);
	for (size_t off = 0; off < n;) {
		ssize_t w = write(1, out + off, n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			_exit(1);
		off += (size_t)w;
	}
	if ((v = shim_envget(envp, "RUNCAGE_SHIM_FASTPATH_TRACE")) && shim_streq(v, "1")) {
		static const char msg[] = "runcage shim: delete answered before Go started\n";
		if (write(2, msg, sizeof(msg) - 1) < 0) {
			/* nothing to do: the answer was written */
		}
	}
	_exit(0);
}
