/*
 * runcage-landlock: runcage's Landlock helper. runcage binds it read-only
 * into a container (at /dev/.runcage-landlock) whose profile has Landlock
 * rules and makes it the container's process:
 *
 *   runcage-landlock [-R] -a ABI [-f MASK PATH]... [-x MASK FILE]...
 *                    [-n MASK] [-b PORT]...
 *                    [-c PORT]... [-s MASK] [-S ARCH NR RET]...
 *                    -- PROGRAM [ARG]...
 *
 * It restricts itself with the rules (Landlock needs no privilege once
 * no_new_privs is set, which runc has done) and then execs PROGRAM, looked
 * up in the PATH of its environment (the container's process.env) as runc
 * looks up process.args[0]. It runs inside the container, under the
 * container's seccomp filter, before the workload: it uses nothing of libc
 * beyond thin system-call wrappers, allocates nothing, and its only output
 * is a message on stderr when it fails.
 *
 * The arguments are written by runcage (profiles/landlock.HelperArgs), not
 * by the bundle; they are still parsed strictly, and any error ends the
 * process before the workload starts (exit 126; 127 when PROGRAM is not
 * found). Rules are handled per ABI:
 *   - the file rights handled are all those the kernel's ABI knows, so
 *     every right a rule does not grant is denied; rule masks are cut to
 *     them. A PATH that does not exist in the container is skipped.
 *   - -n restricts TCP bind/connect from ABI 4, -s the scopes from ABI 6.
 *   - with -R, a kernel whose ABI is below -a is an error; without it, an
 *     older kernel (or one without Landlock) gets what it can enforce.
 *
 * Each -S names a system call (its AUDIT_ARCH_* value and number) that the
 * container's seccomp filter allows only because this helper needs it, and
 * the SECCOMP_RET_* value the profile's own filter returns for it. Before
 * it execs PROGRAM, on every path, the helper loads a filter of those
 * rules (everything else allowed), so that PROGRAM runs under the
 * profile's filter exactly: the kernel applies every filter loaded and the
 * strictest result wins.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef __NR_landlock_create_ruleset
#define __NR_landlock_create_ruleset 444
#define __NR_landlock_add_rule 445
#define __NR_landlock_restrict_self 446
#endif

#define CREATE_RULESET_VERSION (1U << 0)
#define RULE_PATH_BENEATH 1
#define RULE_NET_PORT 2
#define RESTRICT_SELF_LOG_NEW_EXEC_ON (1U << 1)

/* The file rights that may be granted on a file that is not a directory. */
#define FS_FILE_RIGHTS ((1ULL << 0) | (1ULL << 1) | (1ULL << 2) | (1ULL << 14) | (1ULL << 15))

struct ruleset_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net;
	uint64_t scoped;
};

struct path_beneath_attr {
	uint64_t allowed_access;
	int32_t parent_fd;
} __attribute__((packed));

struct net_port_attr {
	uint64_t allowed_access;
	uint64_t port;
};

extern char **environ;

/* The -S rules: at most MAX_SYSCALL_RULES, five BPF instructions each and
 * one to allow the rest, below the kernel's 4096. */
#define MAX_SYSCALL_RULES 512
static struct sock_filter redeny[MAX_SYSCALL_RULES * 5 + 1];
static unsigned short redeny_len;

static void say(const char *s) { (void)!write(2, s, strlen(s)); }

static void say_errno(int err) {
	const char *s = strerror(err);
	say(s);
}

static void die(int code, const char *what, const char *arg, int err) {
	say("runcage-landlock: ");
	say(what);
	if (arg) {
		say(" ");
		say(arg);
	}
	if (err) {
		say(": ");
		say_errno(err);
	}
	say("\n");
	_exit(code);
}

/* num parses a decimal number of at most max, or dies. */
static uint64_t num(const char *s, uint64_t max) {
	uint64_t v = 0;
	if (!s || !*s)
		die(126, "bad number", s ? s : "(missing)", 0);
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (max - (uint64_t)(*s - '0')) / 10)
			die(126, "bad number", s, 0);
		v = v * 10 + (uint64_t)(*s - '0');
	}
	return v;
}

/* fs_rights returns the file rights an ABI knows. */
static uint64_t fs_rights(int abi) {
	if (abi <= 0)
		return 0;
	if (abi == 1)
		return (1ULL << 13) - 1;
	if (abi == 2)
		return (1ULL << 14) - 1;
	if (abi <= 4)
		return (1ULL << 15) - 1;
	return (1ULL << 16) - 1;
}

/* open_nofollow opens the absolute, clean path (runcage checked both) with
 * O_PATH one component at a time, following no symlink: a rule names the
 * file it grants, and a symlink the image planted cannot turn a rule for
 * /etc/app into one for /. A symlink or missing file on the way gives -1
 * (nothing to grant), and so does a directory on the way that the process
 * may not search; a symlink as the last component gives the symlink, on
 * which a rule grants nothing. Other errors end the helper. */
static int open_nofollow(const char *path) {
	char comp[256];
	int dir = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0)
		die(126, "open /", NULL, errno);
	const char *p = path;
	while (*p == '/')
		p++;
	while (*p) {
		const char *end = strchrnul(p, '/');
		size_t n = (size_t)(end - p);
		if (n >= sizeof(comp))
			die(126, "path component too long in", path, 0);
		memcpy(comp, p, n);
		comp[n] = 0;
		int flags = O_PATH | O_NOFOLLOW | O_CLOEXEC | (*end ? O_DIRECTORY : 0);
		int fd = openat(dir, comp, flags);
		int err = errno;
		close(dir);
		if (fd < 0) {
			/* EACCES: a directory the process's user cannot search
			 * (a 0700 data directory of the user the workload
			 * switches to). Skipping a rule only denies more. */
			if (err == ENOENT || err == ENOTDIR || err == ELOOP || err == EACCES)
				return -1;
			die(126, "open", path, err);
		}
		dir = fd;
		p = end;
		while (*p == '/')
			p++;
	}
	return dir;
}

/* add_path adds a rule granting mask on path; with fileonly, only if path
 * is a regular file (-x: a rule runcage derives from the bundle, such as
 * an engine's init, must not cover a directory tree). */
static void add_path(int rs, uint64_t mask, const char *path, int fileonly) {
	int fd = open_nofollow(path);
	if (fd < 0)
		return; /* not in this container: nothing to grant */
	if (fileonly) {
		struct stat st;
		if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
			close(fd);
			return; /* not a regular file: nothing to grant */
		}
	}
	struct path_beneath_attr pb = {.allowed_access = mask, .parent_fd = fd};
	if (mask && syscall(__NR_landlock_add_rule, rs, RULE_PATH_BENEATH, &pb, 0) != 0) {
		/* Directory rights on a file: keep its file rights. */
		pb.allowed_access = mask & FS_FILE_RIGHTS;
		if (errno != EINVAL || pb.allowed_access == mask ||
		    (pb.allowed_access && syscall(__NR_landlock_add_rule, rs, RULE_PATH_BENEATH, &pb, 0) != 0))
			die(126, "add rule for", path, errno);
	}
	close(fd);
}

static void add_port(int rs, uint64_t access, uint64_t port) {
	struct net_port_attr np = {.allowed_access = access, .port = port};
	if (syscall(__NR_landlock_add_rule, rs, RULE_NET_PORT, &np, 0) != 0)
		die(126, "add port rule", NULL, errno);
}

/* add_syscall_rule appends "return ret for system call nr of arch". */
static void add_syscall_rule(uint32_t arch, uint32_t nr, uint32_t ret) {
	struct sock_filter r[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, arch, 0, 3),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, ret),
	};
	if (redeny_len + 5 > MAX_SYSCALL_RULES * 5)
		die(126, "too many -S rules", NULL, 0);
	memcpy(redeny + redeny_len, r, sizeof(r));
	redeny_len += 5;
}

/* lockdown loads the -S rules, if any: after it, the helper only execs,
 * or reports and exits. */
static void lockdown(void) {
	if (!redeny_len)
		return;
	redeny[redeny_len] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	struct sock_fprog prog = {.len = (unsigned short)(redeny_len + 1), .filter = redeny};
	if (syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0)
		die(126, "load the profile's seccomp rules", NULL, errno);
}

/* run execs prog as runc would: a name with a slash as it is, otherwise
 * each absolute directory of PATH in turn (Go's exec.LookPath, which runc
 * uses, refuses relative results). It returns only on failure, with the
 * exit code. */
static int run(char **argv) {
	lockdown();
	const char *prog = argv[0];
	if (!*prog)
		die(127, "empty program name", NULL, 0);
	if (strchr(prog, '/')) {
		execve(prog, argv, environ);
		die(errno == ENOENT ? 127 : 126, "exec", prog, errno);
	}
	const char *p = NULL;
	for (char **e = environ; e && *e; e++)
		if (strncmp(*e, "PATH=", 5) == 0)
			p = *e + 5; /* the last PATH wins, as with getenv after clearenv */
	int err = ENOENT;
	size_t plen = strlen(prog);
	char buf[4096];
	while (p && *p) {
		const char *end = strchrnul(p, ':');
		size_t dlen = (size_t)(end - p);
		if (dlen > 0 && p[0] == '/' && dlen + 1 + plen < sizeof(buf)) {
			memcpy(buf, p, dlen);
			buf[dlen] = '/';
			memcpy(buf + dlen + 1, prog, plen + 1);
			execve(buf, argv, environ);
			if (errno != ENOENT && errno != ENOTDIR)
				err = errno; /* remember EACCES and the like, as execvp */
		}
		p = *end ? end + 1 : end;
	}
	die(err == ENOENT ? 127 : 126, "exec", prog, err == ENOENT ? 0 : err);
	return 127;
}

int main(int argc, char **argv) {
	int required = 0, need = 0, i;
	uint64_t net = 0, scopes = 0;
	/* First pass: flags other than rules, and the end of the rules. */
	for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-R"))
			required = 1;
		else if (!strcmp(a, "-a") && i + 1 < argc)
			need = (int)num(argv[++i], 9);
		else if (!strcmp(a, "-n") && i + 1 < argc)
			net = num(argv[++i], 3);
		else if (!strcmp(a, "-s") && i + 1 < argc)
			scopes = num(argv[++i], 3);
		else if ((!strcmp(a, "-b") || !strcmp(a, "-c")) && i + 1 < argc)
			num(argv[++i], 65535);
		else if ((!strcmp(a, "-f") || !strcmp(a, "-x")) && i + 2 < argc) {
			num(argv[++i], UINT64_MAX);
			i++;
		} else if (!strcmp(a, "-S") && i + 3 < argc) {
			uint32_t arch = (uint32_t)num(argv[i + 1], UINT32_MAX);
			uint32_t nr = (uint32_t)num(argv[i + 2], UINT32_MAX);
			add_syscall_rule(arch, nr, (uint32_t)num(argv[i + 3], UINT32_MAX));
			i += 3;
		} else
			die(126, "bad argument", a, 0);
	}
	if (i >= argc - 1)
		die(126, "no program after --", NULL, 0);
	int end = i;

	long abi = syscall(__NR_landlock_create_ruleset, NULL, 0, CREATE_RULESET_VERSION);
	if (abi < 0) {
		if (required)
			die(126, "Landlock is required and this kernel does not offer it", NULL, errno);
		return run(argv + end + 1);
	}
	if (required && abi < need) {
		char n[] = "ABI 0, the profile needs 0";
		n[4] = (char)('0' + abi % 10);
		n[25] = (char)('0' + need % 10);
		die(126, "Landlock is required and this kernel offers", n, 0);
	}

	int has_fs = 0;
	for (i = 1; i < end; i++)
		if (!strcmp(argv[i], "-f") || !strcmp(argv[i], "-x"))
			has_fs = 1;
	struct ruleset_attr attr = {0};
	size_t size = sizeof(uint64_t);
	if (has_fs)
		attr.handled_access_fs = fs_rights((int)abi);
	if (abi >= 4) {
		attr.handled_access_net = net;
		size = 2 * sizeof(uint64_t);
	}
	if (abi >= 6) {
		attr.scoped = scopes;
		size = sizeof(attr);
	}
	if (!attr.handled_access_fs && !attr.handled_access_net && !attr.scoped)
		return run(argv + end + 1); /* nothing this kernel can enforce */
	int rs = (int)syscall(__NR_landlock_create_ruleset, &attr, size, 0);
	if (rs < 0)
		die(126, "create ruleset", NULL, errno);
	for (i = 1; i < end; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-f") || !strcmp(a, "-x")) {
			uint64_t mask = num(argv[i + 1], UINT64_MAX) & attr.handled_access_fs;
			add_path(rs, mask, argv[i + 2], a[1] == 'x');
			i += 2;
		} else if (!strcmp(a, "-b") || !strcmp(a, "-c")) {
			uint64_t access = a[1] == 'b' ? 1 : 2;
			if (attr.handled_access_net & access)
				add_port(rs, access, num(argv[i + 1], 65535));
			i++;
		} else if (!strcmp(a, "-a") || !strcmp(a, "-n") || !strcmp(a, "-s"))
			i++;
		else if (!strcmp(a, "-S"))
			i += 3;
	}
	unsigned flags = abi >= 7 ? RESTRICT_SELF_LOG_NEW_EXEC_ON : 0;
	if (syscall(__NR_landlock_restrict_self, rs, flags) != 0 &&
	    (flags == 0 || syscall(__NR_landlock_restrict_self, rs, 0) != 0))
		die(126, "restrict self", NULL, errno);
	close(rs);
	return run(argv + end + 1);
}
