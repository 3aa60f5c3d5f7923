//go:build linux && cgo

/*
 * The warm front's caller (see runtime/warm.go for the server and the
 * protocol).
 *
 * For create, run and delete, fastpath.c's constructor, once it is certain
 * of the policy's state directory and of the delegate the Go front would
 * run, calls warm(). warm() asks the warm front of this build to do the
 * Go front's work before the delegate, then runs the delegate as this
 * process's child exactly as the Go front's superviseDelegate would
 * (argv, environment, signal mask and dispositions, the signals it
 * forwards), reports its exit status, waits for the work after it, and
 * exits with the status. It returns, having changed nothing, when there is
 * no server (runcage_warm_absent is then set, so that the Go front starts
 * one) or when the server says "go".
 */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "warm.h"

/* runcage_warm_absent is set when warm() found no server listening, for
 * cmd/runcage/fastpath.go to tell the Go front (runtime.NoteWarmMissing). */
int runcage_warm_absent;

#if defined(__GLIBC__)

#define WARM_MAGIC "RCW1"          /* runtime.warmMagic */
#define WARM_MAX (128 << 10)       /* runtime.warmMaxMsg */
#define WARM_MAX_FIELDS 300        /* a reply's argv is at most MAX_ARGS + 1 */

static char wbuf[WARM_MAX];

/* warmsock writes runtime.warmSocket(sd) into out. */
static int warmsock(const char *sd, char *out, size_t outn)
{
	struct stat st;
	char id[256];
	uint64_t h;
	int n;
	if (stat("/proc/self/exe", &st) != 0)
		return 0;
	n = snprintf(id, sizeof(id), "%llu:%llu:%lld:%lld.%ld:%lld.%ld",
		     (unsigned long long)st.st_dev, (unsigned long long)st.st_ino,
		     (long long)st.st_size, (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
		     (long long)st.st_ctim.tv_sec, st.st_ctim.tv_nsec);
	if (n <= 0 || (size_t)n >= sizeof(id))
		return 0;
	h = fnv1a64(id, n);
	n = snprintf(out, outn, "%s/warm/%016llx.sock", strcmp(sd, "/") == 0 ? "" : sd,
		     (unsigned long long)h);
	return n > 0 && (size_t)n < outn;
}

/* put appends s and its NUL to wbuf at *n. */
static int put(size_t *n, const char *s)
{
	size_t l = strlen(s) + 1;
	if (*n + l > sizeof(wbuf))
		return 0;
	memcpy(wbuf + *n, s, l);
	*n += l;
	return 1;
}

/* sendreq sends the request, with stderr and the working directory. */
static int sendreq(int s, const char *envconfig, const char *delegate, int argc, char **argv)
{
	char num[16];
	size_t n = 0;
	int cwd, fds[2], ok;
	struct iovec iov;
	struct msghdr mh;
	union {
		char buf[CMSG_SPACE(sizeof(fds))];
		struct cmsghdr align;
	} c;
	struct cmsghdr *cm;

	snprintf(num, sizeof(num), "%d", argc);
	if (!put(&n, WARM_MAGIC) || !put(&n, envconfig ? envconfig : "") || !put(&n, delegate) || !put(&n, num))
		return 0;
	for (int i = 0; i < argc; i++)
		if (!put(&n, argv[i]))
			return 0;
	cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (cwd < 0)
		return 0;
	fds[0] = 2;
	fds[1] = cwd;
	memset(&mh, 0, sizeof(mh));
	memset(&c, 0, sizeof(c));
	iov.iov_base = wbuf;
	iov.iov_len = n;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = c.buf;
	mh.msg_controllen = sizeof(c.buf);
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(fds));
	memcpy(CMSG_DATA(cm), fds, sizeof(fds));
	do
		ok = sendmsg(s, &mh, MSG_NOSIGNAL) == (ssize_t)n;
	while (!ok && errno == EINTR);
	close(cwd);
	return ok;
}

/* recvreply reads one message into wbuf and splits it into f (without
 * the magic); it returns the number of fields, or -1. */
static int recvreply(int s, char **f, int max)
{
	ssize_t n;
	int k = 0;
	char *p, *end;
	do
		n = recv(s, wbuf, sizeof(wbuf), 0);
	while (n < 0 && errno == EINTR);
	if (n <= 0 || wbuf[n - 1] != 0)
		return -1;
	end = wbuf + n;
	if (strcmp(wbuf, WARM_MAGIC) != 0)
		return -1;
	for (p = wbuf + strlen(wbuf) + 1; p < end; p += strlen(p) + 1) {
		if (k >= max)
			return -1;
		f[k++] = p;
	}
	return k;
}

/* code parses a decimal exit status 0-255. */
static int code(const char *s)
{
	char *e;
	long v;
	errno = 0;
	v = strtol(s, &e, 10);
	if (errno || e == s || *e || v < 0 || v > 255)
		return -1;
	return (int)v;
}

/* --- supervising the delegate ------------------------------------------ */

/* runtime.fatalSignals */
static const int fatalsig[] = {SIGHUP, SIGINT, SIGQUIT, SIGILL, SIGTRAP, SIGABRT,
			       SIGBUS, SIGFPE, SIGSEGV, SIGTERM, SIGSTKFLT, SIGSYS};

static volatile sig_atomic_t all;   /* forward every signal (foreground run) */
static volatile int childfd = -1;   /* pidfd of the delegate */
static volatile pid_t childpid;

static int isfatal(int sig)
{
	for (size_t i = 0; i < sizeof(fatalsig) / sizeof(fatalsig[0]); i++)
		if (fatalsig[i] == sig)
			return 1;
	return 0;
}

/* forward sends sig on to the delegate when superviseProcess would, and
 * otherwise drops it, as the Go runtime drops the signals it catches and
 * nobody is notified of. A fault of this process's own is not forwarded:
 * the default action then ends it. */
static void forward(int sig, siginfo_t *si, void *uc)
{
	int e = errno;
	(void)uc;
	if (si && si->si_code > 0 && si->si_code != SI_KERNEL &&
	    (sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE || sig == SIGTRAP)) {
		signal(sig, SIG_DFL);
		return;
	}
	if (all ? (sig != SIGCHLD && sig != SIGURG && sig != SIGPIPE) : isfatal(sig)) {
		if (childfd >= 0)
			syscall(SYS_pidfd_send_signal, childfd, sig, NULL, 0);
		else if (childpid > 0)
			kill(childpid, sig);
	}
	errno = e;
}

/* gotouches reports whether the Go front has a handler on sig while it
 * supervises the delegate: every signal it can catch in mode all
 * (signal.Notify with none), else every one but those the Go runtime
 * leaves alone (fastpath.c gokept) that the fatal set does not name. */
static int gotouches(int sig)
{
	if (sig == SIGKILL || sig == SIGSTOP || sig == 32 || sig == 33)
		return 0;
	if (all || isfatal(sig))
		return 1;
	switch (sig) {
	case SIGCONT: case SIGTSTP: case SIGTTIN: case SIGTTOU: case 34:
		return 0;
	}
	return 1;
}

/* supervise starts the delegate (path, argv) as superviseDelegate does
 * and returns its exit status (128+signal if it was killed), or -1 if it
 * could not be started. */
static int supervise(const char *path, char **argv, char **envp, const sigset_t *ign)
{
	posix_spawnattr_t attr;
	sigset_t none, every, old, def = *ign;
	struct sigaction sa;
	pid_t pid;
	int err, st;

	/* The child's dispositions: what the Go front's exec resets. */
	sigaddset(&def, SIGHUP);
	sigaddset(&def, SIGINT);
	if (all) {
		sigaddset(&def, SIGTSTP);
		sigaddset(&def, SIGTTIN);
		sigaddset(&def, SIGTTOU);
	}
	sigemptyset(&none);
	sigfillset(&every);
	if (posix_spawnattr_init(&attr) != 0)
		return -1;
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &def);
	sigprocmask(SIG_BLOCK, &every, &old);
	err = posix_spawn(&pid, path, NULL, &attr, argv, envp);
	posix_spawnattr_destroy(&attr);
	if (err != 0) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		errno = err;
		return -1;
	}
	childpid = pid;
	childfd = (int)syscall(SYS_pidfd_open, pid, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = forward;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigfillset(&sa.sa_mask);
	for (int sig = 1; sig < NSIG; sig++)
		if (gotouches(sig))
			sigaction(sig, &sa, NULL);
	sigprocmask(SIG_SETMASK, &old, NULL);
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return 1; /* as superviseProcess on a failed Wait */
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return WEXITSTATUS(st);
}

static void say(const char *a, const char *b)
{
	(void)!write(2, a, strlen(a));
	(void)!write(2, b, strlen(b));
	(void)!write(2, "\n", 1);
}

/* --- the exchange ------------------------------------------------------ */

void warm(const char *sd, const char *delegate, const char *envconfig, int argc, char **argv,
	  char **envp, const sigset_t *ign)
{
	static char path[PATH_MAX];
	static char *f[WARM_MAX_FIELDS + 1];
	struct sockaddr_un sa;
	struct ucred cr;
	socklen_t crl = sizeof(cr);
	int s, k, n, st;

	if (!warmsock(sd, path, sizeof(path)) || strlen(path) >= sizeof(sa.sun_path)) {
		fp_go("no warm socket path");
		return;
	}
	s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (s < 0) {
		fp_go("warm: socket failed");
		return;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	strcpy(sa.sun_path, path);
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		int e = errno;
		close(s);
		if (e == ENOENT || e == ECONNREFUSED) {
			runcage_warm_absent = 1;
			fp_go("warm: no server");
		} else {
			fp_go(e == EACCES ? "warm: connect: permission denied" : "warm: connect failed");
		}
		return;
	}
	/* Only root may answer for root. */
	if (getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cr, &crl) != 0 || cr.uid != 0) {
		close(s);
		fp_go("warm: server not root");
		return;
	}
	if (!sendreq(s, envconfig, delegate, argc, argv)) {
		/* The server has not read a request: nothing was done. */
		close(s);
		fp_go("warm: request not sent");
		return;
	}
	if ((k = recvreply(s, f, WARM_MAX_FIELDS)) < 1) {
		/* The server read the request and ended without an answer:
		 * it may have done part of the work, as a Go front killed
		 * half-way would have. Starting over here could build on
		 * that half; fail, as the killed front would, and leave it to
		 * delete. */
		say("runcage: ", "the warm front ended before it answered; nothing was started, and runcage delete cleans up what it may have set up");
		_exit(1);
	}
	if (strcmp(f[0], "go") == 0 && k == 1) {
		close(s);
		fp_go("warm: server says go");
		return;
	}
	if (strcmp(f[0], "exit") == 0 && k == 2 && (n = code(f[1])) >= 0) {
		fp_trace("warm: exit ", f[1]);
		_exit(n);
	}
	if (strcmp(f[0], "exec") == 0 && k >= 4 && (n = code(f[2])) >= 1 && k == 3 + n) {
		close(s);
		f[k] = NULL;
		fp_trace("warm: exec ", f[1]);
		fp_setignored(ign, SIG_DFL);
		execve(f[1], f + 3, envp);
		fp_setignored(ign, SIG_IGN);
		fp_go("warm: execve failed"); /* nothing is held: Go fails alike */
		return;
	}
	if (strcmp(f[0], "spawn") == 0 && k >= 5 && (n = code(f[3])) >= 1 && k == 4 + n &&
	    (strcmp(f[1], "fatal") == 0 || strcmp(f[1], "all") == 0)) {
		char num[16];
		size_t m = 0;
		f[k] = NULL;
		all = strcmp(f[1], "all") == 0;
		fp_trace("warm: spawn ", f[2]);
		st = supervise(f[2], f + 4, envp, ign);
		if (st < 0) {
			say("runcage: start the delegate: ", strerror(errno));
			st = 1;
		}
		snprintf(num, sizeof(num), "%d", st);
		if (put(&m, WARM_MAGIC) && put(&m, "code") && put(&m, num) &&
		    send(s, wbuf, m, MSG_NOSIGNAL) == (ssize_t)m &&
		    (k = recvreply(s, f, WARM_MAX_FIELDS)) == 2 && strcmp(f[0], "exit") == 0)
			_exit(st);
		say("runcage: warm front lost before the work after the delegate; ",
		    "runcage delete cleans up what is left");
		_exit(st);
	}
	/* A reply this build does not send: the server is not what it says. */
	say("runcage: ", "warm front answered nonsense; refusing");
	_exit(1);
}

#else

void warm(const char *sd, const char *delegate, const char *envconfig, int argc, char **argv,
	  char **envp, const sigset_t *ign)
{
}

#endif /* __GLIBC__ */
