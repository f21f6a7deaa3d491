/* auth_cli.c - a driver of fs/auth for tests/core/test_auth.py.
 *
 * Runs a script of steps against one bf_auth and prints one JSON object per
 * step on stdout. It never prints a token: only its length and the first
 * 12 hex digits of its SHA-256, enough to tell tokens apart.
 *
 *   auth_cli [options] STEP...
 *   options: --adc (default) | --none | --token-file F | --token-env V
 *            --key FILE (credentials file; ADC mode) --token-uri U
 *            --metadata-host H --margin S --budget-ms N --timeout-ms N
 *            --attempts N --insecure --base URL (for api steps)
 *            --origin NAME (where --key came from, for messages)
 *   steps:   get          one bf_auth_token
 *            get:N        N threads call bf_auth_token at once
 *            invalidate   bf_auth_invalidate with the last token fetched
 *            sleep:MS
 *            wait         print {"step":"wait"}, then read a line from
 *                         stdin (lets the test act at a known point)
 *            api:PATH     authenticated GET of BASE+PATH through bf_http_do
 *            project      bf_auth_find_project: {"project", "from"}
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>

#include "batchfs/auth.h"
#include "batchfs/http.h"
#include "batchfs/log.h"

#define TOKMAX 4096

static struct bf_auth *auth;
static char last_token[TOKMAX];

static void emit(cJSON *j)
{
	char *s = cJSON_PrintUnformatted(j);

	printf("%s\n", s);
	fflush(stdout);
	free(s);
	cJSON_Delete(j);
}

static void add_err(cJSON *j, int rc, const struct bf_err *e)
{
	cJSON_AddNumberToObject(j, "rc", rc);
	if (rc < 0) {
		cJSON_AddNumberToObject(j, "errno", -rc);
		cJSON_AddStringToObject(j, "err", strerror(-rc));
		cJSON_AddStringToObject(j, "msg", e->msg);
		cJSON_AddNumberToObject(j, "http_status",
					(double)e->http_status);
	}
}

static void token_id(const char *tok, char *out)
{
	unsigned char md[32];
	unsigned int n = 0;
	int i;

	EVP_Digest(tok, strlen(tok), md, &n, EVP_sha256(), NULL);
	for (i = 0; i < 6; i++)
		sprintf(out + 2 * i, "%02x", md[i]);
}

static void step_get(void)
{
	struct bf_err e;
	char tok[TOKMAX], id[16] = "";
	int64_t t0 = bf_now_ms();
	int rc;
	cJSON *j = cJSON_CreateObject();

	bf_err_clear(&e);
	rc = bf_auth_token(auth, tok, sizeof(tok), &e);
	cJSON_AddStringToObject(j, "step", "get");
	add_err(j, rc, &e);
	cJSON_AddNumberToObject(j, "ms", (double)(bf_now_ms() - t0));
	if (rc == 0) {
		token_id(tok, id);
		cJSON_AddNumberToObject(j, "len", (double)strlen(tok));
		cJSON_AddStringToObject(j, "sha", id);
		snprintf(last_token, sizeof(last_token), "%s", tok);
	}
	emit(j);
}

struct worker {
	int rc;
	char id[16];
	struct bf_err e;
	char tok[TOKMAX];
};

static void *worker_main(void *p)
{
	struct worker *w = p;

	bf_err_clear(&w->e);
	w->rc = bf_auth_token(auth, w->tok, sizeof(w->tok), &w->e);
	if (w->rc == 0)
		token_id(w->tok, w->id);
	return NULL;
}

static void step_par(int n)
{
	struct worker *w = calloc((size_t)n, sizeof(*w));
	pthread_t *th = calloc((size_t)n, sizeof(*th));
	int64_t t0 = bf_now_ms();
	cJSON *j = cJSON_CreateObject(), *rcs, *ids;
	int i;

	for (i = 0; i < n; i++)
		pthread_create(&th[i], NULL, worker_main, &w[i]);
	for (i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	cJSON_AddStringToObject(j, "step", "par");
	cJSON_AddNumberToObject(j, "n", n);
	cJSON_AddNumberToObject(j, "ms", (double)(bf_now_ms() - t0));
	rcs = cJSON_AddArrayToObject(j, "rcs");
	ids = cJSON_AddArrayToObject(j, "shas");
	for (i = 0; i < n; i++) {
		cJSON_AddItemToArray(rcs, cJSON_CreateNumber(w[i].rc));
		cJSON_AddItemToArray(ids, cJSON_CreateString(w[i].id));
		if (w[i].rc == 0)
			snprintf(last_token, sizeof(last_token), "%s",
				 w[i].tok);
	}
	emit(j);
	free(w);
	free(th);
}

static void step_api(struct bf_http *h, const char *base, const char *path)
{
	char url[2048];
	struct bf_http_req req = {0};
	struct bf_http_resp r = {0};
	struct bf_err e;
	int rc;
	cJSON *j = cJSON_CreateObject();

	snprintf(url, sizeof(url), "%s%s", base ? base : "", path);
	req.url = url;
	bf_err_clear(&e);
	rc = bf_http_do(h, &req, &r, &e);
	cJSON_AddStringToObject(j, "step", "api");
	add_err(j, rc, &e);
	cJSON_AddNumberToObject(j, "status", (double)r.status);
	cJSON_AddNumberToObject(j, "attempts", r.attempts);
	emit(j);
	bf_http_resp_free(&r);
}

int main(int argc, char **argv)
{
	struct bf_auth_opts o = {.mode = BF_AUTH_ADC};
	struct bf_http_opts ho;
	struct bf_http *h;
	struct bf_token_source ts;
	struct bf_err e;
	const char *base = NULL;
	cJSON *j;
	int i, rc;

	bf_log_init(1, getenv("AUTH_CLI_DEBUG") ? BF_LOG_DEBUG : BF_LOG_WARN);
	bf_http_opts_default(&ho);
	for (i = 1; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--adc") == 0) {
			o.mode = BF_AUTH_ADC;
			continue;
		} else if (strcmp(a, "--none") == 0) {
			o.mode = BF_AUTH_NONE;
			continue;
		} else if (strcmp(a, "--insecure") == 0) {
			o.allow_insecure_keyfile = 1;
			continue;
		}
		if (!v) {
			fprintf(stderr, "%s needs a value\n", a);
			return 2;
		}
		i++;
		if (strcmp(a, "--key") == 0) {
			o.credentials_file = v;
		} else if (strcmp(a, "--token-file") == 0) {
			o.mode = BF_AUTH_TOKEN;
			o.token_file = v;
		} else if (strcmp(a, "--token-env") == 0) {
			o.mode = BF_AUTH_TOKEN;
			o.token_env = v;
		} else if (strcmp(a, "--token-uri") == 0) {
			o.token_uri = v;
		} else if (strcmp(a, "--metadata-host") == 0) {
			o.metadata_host = v;
		} else if (strcmp(a, "--margin") == 0) {
			o.refresh_margin_s = atol(v);
		} else if (strcmp(a, "--budget-ms") == 0) {
			ho.op_budget_ms = atol(v);
		} else if (strcmp(a, "--timeout-ms") == 0) {
			ho.request_timeout_ms = atol(v);
		} else if (strcmp(a, "--attempts") == 0) {
			ho.max_attempts = atoi(v);
		} else if (strcmp(a, "--origin") == 0) {
			o.credentials_origin = v;
		} else if (strcmp(a, "--base") == 0) {
			base = v;
		} else {
			fprintf(stderr, "unknown option %s\n", a);
			return 2;
		}
	}

	h = bf_http_new(&ho);
	if (!h) {
		fprintf(stderr, "bf_http_new failed\n");
		return 2;
	}
	bf_err_clear(&e);
	rc = bf_auth_new(&o, h, &auth, &e);
	j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "step", "new");
	add_err(j, rc, &e);
	if (rc == 0) {
		cJSON_AddStringToObject(j, "describe", bf_auth_describe(auth));
		if (bf_auth_project(auth))
			cJSON_AddStringToObject(j, "project",
						bf_auth_project(auth));
	}
	emit(j);
	if (rc < 0) {
		bf_http_free(h);
		return 0;
	}
	bf_auth_token_source(auth, &ts);
	bf_http_set_token_source(h, &ts);

	for (; i < argc; i++) {
		const char *s = argv[i];

		if (strcmp(s, "get") == 0) {
			step_get();
		} else if (strncmp(s, "get:", 4) == 0) {
			step_par(atoi(s + 4) > 0 ? atoi(s + 4) : 1);
		} else if (strcmp(s, "invalidate") == 0) {
			bf_auth_invalidate(auth, last_token);
			j = cJSON_CreateObject();
			cJSON_AddStringToObject(j, "step", "invalidate");
			emit(j);
		} else if (strncmp(s, "sleep:", 6) == 0) {
			usleep((useconds_t)atol(s + 6) * 1000);
		} else if (strcmp(s, "wait") == 0) {
			char line[64];

			j = cJSON_CreateObject();
			cJSON_AddStringToObject(j, "step", "wait");
			emit(j);
			if (!fgets(line, sizeof(line), stdin))
				break;
		} else if (strcmp(s, "project") == 0) {
			const char *from = NULL;
			const char *p = bf_auth_find_project(auth, &from);

			j = cJSON_CreateObject();
			cJSON_AddStringToObject(j, "step", "project");
			if (p) {
				cJSON_AddStringToObject(j, "project", p);
				cJSON_AddStringToObject(j, "from", from);
			}
			emit(j);
		} else if (strncmp(s, "api:", 4) == 0) {
			step_api(h, base, s + 4);
		} else {
			fprintf(stderr, "unknown step %s\n", s);
			break;
		}
	}
	memset(last_token, 0, sizeof(last_token));
	bf_http_set_token_source(h, NULL);
	bf_auth_free(auth);
	bf_http_free(h);
	return 0;
}
