/* log.h — warnings and notes from the library to stderr, which callers can silence. */
#ifndef SAKD_RUNTIME_LOG_H
#define SAKD_RUNTIME_LOG_H

typedef enum sakd_log_level {
    SAKD_LOG_QUIET = 0,
    SAKD_LOG_WARN = 1,
    SAKD_LOG_INFO = 2,
    SAKD_LOG_DEBUG = 3,
} sakd_log_level;

void sakd_log_set_level(sakd_log_level level);
sakd_log_level sakd_log_get_level(void);
void sakd_log(sakd_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
