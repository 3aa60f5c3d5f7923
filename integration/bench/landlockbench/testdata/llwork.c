/*
 * llwork: the workload of landlockbench, run as a container's process.
 *
 *   llwork                      exit 0 at once (the helper's exec cost)
 *   llwork N GRANTED DENIED     the syscall loops below, then one line:
 *       open=NS stat=NS getpid=NS denied=ERRNO
 *
 * open:   N times open(GRANTED, O_RDONLY), read 64 bytes, close: Landlock
 *         checks every open against the rules on the path and its parents.
 * stat:   N times stat(GRANTED): Landlock does not check stat.
 * getpid: N times getpid (raw syscall, no libc cache): no file at all.
 * denied: the errno of opening DENIED for reading (0 if it opened), so the
 *         benchmark can tell that the rules were in force.
 * NS are each loop's elapsed nanoseconds (CLOCK_MONOTONIC).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static long long now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv) {
	if (argc == 1)
		return 0;
	if (argc != 4) {
		fputs("usage: llwork [N GRANTED DENIED]\n", stderr);
		return 2;
	}
	long n = atol(argv[1]);
	const char *granted = argv[2];
	char buf[64];
	struct stat st;

	long long t0 = now();
	for (long i = 0; i < n; i++) {
		int fd = open(granted, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			perror(granted);
			return 1;
		}
		if (read(fd, buf, sizeof buf) < 0) {
			perror("read");
			return 1;
		}
		close(fd);
	}
	long long t1 = now();
	for (long i = 0; i < n; i++) {
		if (stat(granted, &st) != 0) {
			perror(granted);
			return 1;
		}
	}
	long long t2 = now();
	for (long i = 0; i < n; i++)
		syscall(SYS_getpid);
	long long t3 = now();

	int denied = 0;
	int fd = open(argv[3], O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		denied = errno;
	else
		close(fd);
	printf("open=%lld stat=%lld getpid=%lld denied=%d\n", t1 - t0, t2 - t1, t3 - t2, denied);
	return 0;
}
