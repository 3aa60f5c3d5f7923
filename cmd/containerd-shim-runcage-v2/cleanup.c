//go:build linux && cgo

/*
 * The shim's `delete` before Go starts.
 *
 * containerd runs `containerd-shim-runcage-v2 ... -id ID delete` in the
 * task's bundle after every task whose shim connection closed (containerd
 * 1.6 and 1.7: each `ctr run --rm`, each pod), and waits for it. After a
 * normal Delete the shim left nothing to clean up: its Delete removed the
 * state file runcage-shim.json (runc deleted the container, runcage
 * released it) and its shutdown removed its socket. Go's `delete`
 * (manager.Stop) then only reads init.pid and prints the DeleteResponse,
 * but starting the Go runtime of this binary costs about 20 ms of CPU and
 * wall time on the benchmark machine, on containerd's path back to its
 * client. This constructor prints the same response itself when it is
 * certain Go would do nothing else, and exits; whenever it is not
 * certain (any other verb or flag, a state file or a socket left, an
 * init.pid it cannot parse, an invalid id or namespace) it returns and Go
 * handles the invocation as before.
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

/* The state file runtime/shim keeps in a task's bundle (stateFile). */
#define STATE_FILE "runcage-shim.json"

static int streq(const char *a, const char *b) { return strcmp(a, b) == 0; }

static const char *envget(char **envp, const char *name)
{
	size_t n = strlen(name);
	for (char **e = envp; e && *e; e++)
		if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
			return *e + n + 1;
	return NULL;
}

/* validident is containerd's identifiers.Validate: at most 76 characters,
 * [A-Za-z0-9]+ runs separated by single '.', '_' or '-'. */
static int validident(const char *s)
{
	size_t n = strlen(s);
	int sep = 1;
	if (n == 0 || n > 76)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
			sep = 0;
		} else if (c == '.' || c == '_' || c == '-') {
			if (sep)
				return 0;
			sep = 1;
		} else {
			return 0;
		}
	}
	return !sep;
}

/* The string flags of containerd's shim (runtime/v2/shim parseFlags). */
static const char *const strflags[] = {"namespace", "id", "socket", "bundle", "address", "publish-binary"};

/* parse reads argv as Go's flag package would for containerd's shim and
 * reports whether it is exactly known flags followed by the one argument
 * "delete", with -debug at most in its bare form; it sets *ns and *id. */
static int parse(int argc, char **argv, const char **ns, const char **id)
{
	int i = 1;
	*ns = "";
	*id = "";
	for (; i < argc; i++) {
		const char *a = argv[i];
		if (a[0] != '-' || a[1] == '\0')
			break;
		a += (a[1] == '-') ? 2 : 1;
		if (*a == '\0') /* "--": the end of the flags */
			return 0;
		if (streq(a, "debug"))
			continue;
		const char *eq = strchr(a, '=');
		size_t len = eq ? (size_t)(eq - a) : strlen(a);
		int known = 0;
		for (size_t f = 0; f < sizeof(strflags) / sizeof(strflags[0]); f++) {
			if (strlen(strflags[f]) == len && strncmp(a, strflags[f], len) == 0) {
				known = 1;
				const char *v = eq ? eq + 1 : NULL;
				if (!v) {
					if (i + 1 >= argc)
						return 0;
					v = argv[++i];
				}
				if (f == 0)
					*ns = v;
				else if (f == 1)
					*id = v;
			}
		}
		if (!known)
			return 0;
	}
	return i == argc - 1 && streq(argv[i], "delete");
}

/* join writes dir "/" name to out (PATH_MAX), as Go's filepath.Join does
 * for a clean absolute dir and a name without '/'. */
static int join(char *out, const char *dir, const char *name)
{
	int n = streq(dir, "/") ? snprintf(out, PATH_MAX, "/%s", name) : snprintf(out, PATH_MAX, "%s/%s", dir, name);
	return n > 0 && n < PATH_MAX;
}

/* readsmall reads a file of at most cap-1 bytes into buf, NUL-terminated.
 * It returns the length, -1 with errno set, or -2 when the file is larger. */
static ssize_t readsmall(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -1;
	size_t n = 0;
	for (;;) {
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			close(fd);
			return -1;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n == cap) {
			close(fd);
			return -2;
		}
	}
	close(fd);
	buf[n] = '\0';
	return (ssize_t)n;
}

/* nothingleft reports whether manager.Stop would find nothing to clean up
 * in bundle: no state file, and no socket at the address the shim wrote. */
static int nothingleft(const char *bundle)
{
	char path[PATH_MAX], addr[PATH_MAX + 8];
	struct stat st;
	if (!join(path, bundle, STATE_FILE) || lstat(path, &st) == 0 || errno != ENOENT)
		return 0;
	if (!join(path, bundle, "address"))
		return 0;
	ssize_t n = readsmall(path, addr, sizeof(addr));
	if (n == -1 && errno == ENOENT)
		return 1; /* Go: no address, nothing to remove */
	if (n < 0)
		return 0;
	const char *sock = addr;
	if (strncmp(sock, "unix://", 7) == 0)
		sock += 7;
	if (*sock == '\0' || strlen(sock) >= PATH_MAX)
		return 0;
	return lstat(sock, &st) != 0 && errno == ENOENT;
}

/* readpid reads the init.pid the shim's runc wrote, as go-runc's
 * ReadPidFile and strconv.Atoi would, accepting only plain digits. */
static int readpid(const char *bundle, uint32_t *pid)
{
	char path[PATH_MAX], buf[32];
	if (!join(path, bundle, "init.pid"))
		return 0;
	ssize_t n = readsmall(path, buf, sizeof(buf));
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
	const char *ns, *id, *v;
	char cwd[PATH_MAX], bundle[PATH_MAX];
	uint32_t pid;
	struct timespec now;
	unsigned char out[64];

	if (argc < 2 || !argv || !envp)
		return;
	if ((v = envget(envp, "RUNCAGE_SHIM_NO_FASTPATH")) && streq(v, "1"))
		return;
	if (!parse(argc, argv, &ns, &id) || !validident(ns) || !validident(id))
		return;
	if (!getcwd(cwd, sizeof(cwd)) || cwd[0] != '/')
		return;
	/* manager.Stop's bundle: filepath.Join(filepath.Dir(cwd), id). */
	char *slash = strrchr(cwd, '/');
	if (slash == cwd)
		slash[1] = '\0';
	else
		*slash = '\0';
	if (!join(bundle, cwd, id) || !nothingleft(bundle) || !readpid(bundle, &pid))
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
	if ((v = envget(envp, "RUNCAGE_SHIM_FASTPATH_TRACE")) && streq(v, "1")) {
		static const char msg[] = "runcage shim: delete answered before Go started\n";
		if (write(2, msg, sizeof(msg) - 1) < 0) {
			/* nothing to do: the answer was written */
		}
	}
	_exit(0);
}
