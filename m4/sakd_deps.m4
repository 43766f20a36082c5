# sakd_deps.m4 — dependency checks that stop configure with the Debian package to install.

# SAKD_REQUIRE_PKG(VARIABLE-PREFIX, MODULES, DEBIAN-PACKAGE)
AC_DEFUN([SAKD_REQUIRE_PKG], [
  PKG_CHECK_MODULES([$1], [$2], [],
    [AC_MSG_ERROR([$2 not found by pkg-config (Debian package: $3)])])
])

# SAKD_REQUIRE_HEADER(HEADER, FLAGS-PREFIX, DEBIAN-PACKAGE)
AC_DEFUN([SAKD_REQUIRE_HEADER], [
  sakd_save_CPPFLAGS=$CPPFLAGS
  CPPFLAGS="$CPPFLAGS $$2_CFLAGS"
  AC_CHECK_HEADER([$1], [], [AC_MSG_ERROR([$1 not found (Debian package: $3)])])
  CPPFLAGS=$sakd_save_CPPFLAGS
])
