#ifndef RANKD_JEMALLOC_SHIM_H
#define RANKD_JEMALLOC_SHIM_H

// Linking libjemalloc (libjemalloc-dev) makes jemalloc the allocator of the whole process: the
// executable names it before libc, so its malloc and free are the ones every library resolves
// (RankdDaemon's Malloc.swift checks this at start). Only what Malloc.swift calls is declared
// here: jemalloc/jemalloc.h would declare malloc and free a second time.
#include <stddef.h>

int mallctl(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen);

// glibc's too (malloc.h, which Swift's Glibc module leaves out).
size_t malloc_usable_size(void *ptr);

#endif
