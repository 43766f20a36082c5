/* version.h — the library's version and the commit it was built from. */
#ifndef SAKD_VERSION_H
#define SAKD_VERSION_H

/* "0.1.0" */
const char *sakd_version(void);

/* `git describe --always --dirty` of the source tree when the library was built (not of
 * whatever directory a program runs in), or "" when it was not built from a git checkout. The
 * one source of the commit in checkpoints, run metadata and benchmark rows. */
const char *sakd_build_git(void);

#endif
