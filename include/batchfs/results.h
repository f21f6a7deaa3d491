/* results.h - file-native batch workflows without FUSE: checking and keying a
 * draft's input.jsonl, expanding request.json's short form, and joining a
 * job's output rows back to its input lines (succeeded / failed / by-input /
 * retry), all streaming with memory bounded by the number of keys.
 */
#ifndef BATCHFS_RESULTS_H
#define BATCHFS_RESULTS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "batchfs/err.h"

/* A byte source: fills buf with up to len bytes; returns the count, 0 at the
 * end, or -errno (filling e). */
typedef ssize_t (*bf_read_fn)(void *ud, char *buf, size_t len,
			      struct bf_err *e);

/* An fd source for bf_read_fn (ud = pointer to the int fd). */
ssize_t bf_read_fd(void *ud, char *buf, size_t len, struct bf_err *e);

/* An unlinked read-write temporary file in dir (NULL: $TMPDIR or /tmp). */
int bf_spool_open(const char *dir, struct bf_err *e);

/* ---- input.jsonl ------------------------------------------------------- */

#define BF_JSONL_MAX_LINE (32u << 20)		/* 32 MiB per line */
#define BF_JSONL_MAX_BYTES (4ull << 30)		/* 4 GiB per file */

struct bf_jsonl_opts {
	uint64_t max_bytes; /* whole input; 0 = BF_JSONL_MAX_BYTES */
	size_t max_line;    /* one line; 0 = BF_JSONL_MAX_LINE */
	const char *name;   /* file name in messages; NULL = "input.jsonl" */
	int number_keys;    /* added keys are numbers from the first line */
	size_t key_run;	    /* keys hashed and sorted at once; 0 = 1 Mi */
};

struct bf_jsonl_stats {
	uint64_t lines;	    /* data lines (requests) */
	uint64_t keyed;	    /* lines that had key or custom_id */
	uint64_t assigned;  /* lines that got "key": "line-<line number>" */
	uint64_t bytes_in;
	uint64_t bytes_out;
	/* Failed because a key added as a string met the user's number keys
	 * on a later line: normalize again with number_keys set. */
	int wants_number_keys;
};

/* Reads JSONL from in, checks every line and writes the keyed form to
 * out_fd (out_fd < 0: check only). Each line must be a JSON object whose
 * "request" is an object with a non-empty "contents" array; a line without
 * "key" or "custom_id" gets "key": "line-<line number>" (1-based; the bare number when the keys are numbers) inserted first;
 * keys must be unique (a number key counts as its decimal text). Empty lines
 * are allowed only at the end; a UTF-8 BOM is dropped. Errors name the
 * first bad line: -EINVAL "input.jsonl:7: ..." (malformed, not an object,
 * no contents, duplicate key "k" (lines 3 and 7), not UTF-8, empty file),
 * -EFBIG past a size cap, or the read/write errno. Memory: one line plus
 * a run of 16-byte key records (key_run of them), whatever the number of
 * lines; more go to a temporary file. st may be NULL. */
int bf_jsonl_normalize(bf_read_fn rd, void *ud, int out_fd,
		       const struct bf_jsonl_opts *o,
		       struct bf_jsonl_stats *st, struct bf_err *e);

/* ---- request.json ------------------------------------------------------ */

/* "gs://BUCKET[/PREFIX]" -> bucket, prefix (no leading/trailing '/'; may be
 * ""). -EINVAL with a message when it is not of that form. */
int bf_staging_parse(const char *uri, char **bucket, char **prefix,
		     struct bf_err *e);
/* "PREFIX/NAME/leaf" (or "NAME/leaf" when prefix is ""); malloc'd. */
char *bf_staging_object(const char *prefix, const char *name,
			const char *leaf);

struct bf_request_defaults {
	const char *staging;  /* "gs://BUCKET/PREFIX" (-o staging) or NULL */
	const char *name;     /* the draft's directory name */
	int input_staged;     /* input.jsonl was uploaded for this draft */
};

/* Model names as the API wants them: "gemini-2.5-flash" ->
 * "publishers/google/models/gemini-2.5-flash", "pub/m" ->
 * "publishers/pub/models/m"; names starting with projects/, models/ or
 * publishers/ (and anything else with more than one '/') are kept.
 * malloc'd; NULL on ENOMEM. */
char *bf_model_name_expand(const char *model);

/* Expands request.json text into a full batchPredictionJobs.create body
 * (malloc'd, unformatted JSON, in *out):
 *  - the SDK short form {"model", "src", "dest", displayName, labels}:
 *    src "gs://..." (or an array of them) -> inputConfig jsonl gcsSource,
 *    "bq://..." -> bigquerySource; dest "gs://..." -> outputConfig jsonl
 *    gcsDestination, "bq://..." -> bigqueryDestination;
 *  - short model names expanded (both forms; a missing "model" is left
 *    for the request validator to report);
 *  - without inputConfig/src: the staged input gs://BUCKET/PREFIX/NAME/
 *    input.jsonl; without outputConfig/dest: gs://BUCKET/PREFIX/NAME/output/.
 * -EINVAL naming the field (and the staging option when it would have
 * supplied the default) otherwise. Malformed JSON is -EINVAL too, but the
 * caller is expected to have reported syntax errors with line and column. */
int bf_request_expand(const char *text, size_t len,
		      const struct bf_request_defaults *d, char **out,
		      struct bf_err *e);

/* ---- results ----------------------------------------------------------- */

struct bf_join;

struct bf_join_opts {
	const char *tmpdir;	 /* spool directory; NULL = $TMPDIR or /tmp */
	size_t max_line;	 /* one row or input line; 0 = 64 MiB */
};

/* Results of one join: four unlinked temporary files (rewound to 0), owned
 * by the caller (bf_join_files_close). */
struct bf_join_files {
	int succeeded, failed, by_input, retry; /* fds; -1 when not made */
	uint64_t succeeded_size, failed_size, by_input_size, retry_size;
};

enum bf_join_keys {
	BF_JOIN_KEYED = 0,	/* every input line has a unique key */
	BF_JOIN_NO_KEYS,	/* some input line has neither key nor custom_id */
	BF_JOIN_DUP_KEYS,	/* an input key appears twice */
	BF_JOIN_UNMATCHED,	/* rows without keys whose request matches no
				 * input line (unmatched says how many) */
};

struct bf_join_stats {
	uint64_t rows;		/* output rows read (with duplicates) */
	uint64_t bad_rows;	/* output lines that are not JSON objects */
	uint64_t dup_rows;	/* rows replaced by a later or final one */
	uint64_t keyless_rows;	/* output rows without key/custom_id */
	uint64_t succeeded, failed; /* distinct rows written to each file */
	uint64_t inputs;	/* input lines */
	uint64_t incomplete;	/* input lines without an output row */
	uint64_t unmatched;	/* keyed rows whose key is not in the input */
	enum bf_join_keys keys;
	int by_request;		/* rows carry no keys: matched by request */
	uint64_t bad_line;	/* BF_JOIN_NO_KEYS / DUP: the first such line */
};

int bf_join_new(const struct bf_join_opts *o, struct bf_join **out,
		struct bf_err *e);
void bf_join_free(struct bf_join *j);

/* Adds one output object's rows. final: a final predictions file (its row
 * for a key wins over an incremental export's); among rows of the same
 * kind the later one wins. Lines that are not JSON objects are skipped and
 * counted (bad_rows); a row cut short by a still-growing export is one. */
int bf_join_add_output(struct bf_join *j, bf_read_fn rd, void *ud, int final,
		       struct bf_err *e);

/* Reads the (keyed) input and writes the four files. With keys that are
 * missing or not unique, only succeeded and failed are made (by_input and
 * retry stay -1) and st->keys says why. */
int bf_join_finish(struct bf_join *j, bf_read_fn input, void *ud,
		   struct bf_join_files *out, struct bf_join_stats *st,
		   struct bf_err *e);

void bf_join_files_close(struct bf_join_files *f);

/* results/README for a join that made no by_input/retry (malloc'd; NULL
 * without memory): why is the reason the input was not read, or NULL for
 * the join's own (st->keys). */
char *bf_join_readme(const char *why, const struct bf_join_stats *st);

/* Success of one output row: status absent or "" and a response present. */
int bf_row_succeeded(const char *json, size_t len);

#endif
