/* test_kinds.c - the table of node kinds: one row per kind, at its index,
 * with the handlers its mode needs, and fixed names that name one kind. */
#include <string.h>

#include "../check.h"
#include "model/kinds.h"
#include "model/model.h"

static void rows(void)
{
	for (int k = BF_K_ROOT; k <= BF_K_SUCCESS; k++) {
		const struct bf_kind_ops *o = bf_kind_ops(k);

		CHECK_INT(o->kind, k);
		CHECK(o->getattr != NULL);
		CHECK_INT(bf_kind_is_dir(k), S_ISDIR(o->mode) ? 1 : 0);
		if (S_ISDIR(o->mode)) {
			CHECK(o->lookup != NULL);
			CHECK(!o->open && !o->read && !o->write);
		} else {
			CHECK(!o->lookup && !o->readdir);
		}
		if (S_ISREG(o->mode))
			CHECK(o->open != NULL && o->read != NULL);
		if (S_ISLNK(o->mode))
			CHECK(o->readlink != NULL);
		if (o->write || o->flush)
			CHECK(o->open != NULL && o->write != NULL);
		if (k != BF_K_ROOT)
			CHECK(bf_kind_is_dir(o->parent));
		/* A fixed name finds its own kind, and no other one. */
		if (o->name)
			CHECK_INT(bf_kind_child(o->parent, o->name), k);
	}
	/* Out of range: the empty row. */
	CHECK_INT(bf_kind_ops(BF_K_SUCCESS + 1)->kind, BF_K_NONE);
	CHECK(bf_kind_ops(BF_K_SUCCESS + 1)->getattr == NULL);
	CHECK_INT(bf_kind_is_dir(BF_K_NONE), 0);
}

/* The names SEMANTICS.md gives a job directory are the reserved ones. */
static void job_names(void)
{
	static const char *const names[] = {
		"request.json", "job.json", "state",  "progress",
		"error",	"ctl",	    "output", "input.jsonl",
		"wait",		"results",  "_SUCCESS",
	};
	int n = 0;

	for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++)
		CHECK(bf_kind_child(BF_K_JOB, names[i]) != BF_K_NONE);
	for (int k = BF_K_ROOT; k <= BF_K_SUCCESS; k++)
		n += bf_kind_ops(k)->parent == BF_K_JOB && bf_kind_ops(k)->name;
	CHECK_INT(n, (int)(sizeof(names) / sizeof(*names)));
	CHECK_INT(bf_kind_child(BF_K_JOB, "notes.txt"), BF_K_NONE);
	CHECK_INT(bf_kind_child(BF_K_ROOT, "state"), BF_K_NONE);
	CHECK_INT(bf_kind_child(BF_K_ROOT, "jobs"), BF_K_JOBS);
	CHECK_INT(bf_kind_child(BF_K_OUTPUT, "bigquery"), BF_K_BQFILE);
	CHECK_INT(bf_kind_child(BF_K_ROOT, "inbox"), BF_K_INBOX);
	CHECK_INT(bf_kind_child(BF_K_ROOT, "outbox"), BF_K_OUTBOX);
	/* wait is found by name only, so cp -r does not block on it. */
	CHECK(bf_kind_ops(BF_K_WAIT)->where & BF_KW_UNLISTED);
}

int main(void)
{
	rows();
	job_names();
	return CHECK_DONE();
}
