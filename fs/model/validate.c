/* validate.c - local checks of a request.json before anything is sent:
 * JSON syntax (with line and column), the fields batchPredictionJobs.create
 * needs (named when missing), and displayName against the directory name. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "batchfs/vertex.h"
#include "model/validate.h"

/* Google accepts lowerCamelCase and the proto's snake_case. */
static cJSON *field(const cJSON *o, const char *camel, const char *snake)
{
	cJSON *v = cJSON_GetObjectItemCaseSensitive(o, camel);

	if (!v && snake)
		v = cJSON_GetObjectItemCaseSensitive(o, snake);
	return v;
}

static int nonempty_string(const cJSON *v)
{
	return cJSON_IsString(v) && v->valuestring && *v->valuestring;
}

static void line_col(const char *text, size_t pos, int *line, int *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < pos; i++) {
		if (text[i] == '\n') {
			(*line)++;
			*col = 1;
		} else {
			(*col)++;
		}
	}
}

static int check_input(const cJSON *in, struct bf_err *e)
{
	const cJSON *gcs, *bq, *ds;

	if (!cJSON_IsObject(in))
		return bf_err_set(e, EINVAL,
				  "missing field \"inputConfig\" (an object)");
	if (!nonempty_string(field(in, "instancesFormat", "instances_format")))
		return bf_err_set(e, EINVAL,
				  "missing field "
				  "\"inputConfig.instancesFormat\" (e.g. "
				  "\"jsonl\")");
	gcs = field(in, "gcsSource", "gcs_source");
	bq = field(in, "bigquerySource", "bigquery_source");
	ds = field(in, "vertexMultimodalDatasetSource",
		   "vertex_multimodal_dataset_source");
	if (gcs) {
		const cJSON *uris = field(gcs, "uris", NULL), *u;

		if (!cJSON_IsArray(uris) || cJSON_GetArraySize(uris) == 0)
			return bf_err_set(e, EINVAL,
					  "missing field "
					  "\"inputConfig.gcsSource.uris\" (a "
					  "non-empty array of gs:// URIs)");
		cJSON_ArrayForEach(u, uris)
		{
			if (!nonempty_string(u) ||
			    strncmp(u->valuestring, "gs://", 5) != 0)
				return bf_err_set(e, EINVAL,
						  "inputConfig.gcsSource.uris: "
						  "every entry must be a "
						  "gs:// URI");
		}
		return 0;
	}
	if (bq) {
		if (!nonempty_string(field(bq, "inputUri", "input_uri")))
			return bf_err_set(e, EINVAL,
					  "missing field "
					  "\"inputConfig.bigquerySource."
					  "inputUri\"");
		return 0;
	}
	if (ds)
		return 0;
	return bf_err_set(e, EINVAL,
			  "missing field \"inputConfig.gcsSource\" "
			  "(or inputConfig.bigquerySource)");
}

static int check_output(const cJSON *out, struct bf_err *e)
{
	const cJSON *gcs, *bq, *ds;

	if (!cJSON_IsObject(out))
		return bf_err_set(e, EINVAL,
				  "missing field \"outputConfig\" (an object)");
	if (!nonempty_string(
		    field(out, "predictionsFormat", "predictions_format")))
		return bf_err_set(e, EINVAL,
				  "missing field "
				  "\"outputConfig.predictionsFormat\" (e.g. "
				  "\"jsonl\")");
	gcs = field(out, "gcsDestination", "gcs_destination");
	bq = field(out, "bigqueryDestination", "bigquery_destination");
	ds = field(out, "vertexMultimodalDatasetDestination",
		   "vertex_multimodal_dataset_destination");
	if (gcs) {
		const cJSON *p =
			field(gcs, "outputUriPrefix", "output_uri_prefix");

		if (!nonempty_string(p))
			return bf_err_set(e, EINVAL,
					  "missing field "
					  "\"outputConfig.gcsDestination."
					  "outputUriPrefix\"");
		if (strncmp(p->valuestring, "gs://", 5) != 0)
			return bf_err_set(e, EINVAL,
					  "outputConfig.gcsDestination."
					  "outputUriPrefix must be a gs:// "
					  "URI");
		return 0;
	}
	if (bq) {
		if (!nonempty_string(field(bq, "outputUri", "output_uri")))
			return bf_err_set(e, EINVAL,
					  "missing field "
					  "\"outputConfig.bigqueryDestination."
					  "outputUri\"");
		return 0;
	}
	if (ds)
		return 0;
	return bf_err_set(e, EINVAL,
			  "missing field \"outputConfig.gcsDestination\" (or "
			  "outputConfig.bigqueryDestination)");
}

/* Vertex takes at most 64 labels and batchfs adds its client token label,
 * so a request may bring 63: refuse more here rather than after a round
 * trip (or, worse, with the token dropped). */
static int check_labels(const cJSON *labels, struct bf_err *e)
{
	const cJSON *l;
	int n = 0;

	if (!labels || cJSON_IsNull(labels))
		return 0;
	if (!cJSON_IsObject(labels))
		return bf_err_set(e, EINVAL, "labels must be an object of "
				  "string values");
	cJSON_ArrayForEach(l, labels)
	{
		if (strcmp(l->string, BF_TOKEN_LABEL) != 0 &&
		    strcmp(l->string, BF_TOKEN_LABEL_OLD) != 0)
			n++;
	}
	if (n > BF_MAX_USER_LABELS)
		return bf_err_set(e, EINVAL,
				  "labels: %d given, at most %d (Vertex AI "
				  "allows %d per job and batchfs adds its "
				  "own \"%s\" label)",
				  n, BF_MAX_USER_LABELS,
				  BF_MAX_USER_LABELS + 1, BF_TOKEN_LABEL);
	return 0;
}

int bf_validate_request(const char *text, size_t len, const char *name,
			char **out, struct bf_err *e)
{
	const char *end = NULL;
	cJSON *root, *dn;
	int rc;

	*out = NULL;
	if (len == 0)
		return bf_err_set(e, EINVAL, "request.json is empty");
	if (memchr(text, '\0', len))
		return bf_err_set(e, EINVAL,
				  "request.json contains a NUL byte");
	/* return_parse_end is where cJSON_GetErrorPtr would point, without
	 * cJSON's global (not thread-safe) error pointer. */
	root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
	if (root && end) {
		/* Only whitespace may follow the value. */
		const char *p = end;

		while (p < text + len &&
		       (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
			p++;
		if (p < text + len) {
			cJSON_Delete(root);
			root = NULL;
			end = p;
		}
	}
	if (!root) {
		size_t pos = end && end >= text ? (size_t)(end - text) : 0;
		int line, col;

		if (pos > len)
			pos = len;
		line_col(text, pos, &line, &col);
		if (pos >= len)
			return bf_err_set(e, EINVAL,
					  "request.json:%d:%d: malformed JSON: "
					  "unexpected end of input",
					  line, col);
		/* text is not NUL-terminated: quote only what is there, on
		 * one line (the error file holds one line). */
		{
			char near[17];
			size_t n = len - pos < 16 ? len - pos : 16;

			for (size_t i = 0; i < n; i++) {
				unsigned char ch = (unsigned char)text[pos + i];

				near[i] = ch < 0x20 || ch == 0x7f ? ' ' : ch;
			}
			near[n] = '\0';
			return bf_err_set(e, EINVAL,
					  "request.json:%d:%d: malformed JSON "
					  "near '%s'",
					  line, col, near);
		}
	}
	if (!cJSON_IsObject(root)) {
		rc = bf_err_set(e, EINVAL,
				"request.json must hold a JSON "
				"object (a batchPredictionJobs.create body)");
		goto out;
	}
	if (!nonempty_string(field(root, "model", NULL)) &&
	    !cJSON_IsObject(field(root, "unmanagedContainerModel",
				  "unmanaged_container_model"))) {
		rc = bf_err_set(e, EINVAL,
				"missing field \"model\" (e.g. "
				"\"publishers/google/models/"
				"gemini-2.5-flash\")");
		goto out;
	}
	rc = check_input(field(root, "inputConfig", "input_config"), e);
	if (rc)
		goto out;
	rc = check_output(field(root, "outputConfig", "output_config"), e);
	if (rc)
		goto out;
	rc = check_labels(field(root, "labels", NULL), e);
	if (rc)
		goto out;
	dn = field(root, "displayName", "display_name");
	if (dn) {
		if (!cJSON_IsString(dn) || strcmp(dn->valuestring, name) != 0) {
			rc = bf_err_set(e, EINVAL,
					"displayName \"%.200s\" differs from "
					"the directory name \"%.200s\" (omit "
					"it, or mkdir a directory of that "
					"name)",
					cJSON_IsString(dn) ? dn->valuestring
							   : "(not a string)",
					name);
			goto out;
		}
	} else if (!cJSON_AddStringToObject(root, "displayName", name)) {
		rc = bf_err_set(e, ENOMEM, "out of memory");
		goto out;
	}
	*out = cJSON_PrintUnformatted(root);
	rc = *out ? 0 : bf_err_set(e, ENOMEM, "out of memory");
out:
	cJSON_Delete(root);
	return rc;
}
