/*
 * reaper runs a command as a child subreaper that reaps every orphan at
 * once, and exits with the command's status as soon as the command itself
 * exits (processes still running then, such as runcage's warm front, go on
 * under init).
 *
 * runc's tests kill a container's init and expect it gone within two
 * seconds (delete.bats "host pidns + init gone"): they assume an init that
 * reaps orphans at once, as systemd or a container's tini does. This
 * machine's pid 1 reaps them about two seconds late, which made those
 * cases flaky under runc and runcage alike.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	pid_t child, pid;
	int st, code = 1;

	if (argc < 2) {
		fprintf(stderr, "usage: reaper COMMAND [ARG...]\n");
		return 2;
	}
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
		perror("reaper: PR_SET_CHILD_SUBREAPER");
		return 2;
	}
	child = fork();
	if (child < 0) {
		perror("reaper: fork");
		return 2;
	}
	if (child == 0) {
		execvp(argv[1], argv + 1);
		perror("reaper: exec");
		_exit(127);
	}
	for (;;) {
		pid = waitpid(-1, &st, 0);
		if (pid < 0 && errno == EINTR)
			continue;
		if (pid < 0)
			break;
		if (pid == child) {
			code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
			break;
		}
	}
	return code;
}
