/* log.c — leveled messages to stderr, prefixed with "sakd:". */
#include "runtime/log.h"

#include <stdarg.h>
#include <stdio.h>

static sakd_log_level current = SAKD_LOG_WARN;

void sakd_log_set_level(sakd_log_level level)
{
    current = level;
}

sakd_log_level sakd_log_get_level(void)
{
    return current;
}

void sakd_log(sakd_log_level level, const char *fmt, ...)
{
    if (level > current || level == SAKD_LOG_QUIET)
        return;
    static const char *prefix[] = {"", "warning: ", "", "debug: "};
    fprintf(stderr, "sakd: %s", prefix[level]);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}
