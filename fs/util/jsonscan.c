/* jsonscan.c - a list reply scanned member by member and element by element
 * (see batchfs/jsonscan.h): the framing (braces, colons, commas) is read
 * here, every value is parsed by cJSON on its own. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "batchfs/jsonscan.h"

/* Real list replies have two to four members. */
#define MAX_MEMBERS 64

struct scan {
	const char *start, *p, *end;
	struct bf_err *e;
};

static void skip_ws(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' ||
				 *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

static int bad(struct scan *s, const char *what)
{
	return bf_err_set(s->e, EIO, "list reply: %s at byte %zu", what,
			  (size_t)(s->p - s->start));
}

/* One value at s->p, whatever its type; NULL on a syntax error. */
static cJSON *value(struct scan *s)
{
	const char *stop = NULL;
	cJSON *v;

	skip_ws(s);
	if (s->p >= s->end)
		return NULL;
	v = cJSON_ParseWithLengthOpts(s->p, (size_t)(s->end - s->p), &stop, 0);
	if (!v || !stop || stop <= s->p || stop > s->end) {
		cJSON_Delete(v);
		return NULL;
	}
	s->p = stop;
	return v;
}

/* Consumes `c` after optional whitespace. */
static int expect(struct scan *s, char c)
{
	skip_ws(s);
	if (s->p < s->end && *s->p == c) {
		s->p++;
		return 1;
	}
	return 0;
}

static int streamed(const struct bf_json_scan *sc, const char *key)
{
	for (const char *const *a = sc->arrays; a && *a; a++)
		if (strcmp(*a, key) == 0)
			return 1;
	return 0;
}

/* The array at s->p ('[' next), each element to the callback. */
static int array(struct scan *s, const struct bf_json_scan *sc, const char *key,
		 int deliver)
{
	size_t n = 0;

	s->p++; /* '[' */
	if (expect(s, ']'))
		return 0;
	for (;;) {
		cJSON *el = value(s);
		int rc = 0;

		if (!el)
			return bad(s, "bad array element");
		if (deliver && sc->max_elems && ++n > sc->max_elems)
			rc = bf_err_set(s->e, EIO,
					"list reply: more than %zu %s",
					sc->max_elems, key);
		else if (deliver && sc->elem)
			rc = sc->elem(sc->ud, key, el);
		cJSON_Delete(el);
		if (rc)
			return rc;
		if (expect(s, ']'))
			return 0;
		if (!expect(s, ','))
			return bad(s, "expected , or ] in an array");
	}
}

static int seen_before(char **seen, size_t *nseen, const char *key, int *rc)
{
	for (size_t i = 0; i < *nseen; i++)
		if (strcmp(seen[i], key) == 0)
			return 1;
	if (*nseen == MAX_MEMBERS) {
		*rc = -EIO;
		return 0;
	}
	seen[*nseen] = strdup(key);
	if (!seen[*nseen])
		*rc = -ENOMEM;
	else
		(*nseen)++;
	return 0;
}

int bf_json_scan(const char *body, size_t len, const struct bf_json_scan *sc,
		 struct bf_err *e)
{
	struct scan s = {.start = body,
			 .p = body,
			 .end = body ? body + len : NULL,
			 .e = e};
	char *seen[MAX_MEMBERS];
	size_t nseen = 0;
	int rc = 0;

	if (!body || !len)
		return bf_err_set(e, EIO, "list reply: empty");
	if (!expect(&s, '{')) {
		rc = bad(&s, "not a JSON object");
		goto out;
	}
	if (expect(&s, '}'))
		goto tail;
	for (;;) {
		cJSON *k;
		int dup, mrc = 0;

		skip_ws(&s);
		if (s.p >= s.end || *s.p != '"' || !(k = value(&s))) {
			rc = bad(&s, "expected a member name");
			goto out;
		}
		if (!expect(&s, ':')) {
			cJSON_Delete(k);
			rc = bad(&s, "expected :");
			goto out;
		}
		dup = seen_before(seen, &nseen, k->valuestring, &mrc);
		if (mrc) {
			cJSON_Delete(k);
			rc = mrc == -ENOMEM
				     ? bf_err_set(e, ENOMEM, "out of memory")
				     : bad(&s, "too many members");
			goto out;
		}
		skip_ws(&s);
		if (s.p < s.end && *s.p == '[' &&
		    streamed(sc, k->valuestring)) {
			rc = array(&s, sc, k->valuestring, !dup);
		} else {
			cJSON *v = value(&s);

			if (!v)
				rc = bad(&s, "bad member value");
			else if (!dup && sc->member)
				rc = sc->member(sc->ud, k->valuestring, v);
			cJSON_Delete(v);
		}
		cJSON_Delete(k);
		if (rc)
			goto out;
		if (expect(&s, '}'))
			break;
		if (!expect(&s, ',')) {
			rc = bad(&s, "expected , or }");
			goto out;
		}
	}
tail:
	skip_ws(&s);
	if (s.p < s.end && *s.p != '\0')
		rc = bad(&s, "text after the object");
out:
	for (size_t i = 0; i < nseen; i++)
		free(seen[i]);
	return rc;
}
