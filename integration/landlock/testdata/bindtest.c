/* bindtest PORT...: binds a TCP socket to 0.0.0.0:PORT for each PORT and
 * prints "bindPORT=ok" or "bindPORT=errno N". Built static into the test
 * rootfs: busybox's nc cannot bind without then blocking. */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv) {
	for (int i = 1; i < argc; i++) {
		int port = atoi(argv[i]);
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
		if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0)
			printf("bind%d=errno %d\n", port, errno);
		else
			printf("bind%d=ok\n", port);
		if (fd >= 0)
			close(fd);
	}
	return 0;
}
