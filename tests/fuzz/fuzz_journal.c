/* fuzz_journal.c - the journal of creates in flight (model/journal.c):
 * a file of any bytes in the journal directory, as a crash, a full disk or
 * another program may leave it. Reading it must skip what is not an entry
 * and give only entries with a bounded name, a token of label characters
 * and a 64-digit hash. The first byte picks the name looked for. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "model/journal.h"

static char *state;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[] = {"r", "", "a b", "x~1"};
	struct bf_jentry v[8];
	struct bf_journal *jn;
	char path[4200];
	int fd, n;

	fuzz_quiet();
	if (size < 1)
		return 0;
	if (!state) {
		char tmpl[] = "/tmp/fuzz-journal.XXXXXX";

		state = mkdtemp(tmpl) ? strdup(tmpl) : NULL;
		FUZZ_ASSERT(state);
	}
	jn = bf_journal_open(state, "p", "l", "http://e");
	FUZZ_ASSERT(jn);
	mkdir(bf_journal_dir(jn), 0700);
	snprintf(path, sizeof(path), "%s/bf-x.json", bf_journal_dir(jn));
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	FUZZ_ASSERT(fd >= 0);
	FUZZ_ASSERT(write(fd, data + 1, size - 1) == (ssize_t)(size - 1));
	close(fd);
	n = bf_journal_find(jn, names[data[0] & 3], v, 8);
	FUZZ_ASSERT(n >= 0 && n <= 1);
	for (int i = 0; i < n; i++) {
		FUZZ_ASSERT(strcmp(v[i].name, names[data[0] & 3]) == 0);
		FUZZ_ASSERT(strlen(v[i].token) < sizeof(v[i].token));
		FUZZ_ASSERT(strspn(v[i].token, "abcdefghijklmnopqrstuvwxyz"
						"0123456789_-") ==
			    strlen(v[i].token));
		FUZZ_ASSERT(strlen(v[i].hash) == 64);
	}
	unlink(path);
	bf_journal_free(jn);
	return 0;
}
