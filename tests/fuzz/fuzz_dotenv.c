/*
 * fuzz_dotenv.c — dotenv_parse() on arbitrary bytes. A parse that succeeds
 * yields valid variable names and no duplicates; one that fails names the
 * file and a line and leaves the list as it was.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "berth.h"

static void must(bool ok)
{
	if (!ok)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kvlist vars;
	struct berr err;
	size_t i, j;

	kvlist_init(&vars);
	kvlist_set(&vars, "PRESET", "1");
	if (dotenv_parse(&vars, (const char *)data, size, "f.env", &err) == 0) {
		for (i = 0; i < vars.n; i++) {
			must(config_check_var_name(vars.items[i].key));
			for (j = i + 1; j < vars.n; j++)
				must(strcmp(vars.items[i].key,
					    vars.items[j].key) != 0);
		}
	} else {
		must(strncmp(err.msg, "f.env:", 6) == 0);
		must(vars.n == 1 && strcmp(vars.items[0].value, "1") == 0);
	}
	kvlist_release(&vars);
	return 0;
}
