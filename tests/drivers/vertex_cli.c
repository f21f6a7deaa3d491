/* vertex_cli.c - drives fs/vertex against an endpoint for the Python
 * integration tests (tests/core/test_vertex.py). Not a meson test.
 *
 *   vertex_cli [options] create BODYFILE TOKEN | get ID | list [FILTER] |
 *              cancel ID | delete ID | find TOKEN | errmap HTTP STATUS
 *   options: --endpoint URL --project P --location L [--api-version V]
 *            [--timeout-ms N] [--budget-ms N] [--attempts N]
 *            [--credentials FILE] [--page-size N] [--read-mask M]
 * [--interrupt-after-ms N | --interrupt-when PATH] [--soft-429]
 *            [--verbose]
 *
 * Prints one JSON object: rc, errno, errno_name, http_status, status,
 * message, elapsed_ms, and job / jobs. Exit status 0 whenever the call ran.
 */
#include <unistd.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "batchfs/auth.h"
#include "batchfs/err.h"
#include "batchfs/http.h"
#include "batchfs/log.h"
#include "batchfs/vertex.h"

static cJSON *job_json(const struct bf_job *j)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "id", j->id);
	cJSON_AddStringToObject(o, "name", j->name ? j->name : "");
	cJSON_AddStringToObject(o, "state", bf_job_state_name(j->state));
	cJSON_AddBoolToObject(o, "terminal", bf_job_state_terminal(j->state));
	if (j->display_name)
		cJSON_AddStringToObject(o, "display_name", j->display_name);
	if (j->client_token)
		cJSON_AddStringToObject(o, "client_token", j->client_token);
	if (j->input_uri)
		cJSON_AddStringToObject(o, "input_uri", j->input_uri);
	if (j->output_prefix)
		cJSON_AddStringToObject(o, "output_prefix", j->output_prefix);
	if (j->gcs_output_dir)
		cJSON_AddStringToObject(o, "gcs_output_dir", j->gcs_output_dir);
	if (j->error_message)
		cJSON_AddStringToObject(o, "error_message", j->error_message);
	cJSON_AddNumberToObject(o, "error_code", j->error_code);
	cJSON_AddNumberToObject(o, "create_us", (double)j->create_us);
	cJSON_AddNumberToObject(o, "succeeded", (double)j->succeeded);
	cJSON_AddNumberToObject(o, "failed", (double)j->failed);
	cJSON_AddNumberToObject(o, "incomplete", (double)j->incomplete);
	cJSON_AddNumberToObject(o, "raw_len", (double)j->raw_len);
	return o;
}

static int list_cb(void *ud, struct bf_job *job)
{
	cJSON_AddItemToArray(ud, job_json(job));
	return 0;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *s = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
	    fseek(f, 0, SEEK_SET) == 0 && (s = malloc(n + 1))) {
		if (fread(s, 1, n, f) != (size_t)n) {
			free(s);
			s = NULL;
		} else {
			s[n] = '\0';
		}
	}
	fclose(f);
	return s;
}

/* --interrupt-after-ms: what the FUSE glue does when a request is
 * interrupted (Ctrl-C on the caller). */
static int64_t interrupt_at;
/* --interrupt-when PATH: interrupted once PATH exists, so a test can
 * interrupt when the server has the request rather than after a guess. */
static const char *interrupt_file;

static int interrupt_check(void *ud)
{
	(void)ud;
	if (interrupt_file)
		return access(interrupt_file, F_OK) == 0;
	return bf_now_ms() >= interrupt_at;
}

static int usage(void)
{
	fprintf(stderr,
		"usage: vertex_cli --endpoint URL --project P --location L "
		"[opts] create BODYFILE TOKEN | get ID | list [FILTER] | "
		"cancel ID | delete ID | find TOKEN | errmap HTTP STATUS\n");
	return 2;
}

/* The meter: every attempt the client reports, and the last status. */
static int metered;
static long metered_status;

static void meter(void *ud, int attempts, long status)
{
	(void)ud;
	metered += attempts;
	metered_status = status;
}

int main(int argc, char **argv)
{
	struct bf_vertex_opts vo = {.api_version = "v1"};
	struct bf_http_opts ho;
	const char *read_mask = NULL, *creds = NULL;
	int page_size = 0, verbose = 0, flags = 0, i;

	bf_http_opts_default(&ho);
	for (i = 1; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
		const char *k = argv[i],
			   *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(k, "--verbose")) {
			verbose = 1;
			continue;
		}
		if (!strcmp(k, "--soft-429")) {
			flags |= BF_VX_SOFT_429;
			continue;
		}
		if (!val)
			return usage();
		i++;
		if (!strcmp(k, "--endpoint"))
			vo.endpoint = val;
		else if (!strcmp(k, "--project"))
			vo.project = val;
		else if (!strcmp(k, "--location"))
			vo.location = val;
		else if (!strcmp(k, "--api-version"))
			vo.api_version = val;
		else if (!strcmp(k, "--timeout-ms"))
			ho.request_timeout_ms = atol(val);
		else if (!strcmp(k, "--budget-ms"))
			ho.op_budget_ms = atol(val);
		else if (!strcmp(k, "--attempts"))
			ho.max_attempts = atoi(val);
		else if (!strcmp(k, "--page-size"))
			page_size = atoi(val);
		else if (!strcmp(k, "--read-mask"))
			read_mask = val;
		else if (!strcmp(k, "--credentials"))
			creds = val;
		else if (!strcmp(k, "--interrupt-after-ms"))
			interrupt_at = atol(val);
		else if (!strcmp(k, "--interrupt-when"))
			interrupt_file = val;
		else
			return usage();
	}
	if (i >= argc)
		return usage();
	const char *cmd = argv[i];
	char **args = argv + i + 1;
	int nargs = argc - i - 1;

	bf_log_init(1, verbose ? BF_LOG_DEBUG : BF_LOG_WARN);
	cJSON *res = cJSON_CreateObject();

	if (!strcmp(cmd, "errmap")) {
		if (nargs < 1)
			return usage();
		int eno = bf_errno_from_http(atol(args[0]),
					     nargs > 1 ? args[1] : NULL);

		cJSON_AddNumberToObject(res, "errno", eno);
		cJSON_AddStringToObject(res, "errno_name",
					eno ? strerrorname_np(eno) : "OK");
		goto print;
	}

	struct bf_http *http = bf_http_new(&ho);
	struct bf_vertex *v = http ? bf_vertex_new(&vo, http) : NULL;
	struct bf_auth *auth = NULL;
	struct bf_err e = {0};
	struct bf_job job = {0};
	int rc, have_job = 0;
	int64_t t0 = bf_now_ms();

	if (!v) {
		fprintf(stderr, "vertex_cli: cannot set up the client\n");
		return 2;
	}
	bf_vertex_set_meter(v, meter, NULL);
	if (creds) {
		struct bf_auth_opts ao = {
			.credentials_file = creds,
			.allow_insecure_keyfile = 1,
		};

		if (bf_auth_new(&ao, http, &auth, &e)) {
			fprintf(stderr, "vertex_cli: %s\n", e.msg);
			return 2;
		}
		struct bf_token_source ts;

		bf_auth_token_source(auth, &ts);
		bf_http_set_token_source(http, &ts);
	}
	if (interrupt_at > 0 || interrupt_file) {
		interrupt_at += t0;
		bf_cancel_set(interrupt_check, NULL);
	}
	if (!strcmp(cmd, "create") && nargs == 2) {
		char *body = slurp(args[0]);

		if (!body) {
			perror(args[0]);
			return 2;
		}
		rc = bf_vertex_create(v, body, args[1], &job, &e);
		have_job = rc == 0;
		free(body);
	} else if (!strcmp(cmd, "get") && nargs == 1) {
		rc = bf_vertex_get_ex(v, args[0], flags, &job, &e);
		have_job = rc == 0;
	} else if (!strcmp(cmd, "find") && nargs == 1) {
		rc = bf_vertex_find_by_token(v, args[0], &job, &e);
		have_job = rc == 0;
	} else if (!strcmp(cmd, "list") && nargs <= 1) {
		cJSON *arr = cJSON_AddArrayToObject(res, "jobs");

		rc = bf_vertex_list_ex(v, nargs ? args[0] : NULL, read_mask,
				       page_size, flags, list_cb, arr, &e);
		cJSON_AddNumberToObject(res, "count", cJSON_GetArraySize(arr));
	} else if (!strcmp(cmd, "cancel") && nargs == 1) {
		rc = bf_vertex_cancel(v, args[0], &e);
	} else if (!strcmp(cmd, "delete") && nargs == 1) {
		rc = bf_vertex_delete(v, args[0], &e);
	} else {
		return usage();
	}
	cJSON_AddNumberToObject(res, "elapsed_ms", (double)(bf_now_ms() - t0));
	cJSON_AddNumberToObject(res, "rc", rc);
	cJSON_AddNumberToObject(res, "metered", metered);
	cJSON_AddNumberToObject(res, "metered_status", (double)metered_status);
	cJSON_AddNumberToObject(res, "errno", e.err);
	cJSON_AddStringToObject(res, "errno_name",
				e.err ? strerrorname_np(e.err) : "OK");
	cJSON_AddNumberToObject(res, "http_status", e.http_status);
	cJSON_AddNumberToObject(res, "curl_code", e.curl_code);
	cJSON_AddStringToObject(res, "status", e.status);
	cJSON_AddStringToObject(res, "message", e.msg);
	cJSON_AddStringToObject(res, "base", bf_vertex_base(v));
	if (have_job)
		cJSON_AddItemToObject(res, "job", job_json(&job));
	bf_job_free(&job);
	bf_vertex_free(v);
	bf_http_free(http);
	bf_auth_free(auth);
print:;
	char *s = cJSON_PrintUnformatted(res);

	printf("%s\n", s);
	free(s);
	cJSON_Delete(res);
	return 0;
}
