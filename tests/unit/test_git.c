/*
 * test_git.c — the bare mirror (git.c) against real repositories made with
 * the git CLI: fetching by path and file://, resolving, reading files,
 * exporting, tree comparison, ancestry, force-push detection, locks,
 * corrupt mirrors and unreachable remotes. HTTP and ssh: test_git_net.c.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "git_fixture.h"

static char sha_a[64], sha_b[64], sha_c[64], sha_sub[64], tag_obj[64];
static char origin[300], mirror_dir[300];

/* origin.git: A (files, exec bit, symlinks, nested dirs), tags v1
 * (annotated) and light at A, B changes berth.json, C reverts B; branch
 * withsub adds a submodule on top of C. */
static int make_origin(void)
{
	if (fx_sh("git init -q --bare origin.git; "
		  "git clone -q origin.git work 2>/dev/null; cd work; "
		  "printf '{\"app\":\"demo\"}\\n' > berth.json; "
		  "printf '#!/bin/sh\\necho hi\\n' > run.sh; chmod +x run.sh; "
		  "mkdir -p docs/sub migrations; echo readme > docs/readme.md; "
		  "echo deep > docs/sub/deep.txt; "
		  "echo 2 > migrations/002_b.sql; echo 1 > migrations/001_a.sql; "
		  "echo 10 > migrations/010_c.sql; mkdir migrations/old; "
		  "echo x > migrations/old/x.sql; "
		  "ln -s 001_a.sql migrations/latest.sql; "
		  "ln -s run.sh link; ln -s docs dirlink; "
		  "git add -A; git commit -q -m 'first commit'; "
		  "git tag -a v1 -m 'release 1'; git tag light; "
		  "printf '{\"app\":\"demo\",\"v\":2}\\n' > berth.json; "
		  "git commit -q -am 'second commit'; "
		  "git revert --no-edit HEAD >/dev/null; "
		  "git push -q origin main --tags 2>/dev/null; "
		  "git checkout -q -b withsub; "
		  "git update-index --add --cacheinfo "
		  "160000,$(git rev-parse HEAD~2),vendor/lib; "
		  "git commit -q -m 'add a submodule'; "
		  "git push -q origin withsub 2>/dev/null; "
		  "git checkout -q main") != 0)
		return -1;
	fx_out(sha_a, sizeof(sha_a), "git -C work rev-parse main~2");
	fx_out(sha_b, sizeof(sha_b), "git -C work rev-parse main~1");
	fx_out(sha_c, sizeof(sha_c), "git -C work rev-parse main");
	fx_out(sha_sub, sizeof(sha_sub), "git -C work rev-parse withsub");
	fx_out(tag_obj, sizeof(tag_obj), "git -C work rev-parse v1");
	snprintf(origin, sizeof(origin), "%s/origin.git", fx_dir);
	snprintf(mirror_dir, sizeof(mirror_dir), "%s/state/mirror.git",
		 fx_dir);
	return 0;
}

static const struct git_ref_update *find_update(
    const struct git_ref_update *u, size_t n, const char *ref)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(u[i].ref, ref) == 0)
			return &u[i];
	return NULL;
}

static void test_open_fetch(void)
{
	struct git_mirror *gm = NULL;
	struct git_ref_update *u = NULL;
	const struct git_ref_update *main_u;
	struct berr err = {""};
	char url[400], sha[41];
	size_t n = 0;

	CHECK_INT(git_mirror_open(&gm, mirror_dir, origin, NULL, &err), 0);
	if (gm == NULL) {
		fprintf(stderr, "open: %s\n", err.msg);
		return;
	}
	CHECK(fs_is_dir(mirror_dir));
	CHECK_INT(git_mirror_fetch(gm, &u, &n, &err), 0);
	CHECK_INT(n, 4); /* main, withsub, v1, light */
	main_u = find_update(u, n, "refs/heads/main");
	CHECK(main_u != NULL);
	if (main_u != NULL) {
		char *d = git_mirror_update_describe(main_u);

		CHECK_STR(main_u->old_sha, "0000000000000000000000000000000000000000");
		CHECK_STR(main_u->new_sha, sha_c);
		CHECK(!main_u->forced);
		CHECK(strstr(d, "branch 'main' created at") != NULL);
		free(d);
	}
	CHECK(find_update(u, n, "refs/tags/v1") != NULL);
	CHECK(find_update(u, n, "refs/tags/light") != NULL);
	git_mirror_updates_free(u, n);

	/* Nothing new: no updates; NULL outputs are allowed. */
	CHECK_INT(git_mirror_fetch(gm, &u, &n, &err), 0);
	CHECK_INT(n, 0);
	CHECK(u == NULL);
	CHECK_INT(git_mirror_fetch(gm, NULL, NULL, &err), 0);
	git_mirror_close(gm);

	/* Reopen the existing mirror, now fetching from a file:// URL. */
	snprintf(url, sizeof(url), "file://%s", origin);
	CHECK_INT(git_mirror_open(&gm, mirror_dir, url, NULL, &err), 0);
	CHECK_INT(fx_sh("cd work; echo more > more.txt; git add more.txt; "
			"git commit -q -m more; "
			"git push -q origin main 2>/dev/null"), 0);
	CHECK_INT(git_mirror_fetch(gm, &u, &n, &err), 0);
	CHECK_INT(n, 1);
	if (n == 1) {
		char *d = git_mirror_update_describe(&u[0]);

		CHECK_STR(u[0].ref, "refs/heads/main");
		CHECK_STR(u[0].old_sha, sha_c);
		CHECK(!u[0].forced);
		CHECK(strstr(d, "branch 'main' updated: ") != NULL);
		free(d);
	}
	git_mirror_updates_free(u, n);
	CHECK_INT(git_mirror_resolve(gm, "main~0", sha, &err), BERTH_ENOTFOUND);
	git_mirror_close(gm);
	/* Put main back where the other tests expect it. */
	CHECK_INT(fx_sh("cd work; git reset -q --hard HEAD~1; "
			"git push -q -f origin main 2>/dev/null"), 0);
	CHECK_INT(git_mirror_open(&gm, mirror_dir, origin, NULL, &err), 0);
	CHECK_INT(git_mirror_fetch(gm, NULL, NULL, &err), 0);
	git_mirror_close(gm);
	git_mirror_close(NULL);
}

static void test_resolve(struct git_mirror *gm)
{
	struct berr err = {""};
	char sha[41], rev[64], prefix[64];

	CHECK_INT(git_mirror_resolve(gm, "main", sha, &err), 0);
	CHECK_STR(sha, sha_c);
	CHECK_INT(git_mirror_resolve(gm, "refs/heads/main", sha, &err), 0);
	CHECK_STR(sha, sha_c);
	CHECK_INT(git_mirror_resolve(gm, "v1", sha, &err), 0);
	CHECK_STR(sha, sha_a); /* peeled: not the tag object */
	CHECK(strcmp(tag_obj, sha_a) != 0);
	CHECK_INT(git_mirror_resolve(gm, "light", sha, &err), 0);
	CHECK_STR(sha, sha_a);
	CHECK_INT(git_mirror_resolve(gm, "refs/tags/v1", sha, &err), 0);
	CHECK_STR(sha, sha_a);
	CHECK_INT(git_mirror_resolve(gm, sha_b, sha, &err), 0);
	CHECK_STR(sha, sha_b);
	snprintf(rev, sizeof(rev), "%.7s", sha_b);
	CHECK_INT(git_mirror_resolve(gm, rev, sha, &err), 0);
	CHECK_STR(sha, sha_b);
	snprintf(rev, sizeof(rev), "%.4s", sha_a);
	CHECK_INT(git_mirror_resolve(gm, rev, sha, &err), 0);
	CHECK_STR(sha, sha_a);
	/* The tag object's id peels to its commit too. */
	CHECK_INT(git_mirror_resolve(gm, tag_obj, sha, &err), 0);
	CHECK_STR(sha, sha_a);

	CHECK_INT(git_mirror_resolve(gm, "nope", sha, &err), BERTH_ENOTFOUND);
	CHECK(strstr(err.msg, "unknown revision 'nope'") != NULL);
	CHECK_STR(sha, "");
	CHECK_INT(git_mirror_resolve(gm, "0123456789012345678901234567890123456789",
				     sha, &err), BERTH_ENOTFOUND);
	snprintf(rev, sizeof(rev), "%.3s", sha_a); /* too short for an id */
	CHECK_INT(git_mirror_resolve(gm, rev, sha, &err), BERTH_ENOTFOUND);
	CHECK_INT(git_mirror_resolve(gm, "", sha, &err), -1);
	CHECK_INT(git_mirror_resolve(gm, "main..v1", sha, &err), BERTH_ENOTFOUND);

	/* A tree is not a commit. */
	fx_out(rev, sizeof(rev), "git -C work rev-parse main^{tree}");
	CHECK_INT(git_mirror_resolve(gm, rev, sha, &err), -1);
	CHECK(strstr(err.msg, "commit") != NULL);

	/* Ambiguity is an error, never a guess: a branch and a tag of one
	 * name, and a branch named like another commit's id prefix. */
	snprintf(prefix, sizeof(prefix), "%.8s", sha_c);
	CHECK_INT(fx_sh("cd work; git branch -f twin %s; git tag twin %s; "
			"git branch -f %s %s; "
			"git push -q origin refs/heads/twin refs/tags/twin "
			"refs/heads/%s 2>/dev/null",
			sha_a, sha_b, prefix, sha_a, prefix), 0);
	CHECK_INT(git_mirror_fetch(gm, NULL, NULL, &err), 0);
	CHECK_INT(git_mirror_resolve(gm, "twin", sha, &err), -1);
	CHECK(strstr(err.msg, "ambiguous") != NULL);
	CHECK_INT(git_mirror_resolve(gm, "refs/tags/twin", sha, &err), 0);
	CHECK_STR(sha, sha_b);
	CHECK_INT(git_mirror_resolve(gm, prefix, sha, &err), -1);
	CHECK(strstr(err.msg, "ambiguous") != NULL);
}

/* A mirror of fx_dir/NAME.git at fx_dir/NAME-mirror.git, fetched; NULL
 * (with a failed check) when that does not work. */
static struct git_mirror *mirror_of(const char *name)
{
	struct git_mirror *gm = NULL;
	struct berr err = {""};
	char dir[400], url[400];

	snprintf(dir, sizeof(dir), "%s/%s-mirror.git", fx_dir, name);
	snprintf(url, sizeof(url), "%s/%s.git", fx_dir, name);
	CHECK_INT(git_mirror_open(&gm, dir, url, NULL, &err), 0);
	if (gm != NULL && git_mirror_fetch(gm, NULL, NULL, &err) != 0) {
		CHECK(!"fetch failed");
		git_mirror_close(gm);
		gm = NULL;
	}
	if (gm == NULL)
		fprintf(stderr, "%s: %s\n", name, err.msg);
	return gm;
}

/* Many objects make some 4-digit prefix shared: it must not resolve. */
static void test_ambiguous_prefix(void)
{
	struct git_mirror *gm;
	struct berr err = {""};
	char prefix[64], sha[41];

	/* 400 blobs "1\n" … "400\n" in one commit, written as one pack by
	 * fast-import: their ids are fixed ("195\n" and "389\n" share 6bb2). */
	CHECK_INT(fx_sh("git init -q --bare many.git; "
			"{ printf 'commit refs/heads/main\\n"
			"committer t <t@t> 0 +0000\\ndata 4\\nmany\\n'; "
			"for i in $(seq 1 400); do "
			"printf 'M 644 inline f%%d\\ndata %%d\\n%%d\\n' "
			"$i $((${#i} + 1)) $i; done; } | "
			"git --git-dir=many.git fast-import --quiet"), 0);
	CHECK_INT(fx_out(prefix, sizeof(prefix),
			 "git --git-dir=many.git rev-list --objects --all | "
			 "cut -c1-4 | sort | uniq -d | head -n1"), 0);
	CHECK(strlen(prefix) == 4);
	if ((gm = mirror_of("many")) == NULL)
		return;
	CHECK_INT(git_mirror_resolve(gm, prefix, sha, &err), -1);
	CHECK(strstr(err.msg, "ambiguous") != NULL);
	git_mirror_close(gm);
}

static void test_read_file(struct git_mirror *gm)
{
	struct buf b;
	struct berr err = {""};

	buf_init(&b, 0);
	CHECK_INT(git_mirror_read_file(&b, gm, sha_a, "berth.json", 1024, &err),
		  0);
	CHECK_STR(buf_str(&b), "{\"app\":\"demo\"}\n");
	buf_reset(&b);
	CHECK_INT(git_mirror_read_file(&b, gm, sha_b, "berth.json", 1024, &err),
		  0);
	CHECK_STR(buf_str(&b), "{\"app\":\"demo\",\"v\":2}\n");
	buf_reset(&b);
	CHECK_INT(git_mirror_read_file(&b, gm, sha_a, "docs/sub/deep.txt", 1024,
				       &err), 0);
	CHECK_STR(buf_str(&b), "deep\n");
	buf_reset(&b);
	CHECK_INT(git_mirror_read_file(&b, gm, sha_a, "missing.json", 1024,
				       &err), BERTH_ENOTFOUND);
	CHECK(strstr(err.msg, "'missing.json' not found in commit") != NULL);
	CHECK_INT(git_mirror_read_file(&b, gm, sha_a, "docs/nope/x", 1024,
				       &err), BERTH_ENOTFOUND);
	CHECK_INT(git_mirror_read_file(&b, gm, sha_a, "berth.json", 5, &err),
		  BERTH_ETOOBIG);
	CHECK(strstr(err.msg, "over the limit of 5") != NULL);
	CHECK_INT(b.len, 0);
	CHECK_INT(git_mirror_read_file(&b, gm, sha_a, "docs", 1024, &err), -1);
	CHECK(strstr(err.msg, "directory") != NULL);
	CHECK_INT(git_mirror_read_file(&b, gm, sha_a, "link", 1024, &err), -1);
	CHECK(strstr(err.msg, "symbolic link") != NULL);
	CHECK_INT(git_mirror_read_file(&b, gm, sha_a, "../etc/passwd", 1024,
				       &err), -1);
	CHECK_INT(git_mirror_read_file(&b, gm, sha_a, "/berth.json", 1024,
				       &err), -1);
	CHECK_INT(git_mirror_read_file(&b, gm, "0123456789012345678901234567890123456789",
				       "berth.json", 1024, &err),
		  BERTH_ENOTFOUND);
	CHECK_INT(git_mirror_read_file(&b, gm, "main", "berth.json", 1024,
				       &err), -1);
	CHECK(strstr(err.msg, "invalid commit id") != NULL);
	buf_release(&b);
}

static void test_list_dir(struct git_mirror *gm)
{
	struct strv names = {NULL, 0};
	struct berr err = {""};

	CHECK_INT(git_mirror_list_dir(&names, gm, sha_a, "migrations", &err),
		  0);
	CHECK_INT(names.n, 3); /* no subdirectory, no symlink */
	if (names.n == 3) {
		CHECK_STR(names.v[0], "001_a.sql");
		CHECK_STR(names.v[1], "002_b.sql");
		CHECK_STR(names.v[2], "010_c.sql");
	}
	strv_release(&names);
	memset(&names, 0, sizeof(names));
	CHECK_INT(git_mirror_list_dir(&names, gm, sha_a, "", &err), 0);
	CHECK_INT(names.n, 2);
	if (names.n == 2) {
		CHECK_STR(names.v[0], "berth.json");
		CHECK_STR(names.v[1], "run.sh");
	}
	strv_release(&names);
	memset(&names, 0, sizeof(names));
	CHECK_INT(git_mirror_list_dir(&names, gm, sha_a, "docs/sub/", &err), 0);
	CHECK_INT(names.n, 1);
	strv_release(&names);
	memset(&names, 0, sizeof(names));
	CHECK_INT(git_mirror_list_dir(&names, gm, sha_a, "nope", &err),
		  BERTH_ENOTFOUND);
	CHECK_INT(git_mirror_list_dir(&names, gm, sha_a, "berth.json", &err),
		  -1);
	CHECK(strstr(err.msg, "not a directory") != NULL);
	CHECK_INT(names.n, 0);
}

static void test_export(struct git_mirror *gm)
{
	struct berr err = {""};
	char dest[400], path[500], target[PATH_MAX], out[64];
	struct buf b;
	struct stat st;
	ssize_t n;

	snprintf(dest, sizeof(dest), "%s/releases/%s", fx_dir, sha_sub);
	CHECK_INT(fs_mkdir_p(fx_dir, 0755, &err), 0);
	snprintf(path, sizeof(path), "%s/releases", fx_dir);
	CHECK_INT(fs_mkdir_p(path, 0755, &err), 0);
	CHECK_INT(git_mirror_export(gm, sha_sub, dest, &err), 0);

	buf_init(&b, 0);
	snprintf(path, sizeof(path), "%s/berth.json", dest);
	CHECK_INT(fs_read_file(&b, path, 1024, &err), 0);
	CHECK_STR(buf_str(&b), "{\"app\":\"demo\"}\n");
	buf_release(&b);
	snprintf(path, sizeof(path), "%s/run.sh", dest);
	CHECK(stat(path, &st) == 0 && (st.st_mode & S_IXUSR));
	snprintf(path, sizeof(path), "%s/berth.json", dest);
	CHECK(stat(path, &st) == 0 && !(st.st_mode & S_IXUSR));
	snprintf(path, sizeof(path), "%s/docs/sub/deep.txt", dest);
	CHECK(fs_exists(path));
	snprintf(path, sizeof(path), "%s/link", dest);
	CHECK(lstat(path, &st) == 0 && S_ISLNK(st.st_mode));
	n = readlink(path, target, sizeof(target) - 1);
	CHECK(n == 6 && memcmp(target, "run.sh", 6) == 0);
	snprintf(path, sizeof(path), "%s/dirlink/sub/deep.txt", dest);
	CHECK(fs_exists(path)); /* a symlink to a directory works */
	snprintf(path, sizeof(path), "%s/vendor/lib", dest);
	CHECK(!fs_exists(path)); /* the submodule is skipped */
	snprintf(path, sizeof(path), "%s/migrations/old/x.sql", dest);
	CHECK(fs_exists(path));

	/* No temporary directory is left, and an existing dest is an error
	 * that leaves it untouched. */
	CHECK_INT(fx_out(out, sizeof(out), "ls releases | wc -l"), 0);
	CHECK_STR(out, "1");
	CHECK_INT(git_mirror_export(gm, sha_a, dest, &err), -1);
	CHECK(strstr(err.msg, "already exists") != NULL);
	snprintf(path, sizeof(path), "%s/berth.json", dest);
	CHECK(fs_exists(path));
	CHECK_INT(fx_out(out, sizeof(out), "ls releases | wc -l"), 0);
	CHECK_STR(out, "1");

	/* A failed export leaves nothing behind: its parent is missing. */
	snprintf(dest, sizeof(dest), "%s/no/such/dir", fx_dir);
	CHECK(git_mirror_export(gm, sha_a, dest, &err) != 0);
	CHECK(!fs_exists(dest));
	snprintf(dest, sizeof(dest), "%s/releases/x", fx_dir);
	CHECK_INT(git_mirror_export(gm, "0123456789012345678901234567890123456789",
				    dest, &err), BERTH_ENOTFOUND);
	CHECK(!fs_exists(dest));
}

/* A crafted tree with a ".git" entry must not be exported. */
static void test_export_unsafe(void)
{
	struct git_mirror *gm;
	struct berr err = {""};
	char sha[64], dest[400];

	CHECK_INT(fx_sh("git init -q --bare evil.git; cd evil.git; "
			"blob=$(echo '[core]' | git hash-object -w --stdin); "
			"sub=$(printf '100644 blob %%s\\tconfig\\n' $blob | "
			"git mktree); "
			"top=$(printf '040000 tree %%s\\t.GIT\\n' $sub | "
			"git mktree); "
			"c=$(git commit-tree -m evil $top); "
			"git update-ref refs/heads/main $c"), 0);
	CHECK_INT(fx_out(sha, sizeof(sha), "git -C evil.git rev-parse main"),
		  0);
	snprintf(dest, sizeof(dest), "%s/evil-release", fx_dir);
	if ((gm = mirror_of("evil")) == NULL)
		return;
	CHECK_INT(git_mirror_export(gm, sha, dest, &err), -1);
	CHECK(strstr(err.msg, "unsafe path '.GIT'") != NULL);
	CHECK(!fs_exists(dest));
	git_mirror_close(gm);
}

static void test_trees_ancestry(struct git_mirror *gm)
{
	struct berr err = {""};
	char tree[41], expect[64], *subject = NULL;
	bool yes = false;

	/* C reverts B: C's tree is A's (its grandparent's). */
	CHECK_INT(git_mirror_trees_equal(&yes, gm, sha_c, sha_a, &err), 0);
	CHECK(yes);
	CHECK_INT(git_mirror_trees_equal(&yes, gm, sha_b, sha_a, &err), 0);
	CHECK(!yes);
	CHECK_INT(git_mirror_trees_equal(&yes, gm, sha_c, sha_b, &err), 0);
	CHECK(!yes);
	CHECK_INT(git_mirror_tree_id(gm, sha_b, tree, &err), 0);
	fx_out(expect, sizeof(expect), "git -C work rev-parse %s^{tree}",
	       sha_b);
	CHECK_STR(tree, expect);

	CHECK_INT(git_mirror_is_ancestor(&yes, gm, sha_a, sha_c, &err), 0);
	CHECK(yes);
	CHECK_INT(git_mirror_is_ancestor(&yes, gm, sha_c, sha_a, &err), 0);
	CHECK(!yes);
	CHECK_INT(git_mirror_is_ancestor(&yes, gm, sha_b, sha_b, &err), 0);
	CHECK(yes);
	CHECK_INT(git_mirror_is_ancestor(&yes, gm, sha_a, "0123456789012345678901234567890123456789",
					 &err), BERTH_ENOTFOUND);

	CHECK_INT(git_mirror_commit_subject(&subject, gm, sha_b, &err), 0);
	CHECK_STR(subject, "second commit");
	free(subject);
	CHECK_INT(git_mirror_commit_subject(&subject, gm, sha_c, &err), 0);
	CHECK_STR(subject, "Revert \"second commit\"");
	free(subject);
}

static void test_subject_sanitised(struct git_mirror *gm)
{
	struct berr err = {""};
	char sha[64], *subject = NULL;

	CHECK_INT(fx_sh("cd work; git commit -q --allow-empty "
			"-m \"$(printf 'evil \\033[31mred\\tx  ')\" "
			"-m 'body line'; git push -q origin main 2>/dev/null"),
		  0);
	fx_out(sha, sizeof(sha), "git -C work rev-parse main");
	CHECK_INT(git_mirror_fetch(gm, NULL, NULL, &err), 0);
	CHECK_INT(git_mirror_commit_subject(&subject, gm, sha, &err), 0);
	CHECK_STR(subject, "evil ?[31mred?x");
	free(subject);
}

static void test_force_push(struct git_mirror *gm)
{
	struct git_ref_update *u = NULL;
	struct berr err = {""};
	char before[64], after[64], expect[200], *d;
	size_t n = 0;

	CHECK_INT(fx_sh("cd work; echo x > x.txt; git add x.txt; "
			"git commit -q -m x; git push -q origin main 2>/dev/null"),
		  0);
	CHECK_INT(git_mirror_fetch(gm, NULL, NULL, &err), 0);
	fx_out(before, sizeof(before), "git -C work rev-parse main");
	CHECK_INT(fx_sh("cd work; git reset -q --hard HEAD~1; "
			"echo y > y.txt; git add y.txt; git commit -q -m y; "
			"git push -q -f origin main 2>/dev/null; "
			"git tag -f -a v1 -m moved >/dev/null; "
			"git push -q -f origin v1 2>/dev/null; "
			"git push -q origin :withsub 2>/dev/null"), 0);
	fx_out(after, sizeof(after), "git -C work rev-parse main");
	CHECK_INT(git_mirror_fetch(gm, &u, &n, &err), 0);
	CHECK_INT(n, 3);
	if (n == 3) {
		/* sorted by name */
		CHECK_STR(u[0].ref, "refs/heads/main");
		CHECK(u[0].forced);
		CHECK_STR(u[0].old_sha, before);
		CHECK_STR(u[0].new_sha, after);
		d = git_mirror_update_describe(&u[0]);
		snprintf(expect, sizeof(expect),
			 "branch 'main' was force-pushed: %.7s -> %.7s (not a "
			 "fast-forward)", before, after);
		CHECK_STR(d, expect);
		free(d);
		CHECK_STR(u[1].ref, "refs/heads/withsub");
		CHECK_STR(u[1].new_sha,
			  "0000000000000000000000000000000000000000");
		CHECK(!u[1].forced);
		d = git_mirror_update_describe(&u[1]);
		CHECK(strstr(d, "branch 'withsub' deleted (was ") == d);
		free(d);
		CHECK_STR(u[2].ref, "refs/tags/v1");
		CHECK(u[2].forced);
	}
	git_mirror_updates_free(u, n);
	/* The commit that was force-pushed away stays readable. */
	CHECK_INT(git_mirror_resolve(gm, before, expect, &err), 0);
}

static void test_ls_remote(struct git_mirror *gm)
{
	struct berr err = {""};
	char sha[41], head[64], out[41];

	CHECK_INT(fx_sh("cd work; echo ls > ls.txt; git add ls.txt; "
			"git commit -q -m ls; git push -q origin main 2>/dev/null"),
		  0);
	fx_out(head, sizeof(head), "git -C work rev-parse main");
	CHECK_INT(git_mirror_ls_remote(sha, gm, "main", &err), 0);
	CHECK_STR(sha, head);
	CHECK_INT(git_mirror_ls_remote(sha, gm, "refs/heads/main", &err), 0);
	CHECK_STR(sha, head);
	/* Objects were not fetched. */
	CHECK_INT(git_mirror_resolve(gm, head, out, &err), BERTH_ENOTFOUND);
	CHECK_INT(git_mirror_ls_remote(sha, gm, "nope", &err),
		  BERTH_ENOTFOUND);
	CHECK(strstr(err.msg, "branch 'nope' not found in") != NULL);
	CHECK_INT(git_mirror_ls_remote(sha, gm, "bad..name", &err), -1);
	CHECK(strstr(err.msg, "invalid branch name") != NULL);
}

static void test_locks(struct git_mirror *gm)
{
	struct berr err = {""};
	char lock[400], stale[400];
	int fd;

	/* Another holder of the fetch lock: a bounded wait, then ELOCKED. */
	snprintf(lock, sizeof(lock), "%s/berth-fetch.lock", mirror_dir);
	fd = open(lock, O_RDWR | O_CLOEXEC);
	CHECK(fd >= 0 && flock(fd, LOCK_EX) == 0);
	git_mirror_set_lock_timeout(gm, 200);
	CHECK_INT(git_mirror_fetch(gm, NULL, NULL, &err), BERTH_ELOCKED);
	CHECK(strstr(err.msg, "is locked") != NULL);
	close(fd);

	/* A lock file an interrupted fetch left is removed, not obeyed. */
	snprintf(stale, sizeof(stale), "%s/refs/heads/main.lock", mirror_dir);
	CHECK_INT(fs_write_atomic(stale, "", 0, 0644, &err), 0);
	CHECK_INT(fx_sh("cd work; echo s > s.txt; git add s.txt; "
			"git commit -q -m s; git push -q origin main 2>/dev/null"),
		  0);
	CHECK_INT(git_mirror_fetch(gm, NULL, NULL, &err), 0);
	CHECK(!fs_exists(stale));
	git_mirror_set_lock_timeout(gm, 60000);
}

static void test_bad_mirror_and_remotes(void)
{
	struct git_mirror *gm = NULL;
	struct berr err = {""};
	char dir[400], url[400], sha[41];
	int port;

	/* A directory that is not a repository. */
	snprintf(dir, sizeof(dir), "%s/junk.git", fx_dir);
	CHECK_INT(fx_sh("mkdir junk.git; echo junk > junk.git/HEAD"), 0);
	CHECK_INT(git_mirror_open(&gm, dir, origin, NULL, &err), -1);
	CHECK(gm == NULL);
	CHECK(strstr(err.msg, "is corrupt or not a bare repository") != NULL);

	/* An empty directory is where a new mirror goes. */
	snprintf(dir, sizeof(dir), "%s/empty.git", fx_dir);
	CHECK_INT(fx_sh("mkdir empty.git"), 0);
	CHECK_INT(git_mirror_open(&gm, dir, origin, NULL, &err), 0);
	if (gm != NULL) {
		CHECK_INT(git_mirror_fetch(gm, NULL, NULL, &err), 0);
		CHECK_INT(git_mirror_resolve(gm, "main", sha, &err), 0);
		git_mirror_close(gm);
	}

	/* A remote path that does not exist. */
	snprintf(dir, sizeof(dir), "%s/m2.git", fx_dir);
	snprintf(url, sizeof(url), "%s/does-not-exist.git", fx_dir);
	CHECK_INT(git_mirror_open(&gm, dir, url, NULL, &err), 0);
	if (gm != NULL) {
		CHECK_INT(git_mirror_fetch(gm, NULL, NULL, &err), -1);
		fprintf(stderr, "missing path: %s\n", err.msg);
		CHECK(strstr(err.msg, "repository not found") != NULL);
		CHECK_INT(git_mirror_ls_remote(sha, gm, "main", &err), -1);
		CHECK(strstr(err.msg, "repository not found") != NULL);
		git_mirror_close(gm);
	}

	/* A closed port on 127.0.0.1, over https with a password in the
	 * URL and a token: neither appears in the message. */
	{
		int s = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in a = {0};
		socklen_t len = sizeof(a);

		a.sin_family = AF_INET;
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		bind(s, (struct sockaddr *)&a, sizeof(a));
		getsockname(s, (struct sockaddr *)&a, &len);
		port = ntohs(a.sin_port);
		close(s);
	}
	snprintf(url, sizeof(url),
		 "https://deploy:hunter2secret@127.0.0.1:%d/acme/app.git",
		 port);
	{
		struct git_auth auth = {"tok-s3cr3t-value", NULL};

		CHECK_INT(git_mirror_open(&gm, dir, url, &auth, &err), 0);
	}
	if (gm != NULL) {
		char expect[200];

		CHECK_INT(git_mirror_fetch(gm, NULL, NULL, &err), -1);
		fprintf(stderr, "closed port: %s\n", err.msg);
		snprintf(expect, sizeof(expect),
			 "cannot fetch from 'https://127.0.0.1:%d/acme/app.git': "
			 "remote unreachable", port);
		CHECK(strstr(err.msg, expect) == err.msg);
		CHECK_NO_SECRET(err.msg, "hunter2secret");
		CHECK_NO_SECRET(err.msg, "tok-s3cr3t-value");
		CHECK_INT(git_mirror_ls_remote(sha, gm, "main", &err), -1);
		CHECK(strstr(err.msg, "remote unreachable") != NULL);
		CHECK_NO_SECRET(err.msg, "hunter2secret");
		git_mirror_close(gm);
	}
}

static void test_redact(void)
{
	char *s;

	s = git_mirror_redact_url("https://user:pw@github.com/a/b.git");
	CHECK_STR(s, "https://github.com/a/b.git");
	free(s);
	s = git_mirror_redact_url("https://tok@host:8443/a@b.git");
	CHECK_STR(s, "https://host:8443/a@b.git");
	free(s);
	s = git_mirror_redact_url("ssh://git@host:22/x.git");
	CHECK_STR(s, "ssh://host:22/x.git");
	free(s);
	s = git_mirror_redact_url("git@github.com:acme/pos.git");
	CHECK_STR(s, "git@github.com:acme/pos.git");
	free(s);
	s = git_mirror_redact_url("/srv/git/app.git");
	CHECK_STR(s, "/srv/git/app.git");
	free(s);
	s = git_mirror_redact_url("file:///srv/git/app.git");
	CHECK_STR(s, "file:///srv/git/app.git");
	free(s);
}

int main(void)
{
	struct git_mirror *gm = NULL;
	struct berr err = {""};

	fx_setup("test-git");
	CHECK_STR(git_mirror_lib_version(), "libgit2 1.5.1");
	test_redact();
	if (make_origin() != 0) {
		CHECK(!"cannot build the fixture repository (is git installed?)");
		fx_teardown();
		return check_done("test_git");
	}
	test_open_fetch();
	CHECK_INT(git_mirror_open(&gm, mirror_dir, origin, NULL, &err), 0);
	if (gm != NULL) {
		test_resolve(gm);
		test_read_file(gm);
		test_list_dir(gm);
		test_export(gm);
		test_trees_ancestry(gm);
		test_subject_sanitised(gm);
		test_force_push(gm);
		test_ls_remote(gm);
		test_locks(gm);
		git_mirror_close(gm);
	} else {
		fprintf(stderr, "open: %s\n", err.msg);
	}
	test_ambiguous_prefix();
	test_export_unsafe();
	test_bad_mirror_and_remotes();
	fx_teardown();
	return check_done("test_git");
}
