/* fuzz_creds.c - credential files: service_account / authorized_user JSON
 * keys (with the PEM key parse), external_account (credential_source,
 * headers, format, impersonation), external_account_authorized_user and
 * impersonated_service_account (nested source) through bf_auth_new, exactly as a
 * credentials option would load them, and an access-token file through
 * bf_auth_token. The input is written to a private temporary file. The
 * first byte picks the mode; nothing here touches the network (the token
 * endpoints are only contacted by bf_auth_token for key files, which this
 * target never calls). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "batchfs/auth.h"
#include "fuzz.h"

static char path[64];

static int write_file(const uint8_t *data, size_t size)
{
	int fd;

	if (!path[0]) {
		snprintf(path, sizeof(path), "/tmp/bf-fuzz-creds-%d",
			 (int)getpid());
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	while (size) {
		ssize_t w = write(fd, data, size);

		if (w <= 0) {
			close(fd);
			return -1;
		}
		data += w;
		size -= (size_t)w;
	}
	close(fd);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bf_auth_opts o = {0};
	struct bf_auth *a = NULL;
	struct bf_err e = {0};
	char tok[4096];
	int mode, rc;

	fuzz_quiet();
	if (size < 1)
		return 0;
	mode = data[0] & 1;
	if (write_file(data + 1, size - 1))
		return 0;
	o.allow_insecure_keyfile = 1;
	o.token_uri = "http://127.0.0.1:9/token"; /* never contacted */
	if (mode == 0) {
		o.mode = BF_AUTH_ADC;
		o.credentials_file = path;
	} else {
		o.mode = BF_AUTH_TOKEN;
		o.token_file = path;
	}
	rc = bf_auth_new(&o, NULL, &a, &e);
	FUZZ_ASSERT(rc <= 0);
	if (rc == 0) {
		const char *d = bf_auth_describe(a);

		FUZZ_ASSERT(d && *d);
		bf_auth_project(a);
		if (mode == 1) {
			rc = bf_auth_token(a, tok, sizeof(tok), &e);
			FUZZ_ASSERT(rc <= 1);
			if (rc == 0)
				for (const char *p = tok; *p; p++)
					FUZZ_ASSERT(*p > 0x20 && *p < 0x7f);
		}
		bf_auth_free(a);
	} else {
		FUZZ_ASSERT(a == NULL);
		FUZZ_ASSERT(e.err == -rc);
	}
	return 0;
}
