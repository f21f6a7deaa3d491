/* common.c - the small helpers every credential file uses: wiping and
 * freeing secrets (strings, parsed JSON), reading a small file into a
 * secret buffer, a JSON object's string field, the check that a token
 * endpoint URL is safe to send credentials to, trimming. Calls nothing
 * else in fs/auth.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <openssl/crypto.h>

#include "auth/auth_int.h"

void bf_auth_free_secret(char *s)
{
	if (s) {
		OPENSSL_cleanse(s, strlen(s));
		free(s);
	}
}

/* cJSON frees without wiping; clear every string value first. */
static void json_wipe(cJSON *j)
{
	for (; j; j = j->next) {
		if (j->valuestring)
			OPENSSL_cleanse(j->valuestring, strlen(j->valuestring));
		json_wipe(j->child);
	}
}

void bf_auth_json_wipe_delete(cJSON *j)
{
	json_wipe(j);
	cJSON_Delete(j);
}

/* Reads a whole small file into a NUL-terminated secret buffer. */
int bf_auth_read_small_file(const char *path, size_t max, char **out,
			    size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t cap = 4096, n = 0;
	char *buf, *nb;
	ssize_t r;
	int err;

	if (fd < 0)
		return -errno;
	buf = malloc(cap);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	for (;;) {
		if (n + 1 >= cap) {
			if (cap >= max + 1) {
				err = -EFBIG;
				goto fail;
			}
			/* realloc would leave an unwiped copy behind. */
			nb = malloc(cap * 2);
			if (!nb) {
				err = -ENOMEM;
				goto fail;
			}
			memcpy(nb, buf, n);
			OPENSSL_cleanse(buf, n);
			free(buf);
			buf = nb;
			cap *= 2;
		}
		r = read(fd, buf + n, cap - 1 - n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			goto fail;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	if (n > max) {
		OPENSSL_cleanse(buf, n);
		free(buf);
		return -EFBIG;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
fail:
	OPENSSL_cleanse(buf, n);
	free(buf);
	close(fd);
	return err;
}

const char *bf_auth_jstr(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : NULL;
}

/* Credentials go to the token endpoint: https, or plain http only to this
 * machine (emulators). Anything else (file://, a typo) is refused. */
int bf_auth_token_uri_ok(const char *u)
{
	static const char *const local[] = {
		"http://127.0.0.1:", "http://127.0.0.1/", "http://localhost:",
		"http://localhost/", "http://[::1]:",	  "http://[::1]/"};
	size_t i;

	if (strncasecmp(u, "https://", 8) == 0 && u[8])
		return 1;
	for (i = 0; i < sizeof(local) / sizeof(local[0]); i++)
		if (strncasecmp(u, local[i], strlen(local[i])) == 0)
			return 1;
	return 0;
}

char *bf_auth_trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' ||
			   end[-1] == '\r' || end[-1] == '\n'))
		*--end = '\0';
	return s;
}
