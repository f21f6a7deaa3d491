/* client.c - the bf_http object: libcurl global init, the share object
 * (DNS and TLS session caches, with one mutex per shared data kind), the
 * free list of easy handles, counters, the network gate and the
 * proxy setting.
 *
 * Why the connection cache is not shared: see http.c.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "batchfs/http.h"
#include "batchfs/wait.h"

#include "http_int.h"

/* ---- global init, stats ------------------------------------------------ */

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc;

static void global_init(void)
{
	struct sigaction old;

	global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
	/* CURLOPT_NOSIGNAL also stops libcurl from ignoring SIGPIPE around
	 * transfers; a peer closing mid-write must not kill the daemon.
	 * Only a default disposition is changed (libfuse sets SIG_IGN too). */
	if (sigaction(SIGPIPE, NULL, &old) == 0 && old.sa_handler == SIG_DFL)
		signal(SIGPIPE, SIG_IGN);
}

/* The cancel check and the request's limits are wait.c's. */
static __thread int gate_depth;

/* ---- the network gate ---------------------------------------------------
 * FUSE workers are a fixed pool: if all of them waited on a hung server,
 * nothing else would be served. A worker thread (bf_req_limits gated)
 * enters the gate before it waits on the network and leaves it after; at
 * most gate_max are inside at once. When it is full a few more (gate_queue)
 * wait up to GATE_WAIT_MS for a place, which a healthy server frees in
 * milliseconds; the rest, and those that waited in vain, get -EAGAIN at
 * once (the model then shows its last copy). Nested entries (a token fetch
 * inside a call) count once. Other threads (read-ahead, the wait poller)
 * are not gated: their number is fixed. */
#define GATE_WAIT_MS 2000
static int gate_max, gate_queue; /* 0: no gate */
static int gate_used, gate_waiting;
static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;

void bf_net_gate_set(int max, int queue)
{
	pthread_mutex_lock(&gate_lock);
	gate_max = max > 0 ? max : 0;
	gate_queue = queue > 0 ? queue : 0;
	pthread_mutex_unlock(&gate_lock);
}

int bf_net_enter(void)
{
	int64_t until;
	int rc = 0;

	if (!bf__req_gated() || gate_depth++ > 0)
		return 0;
	until = bf_now_ms() + GATE_WAIT_MS;
	pthread_mutex_lock(&gate_lock);
	if (gate_max && gate_used >= gate_max && gate_waiting < gate_queue) {
		gate_waiting++;
		while (gate_used >= gate_max &&
		       bf_cond_wait_until(&gate_cond, &gate_lock,
					  CLOCK_REALTIME, until,
					  BF_WAIT_SLICE_MS) == 0)
			;
		gate_waiting--;
	}
	if (gate_max && gate_used >= gate_max)
		rc = -EAGAIN;
	else
		gate_used++;
	pthread_mutex_unlock(&gate_lock);
	if (rc)
		gate_depth--;
	return rc;
}

void bf_net_leave(void)
{
	if (!bf__req_gated() || gate_depth <= 0 || --gate_depth > 0)
		return;
	pthread_mutex_lock(&gate_lock);
	gate_used--;
	pthread_cond_signal(&gate_cond);
	pthread_mutex_unlock(&gate_lock);
}

int bf_net_inside(void)
{
	int n;

	pthread_mutex_lock(&gate_lock);
	n = gate_used;
	pthread_mutex_unlock(&gate_lock);
	return n;
}

void bf_http_stat_add(uint64_t *ctr, uint64_t n)
{
	__atomic_add_fetch(ctr, n, __ATOMIC_RELAXED);
}

void bf_http_get_stats(struct bf_http *h, struct bf_http_stats *s)
{
	s->requests = __atomic_load_n(&h->st.requests, __ATOMIC_RELAXED);
	s->retries = __atomic_load_n(&h->st.retries, __ATOMIC_RELAXED);
	s->failures = __atomic_load_n(&h->st.failures, __ATOMIC_RELAXED);
	s->bytes_in = __atomic_load_n(&h->st.bytes_in, __ATOMIC_RELAXED);
	s->connects = __atomic_load_n(&h->st.connects, __ATOMIC_RELAXED);
}

/* ---- client and handle pool --------------------------------------------- */

void bf_http_opts_default(struct bf_http_opts *o)
{
	*o = (struct bf_http_opts){
		.connect_timeout_ms = 10000,
		.request_timeout_ms = 30000,
		.op_budget_ms = 60000,
		.low_speed_secs = 20,
		.max_attempts = 5,
		.backoff_initial_ms = 1000,
		.backoff_cap_ms = 30000,
		.max_body = 32u << 20,
		.recv_buffer = 512L << 10,
		.trace = 0,
	};
}

static void share_lock(CURL *c, curl_lock_data d, curl_lock_access a, void *ud)
{
	struct bf_http *h = ud;

	(void)c;
	(void)a;
	if ((int)d >= 0 && d < CURL_LOCK_DATA_LAST)
		pthread_mutex_lock(&h->share_lock[d]);
}

static void share_unlock(CURL *c, curl_lock_data d, void *ud)
{
	struct bf_http *h = ud;

	(void)c;
	if ((int)d >= 0 && d < CURL_LOCK_DATA_LAST)
		pthread_mutex_unlock(&h->share_lock[d]);
}

struct bf_http *bf_http_new(const struct bf_http_opts *o)
{
	struct bf_http *h;

	pthread_once(&global_once, global_init);
	if (global_rc != CURLE_OK)
		return NULL;
	h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	bf_http_opts_default(&h->o);
	if (o) {
		struct bf_http_opts d = h->o;

		h->o = *o;
		/* Zero means "default" field by field, so callers can set
		 * only what they care about. */
		if (h->o.connect_timeout_ms <= 0)
			h->o.connect_timeout_ms = d.connect_timeout_ms;
		if (h->o.request_timeout_ms <= 0)
			h->o.request_timeout_ms = d.request_timeout_ms;
		if (h->o.op_budget_ms <= 0)
			h->o.op_budget_ms = d.op_budget_ms;
		if (h->o.low_speed_secs <= 0)
			h->o.low_speed_secs = d.low_speed_secs;
		if (h->o.max_attempts <= 0)
			h->o.max_attempts = d.max_attempts;
		if (h->o.backoff_initial_ms <= 0)
			h->o.backoff_initial_ms = d.backoff_initial_ms;
		if (h->o.backoff_cap_ms <= 0)
			h->o.backoff_cap_ms = d.backoff_cap_ms;
		if (!h->o.max_body)
			h->o.max_body = d.max_body;
		if (h->o.recv_buffer <= 0)
			h->o.recv_buffer = d.recv_buffer;
	}
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&h->share_lock[i], NULL);
	pthread_mutex_init(&h->pool_lock, NULL);
	h->share = curl_share_init();
	if (!h->share) {
		bf_http_free(h);
		return NULL;
	}
	curl_share_setopt(h->share, CURLSHOPT_LOCKFUNC, share_lock);
	curl_share_setopt(h->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
	curl_share_setopt(h->share, CURLSHOPT_USERDATA, h);
	curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	curl_share_setopt(h->share, CURLSHOPT_SHARE,
			  CURL_LOCK_DATA_SSL_SESSION);
	return h;
}

void bf_http_set_token_source(struct bf_http *h,
			      const struct bf_token_source *ts)
{
	if (ts)
		h->ts = *ts;
	else
		memset(&h->ts, 0, sizeof(h->ts));
}

int bf_http_set_proxy(struct bf_http *h, const char *proxy,
		      const char *noproxy)
{
	char *p = proxy ? strdup(proxy) : NULL;
	char *np = noproxy ? strdup(noproxy) : NULL;

	if ((proxy && !p) || (noproxy && !np)) {
		free(p);
		free(np);
		return -ENOMEM;
	}
	free(h->proxy);
	free(h->noproxy);
	h->proxy = p;
	h->noproxy = np;
	return 0;
}

void bf_http_free(struct bf_http *h)
{
	if (!h)
		return;
	bf_http_tls_free(h);
	if (h->proxy)
		explicit_bzero(h->proxy, strlen(h->proxy)); /* may hold a password */
	free(h->proxy);
	free(h->noproxy);
	for (int i = 0; i < h->n_idle; i++)
		curl_easy_cleanup(h->idle[i]);
	if (h->share)
		curl_share_cleanup(h->share);
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_destroy(&h->share_lock[i]);
	pthread_mutex_destroy(&h->pool_lock);
	free(h);
}

CURL *bf_http_pool_get(struct bf_http *h)
{
	CURL *c = NULL;

	pthread_mutex_lock(&h->pool_lock);
	if (h->n_idle)
		c = h->idle[--h->n_idle];
	pthread_mutex_unlock(&h->pool_lock);
	if (c)
		return c;
	c = curl_easy_init();
	if (c)
		curl_easy_setopt(c, CURLOPT_SHARE, h->share);
	return c;
}

void bf_http_pool_put(struct bf_http *h, CURL *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&h->pool_lock);
	if (h->n_idle < POOL_MAX) {
		h->idle[h->n_idle++] = c;
		c = NULL;
	}
	pthread_mutex_unlock(&h->pool_lock);
	if (c)
		curl_easy_cleanup(c);
}

void bf_http_resp_free(struct bf_http_resp *r)
{
	if (!r)
		return;
	free(r->body);
	free(r->location);
	r->body = NULL;
	r->location = NULL;
	r->body_len = 0;
}
