//go:build linux && cgo

/*
 * The shim's `start` before Go starts.
 *
 * containerd runs `containerd-shim-runcage-v2 -namespace NS -address ADDR
 * -publish-binary BIN -id ID start` in the task's bundle for every task and
 * waits for the address it prints: for a pod's sandbox (or a lone task)
 * manager.Start (runtime/shim/manager.go) creates the shim socket, starts
 * this binary again as the shim server and prints the socket's address; for
 * each further container of a pod it only finds the group's socket, writes
 * the bundle's `address` file and prints the address. Each is a start of
 * the Go runtime of this binary (about 15 ms of CPU on the benchmark
 * machine) on containerd's path. This constructor does what manager.Start
 * does, in the same order and with the same results, when it is certain
 * to:
 *
 *   - the command line is known flags (no -debug, -socket, -bundle) and
 *     "start", with a valid namespace and id and a clean absolute address;
 *   - the bundle's config.json is a regular file (not a symlink) that a
 *     strict, bounded JSON scan reads completely, and the grouping label
 *     (groupLabels) is absent or a plain name;
 *   - start's standard input is empty or a protobuf Any of a type other
 *     than runc's options (so no ShimCgroup and no containerd 2.3
 *     BootstrapParams with a socket_dir);
 *   - /run/containerd/s is a directory, reached without symlinks, and the
 *     socket path in it is free, a live socket (connect succeeds: the
 *     group's shim serves this task too) or a dead one (connect refused);
 *   - this binary's path (/proc/self/exe, as os.Executable) names the
 *     running file.
 *
 * Anything else, and any failure, returns to Go with nothing left behind
 * (a socket it made is removed, a server it started is killed) and with
 * the standard input it read put back at fd 0 (a memfd), so Go does the
 * whole `start` as before.
 *
 * The server is started as Go's exec.Cmd starts it: argv [self -namespace
 * NS -id ID -address ADDR], the environment with GOMAXPROCS=2 appended and
 * duplicates removed (the last wins), the bundle as its working directory,
 * its own process group, /dev/null on fds 0 to 2 and the listening socket
 * on fd 3, nothing else this code opened. Its OOM score is containerd's
 * plus one (shim.AdjustOOMScore).
 *
 * RUNCAGE_SHIM_NO_FASTPATH=1 turns it off; RUNCAGE_SHIM_FASTPATH_TRACE=1
 * makes it write one line to stderr when it answered.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shimc.h"

/* containerd's socket directory: filepath.Join(defaults.DefaultStateDir,
 * "s") in shim.SocketAddress. */
#define SOCKET_DIR "/run/containerd/s"
/* runc's options, whose ShimCgroup manager.Start would honour
 * (typeurl.TypeURL(&runcoptions.Options{})). */
#define RUNC_OPTIONS_URL "containerd.runc.v1.Options"
const char *const shim_runc_options_url = RUNC_OPTIONS_URL;

/* The largest config.json and standard input read here; larger ones go
 * to Go. */
#define CONFIG_MAX (4 << 20)
#define INPUT_MAX (1 << 20)
/* The deepest JSON nesting scanned here. */
#define DEPTH_MAX 128

/* groupLabels in runtime/shim/manager.go, in order. */
static const char *const group_labels[] = {"io.containerd.runcage.v2.group", "io.kubernetes.cri.sandbox-id"};
#define NLABELS (sizeof(group_labels) / sizeof(group_labels[0]))

/* ---- config.json: a strict JSON scan ---- */

struct js {
	const unsigned char *p, *end;
};

static void ws(struct js *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

static int ishex(unsigned char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

/* str scans a JSON string at j->p; *s and *n are its raw contents, *plain
 * whether they have no escape and only printable ASCII. */
static int str(struct js *j, const unsigned char **s, size_t *n, int *plain)
{
	if (j->p >= j->end || *j->p != '"')
		return 0;
	const unsigned char *q = ++j->p;
	*plain = 1;
	while (j->p < j->end) {
		unsigned char c = *j->p;
		if (c == '"') {
			*s = q;
			*n = (size_t)(j->p - q);
			j->p++;
			return 1;
		}
		if (c < 0x20)
			return 0;
		if (c >= 0x7f)
			*plain = 0;
		if (c == '\\') {
			*plain = 0;
			if (j->end - j->p < 2)
				return 0;
			c = j->p[1];
			if (c == 'u') {
				if (j->end - j->p < 6 || !ishex(j->p[2]) || !ishex(j->p[3]) || !ishex(j->p[4]) || !ishex(j->p[5]))
					return 0;
				j->p += 6;
				continue;
			}
			if (!strchr("\"\\/bfnrt", c) || c == '\0')
				return 0;
			j->p += 2;
			continue;
		}
		j->p++;
	}
	return 0;
}

static int digits(struct js *j)
{
	const unsigned char *q = j->p;
	while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
		j->p++;
	return j->p > q;
}

/* number scans a JSON number (RFC 8259 grammar). */
static int number(struct js *j)
{
	if (j->p < j->end && *j->p == '-')
		j->p++;
	if (j->p < j->end && *j->p == '0')
		j->p++;
	else if (!digits(j))
		return 0;
	if (j->p < j->end && *j->p == '.') {
		j->p++;
		if (!digits(j))
			return 0;
	}
	if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
		j->p++;
		if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
			j->p++;
		if (!digits(j))
			return 0;
	}
	return 1;
}

static int literal(struct js *j, const char *w)
{
	size_t n = strlen(w);
	if ((size_t)(j->end - j->p) < n || memcmp(j->p, w, n) != 0)
		return 0;
	j->p += n;
	return 1;
}

/* member scans `"key" :` at j->p (after whitespace). */
static int member(struct js *j, const unsigned char **k, size_t *kn, int *plain)
{
	ws(j);
	if (!str(j, k, kn, plain))
		return 0;
	ws(j);
	if (j->p >= j->end || *j->p != ':')
		return 0;
	j->p++;
	return 1;
}

/* skip scans one JSON value of any kind, nested at most DEPTH_MAX deep,
 * without recursion. */
static int skip(struct js *j)
{
	char stack[DEPTH_MAX];
	int depth = 0, plain;
	const unsigned char *s;
	size_t n;
	for (;;) {
		/* A value. */
		ws(j);
		if (j->p >= j->end)
			return 0;
		switch (*j->p) {
		case '{':
		case '[':
			if (depth == DEPTH_MAX)
				return 0;
			stack[depth++] = (char)*j->p;
			j->p++;
			ws(j);
			if (j->p < j->end && *j->p == (stack[depth - 1] == '{' ? '}' : ']')) {
				j->p++;
				depth--;
				break;
			}
			if (stack[depth - 1] == '{' && !member(j, &s, &n, &plain))
				return 0;
			continue;
		case '"':
			if (!str(j, &s, &n, &plain))
				return 0;
			break;
		case 't':
			if (!literal(j, "true"))
				return 0;
			break;
		case 'f':
			if (!literal(j, "false"))
				return 0;
			break;
		case 'n':
			if (!literal(j, "null"))
				return 0;
			break;
		default:
			if (!number(j))
				return 0;
		}
		/* After a value: close containers, or go on to the next. */
		for (;;) {
			if (depth == 0)
				return 1;
			ws(j);
			if (j->p >= j->end)
				return 0;
			char close = stack[depth - 1] == '{' ? '}' : ']';
			if (*j->p == close) {
				j->p++;
				depth--;
				continue;
			}
			if (*j->p != ',')
				return 0;
			j->p++;
			if (stack[depth - 1] == '{' && !member(j, &s, &n, &plain))
				return 0;
			break;
		}
	}
}

/* okgroup reports whether a grouping label's value is one this code
 * hashes as Go would: a plain name (filepath.Join leaves it as it is). */
static int okgroup(const unsigned char *s, size_t n)
{
	if (n == 0 || n > 255 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] <= 0x20 || s[i] >= 0x7f || s[i] == '/' || s[i] == '\\' || s[i] == '"')
			return 0;
	return 1;
}

/* annotations scans the annotations object, every value a string, and
 * sets found[i] to the value of group_labels[i]. */
static int annotations(struct js *j, const unsigned char *found[], size_t foundn[])
{
	const unsigned char *k, *v;
	size_t kn, vn;
	int kplain, vplain;
	ws(j);
	if (j->p >= j->end || *j->p != '{')
		return 0; /* null, or not an object: Go's decode differs */
	j->p++;
	ws(j);
	if (j->p < j->end && *j->p == '}') {
		j->p++;
		return 1;
	}
	for (;;) {
		if (!member(j, &k, &kn, &kplain))
			return 0;
		ws(j);
		if (!str(j, &v, &vn, &vplain))
			return 0;
		if (memchr(k, '\\', kn))
			return 0; /* an escaped key might spell a label */
		for (size_t i = 0; i < NLABELS; i++) {
			if (kn == strlen(group_labels[i]) && memcmp(k, group_labels[i], kn) == 0) {
				if (found[i] || !vplain || !okgroup(v, vn))
					return 0;
				found[i] = v;
				foundn[i] = vn;
			}
		}
		ws(j);
		if (j->p >= j->end)
			return 0;
		if (*j->p == '}') {
			j->p++;
			return 1;
		}
		if (*j->p != ',')
			return 0;
		j->p++;
	}
}

/* shim_grouping finds the shim's grouping in config.json's text as
 * manager.Start does (the first of group_labels among the top-level
 * "annotations", else the id). Go decodes config.json with
 * encoding/json, which matches keys case-insensitively (with Unicode
 * folding) and merges repeated objects: any top-level key that is not
 * plain ASCII or that folds to "annotations" without being it, a
 * repeated "annotations", anything after the object, or anything the
 * scan does not read returns 0. */
int shim_grouping(const unsigned char *data, size_t len, const unsigned char **g, size_t *gn);

int shim_grouping(const unsigned char *data, size_t len, const unsigned char **g, size_t *gn)
{
	struct js j = {data, data + len};
	const unsigned char *found[NLABELS] = {0}, *k;
	size_t foundn[NLABELS] = {0}, kn;
	int plain, seen = 0;
	ws(&j);
	if (j.p >= j.end || *j.p != '{')
		return 0;
	j.p++;
	ws(&j);
	if (j.p < j.end && *j.p == '}') {
		j.p++;
	} else {
		for (;;) {
			if (!member(&j, &k, &kn, &plain) || !plain)
				return 0;
			if (kn == 11 && strncasecmp((const char *)k, "annotations", 11) == 0) {
				if (memcmp(k, "annotations", 11) != 0 || seen++)
					return 0;
				if (!annotations(&j, found, foundn))
					return 0;
			} else if (!skip(&j)) {
				return 0;
			}
			ws(&j);
			if (j.p >= j.end)
				return 0;
			if (*j.p == '}') {
				j.p++;
				break;
			}
			if (*j.p != ',')
				return 0;
			j.p++;
		}
	}
	ws(&j);
	if (j.p != j.end)
		return 0;
	*g = NULL;
	for (size_t i = 0; i < NLABELS && !*g; i++) {
		*g = found[i];
		*gn = foundn[i];
	}
	return 1;
}

/* readconfig reads the regular file config.json in the working
 * directory, not through a symlink, into a malloc'd buffer. */
static unsigned char *readconfig(size_t *len)
{
	struct stat st;
	int fd = open("config.json", O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > CONFIG_MAX) {
		close(fd);
		return NULL;
	}
	size_t cap = (size_t)st.st_size + 1, n = 0;
	unsigned char *buf = malloc(cap);
	while (buf) {
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 || (r > 0 && n + (size_t)r == cap)) {
			/* an error, or the file grew: leave it to Go */
			free(buf);
			buf = NULL;
			break;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	*len = n;
	return buf;
}

/* ---- standard input: the runtime options ---- */

struct input {
	unsigned char *buf;
	size_t len;
	int read; /* something was read from fd 0: it must go back to Go */
	int eof;  /* fd 0 was read to its end */
};

/* readinput reads start's standard input, as readStartInput does, up to
 * INPUT_MAX bytes; it reports whether it read it all. */
static int readinput(struct input *in)
{
	size_t cap = 4096;
	memset(in, 0, sizeof(*in));
	if (!(in->buf = malloc(cap)))
		return 0;
	for (;;) {
		if (in->len == cap) {
			unsigned char *b = cap < INPUT_MAX ? realloc(in->buf, cap * 2) : NULL;
			if (!b)
				return 0;
			in->buf = b;
			cap *= 2;
		}
		ssize_t r = read(0, in->buf + in->len, cap - in->len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			/* Nothing read: Go reads again and fails as it would
			 * have; else Go gets what was read. */
			return 0;
		in->read = 1;
		if (r == 0) {
			in->eof = 1;
			return 1;
		}
		in->len += (size_t)r;
	}
}

static int writeall(int fd, const unsigned char *b, size_t n)
{
	for (size_t off = 0; off < n;) {
		ssize_t w = write(fd, b + off, n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return 0;
		off += (size_t)w;
	}
	return 1;
}

/* handback puts what was read of standard input back on fd 0 for Go, in
 * a memfd, followed by what is left unread of it. */
static void handback(struct input *in)
{
	if (!in->read)
		return;
	int fd = memfd_create("runcage-start-input", MFD_CLOEXEC);
	int ok = fd >= 0 && writeall(fd, in->buf, in->len);
	while (ok && !in->eof) {
		unsigned char b[65536];
		ssize_t r = read(0, b, sizeof(b));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break; /* Go gets what could be read */
		ok = writeall(fd, b, (size_t)r);
	}
	if (ok && lseek(fd, 0, SEEK_SET) == 0 && dup2(fd, 0) == 0) {
		close(fd);
		return;
	}
	static const char msg[] = "io.containerd.runcage.v2: start: cannot hand the start input back to Go\n";
	if (write(2, msg, sizeof(msg) - 1) < 0) {
		/* exiting anyway */
	}
	_exit(1);
}

static int varint(const unsigned char **p, const unsigned char *end, uint64_t *v)
{
	*v = 0;
	for (int shift = 0; shift < 35 && *p < end; shift += 7) {
		unsigned char c = *(*p)++;
		*v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80))
			return 1;
	}
	return 0;
}

/* plaininput reports whether start's input gives manager.Start no shim
 * cgroup and no socket directory for certain: nothing, or a protobuf Any
 * (type_url, field 1, and value, field 2, each at most once) whose type
 * is not runc's options. BootstrapParams (fields 3 and up) and anything
 * else go to Go. */
static int plaininput(const struct input *in)
{
	const unsigned char *p = in->buf, *end = in->buf + in->len, *url = NULL;
	uint64_t n = 0, urln = 0;
	int seen[3] = {0};
	while (p < end) {
		unsigned char tag = *p++;
		if ((tag != 0x0a && tag != 0x12) || seen[tag >> 3]++)
			return 0;
		if (!varint(&p, end, &n) || n > (uint64_t)(end - p))
			return 0;
		if (tag == 0x0a) {
			url = p;
			urln = n;
		}
		p += n;
	}
	for (uint64_t i = 0; i < urln; i++)
		if (url[i] < 0x20 || url[i] >= 0x7f)
			return 0; /* Go checks a string's UTF-8: keep to ASCII */
	return !(urln == sizeof(RUNC_OPTIONS_URL) - 1 && memcmp(url, RUNC_OPTIONS_URL, urln) == 0);
}

/* ---- the socket ---- */

/* cleanabs reports whether s is an absolute path filepath.Clean leaves as
 * it is, and not "/": then filepath.Join(s, ns, grouping) is s/ns/grouping. */
static int cleanabs(const char *s)
{
	size_t n = strlen(s);
	if (n < 2 || n > 1024 || s[0] != '/' || s[n - 1] == '/')
		return 0;
	for (const char *seg = s + 1;;) {
		const char *e = strchr(seg, '/');
		size_t l = e ? (size_t)(e - seg) : strlen(seg);
		if (l == 0 || (l == 1 && seg[0] == '.') || (l == 2 && seg[0] == '.' && seg[1] == '.'))
			return 0;
		if (!e)
			return 1;
		seg = e + 1;
	}
}

/* realdirs reports whether each directory on SOCKET_DIR's path is a
 * directory and not a symlink. */
static int realdirs(void)
{
	static const char *const dirs[] = {"/run", "/run/containerd", SOCKET_DIR};
	struct stat st;
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		if (lstat(dirs[i], &st) != 0 || !S_ISDIR(st.st_mode))
			return 0;
	return 1;
}

/* unixsocket returns a close-on-exec stream socket at fd 4 or above, so
 * that it is never the fd it is moved to in the server. */
static int unixsocket(void)
{
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s >= 0 && s < 4) {
		int t = fcntl(s, F_DUPFD_CLOEXEC, 4);
		close(s);
		s = t;
	}
	return s;
}

enum { SOCK_FAIL, SOCK_NEW, SOCK_LIVE };

/* listensocket is shim.NewSocket, and manager.Start's handling of a
 * socket already there: SOCK_NEW with *fd listening, SOCK_LIVE when a
 * server accepts on it, SOCK_FAIL (nothing changed, or the dead socket
 * removed) for Go to handle. */
static int listensocket(const struct sockaddr_un *sa, int *fd)
{
	struct stat st;
	int s = unixsocket();
	if (s < 0)
		return SOCK_FAIL;
	if (bind(s, (const struct sockaddr *)sa, sizeof(*sa)) != 0) {
		int e = errno;
		close(s);
		if (e != EADDRINUSE || lstat(sa->sun_path, &st) != 0 || !S_ISSOCK(st.st_mode))
			return SOCK_FAIL;
		if ((e = shim_connect(sa->sun_path)) == 0)
			return SOCK_LIVE;
		if (e != ECONNREFUSED || unlink(sa->sun_path) != 0)
			return SOCK_FAIL;
		if ((s = unixsocket()) < 0)
			return SOCK_FAIL;
		if (bind(s, (const struct sockaddr *)sa, sizeof(*sa)) != 0) {
			close(s);
			return SOCK_FAIL;
		}
	}
	/* The kernel caps the backlog at somaxconn, what Go asks for. */
	if (listen(s, INT_MAX) != 0 || chmod(sa->sun_path, 0600) != 0) {
		close(s);
		unlink(sa->sun_path);
		return SOCK_FAIL;
	}
	*fd = s;
	return SOCK_NEW;
}

/* writeaddress is shim.WriteAddress("address", address): a temporary
 * file in the bundle named as os.CreateTemp names it, mode 0644, synced,
 * renamed over `address`. */
static int writeaddress(const char *address)
{
	char name[16];
	int fd = -1;
	for (int try = 0; try < 10000 && fd < 0; try++) {
		uint32_t r;
		if (getrandom(&r, sizeof(r), 0) != sizeof(r))
			return 0;
		snprintf(name, sizeof(name), "%u", r);
		fd = open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0 && errno != EEXIST)
			return 0;
	}
	if (fd < 0)
		return 0;
	size_t n = strlen(address), off = 0;
	int ok = fchmod(fd, 0644) == 0;
	while (ok && off < n) {
		ssize_t w = write(fd, address + off, n - off);
		if (w < 0 && errno == EINTR)
			continue;
		ok = w > 0;
		if (ok)
			off += (size_t)w;
	}
	ok = ok && fsync(fd) == 0;
	ok = close(fd) == 0 && ok;
	ok = ok && rename(name, "address") == 0;
	if (!ok)
		unlink(name);
	return ok;
}

/* ---- the server ---- */

/* serverenv is Go's exec.Cmd environment for os.Environ() plus
 * GOMAXPROCS=2: duplicate keys dropped but the last, order kept. */
static char **serverenv(char **envp)
{
	size_t n = 0;
	while (envp[n])
		n++;
	if (n > 65536)
		return NULL;
	char **all = malloc((n + 2) * sizeof(char *)), **out = malloc((n + 2) * sizeof(char *));
	if (!all || !out) {
		free(all);
		free(out);
		return NULL;
	}
	memcpy(all, envp, n * sizeof(char *));
	all[n++] = "GOMAXPROCS=2";
	/* Go's dedupEnvCase: from the end, keep a key's first sighting. */
	size_t m = 0;
	for (size_t i = n; i-- > 0;) {
		const char *kv = all[i], *eq = strchr(kv, '=');
		if (eq == kv)
			eq = strchr(kv + 1, '=') ? strchr(kv + 1, '=') : kv;
		if (!eq) {
			if (*kv)
				out[m++] = all[i];
			continue;
		}
		size_t kl = (size_t)(eq - kv);
		int dup = 0;
		for (size_t o = 0; o < m && !dup; o++) {
			const char *oe = strchr(out[o], '=');
			if (oe == out[o])
				oe = strchr(out[o] + 1, '=') ? strchr(out[o] + 1, '=') : out[o];
			dup = oe && (size_t)(oe - out[o]) == kl && strncmp(out[o], kv, kl) == 0;
		}
		if (!dup)
			out[m++] = all[i];
	}
	free(all);
	for (size_t i = 0; i < m / 2; i++) {
		char *t = out[i];
		out[i] = out[m - 1 - i];
		out[m - 1 - i] = t;
	}
	out[m] = NULL;
	return out;
}

/* spawn starts self as the shim server on listening socket s. */
static pid_t spawn(const char *self, char *const argv[], char **env, int s)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	pid_t pid = -1;
	if (posix_spawn_file_actions_init(&fa) != 0)
		return -1;
	if (posix_spawnattr_init(&at) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		return -1;
	}
	/* exec.Cmd: Stdin, Stdout and Stderr nil are /dev/null, read-only
	 * and write-only; ExtraFiles[0] is fd 3; Setpgid. */
	if (posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0) == 0 &&
	    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0) == 0 &&
	    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0) == 0 &&
	    posix_spawn_file_actions_adddup2(&fa, s, 3) == 0 && posix_spawnattr_setpgroup(&at, 0) == 0 &&
	    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP) == 0 && posix_spawn(&pid, self, &fa, &at, argv, env) != 0)
		pid = -1;
	posix_spawnattr_destroy(&at);
	posix_spawn_file_actions_destroy(&fa);
	return pid;
}

/* adjustoom is shim.AdjustOOMScore(pid): containerd's score plus one,
 * within [-1000, 1000]. */
static int adjustoom(pid_t pid)
{
	char path[64], buf[32];
	snprintf(path, sizeof(path), "/proc/%d/oom_score_adj", (int)getppid());
	ssize_t n = shim_readsmall(path, buf, sizeof(buf));
	if (n <= 0)
		return 0;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	char *end;
	errno = 0;
	long v = strtol(buf, &end, 10);
	if (errno || end == buf || *end || v < -1000 || v > 1000)
		return 0;
	v = v + 1 > 1000 ? 1000 : v + 1;
	snprintf(path, sizeof(path), "/proc/%d/oom_score_adj", (int)pid);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	int len = snprintf(buf, sizeof(buf), "%ld", v);
	int ok = write(fd, buf, (size_t)len) == len;
	return close(fd) == 0 && ok;
}

/* selfpath is os.Executable(): /proc/self/exe's target, which must still
 * name the running file. */
static int selfpath(char *out)
{
	struct stat a, b;
	ssize_t n = readlink("/proc/self/exe", out, PATH_MAX - 1);
	if (n <= 0 || n >= PATH_MAX - 1)
		return 0;
	out[n] = '\0';
	if (out[0] != '/' || strstr(out, " (deleted)"))
		return 0;
	return stat("/proc/self/exe", &a) == 0 && stat(out, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

static void out(int fd, const char *s)
{
	for (size_t n = strlen(s), off = 0; off < n;) {
		ssize_t w = write(fd, s + off, n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (fd == 1) {
				/* Go: the server runs, start fails. */
				out(2, "io.containerd.runcage.v2: write the shim address: ");
				out(2, strerror(errno ? errno : EIO));
			}
			_exit(1);
		}
		off += (size_t)w;
	}
}

/* answer prints the address, as shim.Run does, and exits. */
static void answer(char **envp, const char *address, const char *what)
{
	const char *v;
	out(1, address);
	if ((v = shim_envget(envp, "RUNCAGE_SHIM_FASTPATH_TRACE")) && shim_streq(v, "1")) {
		out(2, "runcage shim: start answered before Go started: ");
		out(2, what);
		out(2, "\n");
	}
	_exit(0);
}

__attribute__((constructor)) static void shim_start_fastpath(int argc, char **argv, char **envp)
{
	struct shimflags f;
	const char *v;
	char self[PATH_MAX], address[128], hashin[2048];
	const unsigned char *g;
	size_t gn, cfglen;
	unsigned char sum[32];

	if (argc < 2 || !argv || !envp)
		return;
	if ((v = shim_envget(envp, "RUNCAGE_SHIM_NO_FASTPATH")) && shim_streq(v, "1"))
		return;
	if (!shim_parse(argc, argv, &f) || !shim_streq(f.verb, "start") || f.debug || f.socket || f.bundle)
		return;
	if (!f.ns || !shim_validident(f.ns) || !f.id || !shim_validident(f.id) || !f.address || !cleanabs(f.address))
		return;
	if (!selfpath(self) || !realdirs())
		return;
	unsigned char *cfg = readconfig(&cfglen);
	if (!cfg)
		return;
	if (!shim_grouping(cfg, cfglen, &g, &gn)) {
		free(cfg);
		return;
	}
	/* shim.SocketAddress: sha256 of filepath.Join(address, ns, grouping). */
	int hn = g ? snprintf(hashin, sizeof(hashin), "%s/%s/%.*s", f.address, f.ns, (int)gn, (const char *)g)
		   : snprintf(hashin, sizeof(hashin), "%s/%s/%s", f.address, f.ns, f.id);
	free(cfg);
	if (hn <= 0 || (size_t)hn >= sizeof(hashin))
		return;
	shim_sha256((const unsigned char *)hashin, (size_t)hn, sum);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int pn = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/", SOCKET_DIR);
	for (int i = 0; i < 32; i++)
		pn += snprintf(sa.sun_path + pn, sizeof(sa.sun_path) - (size_t)pn, "%02x", sum[i]);
	snprintf(address, sizeof(address), "unix://%s", sa.sun_path);

	/* Standard input: read only now that all else is decided. */
	struct input in;
	if (!readinput(&in) || !plaininput(&in)) {
		handback(&in);
		free(in.buf);
		return;
	}

	int s = -1;
	switch (listensocket(&sa, &s)) {
	case SOCK_LIVE:
		/* The group's shim serves this task too. */
		if (!writeaddress(address))
			break;
		answer(envp, address, "group's server");
		break;
	case SOCK_NEW: {
		char *args[] = {self, "-namespace", (char *)f.ns, "-id", (char *)f.id, "-address", (char *)f.address, NULL};
		char **env = NULL;
		pid_t pid = -1;
		if (writeaddress(address) && (env = serverenv(envp)) != NULL && (pid = spawn(self, args, env, s)) > 0 &&
		    adjustoom(pid)) {
			close(s);
			answer(envp, address, "new server");
		}
		if (pid > 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
		}
		free(env);
		close(s);
		unlink(sa.sun_path);
		break;
	}
	}
	handback(&in);
	free(in.buf);
}
