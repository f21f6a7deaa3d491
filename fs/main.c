/* main.c - batchfs: parse options, prove the credential and the project
 * with one cheap call before mounting (a bad setup fails here, at the
 * shell), mount, daemonize unless -f, serve, and tear down cleanly. */
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <fuse_lowlevel.h>
#include <openssl/crypto.h>
#include <unistd.h>

#include "batchfs/gcs.h"
#include "batchfs/http.h"
#include "batchfs/log.h"
#include "batchfs/reader.h"
#include "fuse/fuse_int.h"

/* malloc: buffers from this size are mmap'd, and at most this many arenas
 * (see main()). */
#define MMAP_THRESHOLD (1 << 20)
#define MALLOC_ARENAS 4

static void usage(const char *prog)
{
	printf("usage: %s [options] [SOURCE] MOUNTPOINT\n\n"
	       "Mounts the Vertex AI batch prediction jobs of a project and "
	       "location.\n"
	       "Example (the local emulator):\n"
	       "  %s -o project=test-project,endpoint=http://127.0.0.1:8080,"
	       "storage_endpoint=http://127.0.0.1:8080,credentials=key.json "
	       "/mnt/batch\n"
	       "SOURCE (as mount -t fuse.batchfs passes it): batchfs, none or "
	       "batchfs:PROJECT[/LOCATION].\n\n",
	       prog, prog);
}

/* The proxy libcurl uses for https, for hints (userinfo not shown). */
static const char *proxy_in_use(const struct bf_cli *cli)
{
	static const char *const vars[] = {"https_proxy", "HTTPS_PROXY",
					   "all_proxy", "ALL_PROXY"};

	if (cli->proxy)
		return cli->proxy;
	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		const char *v = getenv(vars[i]);

		if (v && *v)
			return v;
	}
	return NULL;
}

/* What to do about a failed mount-time check, in words. */
static const char *hint(int rc, const struct bf_err *e, const char *proxy)
{
	static char buf[600];

	if (bf_curl_cert_error(e->curl_code))
		return "the server's certificate is not signed by a CA this "
		       "machine trusts: if a proxy or a private CA signs it, "
		       "pass its CA with -o cafile=CA.pem (or set "
		       "CURL_CA_BUNDLE or SSL_CERT_FILE); TLS verification "
		       "cannot be turned off";
	switch (-rc) {
	case EACCES:
	case EPERM:
		return "the credential was rejected or lacks permission: check "
		       "-o credentials=FILE / GOOGLE_APPLICATION_CREDENTIALS "
		       "(or gcloud auth application-default login) and that "
		       "it may use Vertex AI in this project";
	case ENOENT:
		return "the project or location was not found: check -o "
		       "project= and -o location=";
	case EINVAL:
		return e->http_status ? "the request was refused: check -o "
					"project=, -o location= and -o "
					"endpoint="
				      : "fix the options above";
	case ETIMEDOUT:
	case ECONNREFUSED:
	case EHOSTUNREACH:
	case ENETUNREACH:
	case EIO:
		if (proxy && !strchr(proxy, '@')) {
			snprintf(buf, sizeof(buf),
				 "the API could not be reached through the "
				 "proxy %s: check -o proxy= (or https_proxy, "
				 "no_proxy), -o endpoint= and the network",
				 proxy);
			return buf;
		}
		if (proxy)
			return "the API could not be reached through the "
			       "proxy: check -o proxy= (or https_proxy, "
			       "no_proxy), -o endpoint= and the network";
		return "the API could not be reached: check -o endpoint= and "
		       "the network";
	default:
		return "see the message above";
	}
}

static int check_setup(struct bf_cli *cli, char **project)
{
	struct bf_ctx *ctx = NULL;
	struct bf_err e;
	int rc;

	bf_err_clear(&e);
	rc = bf_ctx_new(&cli->m, &ctx, &e);
	if (rc) {
		fprintf(stderr,
			"batchfs: cannot set up: %s\n"
			"batchfs: %s\n",
			e.msg[0] ? e.msg : strerror(-rc),
			hint(rc, &e, proxy_in_use(cli)));
		return -1;
	}
	rc = bf_ctx_check(ctx, &e);
	if (rc) {
		char line[700];

		bf_err_format(&e, line, sizeof(line));
		fprintf(stderr,
			"batchfs: cannot list batch prediction jobs of "
			"project %s in %s: %s%s%s\nbatchfs: %s\n",
			bf_ctx_opts(ctx)->project, bf_ctx_opts(ctx)->location,
			strerror(-rc), line[0] ? ": " : "", line,
			hint(rc, &e, proxy_in_use(cli)));
		bf_ctx_free(ctx);
		return -1;
	}
	*project = strdup(bf_ctx_opts(ctx)->project);
	/* The mount's own context is made after daemonizing, so no thread
	 * or connection of this one crosses the fork. */
	bf_ctx_free(ctx);
	return *project ? 0 : -1;
}

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts fo;
	struct fuse_session *se = NULL;
	struct fuse_loop_config *lc = NULL;
	struct bf_fs fs = {0};
	struct bf_watch *watch = NULL;
	struct bf_cli cli;
	struct bf_err e;
	char *project = NULL, *opt = NULL;
	int ret = 1, mounted = 0, sig = 0, user_threads = 0;
	size_t left;

	/* Big buffers (curl's, a FUSE reply's) are mmap'd so a freed one
	 * goes back to the system instead of staying in a thread's arena
	 * (glibc's threshold otherwise grows past them; read-ahead blocks
	 * are mapped by gcs/pool.c anyway). Up to 16 loader threads run at
	 * once: a few arenas between them, not one each, keep the daemon's
	 * RSS near its budget (4 arenas: ~5 MiB less with 4 readers). */
	mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD);
	mallopt(M_ARENA_MAX, MALLOC_ARENAS);
	memset(&fo, 0, sizeof(fo));
	for (int i = 1; i < argc; i++) {
		const char *mr = strstr(argv[i], "max_read=");

		if (strstr(argv[i], "max_threads="))
			user_threads = 1;
		/* INIT must repeat the mount's max_read (libfuse checks). */
		if (mr)
			fs.max_read = (unsigned)strtoul(mr + 9, NULL, 10);
	}
	if (bf_cli_parse(&args, &cli) != 0)
		goto out_args;
	fs.conn_opts = fuse_parse_conn_info_opts(&args);
	if (fuse_parse_cmdline(&args, &fo) != 0)
		goto out_args;
	if (fo.show_help) {
		usage(argv[0]);
		bf_cli_help();
		printf("FUSE options:\n");
		fuse_cmdline_help();
		fuse_lowlevel_help();
		ret = 0;
		goto out_args;
	}
	if (fo.show_version) {
		/* Ours first; then the libraries actually loaded. */
		printf("batchfs version %s\n", BATCHFS_VERSION);
		printf("libfuse version %s\n", fuse_pkgversion());
		printf("libcurl version %s\n",
		       curl_version_info(CURLVERSION_NOW)->version);
		printf("%s\n", OpenSSL_version(OPENSSL_VERSION));
		fflush(stdout);
		fuse_lowlevel_version();
		ret = 0;
		goto out_args;
	}
	if (!fo.mountpoint) {
		fprintf(stderr,
			"usage: %s [options] [SOURCE] MOUNTPOINT (see -h)\n",
			argv[0]);
		goto out_args;
	}
	/* Before any network call: a mistyped option fails at once. */
	if (bf_cli_check_fuse(&args) != 0)
		goto out_args;
	bf_log_init(1, fo.debug ? BF_LOG_DEBUG : cli.level);
	bf_log_set_json(cli.log_format && !strcmp(cli.log_format, "json"));
	if (cli.log_file) {
		int lrc = bf_log_open_file(cli.log_file);

		if (lrc) {
			fprintf(stderr, "batchfs: log_file %s: %s\n",
				cli.log_file, strerror(-lrc));
			goto out_args;
		}
	}
	bf_fuse_log_bridge();

	if (check_setup(&cli, &project) != 0)
		goto out_args;
	if (asprintf(&opt,
		     "-ofsname=batchfs:%s/%s,subtype=batchfs,"
		     "default_permissions",
		     project, cli.m.location) < 0) {
		opt = NULL;
		goto out_args;
	}
	if (fuse_opt_add_arg(&args, opt) != 0)
		goto out_args;
	if (!cli.nosplice && bf_gcs_endpoint_plain(cli.m.storage_endpoint))
		fs.splice_max = bf_reader_splice_probe();
	if (fs.splice_max && fs.max_read && fs.max_read < fs.splice_max)
		fs.splice_max = fs.max_read;
	if (fs.splice_max && !fs.max_read) {
		/* A spliced reply must fit one pipe (1 MiB here without
		 * CAP_SYS_RESOURCE): the kernel's reads must be smaller. */
		char mo[40];

		snprintf(mo, sizeof(mo), "-omax_read=%zu", fs.splice_max);
		if (fuse_opt_add_arg(&args, mo) != 0)
			goto out_args;
		fs.max_read = (unsigned)fs.splice_max;
	}
	cli.m.splice_max = fs.splice_max;
	/* Keep the project the check resolved (env, option or credential). */
	cli.m.project = project;
	fs.negative_timeout = cli.m.negative_timeout;

	se = fuse_session_new(&args, &bf_ops, sizeof(bf_ops), &fs);
	if (!se)
		goto out_args;
	fs.se = se;
	if (fuse_set_signal_handlers(se) != 0)
		goto out_session;
	sig = 1;
	if (fuse_session_mount(se, fo.mountpoint) != 0)
		goto out_session;
	mounted = 1;
	fs.read_ahead_kb = cli.read_ahead_kb;
	if (bf_bdi_find(fo.mountpoint, fs.bdi, sizeof(fs.bdi)) != 0)
		bf_log_info("mount not found in /proc/self/mountinfo: kernel "
			    "read-ahead left at its default, a lazy unmount "
			    "goes unnoticed");
	if (fuse_daemonize(fo.foreground) != 0)
		goto out_session;
	if (!fo.foreground)
		bf_log_init(0, fo.debug ? BF_LOG_DEBUG : cli.level);

	bf_err_clear(&e);
	if (bf_ctx_new(&cli.m, &fs.ctx, &e) != 0) {
		bf_log_err("cannot set up after mounting: %s", e.msg);
		goto out_session;
	}
	fs.it = bf_itable_new();
	fs.hs = bf_handles_new();
	if (!fs.it || !fs.hs) {
		bf_log_err("out of memory");
		goto out_session;
	}
	bf_log_info("serving %s (project %s, location %s)", fo.mountpoint,
		    project, cli.m.location);
	{
		/* systemd (Type=notify): the mount is there and requests
		 * are served from here on. MAINPID: we may have forked. */
		char st[PATH_MAX + 64];
		int nrc;

		snprintf(st, sizeof(st),
			 "READY=1\nMAINPID=%ld\nSTATUS=serving %s",
			 (long)getpid(), fo.mountpoint);
		nrc = bf_sd_notify(st);
		if (nrc)
			bf_log_warn(
				"cannot notify systemd ($NOTIFY_SOCKET): %s",
				strerror(-nrc));
	}
	fs.deadline = cli.m.deadline;
	fs.change_deadline = cli.change_deadline;
	watch = bf_watch_start(&fs);

	if (fo.singlethread) {
		ret = fuse_session_loop(se);
	} else {
		lc = fuse_loop_cfg_create();
		if (!lc)
			goto out_session;
		fuse_loop_cfg_set_clone_fd(lc, fo.clone_fd);
		/* -1 (unset) is UINT_MAX here; libfuse logs an error for it. */
		if (fo.max_idle_threads <= 100000)
			fuse_loop_cfg_set_idle_threads(lc, fo.max_idle_threads);
		/* A request holds its worker through its network calls:
		 * libfuse's 10 would let ten slow servers' replies stall
		 * the mount (reads of `wait` are parked, see park.c). */
		if (!user_threads)
			fo.max_threads = 64;
		if (fo.max_threads && fo.max_threads <= 100000) {
			fuse_loop_cfg_set_max_threads(lc, fo.max_threads);
			/* A quarter of the workers never waits on the
			 * network: README, cached files and drafts stay
			 * served while the server hangs (reqctx.c). */
			bf_net_gate_set(fo.max_threads > 1
						? (int)(fo.max_threads -
							fo.max_threads / 4)
						: 1,
					(int)(fo.max_threads / 8));
			fs.gated = 1;
			if (fo.max_threads > 16)
				fs.max_background =
					fo.max_threads - fo.max_threads / 4;
		}
		ret = fuse_session_loop_mt(se, lc);
	}
	ret = ret ? 1 : 0;
	bf_sd_notify("STOPPING=1");
	bf_watch_stop(watch);
	if (fs.ctx) {
		/* Parked reads end with EINTR while the device is still
		 * open: after the unmount their replies would fail and the
		 * readers get ECONNABORTED. */
		bf_ctx_shutdown(fs.ctx);
		bf_waitq_stop(fs.ctx);
	}

out_session:
	if (mounted)
		fuse_session_unmount(se);
	if (sig)
		fuse_remove_signal_handlers(se);
	if (se)
		fuse_session_destroy(se);
	if (lc)
		fuse_loop_cfg_destroy(lc);
	/* No worker is left; the kernel released nothing still open when
	 * the mount went away. */
	left = bf_handles_free(fs.hs, fs.ctx);
	if (left)
		bf_log_debug("freed %zu handles still open at unmount", left);
	bf_itable_free(fs.it);
	bf_ctx_free(fs.ctx);
out_args:
	free(fs.conn_opts);
	free(opt);
	free(project);
	free(fo.mountpoint);
	fuse_opt_free_args(&args);
	bf_cli_free(&cli);
	bf_log_close();
	return ret;
}
