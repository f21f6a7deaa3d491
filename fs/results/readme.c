/* readme.c - the text of a job's results/README when by-input.jsonl and
 * retry.jsonl cannot be made: why (the input not read, or the join's
 * reason), and what would help, which depends on which of the two. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batchfs/results.h"

char *bf_join_readme(const char *why, const struct bf_join_stats *st)
{
	char *s = NULL, *reason = NULL;
	int rc = 0;

	if (why)
		reason = strdup(why);
	else if (st->keys == BF_JOIN_UNMATCHED)
		rc = asprintf(&reason,
			      "the output rows carry no keys and %" PRIu64
			      " of them echo a request that matches no "
			      "input line",
			      st->unmatched);
	else if (st->keys == BF_JOIN_DUP_KEYS)
		rc = asprintf(&reason,
			      "the key on line %" PRIu64 " of the "
			      "input appears on an earlier line too",
			      st->bad_line);
	else if (st->by_request)
		rc = asprintf(&reason,
			      "the output rows carry no keys and "
			      "line %" PRIu64 " of the input has no "
			      "\"request\" object to match them by",
			      st->bad_line);
	else
		rc = asprintf(&reason,
			      "line %" PRIu64 " of the input has "
			      "neither \"key\" nor \"custom_id\"",
			      st->bad_line);
	if (rc < 0 || !reason)
		return NULL;
	if (why) {
		/* Keys or staging would not help: the input is not read. */
		rc = asprintf(
			&s,
			"by-input.jsonl and retry.jsonl are not here: %s, "
			"so output rows\ncannot be matched to input lines "
			"(batchfs reads the input only from\nCloud Storage "
			"objects named without wildcards).\n\n"
			"succeeded.jsonl and failed.jsonl hold the output "
			"rows as the job wrote them;\neach row carries the "
			"request it answers.\n",
			reason);
		free(reason);
		return rc < 0 ? NULL : s;
	}
	rc = asprintf(&s,
		      "by-input.jsonl and retry.jsonl are not here: %s, so "
		      "output rows\ncannot be matched to input lines without "
		      "guessing (the output is not in\ninput order).\n\n"
		      "Give every input line a unique \"key\", or stage the "
		      "input through a draft's\ninput.jsonl (mount with -o "
		      "staging=gs://BUCKET/PREFIX), which adds\n\"key\": "
		      "\"line-<line number>\" to lines that have none.\n\n"
		      "succeeded.jsonl and failed.jsonl hold the output rows "
		      "as the job wrote them.\n",
		      reason);
	free(reason);
	return rc < 0 ? NULL : s;
}
