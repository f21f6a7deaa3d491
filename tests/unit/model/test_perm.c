/* test_perm.c - -o uid, gid and umask: strict parsing, modes that only
 * lose bits, chmod and chown that refuse any change. */
#include <errno.h>
#include <string.h>

#include "../check.h"
#include "batchfs/err.h"
#include "model/model.h"
#include "model/perm.h"

static void parse(void)
{
	uid_t u = 7;
	gid_t g = 7;
	mode_t m = 7;

	CHECK_INT(bf_perm_parse_uid("1000", &u), 0);
	CHECK_INT(u, 1000);
	CHECK_INT(bf_perm_parse_uid("0", &u), 0);
	CHECK_INT(u, 0);
	CHECK_INT(bf_perm_parse_uid("4294967294", &u), 0);
	CHECK_INT(u, 4294967294u);
	u = 7;
	/* (uid_t)-1 means "unchanged" to chown(2): never an owner. */
	CHECK_INT(bf_perm_parse_uid("4294967295", &u), -1);
	CHECK_INT(bf_perm_parse_uid("99999999999999999999999", &u), -1);
	CHECK_INT(bf_perm_parse_uid("abc", &u), -1);
	CHECK_INT(bf_perm_parse_uid("", &u), -1);
	CHECK_INT(bf_perm_parse_uid("-1", &u), -1);
	CHECK_INT(bf_perm_parse_uid("+5", &u), -1);
	CHECK_INT(bf_perm_parse_uid(" 5", &u), -1);
	CHECK_INT(bf_perm_parse_uid("5x", &u), -1);
	CHECK_INT(bf_perm_parse_uid("0x10", &u), -1);
	CHECK_INT(u, 7); /* untouched on failure */
	CHECK_INT(bf_perm_parse_gid("100", &g), 0);
	CHECK_INT(g, 100);
	CHECK_INT(bf_perm_parse_gid("users", &g), -1);

	CHECK_INT(bf_perm_parse_umask("007", &m), 0);
	CHECK_INT(m, 07);
	CHECK_INT(bf_perm_parse_umask("0", &m), 0);
	CHECK_INT(m, 0);
	CHECK_INT(bf_perm_parse_umask("777", &m), 0);
	CHECK_INT(m, 0777);
	CHECK_INT(bf_perm_parse_umask("0027", &m), 0);
	CHECK_INT(m, 027);
	m = 5;
	CHECK_INT(bf_perm_parse_umask("999", &m), -1);
	CHECK_INT(bf_perm_parse_umask("8", &m), -1);
	CHECK_INT(bf_perm_parse_umask("1000", &m), -1); /* no setuid bits */
	CHECK_INT(bf_perm_parse_umask("07777", &m), -1);
	CHECK_INT(bf_perm_parse_umask("", &m), -1);
	CHECK_INT(bf_perm_parse_umask("-1", &m), -1);
	CHECK_INT(bf_perm_parse_umask("u=rwx", &m), -1);
	CHECK_INT(m, 5);
}

static void modes(void)
{
	struct bf_model_opts o;
	struct stat st;

	bf_model_opts_default(&o);
	/* The default changes nothing. */
	CHECK_INT(o.umask, 0);
	CHECK_INT(bf_perm_mode(&o, S_IFDIR | 0755), S_IFDIR | 0755);
	CHECK_INT(bf_perm_mode(&o, S_IFREG | 0200), S_IFREG | 0200);
	o.umask = 007;
	CHECK_INT(bf_perm_mode(&o, S_IFDIR | 0755), S_IFDIR | 0750);
	CHECK_INT(bf_perm_mode(&o, S_IFREG | 0444), S_IFREG | 0440);
	CHECK_INT(bf_perm_mode(&o, S_IFREG | 0200), S_IFREG | 0200);
	CHECK_INT(bf_perm_mode(&o, S_IFLNK | 0777), S_IFLNK | 0777);
	/* A umask never adds a bit: a read-only file stays read-only. */
	o.umask = 0;
	CHECK_INT(bf_perm_mode(&o, S_IFREG | 0444) & 0222, 0);
	o.umask = 0777;
	CHECK_INT(bf_perm_mode(&o, S_IFREG | 0644), S_IFREG);

	o.umask = 027;
	o.uid = 1234;
	o.gid = 567;
	memset(&st, 0, sizeof(st));
	bf_perm_fill(&o, &st, S_IFREG | 0644);
	CHECK_INT(st.st_mode, S_IFREG | 0640);
	CHECK_INT(st.st_uid, 1234);
	CHECK_INT(st.st_gid, 567);
}

static int chattr_s(const struct bf_model_opts *o, enum bf_kind k, mode_t have,
		    int settable, int set, mode_t mode, uid_t uid, gid_t gid)
{
	struct stat st;
	struct bf_chattr w = {.set = set, .mode = mode, .uid = uid, .gid = gid};
	struct bf_err e;

	memset(&st, 0, sizeof(st));
	bf_perm_fill(o, &st, have);
	bf_err_clear(&e);
	return bf_perm_chattr(o, k, &st, settable, &w, &e);
}

static int chattr(const struct bf_model_opts *o, enum bf_kind k, mode_t have,
		  int set, mode_t mode, uid_t uid, gid_t gid)
{
	return chattr_s(o, k, have, 0, set, mode, uid, gid);
}

static void chmod_chown(void)
{
	struct bf_model_opts o;

	bf_model_opts_default(&o);
	o.uid = 1000;
	o.gid = 100;
	o.umask = 007;
	/* Asking for what the node has changes nothing: 0. */
	CHECK_INT(chattr(&o, BF_K_JOBS, S_IFDIR | 0755, BF_CHATTR_MODE,
			 S_IFDIR | 0750, 0, 0),
		  0);
	CHECK_INT(chattr(&o, BF_K_JOBS, S_IFDIR | 0755, BF_CHATTR_MODE, 0750, 0,
			 0),
		  0);
	CHECK_INT(chattr(&o, BF_K_STATE, S_IFREG | 0444,
			 BF_CHATTR_UID | BF_CHATTR_GID, 0, 1000, 100),
		  0);
	/* Any change is EPERM. */
	CHECK_INT(chattr(&o, BF_K_JOBS, S_IFDIR | 0755, BF_CHATTR_MODE,
			 S_IFDIR | 0777, 0, 0),
		  -EPERM);
	CHECK_INT(chattr(&o, BF_K_JOBS, S_IFDIR | 0755, BF_CHATTR_MODE,
			 S_IFDIR | 0700, 0, 0),
		  -EPERM);
	CHECK_INT(chattr(&o, BF_K_STATE, S_IFREG | 0444, BF_CHATTR_MODE,
			 S_IFREG | 0640, 0, 0),
		  -EPERM);
	CHECK_INT(chattr(&o, BF_K_CTL, S_IFREG | 0200, BF_CHATTR_MODE,
			 S_IFREG | 0600, 0, 0),
		  -EPERM);
	CHECK_INT(
		chattr(&o, BF_K_STATE, S_IFREG | 0444, BF_CHATTR_UID, 0, 0, 0),
		-EPERM);
	CHECK_INT(
		chattr(&o, BF_K_STATE, S_IFREG | 0444, BF_CHATTR_GID, 0, 0, 0),
		-EPERM);
	CHECK_INT(chattr(&o, BF_K_STATE, S_IFREG | 0444,
			 BF_CHATTR_MODE | BF_CHATTR_UID, 0440, 0, 0),
		  -EPERM);
	/* Nothing asked (times only): 0. */
	CHECK_INT(chattr(&o, BF_K_STATE, S_IFREG | 0444, 0, 0, 0, 0), 0);
	/* A submitted request.json: install -m 644 chmods after the close
	 * that submitted; only write bits differ, so it is not refused. */
	CHECK_INT(chattr(&o, BF_K_REQUEST, S_IFREG | 0444, BF_CHATTR_MODE, 0644,
			 0, 0),
		  0);
	CHECK_INT(chattr(&o, BF_K_REQUEST, S_IFREG | 0444, BF_CHATTR_MODE, 0666,
			 0, 0),
		  0);
	/* ... but read bits it would not have are. */
	CHECK_INT(chattr(&o, BF_K_REQUEST, S_IFREG | 0444, BF_CHATTR_MODE, 0600,
			 0, 0),
		  -EPERM);
	CHECK_INT(chattr(&o, BF_K_REQUEST, S_IFREG | 0444, BF_CHATTR_MODE, 0755,
			 0, 0),
		  -EPERM);
	/* Other read-only files get no such leeway. */
	CHECK_INT(chattr(&o, BF_K_STATE, S_IFREG | 0444, BF_CHATTR_MODE, 0644,
			 0, 0),
		  -EPERM);
	/* A draft's own files keep any mode within 0644 & ~umask (1: store
	 * it), as install(1) needs while it writes them 0600. */
	CHECK_INT(chattr_s(&o, BF_K_REQUEST, S_IFREG | 0644, 1, BF_CHATTR_MODE,
			   0600, 0, 0),
		  1);
	CHECK_INT(chattr_s(&o, BF_K_TEMP, S_IFREG | 0644, 1, BF_CHATTR_MODE, 0,
			   0, 0),
		  1);
	CHECK_INT(chattr_s(&o, BF_K_TEMP, S_IFREG | 0600, 1, BF_CHATTR_MODE,
			   0640, 0, 0),
		  1);
	CHECK_INT(chattr_s(&o, BF_K_REQUEST, S_IFREG | 0644, 1, BF_CHATTR_MODE,
			   0640, 0, 0),
		  0);
	/* ... never beyond it. */
	CHECK_INT(chattr_s(&o, BF_K_TEMP, S_IFREG | 0644, 1, BF_CHATTR_MODE,
			   0644, 0, 0),
		  -EPERM);
	CHECK_INT(chattr_s(&o, BF_K_TEMP, S_IFREG | 0644, 1, BF_CHATTR_MODE,
			   0660, 0, 0),
		  -EPERM);
	CHECK_INT(chattr_s(&o, BF_K_TEMP, S_IFREG | 0644, 1, BF_CHATTR_MODE,
			   0700, 0, 0),
		  -EPERM);
	CHECK_INT(chattr_s(&o, BF_K_TEMP, S_IFREG | 0644, 1, BF_CHATTR_MODE,
			   04600, 0, 0),
		  -EPERM);
	/* ... nor their owner. */
	CHECK_INT(chattr_s(&o, BF_K_TEMP, S_IFREG | 0644, 1, BF_CHATTR_UID, 0,
			   0, 0),
		  -EPERM);
}

int main(void)
{
	parse();
	modes();
	chmod_chown();
	return CHECK_DONE();
}
