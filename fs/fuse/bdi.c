/* bdi.c - raises the kernel's read-ahead of our own mount.
 *
 * The page cache reads ahead read_ahead_kb of the mount's backing device
 * (128 KiB by default), and that is also the largest READ it sends for
 * page-cache files: small requests cost a round trip each. 512 KiB (one
 * READ of the splice path's max_read per window) measured best with four
 * readers, against 1024 and 2048 (BENCHMARKS.md, Experiments). INIT's
 * reply lowers the value (never raises it), so the write must come after
 * INIT: the mount records its device from /proc/self/mountinfo, the first
 * request after INIT writes /sys/class/bdi/MAJ:MIN/read_ahead_kb. Only
 * root may write it; anyone else keeps the kernel's default (logged).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "batchfs/log.h"
#include "fuse/fuse_int.h"

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape(char *s)
{
	char *w = s;

	for (char *r = s; *r;) {
		if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' &&
		    r[2] <= '7' && r[3] >= '0' && r[3] <= '7') {
			*w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 +
				      (r[3] - '0'));
			r += 4;
		} else {
			*w++ = *r++;
		}
	}
	*w = 0;
}

int bf_bdi_find(const char *mountpoint, char *dev, size_t n)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL;
	size_t cap = 0;
	int found = -ENOENT;

	if (!f)
		return -errno;
	/* The last match is ours: a mount stacks over older ones. */
	while (getline(&line, &cap, f) > 0) {
		char id[32], mp[PATH_MAX];

		if (sscanf(line, "%*s %*s %31s %*s %4095s", id, mp) != 2)
			continue;
		unescape(mp);
		if (strcmp(mp, mountpoint) == 0 && strlen(id) < n) {
			snprintf(dev, n, "%s", id);
			found = 0;
		}
	}
	free(line);
	fclose(f);
	return found;
}

void bf_bdi_set_readahead(const char *dev, unsigned kb)
{
	char path[96], val[24];
	int fd, len;

	if (!dev[0] || !kb)
		return;
	snprintf(path, sizeof(path), "/sys/class/bdi/%s/read_ahead_kb", dev);
	len = snprintf(val, sizeof(val), "%u\n", kb);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, val, (size_t)len) != len) {
		bf_log_info("kernel read-ahead left at its default (%s: %s)",
			    path, strerror(errno));
	} else {
		bf_log_info("kernel read-ahead raised to %u KiB", kb);
	}
	if (fd >= 0)
		close(fd);
}
