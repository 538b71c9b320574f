# Third-party libraries, all from Debian 12 packages, as pkg-config imported targets.
find_package(PkgConfig REQUIRED)
pkg_check_modules(LIBEVENT REQUIRED IMPORTED_TARGET libevent>=2.1)
pkg_check_modules(LIBGIT2 REQUIRED IMPORTED_TARGET libgit2>=1.5)
pkg_check_modules(LIBPQ REQUIRED IMPORTED_TARGET libpq>=15)
pkg_check_modules(LIBCURL REQUIRED IMPORTED_TARGET libcurl>=7.88)
pkg_check_modules(JANSSON REQUIRED IMPORTED_TARGET jansson>=2.14)
pkg_check_modules(LIBCRYPTO REQUIRED IMPORTED_TARGET libcrypto>=3.0)
