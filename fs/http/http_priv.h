/* http_priv.h - helpers shared by the files of fs/http (not public). */
#ifndef BATCHFS_HTTP_PRIV_H
#define BATCHFS_HTTP_PRIV_H

#include <stddef.h>

#include "batchfs/http.h"

/* Forgets the reply headers of a previous response (keeps status). */
void bf_http_hdr_reset(struct bf_http_resp *r);
/* Records one raw header line ("Name: value\r\n") if we track it. */
void bf_http_hdr_parse(struct bf_http_resp *r, const char *line, size_t len);
/* url with secret query values masked, for logs and messages. */
void bf_http_url_for_log(const char *url, char *out, size_t n);

#endif
