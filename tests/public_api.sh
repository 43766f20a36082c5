#!/bin/sh
# public_api.sh — sakd.h includes exactly the headers Makefile.am installs (no more, no fewer),
# and no file of the library includes the umbrella header (only the command, src/cli, does).
set -u
top=${SAKD_SRCDIR:-$(dirname "$0")/..}
installed=$(sed -n '/^sakdincludedir/,/^pkgconfigdir/p' "$top/Makefile.am" |
    grep -o 'src/[a-z0-9_/]*\.h' | grep -v '^src/sakd\.h$' | sed 's#^src/##' | sort)
listed=$(grep '^#include "' "$top/src/sakd.h" | sed 's/^#include "\(.*\)"$/\1/' | sort)
status=0
if [ "$installed" != "$listed" ]; then
    echo "FAIL: src/sakd.h and the installed headers differ (< installed, > sakd.h):"
    printf '%s\n' "$installed" >/tmp/public_api_installed.$$
    printf '%s\n' "$listed" | diff /tmp/public_api_installed.$$ - | grep '^[<>]'
    rm -f /tmp/public_api_installed.$$
    status=1
fi
users=$(grep -rl '#include "sakd.h"' "$top/src" | grep -v '/src/cli/')
if [ -n "$users" ]; then
    echo "FAIL: library files include the umbrella header sakd.h:"
    echo "$users"
    status=1
fi
[ "$status" -eq 0 ] && echo "PASS: sakd.h lists the $(echo "$installed" | wc -l) installed headers"
exit "$status"
