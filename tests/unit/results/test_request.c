/* test_request.c - request.json expansion: the SDK short form, model names,
 * staging defaults, and the errors that name the missing field and the
 * option. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "batchfs/results.h"

static char *expand(const char *in, const struct bf_request_defaults *d,
		    int *rc, struct bf_err *e)
{
	char *out = NULL;

	*rc = bf_request_expand(in, strlen(in), d, &out, e);
	return out;
}

static void model_names(void)
{
	const char *cases[][2] = {
		{ "gemini-2.5-flash", "publishers/google/models/gemini-2.5-flash" },
		{ "anthropic/claude-x", "publishers/anthropic/models/claude-x" },
		{ "publishers/google/models/m", "publishers/google/models/m" },
		{ "projects/p/locations/l/models/123",
		  "projects/p/locations/l/models/123" },
		{ "models/gemini-2.0-flash", "models/gemini-2.0-flash" },
		{ "a/b/c", "a/b/c" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *s = bf_model_name_expand(cases[i][0]);

		CHECK_STR(s, cases[i][1]);
		free(s);
	}
}

static void staging(void)
{
	char *b, *p, *o;
	struct bf_err e;

	CHECK_INT(bf_staging_parse("gs://bkt/a/b/", &b, &p, NULL), 0);
	CHECK_STR(b, "bkt");
	CHECK_STR(p, "a/b");
	o = bf_staging_object(p, "job1", "input.jsonl");
	CHECK_STR(o, "a/b/job1/input.jsonl");
	free(o);
	free(b);
	free(p);
	CHECK_INT(bf_staging_parse("gs://bkt", &b, &p, NULL), 0);
	CHECK_STR(b, "bkt");
	CHECK_STR(p, "");
	o = bf_staging_object(p, "j", "output/");
	CHECK_STR(o, "j/output/");
	free(o);
	free(b);
	free(p);
	CHECK_INT(bf_staging_parse("s3://x/y", &b, &p, &e), -EINVAL);
	CHECK(strstr(e.msg, "gs://BUCKET/PREFIX") != NULL);
	CHECK_INT(bf_staging_parse("gs:///x", &b, &p, &e), -EINVAL);
	CHECK_INT(bf_staging_parse(NULL, &b, &p, &e), -EINVAL);
}

static void short_form(void)
{
	struct bf_err e;
	int rc;
	char *s;

	s = expand("{\"model\":\"gemini-2.5-flash\",\"src\":\"gs://b/in.jsonl\","
		   "\"dest\":\"gs://b/out/\",\"displayName\":\"j\","
		   "\"labels\":{\"a\":\"b\"}}",
		   NULL, &rc, &e);
	CHECK_INT(rc, 0);
	CHECK_STR(s, "{\"model\":\"publishers/google/models/gemini-2.5-flash\","
		     "\"displayName\":\"j\",\"labels\":{\"a\":\"b\"},"
		     "\"inputConfig\":{\"instancesFormat\":\"jsonl\","
		     "\"gcsSource\":{\"uris\":[\"gs://b/in.jsonl\"]}},"
		     "\"outputConfig\":{\"predictionsFormat\":\"jsonl\","
		     "\"gcsDestination\":{\"outputUriPrefix\":\"gs://b/out/\"}}}");
	free(s);

	s = expand("{\"model\":\"m\",\"src\":\"bq://p.d.t\",\"dest\":\"bq://p.d\"}",
		   NULL, &rc, &e);
	CHECK_INT(rc, 0);
	CHECK_STR(s, "{\"model\":\"publishers/google/models/m\","
		     "\"inputConfig\":{\"instancesFormat\":\"bigquery\","
		     "\"bigquerySource\":{\"inputUri\":\"bq://p.d.t\"}},"
		     "\"outputConfig\":{\"predictionsFormat\":\"bigquery\","
		     "\"bigqueryDestination\":{\"outputUri\":\"bq://p.d\"}}}");
	free(s);

	/* a list of sources, and the SDK's object forms */
	s = expand("{\"model\":\"m\",\"src\":[\"gs://b/1\",\"gs://b/2\"],"
		   "\"dest\":{\"gcs_uri\":\"gs://b/o\"}}",
		   NULL, &rc, &e);
	CHECK_INT(rc, 0);
	CHECK(s && strstr(s, "\"uris\":[\"gs://b/1\",\"gs://b/2\"]"));
	CHECK(s && strstr(s, "\"outputUriPrefix\":\"gs://b/o\""));
	free(s);
	s = expand("{\"model\":\"m\",\"src\":{\"bigquery_uri\":\"bq://p.d.t\"},"
		   "\"dest\":\"gs://b/o\"}",
		   NULL, &rc, &e);
	CHECK_INT(rc, 0);
	CHECK(s && strstr(s, "\"bigquerySource\":{\"inputUri\":\"bq://p.d.t\"}"));
	free(s);

	/* the full form passes, only the model name changes */
	s = expand("{\"displayName\":\"x\",\"model\":\"publishers/google/models/m\","
		   "\"inputConfig\":{\"instancesFormat\":\"jsonl\",\"gcsSource\":"
		   "{\"uris\":[\"gs://b/i\"]}},\"output_config\":{}}",
		   NULL, &rc, &e);
	CHECK_INT(rc, 0);
	CHECK_STR(s, "{\"displayName\":\"x\",\"model\":\"publishers/google/models/m\","
		     "\"inputConfig\":{\"instancesFormat\":\"jsonl\",\"gcsSource\":"
		     "{\"uris\":[\"gs://b/i\"]}},\"output_config\":{}}");
	free(s);
}

static void defaults(void)
{
	struct bf_request_defaults d = { .staging = "gs://stage/pre/",
					 .name = "job1", .input_staged = 1 };
	struct bf_err e;
	int rc;
	char *s;

	s = expand("{\"model\":\"gemini-2.5-flash\"}", &d, &rc, &e);
	CHECK_INT(rc, 0);
	CHECK_STR(s, "{\"model\":\"publishers/google/models/gemini-2.5-flash\","
		     "\"inputConfig\":{\"instancesFormat\":\"jsonl\","
		     "\"gcsSource\":{\"uris\":[\"gs://stage/pre/job1/input.jsonl\"]}},"
		     "\"outputConfig\":{\"predictionsFormat\":\"jsonl\","
		     "\"gcsDestination\":{\"outputUriPrefix\":"
		     "\"gs://stage/pre/job1/output/\"}}}");
	free(s);

	/* explicit src wins over the staged input; dest still defaults */
	s = expand("{\"model\":\"m\",\"src\":\"gs://x/y\"}", &d, &rc, &e);
	CHECK_INT(rc, 0);
	CHECK(s && strstr(s, "gs://x/y") && !strstr(s, "input.jsonl"));
	CHECK(s && strstr(s, "gs://stage/pre/job1/output/"));
	free(s);

	/* staging but nothing staged yet */
	d.input_staged = 0;
	s = expand("{\"model\":\"m\",\"dest\":\"gs://b/o\"}", &d, &rc, &e);
	CHECK_INT(rc, -EINVAL);
	CHECK(s == NULL);
	CHECK(strstr(e.msg, "missing field \"inputConfig\"") != NULL);
	CHECK(strstr(e.msg, "write input.jsonl") != NULL);

	/* no staging: the message names the option */
	s = expand("{\"model\":\"m\",\"dest\":\"gs://b/o\"}", NULL, &rc, &e);
	CHECK_INT(rc, -EINVAL);
	CHECK(strstr(e.msg, "missing field \"inputConfig\"") != NULL);
	CHECK(strstr(e.msg, "-o staging=gs://BUCKET/PREFIX") != NULL);
	s = expand("{\"model\":\"m\",\"src\":\"gs://b/i\"}", NULL, &rc, &e);
	CHECK_INT(rc, -EINVAL);
	CHECK(strstr(e.msg, "missing field \"outputConfig\"") != NULL);
	CHECK(strstr(e.msg, "-o staging=gs://BUCKET/PREFIX") != NULL);

	/* a bad staging value is reported, not used */
	d.staging = "gs:/nope";
	d.input_staged = 1;
	s = expand("{\"model\":\"m\"}", &d, &rc, &e);
	CHECK_INT(rc, -EINVAL);
	CHECK(strstr(e.msg, "staging") != NULL);
}

static void errors(void)
{
	struct bf_err e;
	int rc;

	char *s;

	/* no model: left as is for the validator, which names the field */
	s = expand("{\"src\":\"gs://b/i\",\"dest\":\"gs://b/o\"}", NULL, &rc,
		   &e);
	CHECK_INT(rc, 0);
	CHECK(s && !strstr(s, "\"model\""));
	free(s);
	s = expand("{\"model\":7,\"src\":\"gs://b/i\",\"dest\":\"gs://b/o\"}",
		   NULL, &rc, &e);
	CHECK_INT(rc, 0);
	CHECK(s && strstr(s, "\"model\":7"));
	free(s);
	expand("{\"model\":\"m\",\"src\":\"s3://b/i\",\"dest\":\"gs://b/o\"}",
	       NULL, &rc, &e);
	CHECK_INT(rc, -EINVAL);
	CHECK(strstr(e.msg, "\"src\" must be") != NULL);
	expand("{\"model\":\"m\",\"src\":[\"gs://b/i\",3],\"dest\":\"gs://b/o\"}",
	       NULL, &rc, &e);
	CHECK_INT(rc, -EINVAL);
	expand("{\"model\":\"m\",\"src\":[],\"dest\":\"gs://b/o\"}", NULL, &rc,
	       &e);
	CHECK_INT(rc, -EINVAL);
	expand("{\"model\":\"m\",\"src\":\"gs://b/i\",\"dest\":\"files/x\"}",
	       NULL, &rc, &e);
	CHECK_INT(rc, -EINVAL);
	CHECK(strstr(e.msg, "\"dest\" must be") != NULL);
	expand("{\"model\":\"m\",\"src\":\"gs://b/i\",\"inputConfig\":{},"
	       "\"dest\":\"gs://b/o\"}",
	       NULL, &rc, &e);
	CHECK_INT(rc, -EINVAL);
	CHECK(strstr(e.msg, "both \"src\" and \"inputConfig\"") != NULL);
	expand("[1]", NULL, &rc, &e);
	CHECK_INT(rc, -EINVAL);
	expand("{", NULL, &rc, &e);
	CHECK_INT(rc, -EINVAL);
}

int main(void)
{
	model_names();
	staging();
	short_form();
	defaults();
	errors();
	return CHECK_DONE();
}
