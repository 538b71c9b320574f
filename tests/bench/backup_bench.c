/*
 * backup_bench.c — the backup API from the command line, for
 * tests/bench/backup_bench.sh to time next to bare pg_dump and pg_restore.
 * Not a test: built on request, run by hand.
 *
 *   backup_bench create DIR FORMAT   backup_create of $DATABASE_URL
 *   backup_bench restore FILE        backup_restore into $DATABASE_URL
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "berth.h"

int main(int argc, char **argv)
{
	const char *url = getenv("DATABASE_URL");
	struct pgtool db = {.url = url};
	struct backup_info b;
	struct berr err;

	if (url == NULL || argc < 3) {
		fprintf(stderr, "usage: DATABASE_URL=… backup_bench create DIR "
		                "FORMAT | restore FILE\n");
		return 64;
	}
	if (strcmp(argv[1], "create") == 0 && argc == 4) {
		struct backup_create_opts o = {.dir = argv[2],
		                               .kind = BACKUP_MANUAL};

		if (backup_format_parse(&o.format, argv[3]) != 0) {
			fprintf(stderr, "unknown format '%s'\n", argv[3]);
			return 64;
		}
		if (backup_create(&b, &db, &o, &err) != 0) {
			fprintf(stderr, "%s\n", err.msg);
			return 1;
		}
		printf("%s %lld bytes\n", b.path, (long long)b.size);
		backup_info_release(&b);
		return 0;
	}
	if (strcmp(argv[1], "restore") == 0) {
		if (backup_restore(&db, argv[2], &err) != 0) {
			fprintf(stderr, "%s\n", err.msg);
			return 1;
		}
		return 0;
	}
	return 64;
}
