/*
 * fuzz_known_hosts.c — known_hosts_check() with a host key as an ssh server
 * could send it and a known_hosts file, both from the input.
 *
 * Input: byte 0 = key length n, byte 1 = port selector (0: 22, else
 * 2200 + byte), then n bytes of key blob, then the known_hosts text.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "berth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[64];
	const char *files[2] = {path, NULL};
	struct berr err;
	size_t keylen;
	int fd, port;

	if (size < 2 || (size_t)data[0] > size - 2)
		return 0;
	keylen = data[0];
	port = data[1] == 0 ? 22 : 2200 + data[1];
	if (path[0] == '\0')
		snprintf(path, sizeof(path), "/tmp/berth-fuzz-kh-%ld",
			 (long)getpid());
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return 0;
	if (write(fd, data + 2 + keylen, size - 2 - keylen) < 0) {
		close(fd);
		return 0;
	}
	close(fd);
	known_hosts_check(files, "git.example.com", port, data + 2, keylen,
			  &err);
	unlink(path);
	return 0;
}
