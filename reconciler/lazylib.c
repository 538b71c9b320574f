/*
 * lazylib.c — shared libraries loaded on first use instead of at start.
 *
 * libpq and libcurl bring some thirty libraries with them (Kerberos, LDAP,
 * GnuTLS, p11-kit, …), which the dynamic loader maps and relocates before
 * main() — about 3.5 MB of resident pages and a few milliseconds for every
 * command, though most commands, and the webhook daemon on its request
 * path, never talk to PostgreSQL or make an HTTP request. pg.c and
 * http_client.c, the only files that use them, reach them through tables
 * of function pointers that these two calls fill the first time they are
 * needed.
 */
#include <dlfcn.h>
#include <string.h>

#include "berth.h"

void *lazylib_open(const char *soname, const char *package, struct berr *err)
{
	void *lib = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
	const char *why;

	if (lib != NULL)
		return lib;
	why = dlerror();
	berr_set(err, "cannot load %s (install the package %s): %s", soname,
		 package, why != NULL ? why : "unknown error");
	return NULL;
}

int lazylib_sym(void *lib, const char *soname, const char *name, void *fn,
		size_t fn_size, struct berr *err)
{
	void *p;

	if (fn_size != sizeof(p))
		return berr_set(err, "%s: unexpected function pointer size",
				name);
	dlerror();
	p = dlsym(lib, name);
	if (p == NULL)
		return berr_set(err, "%s has no function %s: a version of it "
				     "older than berth was built with?",
				soname, name);
	/* POSIX guarantees a function pointer can hold what dlsym returns;
	 * ISO C has no cast for it. */
	memcpy(fn, &p, sizeof(p));
	return 0;
}

int lazylib_load(struct lazylib *l, const char *soname, const char *package,
		 const struct lazylib_fn *fns, size_t n, struct berr *err)
{
	void *lib;
	size_t i;

	if (!l->tried) {
		l->tried = true;
		l->rc = -1;
		lib = lazylib_open(soname, package, &l->err);
		for (i = 0; lib != NULL && i < n; i++)
			if (lazylib_sym(lib, soname, fns[i].name, fns[i].fn,
					fns[i].fn_size, &l->err) != 0)
				break;
		if (lib != NULL && i == n)
			l->rc = 0;
	}
	if (l->rc != 0 && err != NULL)
		*err = l->err;
	return l->rc;
}
