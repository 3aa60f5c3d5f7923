/* Shared by fastpath.c and warm.c. */
#ifndef RUNCAGE_WARM_H
#define RUNCAGE_WARM_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

/* fnv1a64 is Go's hash/fnv New64a over s[0:n]. */
static inline uint64_t fnv1a64(const char *s, size_t n)
{
	uint64_t h = 14695981039346656037ULL;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
	return h;
}

/* fp_go logs (when tracing) why the Go front takes over. */
void fp_go(const char *why);
/* fp_trace writes "runcage: fastpath: WHAT ARG" to stderr when tracing. */
void fp_trace(const char *what, const char *arg);
/* fp_setignored sets the disposition of every signal in ign to h. */
void fp_setignored(const sigset_t *ign, void (*h)(int));

/* warm asks the warm front to do the Go front's work for a create, run or
 * delete (see warm.c). It returns only to leave the invocation to the Go
 * front (or fastpath.c's ahead path), having changed nothing. */
void warm(const char *sd, const char *delegate, const char *envconfig, int argc, char **argv,
	  char **envp, const sigset_t *ign);

extern int runcage_warm_absent;

#endif
