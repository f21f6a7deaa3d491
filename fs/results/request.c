/* request.c - request.json as people write it -> the body
 * batchPredictionJobs.create wants: the SDK's short form ({"model", "src",
 * "dest"}), short model names, and the staged input and output locations
 * as defaults under -o staging=gs://BUCKET/PREFIX. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "results/results_int.h"

#define STAGING_HINT "-o staging=gs://BUCKET/PREFIX"

static cJSON *field(const cJSON *o, const char *camel, const char *snake)
{
	cJSON *v = cJSON_GetObjectItemCaseSensitive(o, camel);

	if (!v && snake)
		v = cJSON_GetObjectItemCaseSensitive(o, snake);
	return v;
}

int bf_staging_parse(const char *uri, char **bucket, char **prefix,
		     struct bf_err *e)
{
	const char *b, *slash;
	size_t plen;

	*bucket = *prefix = NULL;
	if (!uri || strncmp(uri, "gs://", 5) != 0 || !uri[5] || uri[5] == '/')
		return bf_err_set(e, EINVAL, "staging: \"%s\" is not of the "
				  "form gs://BUCKET/PREFIX",
				  uri ? uri : "");
	b = uri + 5;
	slash = strchr(b, '/');
	*bucket = slash ? strndup(b, (size_t)(slash - b)) : strdup(b);
	if (!slash)
		slash = b + strlen(b);
	while (*slash == '/')
		slash++;
	plen = strlen(slash);
	while (plen > 0 && slash[plen - 1] == '/')
		plen--;
	*prefix = strndup(slash, plen);
	if (!*bucket || !*prefix) {
		free(*bucket);
		free(*prefix);
		*bucket = *prefix = NULL;
		return bf_err_set(e, ENOMEM, "out of memory");
	}
	return 0;
}

char *bf_staging_object(const char *prefix, const char *name,
			const char *leaf)
{
	char *s = NULL;
	int rc;

	if (prefix && *prefix)
		rc = asprintf(&s, "%s/%s/%s", prefix, name, leaf);
	else
		rc = asprintf(&s, "%s/%s", name, leaf);
	return rc < 0 ? NULL : s;
}

char *bf_model_name_expand(const char *m)
{
	const char *slash = strchr(m, '/');
	char *s = NULL;

	if (!slash) {
		if (asprintf(&s, "publishers/google/models/%s", m) < 0)
			return NULL;
		return s;
	}
	if (strncmp(m, "projects/", 9) == 0 || strncmp(m, "models/", 7) == 0 ||
	    strncmp(m, "publishers/", 11) == 0 || strchr(slash + 1, '/') ||
	    slash == m || !slash[1])
		return strdup(m);
	if (asprintf(&s, "publishers/%.*s/models/%s", (int)(slash - m), m,
		     slash + 1) < 0)
		return NULL;
	return s;
}

static int is_scheme(const cJSON *v, const char *scheme)
{
	return cJSON_IsString(v) && v->valuestring &&
	       strncmp(v->valuestring, scheme, strlen(scheme)) == 0 &&
	       v->valuestring[strlen(scheme)];
}

/* The SDK's BatchJobSource / BatchJobDestination objects: {gcs_uri,
 * bigquery_uri, format}; a plain string or (src) an array of strings. */
static const cJSON *uri_of(const cJSON *v, const char **kind)
{
	const cJSON *g, *b;

	if (!cJSON_IsObject(v))
		return v;
	g = field(v, "gcsUri", "gcs_uri");
	b = field(v, "bigqueryUri", "bigquery_uri");
	if (g && !b) {
		*kind = "gcs";
		return g;
	}
	if (b && !g) {
		*kind = "bq";
		return b;
	}
	return NULL;
}

static int src_config(const cJSON *src, cJSON **out, struct bf_err *e)
{
	const char *kind = NULL;
	const cJSON *u = uri_of(src, &kind), *it;
	cJSON *cfg = cJSON_CreateObject(), *s, *uris;

	if (!cfg)
		return bf_err_set(e, ENOMEM, "out of memory");
	if (is_scheme(u, "bq://") && (!kind || !strcmp(kind, "bq"))) {
		if (!cJSON_AddStringToObject(cfg, "instancesFormat",
					     "bigquery"))
			goto nomem;
		s = cJSON_AddObjectToObject(cfg, "bigquerySource");
		if (!s || !cJSON_AddStringToObject(s, "inputUri",
						   u->valuestring))
			goto nomem;
		*out = cfg;
		return 0;
	}
	if (!is_scheme(u, "gs://") && !(cJSON_IsArray(u) &&
					 cJSON_GetArraySize(u) > 0))
		goto bad;
	if (cJSON_IsArray(u)) {
		cJSON_ArrayForEach(it, u)
		{
			if (!is_scheme(it, "gs://"))
				goto bad;
		}
	}
	if (!cJSON_AddStringToObject(cfg, "instancesFormat", "jsonl"))
		goto nomem;
	s = cJSON_AddObjectToObject(cfg, "gcsSource");
	if (!s)
		goto nomem;
	uris = cJSON_IsArray(u) ? cJSON_Duplicate(u, 1) : cJSON_CreateArray();
	if (!uris)
		goto nomem;
	cJSON_AddItemToObject(s, "uris", uris);
	if (!cJSON_IsArray(u) &&
	    !cJSON_AddItemToArray(uris, cJSON_CreateString(u->valuestring)))
		goto nomem;
	*out = cfg;
	return 0;
bad:
	cJSON_Delete(cfg);
	return bf_err_set(e, EINVAL, "\"src\" must be a gs:// URI (or a list "
			  "of them) or a bq:// table");
nomem:
	cJSON_Delete(cfg);
	return bf_err_set(e, ENOMEM, "out of memory");
}

static int dest_config(const cJSON *dest, cJSON **out, struct bf_err *e)
{
	const char *kind = NULL;
	const cJSON *u = uri_of(dest, &kind);
	cJSON *cfg = cJSON_CreateObject(), *d;
	int bq = is_scheme(u, "bq://") && (!kind || !strcmp(kind, "bq"));

	if (!cfg)
		return bf_err_set(e, ENOMEM, "out of memory");
	if (!bq && !is_scheme(u, "gs://")) {
		cJSON_Delete(cfg);
		return bf_err_set(e, EINVAL, "\"dest\" must be a gs:// URI "
				  "prefix or a bq:// dataset or table");
	}
	d = NULL;
	if (cJSON_AddStringToObject(cfg, "predictionsFormat",
				    bq ? "bigquery" : "jsonl"))
		d = cJSON_AddObjectToObject(cfg, bq ? "bigqueryDestination"
						    : "gcsDestination");
	if (!d || !cJSON_AddStringToObject(d, bq ? "outputUri"
						 : "outputUriPrefix",
					   u->valuestring)) {
		cJSON_Delete(cfg);
		return bf_err_set(e, ENOMEM, "out of memory");
	}
	*out = cfg;
	return 0;
}

static int staged_uri(const struct bf_request_defaults *d, const char *leaf,
		      char **out, struct bf_err *e)
{
	char *bucket, *prefix, *obj;
	int rc = bf_staging_parse(d->staging, &bucket, &prefix, e);

	if (rc < 0)
		return rc;
	obj = bf_staging_object(prefix, d->name ? d->name : "_", leaf);
	if (!obj || asprintf(out, "gs://%s/%s", bucket, obj) < 0)
		rc = bf_err_set(e, ENOMEM, "out of memory");
	free(obj);
	free(bucket);
	free(prefix);
	return rc;
}

static int default_input(cJSON *root, const struct bf_request_defaults *d,
			 struct bf_err *e)
{
	cJSON *src, *cfg = NULL;
	char *uri = NULL;
	int rc;

	if (!d->staging)
		return bf_err_set(e, EINVAL, "missing field \"inputConfig\" "
				  "(or \"src\"); to use a draft's "
				  "input.jsonl instead, mount with "
				  STAGING_HINT);
	if (!d->input_staged)
		return bf_err_set(e, EINVAL, "missing field \"inputConfig\" "
				  "(or \"src\"): write input.jsonl into the "
				  "draft first, or name a source");
	rc = staged_uri(d, "input.jsonl", &uri, e);
	if (rc < 0)
		return rc;
	src = cJSON_CreateString(uri);
	free(uri);
	if (!src)
		return bf_err_set(e, ENOMEM, "out of memory");
	rc = src_config(src, &cfg, e);
	cJSON_Delete(src);
	if (rc == 0)
		cJSON_AddItemToObject(root, "inputConfig", cfg);
	return rc;
}

static int default_output(cJSON *root, const struct bf_request_defaults *d,
			  struct bf_err *e)
{
	cJSON *dest, *cfg = NULL;
	char *uri = NULL;
	int rc;

	if (!d->staging)
		return bf_err_set(e, EINVAL, "missing field \"outputConfig\" "
				  "(or \"dest\"); to default it to the "
				  "staging area, mount with " STAGING_HINT);
	rc = staged_uri(d, "output/", &uri, e);
	if (rc < 0)
		return rc;
	dest = cJSON_CreateString(uri);
	free(uri);
	if (!dest)
		return bf_err_set(e, ENOMEM, "out of memory");
	rc = dest_config(dest, &cfg, e);
	cJSON_Delete(dest);
	if (rc == 0)
		cJSON_AddItemToObject(root, "outputConfig", cfg);
	return rc;
}

/* src/dest -> inputConfig/outputConfig; both spellings at once is EINVAL
 * rather than a silent choice. */
static int short_form(cJSON *root, const char *key, const char *camel,
		      const char *snake, struct bf_err *e)
{
	cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key), *cfg = NULL;
	int rc;

	if (!v)
		return 0;
	if (field(root, camel, snake))
		return bf_err_set(e, EINVAL, "both \"%s\" and \"%s\" given; "
				  "use one",
				  key, camel);
	rc = *key == 's' ? src_config(v, &cfg, e) : dest_config(v, &cfg, e);
	if (rc < 0)
		return rc;
	cJSON_DeleteItemFromObjectCaseSensitive(root, key);
	cJSON_AddItemToObject(root, camel, cfg);
	return 0;
}

/* A missing or odd "model" is left for the request validator to name. */
static int expand_model(cJSON *root, struct bf_err *e)
{
	cJSON *m = cJSON_GetObjectItemCaseSensitive(root, "model");
	char *full;

	if (!cJSON_IsString(m) || !m->valuestring || !*m->valuestring)
		return 0;
	full = bf_model_name_expand(m->valuestring);
	if (!full)
		return bf_err_set(e, ENOMEM, "out of memory");
	if (strcmp(full, m->valuestring) != 0)
		cJSON_ReplaceItemInObjectCaseSensitive(root, "model",
						       cJSON_CreateString(full));
	free(full);
	return 0;
}

/* Repeated fields of a batchPredictionJobs.create body, by path of
 * camelCase names (snake_case accepted at each step). Google's JSON parser
 * takes a single value for a repeated field as a list of one (the REST
 * example of Google's own batch page gives "uris": "gs://..."), so batchfs
 * does too and sends the list. */
static const char *const repeated_fields[][4] = {
	{ "inputConfig", "gcsSource", "uris", NULL },
	{ "instanceConfig", "includedFields", NULL, NULL },
	{ "instanceConfig", "excludedFields", NULL, NULL },
	{ "unmanagedContainerModel", "containerSpec", "command", NULL },
	{ "unmanagedContainerModel", "containerSpec", "args", NULL },
	{ "unmanagedContainerModel", "containerSpec", "env", NULL },
	{ "unmanagedContainerModel", "containerSpec", "ports", NULL },
};

static void snake_of(const char *camel, char *out, size_t n)
{
	size_t k = 0;

	for (; *camel && k + 2 < n; camel++) {
		if (*camel >= 'A' && *camel <= 'Z') {
			out[k++] = '_';
			out[k++] = (char)(*camel - 'A' + 'a');
		} else {
			out[k++] = *camel;
		}
	}
	out[k] = '\0';
}

static cJSON *member(const cJSON *o, const char *camel)
{
	char snake[64];

	snake_of(camel, snake, sizeof(snake));
	return field(o, camel, snake);
}

static int wrap_repeated(cJSON *root, struct bf_err *e)
{
	for (size_t i = 0;
	     i < sizeof(repeated_fields) / sizeof(repeated_fields[0]); i++) {
		const char *const *path = repeated_fields[i];
		cJSON *o = root, *v = NULL, *parent = NULL, *arr;
		size_t k;

		for (k = 0; k < 4 && path[k]; k++) {
			if (!cJSON_IsObject(o))
				break;
			parent = o;
			v = member(o, path[k]);
			if (!v)
				break;
			o = v;
		}
		if (k == 0 || (k < 4 && path[k]) || !v)
			continue; /* the field is not there */
		if (cJSON_IsArray(v) || cJSON_IsNull(v))
			continue;
		arr = cJSON_CreateArray();
		if (!arr)
			return bf_err_set(e, ENOMEM, "out of memory");
		cJSON_DetachItemViaPointer(parent, v);
		cJSON_AddItemToArray(arr, v);
		/* Keep the spelling the user chose. */
		cJSON_AddItemToObject(parent, v->string ? v->string : path[k - 1],
				      arr);
		free(v->string);
		v->string = NULL;
	}
	return 0;
}

int bf_request_expand(const char *text, size_t len,
		      const struct bf_request_defaults *d, char **out,
		      struct bf_err *e)
{
	struct bf_request_defaults none = { 0 };
	cJSON *root = cJSON_ParseWithLength(text, len);
	int rc;

	*out = NULL;
	if (!d)
		d = &none;
	if (!root)
		return bf_err_set(e, EINVAL, "request.json: malformed JSON");
	if (!cJSON_IsObject(root)) {
		rc = bf_err_set(e, EINVAL, "request.json: not a JSON object");
		goto out;
	}
	rc = expand_model(root, e);
	if (rc == 0)
		rc = wrap_repeated(root, e);
	if (rc == 0)
		rc = short_form(root, "src", "inputConfig", "input_config", e);
	if (rc == 0)
		rc = short_form(root, "dest", "outputConfig", "output_config",
				e);
	if (rc == 0 && !field(root, "inputConfig", "input_config"))
		rc = default_input(root, d, e);
	if (rc == 0 && !field(root, "outputConfig", "output_config"))
		rc = default_output(root, d, e);
	if (rc < 0)
		goto out;
	*out = cJSON_PrintUnformatted(root);
	if (!*out)
		rc = bf_err_set(e, ENOMEM, "out of memory");
out:
	cJSON_Delete(root);
	return rc;
}
