//go:build linux && cgo

/*
 * The fast path for runc's pass-through verbs.
 *
 * runcage forwards start, state, kill, ps, events, pause, resume, list,
 * features and spec to the delegate untouched: the Go front (runtime.Main)
 * scans argv, loads the policy for its `runtime` key, finds the delegate and
 * execs it. Starting the Go runtime for that costs about 10 ms, paid several
 * times per container by containerd, CRI-O and Podman. This constructor
 * runs before the Go runtime starts (as runc's nsexec does) and, when it is
 * certain of the outcome, execs the delegate itself with exactly the argv
 * and environment the Go front would pass.
 *
 * The rule is: fail toward Go. Every function here returns "not certain"
 * (NO) on anything unusual, and fastpath() then simply returns, leaving the
 * whole invocation to the Go front, which is the reference behaviour. In
 * particular the C path never decides to refuse anything and never selects
 * a delegate the Go front would not:
 *
 *   - argv: only the global flags --debug, --systemd-cgroup (bool, with an
 *     optional strconv.ParseBool value), --log, --log-format, --root,
 *     --rootless, --criu (value, "=V" or next argument), in one or two dash
 *     spellings, and runcage's --runcage-config/--runcage-profile (removed
 *     from the delegate's argv, as runtime.Scan does). Then a verb from the
 *     list, and after it only that verb's known flags, each at most once.
 *     -h/--help/-v/--version anywhere, "--", an agent argv0, anything else
 *     goes to Go.
 *   - policy: the file Go would load (--runcage-config, else RUNCAGE_CONFIG,
 *     else /etc/runcage/config.toml) must pass spec.CheckTrustedOwned's rules
 *     with no symlink on the way (a symlink goes to Go, which resolves it),
 *     and its lines before the first table must be blank lines, comments,
 *     or `key = "basic string"` / `key = true|false` lines for the known
 *     top-level keys, with no escapes, no non-ASCII, no CR. What follows the
 *     first table header is not read: it cannot change the top-level
 *     `runtime` key, and the pass-through verbs use nothing else. This is
 *     the one deliberate difference: a policy Go refuses for a fault inside
 *     a table makes Go refuse every verb, while this path still forwards
 *     the pass-through ones (to the delegate that policy names).
 *   - delegate: runtime.findDelegate's search, replicated: the policy's
 *     runtime, else runc beside /proc/self/exe, else runc in PATH (absolute
 *     clean PATH entries only), never runcage itself.
 *   - process state the Go runtime would change before its execve: the
 *     environment must have no duplicate keys or empty entries (Go drops
 *     them), fds 0-2 must be open (Go opens /dev/null on them), no signal
 *     may be blocked, and a signal the Go runtime would catch (and the
 *     execve so reset) is reset to SIG_DFL here too. The --log file is
 *     opened (created) as the Go front's logger does.
 *
 * delete is not a pass-through (runcage cleans up after it), but its
 * delegate need not wait for the Go runtime: for a delete it is certain of
 * by the same rules (argv with exactly one valid container id, policy,
 * delegate, process state), this path takes the container id's lock as
 * runtime.lockContainer does, without waiting, starts the delegate as a
 * child (posix_spawn, with the signal state the Go front's child would
 * get) and returns; the Go front (runtime.MainAhead) adopts the lock,
 * waits for the child and cleans up. A busy lock, a missing state
 * directory or a failed spawn leave everything to Go.
 *
 * create, run and delete are first offered to the warm front (warm.c,
 * runtime/warm.go), when the same rules make this path certain of the
 * policy's state directory and the delegate; the warm front scans the rest
 * of argv itself. RUNCAGE_NO_WARM=<non-empty> skips it.
 *
 * RUNCAGE_NO_FASTPATH=<non-empty> turns this off; it can only hand more
 * work to Go, which checks everything anyway. RUNCAGE_FASTPATH_TRACE=<non-
 * empty> writes one line to stderr: "runcage: fastpath: exec PATH",
 * "runcage: fastpath: spawn PATH" (delete), "runcage: fastpath: warm: exec
 * PATH" (or spawn, or exit CODE) or "runcage: fastpath: go: REASON".
 *
 * Nothing here allocates: argv and paths live in fixed buffers, and a
 * command line or file that does not fit goes to Go.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "warm.h"

/* The delegate the constructor started ahead of the Go front (delete
 * only; see spawnahead), for cmd/runcage/fastpath.go to hand to
 * runtime.MainAhead: its pid (0: none), the fd of the container id's lock
 * and the delegate's path. */
int runcage_ahead_pid;
int runcage_ahead_lockfd = -1;
char runcage_ahead_delegate[PATH_MAX];

#if defined(__GLIBC__)

/* Keep in step with profiles/policy and runtime/spec. */
#define POLICY_DEFAULT_PATH "/etc/runcage/config.toml" /* policy.DefaultPath */
#define POLICY_ENV "RUNCAGE_CONFIG"                    /* policy.EnvConfig */
#define STATE_DIR_DEFAULT "/run/runcage"               /* policy.DefaultStateDir */
#define LOCK_FILE "containers.lock"                    /* runtime.lockContainer */
#define MAX_FILE_SIZE (4 << 20)                        /* spec.MaxFileSize */

#define MAX_ARGS 256      /* longer command lines go to Go */
#define MAX_ENV 512       /* larger environments go to Go */
#define HEAD_MAX 65536    /* policy bytes read before the first table */
#define RUNTIME_MAX 4096  /* longest `runtime` value */

enum { NO = 0, YES = 1 };

static int trace;

/* envv is the environment as the kernel passed it, which is what the Go
 * runtime reads too (getenv would read environ, which a preloaded library
 * may have changed). */
static char **envv;

/* envget returns the value of the first name=... entry of envv, or NULL,
 * as Go's os.Getenv does. */
static const char *envget(const char *name)
{
	size_t n = strlen(name);
	for (char **e = envv; *e; e++)
		if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
			return *e + n + 1;
	return NULL;
}

/* tracef writes "runcage: fastpath: WHAT ARG" to stderr when tracing. */
static void tracef(const char *what, const char *arg)
{
	static const char pre[] = "runcage: fastpath: ";
	if (!trace)
		return;
	(void)!write(2, pre, sizeof(pre) - 1);
	(void)!write(2, what, strlen(what));
	(void)!write(2, arg, strlen(arg));
	(void)!write(2, "\n", 1);
}

/* go logs why the Go front takes over (when tracing) and returns NO. */
static int go(const char *why)
{
	tracef("go: ", why);
	return NO;
}

void fp_go(const char *why) { go(why); }
void fp_trace(const char *what, const char *arg) { tracef(what, arg); }

static int streq(const char *a, const char *b) { return strcmp(a, b) == 0; }

/* --- argv ------------------------------------------------------------- */

enum kind { BOOL, VALUE, DURATION };

struct flag {
	const char *name, *alias; /* alias may be NULL */
	enum kind kind;
};

struct verb {
	const char *name;
	int reorder;              /* urfave reorders flags; ps does not */
	struct flag flags[2];     /* runc v1.5.2's flags of the verb */
};

/* The pass-through verbs and their flags, from runtime/args.go argvVerbs. */
static const struct verb verbs[] = {
	{"start", 1, {{0}}},
	{"state", 1, {{0}}},
	{"kill", 1, {{"all", "a", BOOL}}},
	{"ps", 0, {{"format", "f", VALUE}}},
	{"events", 1, {{"interval", NULL, DURATION}, {"stats", NULL, BOOL}}},
	{"pause", 1, {{0}}},
	{"resume", 1, {{0}}},
	{"list", 1, {{"format", "f", VALUE}, {"quiet", "q", BOOL}}},
	{"features", 1, {{0}}},
	{"spec", 1, {{"bundle", "b", VALUE}, {"rootless", NULL, BOOL}}},
};

/* The global flags runc v1.5.2 has (runtime/args.go argvGlobal), less
 * help and version, which go to Go. */
static const struct flag globals[] = {
	{"debug", NULL, BOOL},   {"systemd-cgroup", NULL, BOOL},
	{"log", NULL, VALUE},    {"log-format", NULL, VALUE},
	{"root", NULL, VALUE},   {"rootless", NULL, VALUE},
	{"criu", NULL, VALUE},
};

/* flagname strips the one or two dashes of a flag argument (s[0] == '-',
 * s[1] != 0) and returns the name, or NULL for Go's bad flag syntax
 * ("---x", "-=x"). *len is the name's length, up to any "=". */
static const char *flagname(const char *s, size_t *len)
{
	const char *n = s[1] == '-' ? s + 2 : s + 1;
	if (*n == 0 || *n == '-' || *n == '=')
		return NULL;
	*len = strcspn(n, "=");
	return n;
}

static int nameis(const char *n, size_t len, const char *want)
{
	return want != NULL && strlen(want) == len && strncmp(n, want, len) == 0;
}

/* helpish reports whether s asks for help or the version in any of Go's
 * spellings: -h, --help, -v, --version, with or without "=value". */
static int helpish(const char *s)
{
	size_t len;
	const char *n;
	if (s[0] != '-' || s[1] == 0)
		return NO;
	n = s[1] == '-' ? s + 2 : s + 1;
	len = strcspn(n, "=");
	return nameis(n, len, "h") || nameis(n, len, "help") ||
	       nameis(n, len, "v") || nameis(n, len, "version");
}

/* parsebool accepts exactly what strconv.ParseBool accepts. */
static int parsebool(const char *v)
{
	static const char *const ok[] = {"1", "t", "T", "TRUE", "true", "True",
					 "0", "f", "F", "FALSE", "false", "False"};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (streq(v, ok[i]))
			return YES;
	return NO;
}

/* simpleduration accepts "<1-9 digits><unit>", a subset of what
 * time.ParseDuration accepts. */
static int simpleduration(const char *v)
{
	size_t d = strspn(v, "0123456789");
	const char *u = v + d;
	if (d == 0 || d > 9)
		return NO;
	return streq(u, "ns") || streq(u, "us") || streq(u, "ms") ||
	       streq(u, "s") || streq(u, "m") || streq(u, "h");
}

/* The verbs whose delegate starts ahead of the Go front, which then does
 * its work beside it and after it (spawnahead): delete, whose clean-up
 * runs once the delegate has deleted the container. */
static const struct verb ahead[] = {
	{"delete", 1, {{"force", "f", BOOL}}},
};

struct scan {
	const char *out[MAX_ARGS + 2]; /* the delegate's argv; out[0] is set last */
	int n;                         /* elements in out */
	const char *config;            /* --runcage-config, or NULL */
	const char *log;               /* the last --log value, or NULL */
	const char *id;                /* an ahead verb's container id */
	int ahead;                     /* the verb is one of ahead[] */
	int warm;                      /* the verb is one of warmverbs[] */
};

/* The verbs the warm front serves (warm.c, runtime/warm.go). It scans
 * their arguments itself. */
static const char *const warmverbs[] = {"create", "run", "delete"};

/* scanverb checks the arguments after verb v (argv[i..]) as runtime.Scan's
 * scanVerb would read them, accepting only what cannot fail there. */
static int scanverb(const struct verb *v, int argc, char **argv, int i)
{
	int seen[2] = {0, 0};
	for (; i < argc; i++) {
		const char *s = argv[i], *n, *eq;
		const struct flag *f = NULL;
		size_t len;
		int k;
		if (s[0] != '-' || s[1] == 0) {
			if (!v->reorder)
				return YES; /* ps: the rest is ps's arguments */
			continue;           /* a positional argument */
		}
		if (streq(s, "--"))
			return go("\"--\" after the verb");
		if ((n = flagname(s, &len)) == NULL)
			return go("bad verb flag syntax");
		for (k = 0; k < 2 && v->flags[k].name; k++)
			if (nameis(n, len, v->flags[k].name) || nameis(n, len, v->flags[k].alias))
				break;
		if (k == 2 || !v->flags[k].name)
			return go("unknown verb flag");
		f = &v->flags[k];
		if (seen[k]++)
			return go("verb flag given twice");
		eq = n[len] == '=' ? n + len + 1 : NULL;
		if (f->kind == BOOL) {
			if (eq)
				return go("bool verb flag with a value");
			continue;
		}
		if (!eq) {
			/* The value must be the next argument and look like
			 * none of the flags urfave would move ahead of it. */
			if (i + 1 >= argc || argv[i + 1][0] == '-')
				return go("verb flag value missing or odd");
			eq = argv[++i];
		}
		if (f->kind == DURATION && !simpleduration(eq))
			return go("unusual duration");
	}
	return YES;
}

/* validid is runtime.validID, less "." and "..", which take no lock. */
static int validid(const char *id)
{
	if (id[0] == 0 || streq(id, ".") || streq(id, ".."))
		return NO;
	for (const char *c = id; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || *c == '_' || *c == '+' || *c == '-' || *c == '.'))
			return NO;
	return YES;
}

/* aheadid sets sc->id to the one positional argument after an ahead verb
 * (whose flags, checked by scanverb, take no value), the container id
 * runtime.Scan reads; more or fewer, or an id runc refuses, go to Go. */
static int aheadid(struct scan *sc, int argc, char **argv, int i)
{
	sc->id = NULL;
	for (; i < argc; i++) {
		if (argv[i][0] == '-' && argv[i][1] != 0)
			continue;
		if (sc->id)
			return go("more than one container id");
		sc->id = argv[i];
	}
	if (!sc->id || !validid(sc->id))
		return go("no valid container id");
	return YES;
}

/* scanargs fills sc from argv as runtime.Scan would, for a pass-through
 * or ahead verb only. */
static int scanargs(struct scan *sc, int argc, char **argv)
{
	const char *profile = NULL;
	const struct verb *v = NULL;
	int i;

	if (argc < 2 || argc > MAX_ARGS)
		return go("no verb, or too many arguments");
	if (strncmp(argv[0], "runcage[", 8) == 0)
		return go("agent argv"); /* runtime.isAgent */
	for (i = 1; i < argc; i++)
		if (helpish(argv[i]))
			return go("help or version");

	sc->n = 1;
	for (i = 1; i < argc; i++) {
		const char *s = argv[i], *n, *eq;
		const struct flag *f = NULL;
		size_t len;
		if (s[0] != '-' || s[1] == 0)
			break; /* the verb */
		if (streq(s, "--"))
			return go("\"--\" before the verb");
		if ((n = flagname(s, &len)) == NULL)
			return go("bad flag syntax");
		eq = n[len] == '=' ? n + len + 1 : NULL;
		if (nameis(n, len, "runcage-config") || nameis(n, len, "runcage-profile")) {
			const char **dst = n[8] == 'c' ? &sc->config : &profile;
			if (!eq) {
				if (i + 1 >= argc || argv[i + 1][0] == '-')
					return go("runcage flag value missing");
				eq = argv[++i];
			}
			if (*eq == 0 || *dst)
				return go("runcage flag empty or repeated");
			*dst = eq; /* stripped from the delegate's argv */
			continue;
		}
		for (size_t k = 0; k < sizeof(globals) / sizeof(globals[0]); k++)
			if (nameis(n, len, globals[k].name))
				f = &globals[k];
		if (!f)
			return go("unknown global flag");
		sc->out[sc->n++] = s;
		if (f->kind == BOOL) {
			if (eq && !parsebool(eq))
				return go("bad bool value");
			continue;
		}
		if (!eq) {
			if (i + 1 >= argc)
				return go("global flag value missing");
			eq = argv[++i]; /* whatever it looks like, as Go's flag does */
			sc->out[sc->n++] = eq;
		}
		if (nameis(n, len, "log"))
			sc->log = eq;
	}
	if (i >= argc || argv[i][0] == 0)
		return go("no verb");
	for (size_t k = 0; k < sizeof(verbs) / sizeof(verbs[0]); k++)
		if (streq(argv[i], verbs[k].name))
			v = &verbs[k];
	for (size_t k = 0; k < sizeof(ahead) / sizeof(ahead[0]); k++)
		if (streq(argv[i], ahead[k].name))
			v = &ahead[k], sc->ahead = YES;
	for (size_t k = 0; k < sizeof(warmverbs) / sizeof(warmverbs[0]); k++)
		if (streq(argv[i], warmverbs[k]))
			sc->warm = YES;
	if (!v && !sc->warm)
		return go("not a pass-through verb");
	if (v && (!scanverb(v, argc, argv, i + 1) || (sc->ahead && !aheadid(sc, argc, argv, i + 1)))) {
		if (!sc->warm)
			return NO;
		sc->ahead = NO; /* the warm front may still take it */
	}
	for (; i < argc; i++)
		sc->out[sc->n++] = argv[i];
	sc->out[sc->n] = NULL;
	return YES;
}

/* --- policy ----------------------------------------------------------- */

/* cleanabs reports whether p is absolute and filepath.Clean would leave it
 * as it is. */
static int cleanabs(const char *p)
{
	size_t n = strlen(p);
	if (p[0] != '/' || n >= PATH_MAX)
		return NO;
	if (n == 1)
		return YES;
	if (p[n - 1] == '/' || strstr(p, "//") || strstr(p, "/./") || strstr(p, "/../"))
		return NO;
	if ((n >= 2 && streq(p + n - 2, "/.")) || (n >= 3 && streq(p + n - 3, "/..")))
		return NO;
	return YES;
}

/* dirup cuts the last element off the clean absolute path p, in place:
 * filepath.Dir. */
static void dirup(char *p)
{
	char *s = strrchr(p, '/');
	if (s == p)
		p[1] = 0;
	else
		*s = 0;
}

enum trust { T_NO, T_FILE, T_ABSENT };

/* checktrust walks path and the directories above it as
 * spec.CheckTrustedOwned does (leaf first, lstat, owner root, not writable
 * by group or others unless a sticky directory), and returns T_FILE with
 * *leaf filled when path is a trusted file, T_ABSENT when policy.Load would
 * use the built-in policy (not explicit, and path or a directory above it
 * missing), and T_NO otherwise: untrusted (Go refuses), a symlink on the
 * way (Go resolves it), or any other error. */
static enum trust checktrust(const char *path, int explicit, struct stat *leaf)
{
	char p[PATH_MAX];
	int isleaf = 1, missing = 0;
	if (!cleanabs(path))
		return go("policy path not absolute and clean"), T_NO;
	strcpy(p, path);
	for (;;) {
		struct stat st;
		if (lstat(p, &st) != 0) {
			if (errno != ENOENT)
				return go("policy path lstat error"), T_NO;
			if (explicit)
				return go("explicit policy missing"), T_NO;
			if (!isleaf)
				return T_ABSENT; /* Go stops at the first error */
			missing = 1;
		} else {
			if (st.st_uid != 0)
				return go("policy path not owned by root"), T_NO;
			if (S_ISLNK(st.st_mode))
				return go("symlink in policy path"), T_NO;
			if ((st.st_mode & 022) && !(S_ISDIR(st.st_mode) && (st.st_mode & S_ISVTX)))
				return go("policy path writable by others"), T_NO;
			if (isleaf)
				*leaf = st;
		}
		if (streq(p, "/"))
			return missing ? T_ABSENT : T_FILE;
		dirup(p);
		isleaf = 0;
	}
}

static int keychar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '-';
}

/* validname is policy.ValidName. */
static int validname(const char *s, size_t n)
{
	if (n < 1 || n > 64)
		return NO;
	for (size_t i = 0; i < n; i++) {
		int alnum = (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
			    (s[i] >= '0' && s[i] <= '9');
		if (!(alnum || (i > 0 && (s[i] == '_' || s[i] == '.' || s[i] == '-'))))
			return NO;
	}
	return YES;
}

/* The top-level keys of profiles/policy.Policy this parser takes, and
 * whether each is a string (else a bool). Any other key goes to Go. */
static const struct {
	const char *name;
	int str;
} keys[] = {
	{"runtime", 1},        {"default_profile", 1}, {"state_dir", 1},
	{"profiles_dir", 1},   {"recordings_dir", 1},  {"audit_log", 1},
	{"log_denials", 0},    {"record_capabilities", 0},
};

/* parsehead reads the policy text before its first table header (buf, n
 * bytes; whole is true when that is the whole file) and copies the
 * top-level `runtime` string, "" if absent, into rt, and the `state_dir`
 * string, "" if absent, into sd (PATH_MAX bytes). */
static int parsehead(const char *buf, size_t n, int whole, char *rt, char *sd)
{
	unsigned seen = 0;
	const char *p = buf, *end = buf + n;
	rt[0] = 0;
	sd[0] = 0;
	while (p < end) {
		const char *eol = memchr(p, '\n', end - p), *k, *v;
		size_t kn, vn, ki;
		if (!eol) {
			if (!whole)
				return go("policy head too long");
			eol = end;
		}
		for (const char *c = p; c < eol; c++) /* printable ASCII and tab only */
			if ((*c < 0x20 && *c != '\t') || (unsigned char)*c >= 0x7f)
				return go("policy: control or non-ASCII character");
		p += strspn(p, " \t");
		if (p == eol || *p == '#')
			goto next; /* blank line or comment */
		if (*p == '[')
			return YES; /* the first table: the top level ends here */
		for (k = p; p < eol && keychar(*p); p++)
			;
		kn = p - k;
		p += strspn(p, " \t");
		if (kn == 0 || p >= eol || *p != '=')
			return go("policy: not a simple key = value line");
		p++;
		p += strspn(p, " \t");
		for (ki = 0; ki < sizeof(keys) / sizeof(keys[0]); ki++)
			if (nameis(k, kn, keys[ki].name))
				break;
		if (ki == sizeof(keys) / sizeof(keys[0]))
			return go("policy: key this parser does not take");
		if (seen & (1u << ki))
			return go("policy: key given twice");
		seen |= 1u << ki;
		if (keys[ki].str) {
			if (p >= eol || *p != '"' || (p + 2 < eol && p[1] == '"' && p[2] == '"'))
				return go("policy: not a basic string");
			v = ++p;
			while (p < eol && *p != '"' && *p != '\\' && *p != '\t')
				p++;
			if (p >= eol || *p != '"')
				return go("policy: escape, tab or unterminated string");
			vn = p - v;
			p++;
			if (nameis(k, kn, "default_profile") && !validname(v, vn))
				return go("policy: bad default_profile");
			if (nameis(k, kn, "runtime")) {
				if (vn >= RUNTIME_MAX)
					return go("policy: runtime too long");
				memcpy(rt, v, vn);
				rt[vn] = 0;
			}
			if (nameis(k, kn, "state_dir")) {
				if (vn >= PATH_MAX)
					return go("policy: state_dir too long");
				memcpy(sd, v, vn);
				sd[vn] = 0;
			}
		} else {
			if ((size_t)(eol - p) >= 4 && strncmp(p, "true", 4) == 0)
				p += 4;
			else if ((size_t)(eol - p) >= 5 && strncmp(p, "false", 5) == 0)
				p += 5;
			else
				return go("policy: not true or false");
		}
		p += strspn(p, " \t");
		if (p < eol && *p != '#')
			return go("policy: text after the value");
	next:
		p = eol + 1;
	}
	if (!whole)
		return go("policy head too long");
	return YES;
}

/* policyruntime finds the policy file as runtime.loadPolicy does and puts
 * its `runtime` value ("" for none, or for the built-in policy) into rt,
 * and its `state_dir` value ("" likewise) into sd. */
static int policyruntime(const char *flag, char *rt, char *sd)
{
	static char buf[HEAD_MAX + 1]; /* +1 for a terminating NUL */
	const char *path = POLICY_DEFAULT_PATH, *env = envget(POLICY_ENV);
	int explicit = 0, fd;
	struct stat leaf, st;
	size_t n = 0;

	if (env && *env)
		path = env, explicit = 1;
	if (flag)
		path = flag, explicit = 1;
	rt[0] = 0;
	sd[0] = 0;
	switch (checktrust(path, explicit, &leaf)) {
	case T_NO:
		return NO;
	case T_ABSENT:
		return YES;
	case T_FILE:
		break;
	}
	if (!S_ISREG(leaf.st_mode) || leaf.st_size > MAX_FILE_SIZE)
		return go("policy not a regular file of at most 4 MiB");
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return go("policy open error");
	/* The file opened must be the one checked. */
	if (fstat(fd, &st) != 0 || st.st_dev != leaf.st_dev || st.st_ino != leaf.st_ino) {
		close(fd);
		return go("policy changed while checked");
	}
	while (n < HEAD_MAX) {
		ssize_t r = read(fd, buf + n, HEAD_MAX - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			close(fd);
			return go("policy read error");
		}
		if (r == 0)
			break;
		n += r;
	}
	close(fd);
	buf[n] = 0; /* strspn and friends stop here at the latest */
	return parsehead(buf, n, n < HEAD_MAX && (off_t)n == st.st_size, rt, sd);
}

/* --- delegate --------------------------------------------------------- */

/* samefile is runtime.sameFile. */
static int samefile(const char *a, const char *b)
{
	struct stat sa, sb;
	return a[0] && b[0] && stat(a, &sa) == 0 && stat(b, &sb) == 0 &&
	       sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* join writes filepath.Join(dir, name) for a clean absolute dir and a
 * name without '/' into out (PATH_MAX bytes). */
static int join(char *out, const char *dir, const char *name)
{
	size_t d = strlen(dir), n = strlen(name);
	if (d == 1)
		d = 0; /* "/" */
	if (d + 1 + n >= PATH_MAX)
		return NO;
	memcpy(out, dir, d);
	out[d] = '/';
	memcpy(out + d + 1, name, n + 1);
	return YES;
}

enum found { F_FOUND, F_NOTFOUND, F_UNSURE };

/* lookpath is exec.LookPath for a name without '/', for PATHs whose
 * entries before the match are absolute and clean; anything else is
 * F_UNSURE. */
static enum found lookpath(const char *name, char *out)
{
	const char *path = envget("PATH"), *p;
	char dir[PATH_MAX];
	if (streq(name, ".") || streq(name, ".."))
		return F_UNSURE;
	if (!path || !*path)
		return F_NOTFOUND;
	for (p = path;; p++) {
		size_t n = strcspn(p, ":");
		struct stat st;
		if (n >= PATH_MAX)
			return F_UNSURE;
		memcpy(dir, p, n);
		dir[n] = 0;
		if (!cleanabs(dir) || !join(out, dir, name))
			return F_UNSURE; /* "" is ".", and Go refuses relative matches */
		if (stat(out, &st) == 0 && !S_ISDIR(st.st_mode)) {
			if (faccessat(AT_FDCWD, out, X_OK, AT_EACCESS) == 0)
				return F_FOUND;
			if (errno == ENOSYS || errno == EPERM)
				return F_UNSURE; /* Go then checks the mode bits */
		}
		p += n;
		if (*p == 0)
			return F_NOTFOUND;
	}
}

/* finddelegate is runtime.findDelegate: the policy's runtime, else runc
 * beside this binary, else runc in PATH; never this binary. */
static int finddelegate(const char *configured, char *out)
{
	char self[PATH_MAX], dir[PATH_MAX], beside[PATH_MAX];
	const char *cands[2];
	int nc = 0;
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self));

	if (n < 0)
		n = 0; /* os.Executable fails: no self */
	if ((size_t)n >= sizeof(self))
		return go("executable path too long");
	self[n] = 0;
	if (n > 0 && self[0] != '/')
		return go("odd executable path");
	if (n >= 10 && streq(self + n - 10, " (deleted)"))
		return go("executable deleted");
	if (configured[0]) {
		cands[nc++] = configured;
	} else {
		if (self[0]) {
			strcpy(dir, self);
			dirup(dir);
			if (!join(beside, dir, "runc"))
				return go("path too long");
			cands[nc++] = beside;
		}
		cands[nc++] = "runc";
	}
	for (int i = 0; i < nc; i++) {
		struct stat st;
		const char *c = cands[i];
		if (c[0] == '/') {
			if (strlen(c) >= PATH_MAX)
				return go("delegate path too long");
			strcpy(out, c);
		} else if (strchr(c, '/')) {
			return go("relative delegate path");
		} else {
			enum found f = lookpath(c, out);
			if (f == F_UNSURE)
				return go("PATH search not certain");
			if (f == F_NOTFOUND)
				continue;
		}
		if (stat(out, &st) != 0 || samefile(out, self))
			continue;
		return YES;
	}
	return go("no delegate");
}

/* --- process state ---------------------------------------------------- */

/* cleanenv reports whether envp is what Go's os.Environ returns for it:
 * no empty entries and no key twice (Go keeps the first and drops the
 * rest). */
static int cleanenv(char **envp)
{
	int n;
	for (n = 0; envp[n]; n++) {
		const char *e = envp[n];
		size_t k = strcspn(e, "=");
		if (n >= MAX_ENV || e[0] == 0)
			return go("environment too large or with an empty entry");
		if (e[k] != '=')
			continue; /* no key: Go keeps it as it is */
		for (int j = 0; j < n; j++)
			if (strncmp(envp[j], e, k + 1) == 0)
				return go("environment key given twice");
	}
	return YES;
}

/* gokept reports whether the Go runtime leaves signal sig's inherited
 * disposition alone (runtime.initsig, sigtab_linux_generic.go): SIGKILL,
 * SIGSTOP, the _SigDefault job-control signals, glibc's 32 and 33 and 34
 * (_SigSetStack), and SIGHUP/SIGINT when ignored. It catches every other
 * signal, so the execve resets an ignored one to SIG_DFL. */
static int gokept(int sig)
{
	switch (sig) {
	case SIGHUP: case SIGINT: case SIGKILL: case SIGSTOP: case SIGCONT:
	case SIGTSTP: case SIGTTIN: case SIGTTOU: case 32: case 33: case 34:
		return YES;
	}
	return NO;
}

/* procstate checks the state Go's start-up would change before its
 * execve: fds 0-2 (checkfds opens /dev/null on closed ones) and the signal
 * mask (Go unblocks some). It records in ign the signals Go would reset. */
static int procstate(sigset_t *ign)
{
	sigset_t mask;
	sigemptyset(ign);
	for (int fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) < 0)
			return go("standard fd closed");
	if (sigprocmask(SIG_BLOCK, NULL, &mask) != 0 || !sigisemptyset(&mask))
		return go("signals blocked");
	for (int sig = 1; sig < NSIG; sig++) {
		struct sigaction sa;
		if (gokept(sig) || sigaction(sig, NULL, &sa) != 0)
			continue;
		if (sa.sa_handler == SIG_IGN)
			sigaddset(ign, sig);
	}
	return YES;
}

static void setignored(const sigset_t *ign, void (*h)(int))
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = h;
	for (int sig = 1; sig < NSIG; sig++)
		if (sigismember(ign, sig) == 1)
			sigaction(sig, &sa, NULL);
}

void fp_setignored(const sigset_t *ign, void (*h)(int)) { setignored(ign, h); }

/* --- ahead ------------------------------------------------------------ */

/* lockid takes runtime.lockContainer's lock of container id without
 * waiting: an exclusive open-file-description lock on one byte of
 * <sd>/containers.lock at the FNV-1a 64 hash of id modulo 2^30. It returns
 * the fd holding it, or -1 (busy, or no state directory yet: Go waits or
 * makes it). */
static int lockid(const char *sd, const char *id)
{
	char path[PATH_MAX];
	uint64_t h = fnv1a64(id, strlen(id));
	struct flock lk;
	int fd;
	if (!join(path, sd, LOCK_FILE))
		return go("lock path too long"), -1;
	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
	if (fd < 0)
		return go("cannot open the lock file"), -1;
	memset(&lk, 0, sizeof(lk));
	lk.l_type = F_WRLCK;
	lk.l_whence = SEEK_SET;
	lk.l_start = (off_t)(h % (1ULL << 30));
	lk.l_len = 1;
	if (fcntl(fd, F_OFD_SETLK, &lk) != 0) {
		close(fd);
		return go("container busy"), -1;
	}
	return fd;
}

/* The signals that end the Go front while it has not caught them yet
 * (runtime.fatalSignals that a kill can send and the Go runtime lets
 * stay blocked). */
static const int fatal[] = {SIGHUP, SIGINT, SIGQUIT, SIGABRT, SIGTERM, SIGSYS};

/* spawnahead starts the delegate of an ahead verb as a child, with the
 * container id's lock held, and returns to let the Go front start beside
 * it: the front finds the child and the lock in runcage_ahead_*, does its
 * own work, waits for the child and cleans up after it (runtime.MainAhead),
 * as it would have had it started the delegate itself, only without making
 * the delegate wait for the Go runtime's start. The child gets exactly the
 * argv, environment, signal mask (empty) and dispositions the Go front's
 * child would get. The fatal signals stay blocked in runcage until the Go
 * front catches them, so that none can end it while the child runs
 * unsupervised. */
static int spawnahead(const struct scan *sc, const char *sd, const char *delegate,
		      const sigset_t *ign, char **envp)
{
	posix_spawnattr_t attr;
	sigset_t none, blk, old;
	pid_t pid;
	int fd, err;

	if (sd[0] == 0)
		sd = STATE_DIR_DEFAULT;
	if (!cleanabs(sd))
		return go("state_dir not absolute and clean");
	if ((fd = lockid(sd, sc->id)) < 0)
		return NO;
	sigemptyset(&none);
	sigemptyset(&blk);
	for (size_t i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++)
		sigaddset(&blk, fatal[i]);
	if (posix_spawnattr_init(&attr) != 0) {
		close(fd);
		return go("posix_spawnattr_init failed");
	}
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, ign);
	sigprocmask(SIG_BLOCK, &blk, &old);
	err = posix_spawn(&pid, delegate, NULL, &attr, (char *const *)sc->out, envp);
	posix_spawnattr_destroy(&attr);
	if (err != 0) {
		/* The Go front starts it again, fails the same way and says
		 * why. */
		sigprocmask(SIG_SETMASK, &old, NULL);
		close(fd);
		return go("posix_spawn failed");
	}
	runcage_ahead_pid = pid;
	runcage_ahead_lockfd = fd;
	strcpy(runcage_ahead_delegate, delegate);
	tracef("spawn ", delegate);
	return YES;
}

/* --- the constructor -------------------------------------------------- */

/* fastpath runs before main with glibc's (argc, argv, envp). It returns
 * to let the Go front run, or does not return at all. */
__attribute__((constructor)) static void fastpath(int argc, char **argv, char **envp)
{
	static struct scan sc;
	static char rt[RUNTIME_MAX], sd[PATH_MAX], delegate[PATH_MAX];
	const char *off, *tr, *nowarm;
	sigset_t ign;
	int saved = errno;

	if (argv == NULL || envp == NULL)
		return; /* not glibc's calling convention after all */
	envv = envp;
	off = envget("RUNCAGE_NO_FASTPATH");
	tr = envget("RUNCAGE_FASTPATH_TRACE");
	nowarm = envget("RUNCAGE_NO_WARM");
	trace = tr && *tr;
	if (off && *off) {
		go("RUNCAGE_NO_FASTPATH is set");
		return;
	}
	if (!scanargs(&sc, argc, argv) || !cleanenv(envp) ||
	    !policyruntime(sc.config, rt, sd) || !finddelegate(rt, delegate) || !procstate(&ign))
		goto out;
	if (sc.log && sc.log[0]) {
		/* The Go front's logger opens (creates) the --log file first,
		 * and says so on stderr when it cannot: leave that to it. */
		int fd = open(sc.log, O_CREAT | O_WRONLY | O_APPEND | O_CLOEXEC, 0644);
		if (fd < 0) {
			go("cannot open the --log file");
			goto out;
		}
		close(fd);
	}
	sc.out[0] = delegate;
	if (sc.warm) {
		const char *wsd = sd[0] ? sd : STATE_DIR_DEFAULT;
		if (!(nowarm && *nowarm) && cleanabs(wsd))
			warm(wsd, delegate, envget(POLICY_ENV), argc, argv, envp, &ign);
		/* Never a pass-through: Go, or delete's ahead start. */
		if (!sc.ahead)
			goto out;
	}
	if (sc.ahead) {
		spawnahead(&sc, sd, delegate, &ign, envp);
		goto out;
	}
	tracef("exec ", delegate);
	setignored(&ign, SIG_DFL);
	execve(delegate, (char *const *)sc.out, envp);
	/* The Go front finds the same delegate, fails the same way and says
	 * why. */
	setignored(&ign, SIG_IGN);
	go("execve failed");
out:
	errno = saved;
}

#endif /* __GLIBC__ */
