/* fuzz_perm.c - the -o uid=, gid= and umask= values (bf_perm_parse_*) and
 * the modes that follow from them. A uid or gid accepted is a decimal
 * number below (id_t)-1 that prints back the same (leading zeros aside);
 * an umask accepted is at most 0777; no mode gains a bit from it. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "fuzz.h"
#include "model/model.h"
#include "model/perm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const mode_t natural[] = {S_IFDIR | 0755, S_IFDIR | 0555,
					 S_IFREG | 0444, S_IFREG | 0200,
					 S_IFREG | 0644, S_IFLNK | 0777};
	struct bf_model_opts o;
	char *s, back[32];
	const char *digits;
	uid_t u;
	gid_t g;
	mode_t m;

	fuzz_quiet();
	s = fuzz_str(data, size);
	if (!s)
		return 0;
	if (bf_perm_parse_uid(s, &u) == 0) {
		FUZZ_ASSERT(u != (uid_t)-1);
		snprintf(back, sizeof(back), "%u", (unsigned)u);
		digits = s;
		while (digits[0] == '0' && digits[1])
			digits++;
		FUZZ_ASSERT(strcmp(back, digits) == 0);
	}
	if (bf_perm_parse_gid(s, &g) == 0)
		FUZZ_ASSERT(g != (gid_t)-1);
	if (bf_perm_parse_umask(s, &m) == 0) {
		FUZZ_ASSERT(m <= 0777);
		bf_model_opts_default(&o);
		o.umask = m;
		for (size_t i = 0; i < sizeof(natural) / sizeof(*natural);
		     i++) {
			mode_t got = bf_perm_mode(&o, natural[i]);

			FUZZ_ASSERT((got & ~natural[i]) == 0);
			FUZZ_ASSERT((got & S_IFMT) == (natural[i] & S_IFMT));
		}
	}
	free(s);
	return 0;
}
