/* names.h - directory and file names (names.c). */
#ifndef BATCHFS_MODEL_NAMES_H
#define BATCHFS_MODEL_NAMES_H

#include <stddef.h>
#include <stdint.h>

#define BF_NAME_MAX 255
/* displayName -> safe directory name base, at most max bytes (UTF-8 kept
 * whole). Caller frees. */
char *bf_names_sanitize(const char *display, size_t max);
struct bf_name_in {
	const char *display; /* job displayName (may be NULL) */
	int64_t create_us;
	const char *id;	   /* decimal id; "" for drafts */
	const char *fixed; /* non-NULL: this name is already held (drafts) */
	char *out;	   /* result, caller frees */
};
/* Assigns unique directory names: fixed names first, then per sanitized
 * name the oldest job keeps NAME and the others get NAME~ID. */
int bf_names_assign(struct bf_name_in *v, size_t n);
/* One path segment of an object name -> a safe file name; identity for
 * ordinary names, otherwise sanitized plus "~" and a 32-bit hash of the
 * original (names that already end like that are mapped too), so the
 * mapping is stable and distinct names stay distinct unless their hashes
 * collide (outdir.c settles that). Caller frees. */
char *bf_names_objname(const char *seg, size_t len);
/* Is this a name mkdir may create (no '/', not . or .., <= 255, no ctl)? */
int bf_names_valid(const char *name);
/* NAME of "NAME<suffix>" (suffix and a non-empty NAME), or NULL. Caller
 * frees. */
char *bf_names_strip(const char *name, const char *suffix);

#endif
