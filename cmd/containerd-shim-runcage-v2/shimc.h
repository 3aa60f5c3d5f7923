/*
 * What the shim's C constructors (cleanup.c, start.c) share: containerd's
 * shim command line as Go's flag package reads it, containerd's identifier
 * rule, small file reads and SHA-256.
 */
#ifndef RUNCAGE_SHIMC_H
#define RUNCAGE_SHIMC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* shimflags is containerd's shim command line (runtime/v2/shim
 * parseFlags): the string flags (NULL when absent; the last occurrence
 * wins, as in Go), whether the bare -debug was given, and the verb. */
struct shimflags {
	const char *ns, *id, *socket, *bundle, *address, *publish;
	int debug;
	const char *verb;
};

int shim_streq(const char *a, const char *b);

/* shim_envget returns the value of name in envp, the first occurrence (as
 * Go's os.Getenv), or NULL. */
const char *shim_envget(char **envp, const char *name);

/* shim_validident is containerd's identifiers.Validate. */
int shim_validident(const char *s);

/* shim_parse reads argv as Go's flag package would for containerd's shim
 * and reports whether it is exactly known flags (the string flags, the
 * bare -debug) followed by one argument, the verb; any other form (-v,
 * -debug=..., "--", a flag without its value, more arguments) is 0. */
int shim_parse(int argc, char **argv, struct shimflags *f);

/* shim_join writes dir "/" name to out (PATH_MAX), as Go's filepath.Join
 * does for a clean absolute dir and a name without '/'. */
int shim_join(char *out, const char *dir, const char *name);

/* shim_readsmall reads a file of at most cap-1 bytes into buf,
 * NUL-terminated, not following a symlink. It returns the length, -1 with
 * errno set, or -2 when the file is larger. */
ssize_t shim_readsmall(const char *path, char *buf, size_t cap);

/* shim_connect connects to the unix socket at path without blocking and
 * without keeping the connection, as containerd's shim.CanConnect does:
 * it returns 0 if a server accepts on it, else the errno of the attempt. */
int shim_connect(const char *path);

/* shim_sha256 writes the SHA-256 digest of data[0:n] to out. */
void shim_sha256(const unsigned char *data, size_t n, unsigned char out[32]);

#endif
