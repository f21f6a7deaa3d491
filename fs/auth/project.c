/* project.c - the project to use when the options name none, found the way
 * Google's libraries find it: the credential's project_id, its
 * quota_project_id, gcloud's active configuration ([core] project in
 * configurations/config_NAME under $CLOUDSDK_CONFIG or ~/.config/gcloud;
 * CLOUDSDK_CORE_PROJECT overrides it as it does for gcloud), and, for the
 * metadata server's credential only, the metadata server's project-id.
 *
 * The gcloud files and the metadata answer are untrusted text: only a
 * plausible project id is taken from them.
 */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "batchfs/http.h"
#include "batchfs/log.h"
#include "auth/auth_int.h"

#define GCLOUD_FILE_MAX (64 * 1024)

/* Project ids: lowercase, digits, hyphens; legacy domain-scoped ones have
 * "domain:" in front. */
static int project_ok(const char *p)
{
	size_t n = strlen(p);

	return n && n <= 100 &&
	       strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789-.:") == n;
}

static int gcloud_dir(char *out, size_t n)
{
	const char *base = getenv("CLOUDSDK_CONFIG");
	struct passwd pw, *res = NULL;
	char pwbuf[1024];
	int w;

	if (base && *base) {
		w = snprintf(out, n, "%s", base);
	} else {
		base = getenv("HOME");
		if (!base || !*base) {
			if (getpwuid_r(getuid(), &pw, pwbuf, sizeof(pwbuf),
				       &res) ||
			    !res)
				return -ENOENT;
			base = res->pw_dir;
		}
		w = snprintf(out, n, "%s/.config/gcloud", base);
	}
	return w > 0 && (size_t)w < n ? 0 : -ENAMETOOLONG;
}

/* [core] project of one gcloud properties file, or NULL. */
static char *ini_core_project(char *text)
{
	char *line, *save = NULL, *k, *v, *eq;
	int core = 0;

	for (line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		k = bf_auth_trim(line);
		if (*k == '[') {
			core = strcmp(k, "[core]") == 0;
			continue;
		}
		if (!core || *k == '#' || *k == ';' || !(eq = strchr(k, '=')))
			continue;
		*eq = '\0';
		v = bf_auth_trim(eq + 1);
		if (strcmp(bf_auth_trim(k), "project") == 0)
			return project_ok(v) ? strdup(v) : NULL;
	}
	return NULL;
}

static char *gcloud_project(char *from, size_t fn)
{
	const char *env = getenv("CLOUDSDK_CORE_PROJECT");
	const char *name = getenv("CLOUDSDK_ACTIVE_CONFIG_NAME");
	char dir[3072], path[4096], cfg[128], *text = NULL, *p = NULL;
	size_t len = 0;

	if (env && project_ok(env)) {
		snprintf(from, fn, "CLOUDSDK_CORE_PROJECT");
		return strdup(env);
	}
	if (gcloud_dir(dir, sizeof(dir)) < 0)
		return NULL;
	if (name && *name) {
		snprintf(cfg, sizeof(cfg), "%s", name);
	} else {
		snprintf(path, sizeof(path), "%s/active_config", dir);
		snprintf(cfg, sizeof(cfg), "default");
		if (bf_auth_read_small_file(path, 256, &text, &len) == 0) {
			snprintf(cfg, sizeof(cfg), "%s", bf_auth_trim(text));
			free(text);
			text = NULL;
		}
	}
	/* A name, not a path. */
	if (!*cfg || strspn(cfg, "abcdefghijklmnopqrstuvwxyz"
				 "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") !=
			     strlen(cfg))
		return NULL;
	snprintf(path, sizeof(path), "%s/configurations/config_%s", dir, cfg);
	if (bf_auth_read_small_file(path, GCLOUD_FILE_MAX, &text, &len) < 0)
		return NULL;
	p = ini_core_project(text);
	free(text);
	if (p)
		snprintf(from, fn, "gcloud configuration %s (%.200s)", cfg,
			 path);
	return p;
}

static char *metadata_project(struct bf_auth *a)
{
	static const char *const hdrs[] = {"Metadata-Flavor: Google", NULL};
	struct bf_http_resp r = {0};
	struct bf_http_req req = {
		.headers = hdrs,
		.no_auth = 1,
		.timeout_ms = a->md_probe_ms,
		.budget_ms = a->md_probe_ms,
	};
	char url[1024], *p = NULL, *v;
	struct bf_err e;
	const char *h = a->md_host;

	if (!a->http || !h)
		return NULL;
	snprintf(url, sizeof(url), "%s%s/computeMetadata/v1/project/project-id",
		 strncmp(h, "http://", 7) && strncmp(h, "https://", 8)
			 ? "http://"
			 : "",
		 h);
	req.url = url;
	bf_err_clear(&e);
	if (bf_http_do(a->http, &req, &r, &e) == 0 && r.status == 200 &&
	    r.body && r.body_len < 256) {
		v = bf_auth_trim(r.body);
		if (project_ok(v))
			p = strdup(v);
	} else {
		bf_log_info("auth: no project from the metadata server: %s",
			    e.msg[0] ? e.msg : "no answer");
	}
	bf_http_resp_free(&r);
	return p;
}

const char *bf_auth_find_project(struct bf_auth *a, const char **from)
{
	static const char *const own = "the credential's project_id";
	static const char *const quota = "the credential's quota_project_id";
	char *where = a ? a->found_from : NULL;
	char *p;

	if (from)
		*from = NULL;
	if (!a)
		return NULL;
	if (a->project && *a->project) {
		if (from)
			*from = own;
		return a->project;
	}
	if (a->quota_project && *a->quota_project) {
		if (from)
			*from = quota;
		return a->quota_project;
	}
	if (a->found_project) {
		if (from)
			*from = where;
		return a->found_project;
	}
	p = gcloud_project(where, sizeof(a->found_from));
	if (!p && a->src == BF_SRC_METADATA) {
		p = metadata_project(a);
		snprintf(where, sizeof(a->found_from),
			 "the metadata server at %.200s", a->md_host);
	}
	a->found_project = p;
	if (p && from)
		*from = where;
	return p;
}
