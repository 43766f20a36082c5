/* version.c — the library version. */
#include "config.h"

#include "sakd.h"

const char *sakd_version(void)
{
    return PACKAGE_VERSION;
}
