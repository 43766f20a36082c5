/* strbuf.h — a growing NUL-terminated byte string for building texts and files in memory. */
#ifndef SAKD_RUNTIME_STRBUF_H
#define SAKD_RUNTIME_STRBUF_H

#include <stddef.h>

typedef struct sakd_strbuf {
    char *data;  /* NUL-terminated once anything was appended; owned, free() it */
    size_t size; /* bytes, without the NUL */
    size_t cap;
    int failed; /* an allocation failed: later appends do nothing */
} sakd_strbuf;

/* Appends n bytes; on allocation failure sets `failed`. */
void sakd_strbuf_append(sakd_strbuf *b, const char *s, size_t n);

/* Appends printf-style text (any length). */
void sakd_strbuf_printf(sakd_strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
