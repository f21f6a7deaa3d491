/* fuzz_gcs_list.c - a Cloud Storage objects.list page (bf_gcs__list_page,
 * the page parser behind bf_gcs_list): items[] through the Object parser,
 * prefixes[], nextPageToken, and a callback that stops the walk. First
 * byte: bits 0-2 the item callback stops at that item (0: never), bit 3
 * no prefix callback. */
#include <errno.h>
#include <string.h>

#include "batchfs/gcs.h"
#include "fuzz.h"
#include "gcs/gcs_int.h"

struct seen {
	int items, prefixes, stop_at;
};

static int on_item(void *ud, const struct bf_gcs_object *o)
{
	struct seen *s = ud;

	FUZZ_ASSERT(o->name && o->name[0]);
	FUZZ_ASSERT(o->generation >= 0 && o->metageneration >= 0);
	return ++s->items == s->stop_at ? -ECANCELED : 0;
}

static int on_prefix(void *ud, const char *p)
{
	struct seen *s = ud;

	FUZZ_ASSERT(p != NULL);
	s->prefixes++;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct seen seen = {0};
	struct bf_err e = {0};
	char *buf, *next = NULL;
	int flags, rc;

	fuzz_quiet();
	if (size < 1)
		return 0;
	flags = data[0];
	data++;
	size--;
	buf = fuzz_dup(data, size);
	if (!buf)
		return 0;
	seen.stop_at = flags & 7;
	rc = bf_gcs__list_page(buf, size, on_item, flags & 8 ? NULL : on_prefix,
			       &seen, &next, &e);
	FUZZ_ASSERT(rc <= 0);
	if (rc == 0)
		FUZZ_ASSERT(!next || *next);
	else
		FUZZ_ASSERT((rc == -ECANCELED || e.err == -rc) && !next);
	free(next);
	free(buf);
	return 0;
}
