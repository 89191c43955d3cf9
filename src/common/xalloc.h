/* xalloc: allocation that never returns NULL.
 *
 * A worker that cannot allocate a few kilobytes cannot answer anything
 * useful; it logs and aborts so multiwatch or systemd replaces it, the way
 * Redis' zmalloc does.  Everything else in the tree may assume success. */
#ifndef PITCHEY_COMMON_XALLOC_H
#define PITCHEY_COMMON_XALLOC_H

#include <stddef.h>
#include <stdlib.h> /* free() pairs with every x*alloc */

void *xmalloc(size_t size);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *ptr, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

#endif
