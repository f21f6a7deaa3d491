/* options.c - the -o options of batchfs (one fuse_opt table), their
 * defaults, environment fallbacks and the -h text. */
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "batchfs/results.h"
#include "fuse/fuse_int.h"

#define OPT(t, f)                                                              \
	{                                                                      \
		t, offsetof(struct bf_cli, f), 1                               \
	}

enum { KEY_DISCARD };

static const struct fuse_opt cli_opts[] = {
	OPT("project=%s", project),
	OPT("location=%s", location),
	OPT("endpoint=%s", endpoint),
	OPT("storage_endpoint=%s", storage_endpoint),
	OPT("credentials=%s", credentials),
	OPT("token_file=%s", token_file),
	OPT("no_auth", no_auth),
	OPT("refresh=%lf", refresh),
	OPT("list_ttl=%lf", list_ttl),
	OPT("attr_timeout=%lf", attr_timeout),
	OPT("entry_timeout=%lf", entry_timeout),
	OPT("negative_timeout=%lf", negative_timeout),
	OPT("final_timeout=%lf", final_timeout),
	OPT("deadline=%lf", deadline),
	OPT("change_deadline=%lf", change_deadline),
	OPT("max_request=%lu", max_request),
	OPT("page_size=%i", page_size),
	OPT("vertex_rpm=%lf", vertex_rpm),
	OPT("readahead=%lu", readahead),
	OPT("readahead_window=%lu", readahead_window),
	OPT("results_cache=%lu", results_cache),
	OPT("direct_io", direct_io),
	OPT("nosplice", nosplice),
	OPT("read_ahead_kb=%u", read_ahead_kb),
	OPT("loglevel=%s", loglevel),
	OPT("staging=%s", staging),
	OPT("model=%s", model),
	OPT("dest=%s", dest),
	OPT("state_dir=%s", state_dir),
	OPT("log_file=%s", log_file),
	OPT("log_format=%s", log_format),
	OPT("uid=%s", uid),
	OPT("gid=%s", gid),
	OPT("umask=%s", umask),
	OPT("cafile=%s", cafile),
	OPT("proxy=%s", proxy),
	OPT("noproxy=%s", noproxy),
	/* fstab-only words: mount(8) passes them on; they mean nothing
	 * here. */
	FUSE_OPT_KEY("auto", KEY_DISCARD),
	FUSE_OPT_KEY("noauto", KEY_DISCARD),
	FUSE_OPT_KEY("user", KEY_DISCARD),
	FUSE_OPT_KEY("nouser", KEY_DISCARD),
	FUSE_OPT_KEY("users", KEY_DISCARD),
	FUSE_OPT_KEY("_netdev", KEY_DISCARD),
	FUSE_OPT_KEY("nofail", KEY_DISCARD),
	FUSE_OPT_END,
};

static int opt_proc(void *data, const char *arg, int key,
		    struct fuse_args *outargs)
{
	struct bf_cli *cli = data;

	(void)outargs;
	if (key == FUSE_OPT_KEY_NONOPT) {
		/* Kept aside: mount.fuse3 passes SOURCE before the
		 * mount point; bf_cli_parse sorts them out. */
		if (cli->npos >= 3)
			return 0;
		cli->pos[cli->npos] = strdup(arg);
		return cli->pos[cli->npos++] ? 0 : -1;
	}
	return key == KEY_DISCARD ? 0 : 1;
}

/* "batchfs SOURCE MOUNTPOINT": SOURCE is "batchfs", "none" or
 * "batchfs:PROJECT[/LOCATION]" (the fsname), which gives project= and
 * location= unless the options set them. */
static int apply_source(struct bf_cli *cli, const char *src)
{
	const char *spec, *slash;

	if (!strcmp(src, "batchfs") || !strcmp(src, "none"))
		return 0;
	if (strncmp(src, "batchfs:", 8) != 0) {
		fprintf(stderr,
			"batchfs: SOURCE must be 'batchfs' or "
			"'batchfs:PROJECT[/LOCATION]', not '%s'\n",
			src);
		return -1;
	}
	spec = src + 8;
	slash = strchr(spec, '/');
	if (!cli->project && (slash ? slash > spec : *spec != '\0')) {
		cli->project = slash ? strndup(spec, (size_t)(slash - spec))
				     : strdup(spec);
		if (!cli->project)
			return -1;
	}
	if (!cli->location && slash && slash[1]) {
		cli->location = strdup(slash + 1);
		if (!cli->location)
			return -1;
	}
	return 0;
}

/* No lock: the trial runs once, on the main thread, before any other. */
static char trial_msg[512];

/* libfuse writes one message in pieces (the unknown options one by one):
 * they are joined here, and only the first message is kept. */
static void trial_log(enum fuse_log_level level, const char *fmt, va_list ap)
{
	size_t n = strlen(trial_msg);
	char *nl;

	if (level > FUSE_LOG_ERR || (n && trial_msg[n - 1] == '\n') ||
	    n + 1 >= sizeof(trial_msg))
		return;
	vsnprintf(trial_msg + n, sizeof(trial_msg) - n, fmt, ap);
	nl = strchr(trial_msg, '\n');
	if (nl)
		nl[1] = '\0';
}

int bf_cli_check_fuse(const struct fuse_args *args)
{
	struct fuse_args a = FUSE_ARGS_INIT(0, NULL);
	struct fuse_session *se = NULL;
	const char *m;
	int rc = -1;

	for (int i = 0; i < args->argc; i++)
		if (fuse_opt_add_arg(&a, args->argv[i]) != 0)
			goto out;
	/* What main adds once the project is known. */
	if (fuse_opt_add_arg(&a, "-ofsname=batchfs:check,subtype=batchfs,"
				 "default_permissions") != 0)
		goto out;
	trial_msg[0] = '\0';
	fuse_set_log_func(trial_log);
	se = fuse_session_new(&a, &bf_ops, sizeof(bf_ops), NULL);
	fuse_set_log_func(NULL);
	if (se) {
		fuse_session_destroy(se);
		rc = 0;
		goto out;
	}
	m = trial_msg;
	if (!strncmp(m, "fuse: ", 6))
		m += 6;
	fprintf(stderr, "batchfs: %.*s (see batchfs -h)\n",
		(int)strcspn(m, "\n"), *m ? m : "invalid options");
out:
	fuse_opt_free_args(&a);
	return rc;
}

void bf_cli_help(void)
{
	struct bf_model_opts d;

	bf_model_opts_default(&d);
	printf("batchfs options (-o key=value, like sshfs):\n"
	       "    -o project=ID          Google Cloud project "
	       "(default: $GOOGLE_CLOUD_PROJECT,\n"
	       "                           else the credential's "
	       "project_id or quota_project_id,\n"
	       "                           else gcloud's active "
	       "configuration, else the\n"
	       "                           metadata server's (its "
	       "credential only))\n"
	       "    -o location=LOC        Vertex AI location (default: "
	       "$GOOGLE_CLOUD_LOCATION,\n"
	       "                           else %s)\n"
	       "    -o endpoint=URL        Vertex AI API base URL "
	       "(default: https://LOC-aiplatform.googleapis.com)\n"
	       "    -o storage_endpoint=URL  Cloud Storage API base URL "
	       "(default: $STORAGE_EMULATOR_HOST,\n"
	       "                           else https://storage."
	       "googleapis.com)\n"
	       "    -o credentials=FILE    Google credentials JSON: "
	       "service account, authorized user,\n"
	       "                           external account, impersonated "
	       "service account (default:\n"
	       "                           $GOOGLE_APPLICATION_CREDENTIALS, "
	       "then gcloud ADC, then the\n"
	       "                           metadata server)\n"
	       "    -o token_file=FILE     use the access token in FILE "
	       "(re-read when it changes)\n"
	       "    -o no_auth             send no Authorization header "
	       "(emulators)\n"
	       "    -o refresh=S           re-fetch a running job at most "
	       "every S seconds (default %g)\n"
	       "    -o list_ttl=S          re-list jobs/ after S seconds "
	       "(default %g)\n"
	       "    -o attr_timeout=S      kernel attribute cache for live "
	       "nodes (default %g)\n"
	       "    -o entry_timeout=S     kernel name cache for / and "
	       "jobs/ (default %g)\n"
	       "    -o negative_timeout=S  kernel cache of missing names "
	       "(default %g)\n"
	       "    -o final_timeout=S     kernel caches for finished jobs "
	       "(default %g)\n"
	       "    -o deadline=S          longest wait of a lookup or read "
	       "on the network; then\n"
	       "                           the last copy or ETIMEDOUT "
	       "(default %g)\n"
	       "    -o change_deadline=S   longest wait of a submit, ctl "
	       "write or rmdir on the\n"
	       "                           network, in total; then ETIMEDOUT "
	       "(default 0: their\n"
	       "                           own budgets, 150 s submit, 60 s "
	       "per call)\n"
	       "    -o max_request=BYTES   size cap of request.json and "
	       "draft files (default %zu)\n"
	       "    -o page_size=N         entries per list page, jobs and "
	       "objects (default %d:\n"
	       "                           100 jobs, 1000 objects)\n"
	       "    -o vertex_rpm=N        Vertex AI calls per minute at most "
	       "(default %g; 0: no\n"
	       "                           limit); beyond it running jobs "
	       "are shown from the\n"
	       "                           cache, marked stale in progress\n"
	       "    -o readahead=BYTES     read-ahead memory of all readers "
	       "together (default %zu)\n"
	       "    -o readahead_window=BYTES  largest read-ahead window of "
	       "one reader (default %zu)\n"
	       "    -o results_cache=N     results/ of finished jobs kept "
	       "computed: N with files,\n"
	       "                           small ones up to N x 512 KiB in "
	       "memory (default %lu)\n"
	       "    -o direct_io           read finished output objects with "
	       "direct I/O (no page\n"
	       "                           cache; default: page cache)\n"
	       "    -o read_ahead_kb=N     kernel read-ahead of the mount, "
	       "set when root\n"
	       "                           (default 512; 0 keeps the "
	       "kernel's)\n"
	       "    -o nosplice            never splice output bytes from the "
	       "socket (the\n"
	       "                           default does so for a plain http "
	       "storage endpoint)\n"
	       "    -o loglevel=LEVEL      err, warn, info or debug "
	       "(default: $BATCHFS_LOGLEVEL, else warn)\n"
	       "    -o staging=gs://BUCKET/PREFIX  where drafts' input.jsonl "
	       "is uploaded, as\n"
	       "                           PREFIX/NAME/input.jsonl (default: "
	       "none)\n"
	       "    -o model=MODEL         the model of jobs submitted through "
	       "inbox/ (with\n"
	       "                           -o staging; without both, no inbox/)\n"
	       "    -o dest=gs://BUCKET/PREFIX  the output of inbox/ jobs "
	       "(default:\n"
	       "                           staging's PREFIX/NAME/output/)\n"
	       "    -o state_dir=DIR       where creates in flight are "
	       "journalled (default:\n"
	       "                           $XDG_STATE_HOME/batchfs, else "
	       "~/.local/state/batchfs)\n"
	       "    -o log_file=PATH       append log records to PATH "
	       "instead of syslog (daemon)\n"
	       "                           or stderr (-f) (default: none)\n"
	       "    -o log_format=FORMAT   text or json, one object a line "
	       "(default: text)\n"
	       "    -o uid=N,gid=N         owner and group of every file "
	       "(default: the mounting\n"
	       "                           user's; numeric ids)\n"
	       "    -o umask=OOO           octal bits taken from every "
	       "file's mode (default 000)\n"
	       "    -o cafile=FILE         also trust the CA certificates "
	       "in this PEM file (a\n"
	       "                           private CA, a TLS-inspecting "
	       "proxy; default: $CURL_CA_BUNDLE,\n"
	       "                           else $SSL_CERT_FILE; added to the "
	       "system's CAs)\n"
	       "    -o proxy=URL           HTTP(S) proxy for every request, "
	       "e.g. http://proxy:3128\n"
	       "                           (default: $https_proxy, "
	       "$http_proxy, $all_proxy)\n"
	       "    -o noproxy=HOSTS       hosts reached without the proxy, "
	       "comma-separated\n"
	       "                           (default: $no_proxy)\n"
	       "    -o auto,noauto,user,nouser,users,_netdev,nofail   "
	       "accepted for fstab, ignored\n"
	       "Always set: fsname=batchfs:PROJECT/LOCATION, "
	       "subtype=batchfs, default_permissions.\n"
	       "Other users need -o allow_other (and, when not mounting as "
	       "root,\nuser_allow_other in /etc/fuse.conf); the kernel "
	       "checks their access\nagainst uid, gid and the modes.\n\n",
	       d.location, d.refresh, d.list_ttl, d.attr_timeout,
	       d.entry_timeout, d.negative_timeout, d.final_timeout, d.deadline,
	       d.max_request, d.page_size, d.vertex_rpm, d.readahead_max,
	       d.readahead_window, (unsigned long)d.results_cache);
}

static char *env_or(char *v, const char *env)
{
	const char *e;

	if (v)
		return v;
	e = getenv(env);
	return e && *e ? strdup(e) : NULL;
}

/* fuse_daemonize() changes to "/": relative paths must be resolved now. */
static int absolutize(char **p, const char *what)
{
	char buf[PATH_MAX];

	if (!*p || (*p)[0] == '/')
		return 0;
	if (!realpath(*p, buf)) {
		fprintf(stderr, "batchfs: %s file %s: %m\n", what, *p);
		return -1;
	}
	free(*p);
	*p = strdup(buf);
	return *p ? 0 : -1;
}

/* -o state_dir, else the XDG state directory; made absolute because the
 * daemon changes to / when it detaches. */
static int state_dir_default(char **p)
{
	const char *x = getenv("XDG_STATE_HOME"), *h = getenv("HOME");
	char cwd[PATH_MAX];

	if (!*p) {
		if (x && x[0] == '/') {
			if (asprintf(p, "%s/batchfs", x) < 0)
				return -1;
		} else if (h && h[0] == '/') {
			if (asprintf(p, "%s/.local/state/batchfs", h) < 0)
				return -1;
		}
		return 0;
	}
	if ((*p)[0] != '/') {
		char *abs;

		if (!getcwd(cwd, sizeof(cwd)) ||
		    asprintf(&abs, "%s/%s", cwd, *p) < 0)
			return -1;
		free(*p);
		*p = abs;
	}
	return 0;
}

static int parse_level(const char *s, enum bf_log_level *out)
{
	static const char *const names[] = {"err", "warn", "info", "debug"};

	for (int i = 0; i < 4; i++) {
		if (strcmp(s, names[i]) == 0) {
			*out = (enum bf_log_level)i;
			return 0;
		}
	}
	if (strcmp(s, "error") == 0 || strcmp(s, "warning") == 0) {
		*out = s[0] == 'e' ? BF_LOG_ERR : BF_LOG_WARN;
		return 0;
	}
	return -1;
}

int bf_cli_parse(struct fuse_args *args, struct bf_cli *cli)
{
	struct bf_model_opts *m = &cli->m;
	int cred_env;

	memset(cli, 0, sizeof(*cli));
	bf_model_opts_default(m);
	cli->refresh = m->refresh;
	cli->list_ttl = m->list_ttl;
	cli->attr_timeout = m->attr_timeout;
	cli->entry_timeout = m->entry_timeout;
	cli->negative_timeout = m->negative_timeout;
	cli->final_timeout = m->final_timeout;
	cli->deadline = m->deadline;
	cli->max_request = m->max_request;
	cli->page_size = m->page_size;
	cli->vertex_rpm = m->vertex_rpm;
	cli->readahead = m->readahead_max;
	cli->readahead_window = m->readahead_window;
	cli->results_cache = m->results_cache;
	cli->read_ahead_kb = 512;
	if (fuse_opt_parse(args, cli, cli_opts, opt_proc) == -1)
		return -1;
	if (cli->npos > 2) {
		fprintf(stderr,
			"batchfs: unexpected argument '%s' (usage: "
			"batchfs [options] [SOURCE] MOUNTPOINT)\n",
			cli->pos[2]);
		return -1;
	}
	if (cli->npos == 2 && apply_source(cli, cli->pos[0]) != 0)
		return -1;
	if (cli->npos && fuse_opt_add_arg(args, cli->pos[cli->npos - 1]) != 0)
		return -1;
	if (cli->log_format && strcmp(cli->log_format, "text") != 0 &&
	    strcmp(cli->log_format, "json") != 0) {
		fprintf(stderr,
			"batchfs: log_format must be text or json, not "
			"\"%s\"\n",
			cli->log_format);
		return -1;
	}

	cli->project = env_or(cli->project, "GOOGLE_CLOUD_PROJECT");
	/* The legacy name google-auth still reads. */
	cli->project = env_or(cli->project, "GCLOUD_PROJECT");
	cli->location = env_or(cli->location, "GOOGLE_CLOUD_LOCATION");
	/* Messages about the key name where its path came from. */
	cred_env = !cli->credentials;
	cli->credentials =
		env_or(cli->credentials, "GOOGLE_APPLICATION_CREDENTIALS");
	cred_env = cred_env && cli->credentials;
	cli->storage_endpoint =
		env_or(cli->storage_endpoint, "STORAGE_EMULATOR_HOST");
	cli->loglevel = env_or(cli->loglevel, "BATCHFS_LOGLEVEL");
	cli->level = BF_LOG_WARN;
	if (cli->loglevel && parse_level(cli->loglevel, &cli->level)) {
		fprintf(stderr,
			"batchfs: loglevel must be err, warn, info or "
			"debug, not \"%s\"\n",
			cli->loglevel);
		return -1;
	}
	if (cli->log_file && cli->log_file[0] != '/') {
		/* The file may not exist yet: realpath would refuse it. */
		char cwd[PATH_MAX], *abs;

		if (!getcwd(cwd, sizeof(cwd)) ||
		    asprintf(&abs, "%s/%s", cwd, cli->log_file) < 0) {
			fprintf(stderr, "batchfs: log_file %s: %m\n",
				cli->log_file);
			return -1;
		}
		free(cli->log_file);
		cli->log_file = abs;
	}
	if (cli->cafile) {
		cli->m.cafile_from = "-o cafile";
	} else if ((cli->cafile = env_or(NULL, "CURL_CA_BUNDLE"))) {
		cli->m.cafile_from = "CURL_CA_BUNDLE";
	} else if ((cli->cafile = env_or(NULL, "SSL_CERT_FILE"))) {
		cli->m.cafile_from = "SSL_CERT_FILE";
	}
	if (absolutize(&cli->credentials, "credentials") ||
	    absolutize(&cli->token_file, "token") ||
	    absolutize(&cli->cafile, "CA"))
		return -1;
	if (state_dir_default(&cli->state_dir)) {
		fprintf(stderr, "batchfs: state_dir: out of memory\n");
		return -1;
	}
	m->state_dir = cli->state_dir;
	if (cli->refresh < 0 || cli->list_ttl < 0 || cli->attr_timeout < 0 ||
	    cli->entry_timeout < 0 || cli->negative_timeout < 0 ||
	    cli->final_timeout < 0 || cli->deadline < 0 ||
	    cli->change_deadline < 0) {
		fprintf(stderr, "batchfs: intervals and timeouts must not be "
				"negative\n");
		return -1;
	}
	if (cli->vertex_rpm < 0) {
		fprintf(stderr, "batchfs: vertex_rpm must not be negative\n");
		return -1;
	}
	if (cli->max_request == 0 || cli->page_size < 0) {
		fprintf(stderr, "batchfs: max_request must be positive and "
				"page_size not negative\n");
		return -1;
	}
	m->project = cli->project;
	if (cli->location)
		m->location = cli->location;
	m->endpoint = cli->endpoint;
	m->storage_endpoint = cli->storage_endpoint;
	m->credentials = cli->credentials;
	m->credentials_origin = cred_env ? "GOOGLE_APPLICATION_CREDENTIALS"
					 : NULL;
	m->token_file = cli->token_file;
	m->cafile = cli->cafile;
	m->proxy = cli->proxy;
	m->noproxy = cli->noproxy;
	m->no_auth = cli->no_auth;
	m->refresh = cli->refresh;
	m->list_ttl = cli->list_ttl;
	m->attr_timeout = cli->attr_timeout;
	m->entry_timeout = cli->entry_timeout;
	m->negative_timeout = cli->negative_timeout;
	m->final_timeout = cli->final_timeout;
	m->deadline = cli->deadline;
	m->max_request = cli->max_request;
	m->page_size = cli->page_size;
	m->vertex_rpm = cli->vertex_rpm;
	m->readahead_max = cli->readahead;
	m->readahead_window = cli->readahead_window;
	m->results_cache = cli->results_cache;
	m->direct_io = cli->direct_io;
	if (cli->uid && bf_perm_parse_uid(cli->uid, &m->uid)) {
		fprintf(stderr,
			"batchfs: uid must be a numeric user id (e.g. "
			"uid=1000), not \"%s\"\n",
			cli->uid);
		return -1;
	}
	if (cli->gid && bf_perm_parse_gid(cli->gid, &m->gid)) {
		fprintf(stderr,
			"batchfs: gid must be a numeric group id (e.g. "
			"gid=1000), not \"%s\"\n",
			cli->gid);
		return -1;
	}
	if (cli->umask && bf_perm_parse_umask(cli->umask, &m->umask)) {
		fprintf(stderr,
			"batchfs: umask must be octal, 000 to 777 (e.g. "
			"umask=027), not \"%s\"\n",
			cli->umask);
		return -1;
	}
	if (cli->staging) {
		char *b, *p;
		struct bf_err e;

		if (bf_staging_parse(cli->staging, &b, &p, &e) != 0) {
			fprintf(stderr, "batchfs: %s\n", e.msg);
			return -1;
		}
		free(b);
		free(p);
		m->staging = cli->staging;
	}
	if (cli->dest && strncmp(cli->dest, "gs://", 5) != 0) {
		fprintf(stderr,
			"batchfs: dest must be gs://BUCKET/PREFIX, not \"%s\"\n",
			cli->dest);
		return -1;
	}
	if (cli->model && !cli->model[0]) {
		fprintf(stderr, "batchfs: model= needs a model name\n");
		return -1;
	}
	m->model = cli->model;
	m->dest = cli->dest;
	return 0;
}

void bf_cli_free(struct bf_cli *cli)
{
	free(cli->project);
	free(cli->location);
	free(cli->endpoint);
	free(cli->storage_endpoint);
	free(cli->credentials);
	free(cli->token_file);
	free(cli->loglevel);
	free(cli->staging);
	free(cli->model);
	free(cli->dest);
	free(cli->state_dir);
	free(cli->log_file);
	free(cli->log_format);
	for (int i = 0; i < cli->npos; i++)
		free(cli->pos[i]);
	free(cli->uid);
	free(cli->gid);
	free(cli->umask);
	free(cli->cafile);
	free(cli->proxy);
	free(cli->noproxy);
}
