/* perm.c - who owns the tree and which modes it shows (-o uid, gid,
 * umask), and what chmod and chown may do: the one permission rule of the
 * mount. The kernel enforces the modes (batchfs always mounts with
 * default_permissions); nothing here checks a caller. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_int.h"

/* A uid_t or gid_t: decimal digits only, below (id_t)-1, which chown(2)
 * reserves for "leave unchanged". */
static int parse_id(const char *s, unsigned *out)
{
	unsigned long long v = 0;

	if (!s || !*s)
		return -1;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (unsigned)(*p - '0');
		if (v >= 0xffffffffULL)
			return -1;
	}
	*out = (unsigned)v;
	return 0;
}

int bf_perm_parse_uid(const char *s, uid_t *out)
{
	unsigned v;

	if (parse_id(s, &v))
		return -1;
	*out = (uid_t)v;
	return 0;
}

int bf_perm_parse_gid(const char *s, gid_t *out)
{
	unsigned v;

	if (parse_id(s, &v))
		return -1;
	*out = (gid_t)v;
	return 0;
}

int bf_perm_parse_umask(const char *s, mode_t *out)
{
	unsigned v = 0;

	if (!s || !*s || strlen(s) > 4)
		return -1;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '7')
			return -1;
		v = v * 8 + (unsigned)(*p - '0');
	}
	if (v > 0777)
		return -1;
	*out = (mode_t)v;
	return 0;
}

mode_t bf_perm_mode(const struct bf_model_opts *o, mode_t natural)
{
	/* Symlinks are 0777 on Linux whatever the umask; nobody checks
	 * them. */
	if (S_ISLNK(natural))
		return natural;
	return natural & ~(o->umask & 0777);
}

void bf_perm_fill(const struct bf_model_opts *o, struct stat *st,
		  mode_t natural)
{
	st->st_mode = bf_perm_mode(o, natural);
	st->st_uid = o->uid;
	st->st_gid = o->gid;
}

int bf_perm_chattr(const struct bf_model_opts *o, enum bf_kind kind,
		   const struct stat *cur, int settable,
		   const struct bf_chattr *want, struct bf_err *e)
{
	mode_t have = cur->st_mode & 07777;
	mode_t max = bf_perm_mode(o, BF_DRAFT_FILE_MODE) & 07777;

	if ((want->set & BF_CHATTR_UID) && want->uid != o->uid)
		return bf_err_set(e, EPERM,
				  "owner is fixed: every file belongs to "
				  "uid %u (-o uid)",
				  (unsigned)o->uid);
	if ((want->set & BF_CHATTR_GID) && want->gid != o->gid)
		return bf_err_set(e, EPERM,
				  "group is fixed: every file belongs to "
				  "gid %u (-o gid)",
				  (unsigned)o->gid);
	if (!(want->set & BF_CHATTR_MODE))
		return 0;
	if ((want->mode & 07777) == have)
		return 0;
	/* A draft's own files: install(1) makes them 0600 while it writes;
	 * any mode within 0644 & ~umask is kept. */
	if (settable && !(want->mode & 07777 & ~max))
		return 1;
	/* install(1) chmods after the close that submitted request.json;
	 * failing it would report an accepted (paid) job as an error and
	 * invite a second submission. The job's spec is read-only, so the
	 * write bits asked for are the only ones it cannot have. */
	if (kind == BF_K_REQUEST && !(have & 0222) &&
	    (bf_perm_mode(o, want->mode & 07777) & ~(mode_t)0222) == have)
		return 0;
	if (settable)
		return bf_err_set(e, EPERM,
				  "a draft's file may have any mode within "
				  "%04o (0644 masked by -o umask=%03o), not "
				  "%04o",
				  (unsigned)max, (unsigned)(o->umask & 0777),
				  (unsigned)(want->mode & 07777));
	return bf_err_set(e, EPERM,
			  "mode is fixed: %04o here (the file's kind, "
			  "masked by -o umask=%03o), not %04o",
			  (unsigned)have, (unsigned)(o->umask & 0777),
			  (unsigned)(want->mode & 07777));
}
