/*
 * install.c — `berth hooks install`: writes the pre-receive and
 * post-receive hooks into a bare repository. Each hook is a small sh
 * script that execs the berth binary with the config's path; a hook that
 * was there before is kept under NAME.berth-chained and run first by
 * berth's, never overwritten. Running the installer again is harmless.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hooks.h"

static const char *const hook_names[2] = {"pre-receive", "post-receive"};

/* Appends s to b single-quoted for sh: 'it'\''s'. */
static void sh_quote(struct buf *b, const char *s)
{
	buf_putc(b, '\'');
	for (; *s != '\0'; s++) {
		if (*s == '\'')
			buf_puts(b, "'\\''");
		else
			buf_putc(b, *s);
	}
	buf_putc(b, '\'');
}

char *install_script(const struct install_opts *o, const char *name)
{
	struct buf b;

	buf_init(&b, 0);
	buf_printf(&b, "#!/bin/sh\n%s\n", INSTALL_MARKER);
	buf_printf(&b, "# The %s hook of berth (docs/hooks.md): it %s.\n", name,
	           strcmp(name, "pre-receive") == 0
	               ? "rejects a push whose berth.json is invalid"
	               : "deploys what was pushed and shows the deployment");
	buf_printf(&b,
	           "# A %s hook that was here before runs first, as "
	           "%s%s.\n",
	           name, name, INSTALL_CHAIN_SUFFIX);
	buf_puts(&b, "# Run 'berth hooks install' again to change it.\n");
	buf_puts(&b, "exec ");
	sh_quote(&b, o->berth_path);
	buf_puts(&b, " --config ");
	sh_quote(&b, o->config_path);
	buf_printf(&b, " hook %s", name);
	if (o->env != NULL) {
		buf_puts(&b, " --env ");
		sh_quote(&b, o->env);
	}
	buf_printf(&b, " --chain \"$0%s\"\n", INSTALL_CHAIN_SUFFIX);
	return buf_detach(&b);
}

/* Whether the file at path is a hook berth installed. */
static bool is_ours(const char *path)
{
	struct buf b;
	bool ours;

	buf_init(&b, 64 << 10);
	ours = fs_read_file(&b, path, 64 << 10, NULL) == 0 &&
	       strstr(buf_str(&b), INSTALL_MARKER) != NULL;
	buf_release(&b);
	return ours;
}

static bool same_content(const char *path, const char *content)
{
	struct buf b;
	bool same;

	buf_init(&b, 64 << 10);
	same = fs_read_file(&b, path, 64 << 10, NULL) == 0 &&
	       strcmp(buf_str(&b), content) == 0;
	buf_release(&b);
	return same;
}

/* lstat: a dangling symlink is a hook too (one we must not overwrite). */
static bool present(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

static bool is_executable_file(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
	       (st.st_mode & 0111) == 0111;
}

static int install_one(struct install_hook *h, const struct install_opts *o,
                       const char *hooks_dir, struct berr *err)
{
	char *chained =
	    xasprintf("%s/%s%s", hooks_dir, h->name, INSTALL_CHAIN_SUFFIX);
	char *script = install_script(o, h->name);
	int rc = -1;

	h->path = fs_join(hooks_dir, h->name);
	if (present(h->path) && !is_ours(h->path)) {
		if (rename(h->path, chained) != 0) {
			berr_errno(err, errno, "cannot rename '%s' to '%s'",
			           h->path, chained);
			goto out;
		}
		h->chained_now = true;
		h->what = "installed";
	} else if (!present(h->path)) {
		h->what = "installed";
	} else if (same_content(h->path, script) &&
	           is_executable_file(h->path)) {
		h->what = "unchanged";
	} else {
		h->what = "updated";
	}
	if (present(chained))
		h->chained = xstrdup(chained);
	if (strcmp(h->what, "unchanged") != 0 &&
	    fs_write_atomic(h->path, script, strlen(script), 0755, err) != 0)
		goto out;
	rc = 0;
out:
	free(script);
	free(chained);
	return rc;
}

/* Refuses, before anything changes, a hook of another origin that cannot
 * be kept because its chained name is taken. */
static int check_free(const char *hooks_dir, const char *name, struct berr *err)
{
	char *path = fs_join(hooks_dir, name);
	char *chained = xasprintf("%s%s", path, INSTALL_CHAIN_SUFFIX);
	int rc = 0;

	if (present(path) && !is_ours(path) && present(chained))
		rc = berr_set(err,
		              "cannot install '%s': a hook of another "
		              "origin is there, and '%s' (where berth keeps "
		              "the hook it replaces) exists too; merge the "
		              "two by hand, or remove one, and run the "
		              "installer again",
		              path, chained);
	free(chained);
	free(path);
	return rc;
}

/* Paths written into the scripts must be plain text. */
static int check_text(const char *what, const char *s, struct berr *err)
{
	if (s == NULL || *s != '/' || !config_check_printable(s, strlen(s)))
		return berr_set(err,
		                "%s must be an absolute path without "
		                "control characters",
		                what);
	return 0;
}

int install_hooks(struct install_report *rep, const struct install_opts *o,
                  struct berr *err)
{
	char real[PATH_MAX];
	size_t i;
	int rc;

	memset(rep, 0, sizeof(*rep));
	for (i = 0; i < BERTH_ARRAY_LEN(hook_names); i++)
		rep->hooks[i].name = hook_names[i];
	if (check_text("the config path", o->config_path, err) != 0 ||
	    check_text("the berth binary's path", o->berth_path, err) != 0)
		return -1;
	if (o->env != NULL && !config_check_env_name(o->env))
		return berr_set(err, "invalid environment name '%s'", o->env);
	if (realpath(o->bare_repo, real) == NULL)
		return berr_errno(err, errno, "cannot use '%s'", o->bare_repo);
	rep->repo = xstrdup(real);
	rc = git_bare_hooks_dir(&rep->hooks_dir, real, err);
	if (rc != 0)
		return -1;
	if (fs_mkdir_p(rep->hooks_dir, 0755, err) != 0)
		return -1;
	for (i = 0; i < BERTH_ARRAY_LEN(hook_names); i++)
		if (check_free(rep->hooks_dir, hook_names[i], err) != 0)
			return -1;
	for (i = 0; i < BERTH_ARRAY_LEN(hook_names); i++)
		if (install_one(&rep->hooks[i], o, rep->hooks_dir, err) != 0)
			return -1;
	return 0;
}

void install_report_release(struct install_report *rep)
{
	size_t i;

	if (rep == NULL)
		return;
	for (i = 0; i < BERTH_ARRAY_LEN(rep->hooks); i++) {
		free(rep->hooks[i].path);
		free(rep->hooks[i].chained);
	}
	free(rep->repo);
	free(rep->hooks_dir);
	memset(rep, 0, sizeof(*rep));
}
