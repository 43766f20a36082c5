/* version.c — the library version and the commit it was built from. */
#include "config.h"

#include "version.h"

#include "build_git.h"

const char *sakd_version(void)
{
    return PACKAGE_VERSION;
}

const char *sakd_build_git(void)
{
    return SAKD_BUILD_GIT;
}
