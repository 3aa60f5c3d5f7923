/* sysprobe NAME=NR[:A0[:A1[:A2]]]...: makes each system call NR with up
 * to three integer arguments and prints "NAME=ok" or "NAME=errno N". Built
 * static: it shows what the seccomp filter a process runs under returns for
 * a call its libc has no wrapper for (landlock_create_ruleset). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv) {
	for (int i = 1; i < argc; i++) {
		char *name = argv[i], *spec = strchr(name, '=');
		if (!spec)
			return 2;
		*spec++ = 0;
		long v[4] = {0};
		for (int k = 0; k < 4 && spec; k++) {
			v[k] = strtol(spec, &spec, 0);
			spec = *spec == ':' ? spec + 1 : NULL;
		}
		errno = 0;
		long r = syscall(v[0], v[1], v[2], v[3]);
		if (r < 0)
			printf("%s=errno %d\n", name, errno);
		else
			printf("%s=ok\n", name);
	}
	return 0;
}
