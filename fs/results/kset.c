/* kset.c - the only thing the results layer keeps per row: a key -> small
 * value index. Open addressing with 32-byte slots and every key in one
 * arena: 24 bytes a slot plus the key bytes, so 200k keys cost a few MiB,
 * not a malloc per key. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "results/results_int.h"

/* The key arena's first size; it grows by half. */
#define ARENA_FIRST_CAP (64u << 10)

struct slot {
	uint32_t h;	/* 0 = empty */
	uint32_t kofs;	/* arena offset of u32 length + bytes */
	struct bf_kval v;
};

struct bf_kset {
	struct slot *t;
	size_t cap, n; /* cap is a power of two */
	char *arena;
	size_t alen, acap;
};

static uint32_t hash(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ULL;
	}
	h ^= h >> 32;
	return (uint32_t)h ? (uint32_t)h : 1;
}

struct bf_kset *bf_kset_new(void)
{
	struct bf_kset *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->cap = 1024;
	s->t = calloc(s->cap, sizeof(*s->t));
	if (!s->t) {
		free(s);
		return NULL;
	}
	return s;
}

void bf_kset_free(struct bf_kset *s)
{
	if (!s)
		return;
	free(s->t);
	free(s->arena);
	free(s);
}

static int key_eq(const struct bf_kset *s, const struct slot *sl,
		  const char *key, size_t klen)
{
	uint32_t n;

	memcpy(&n, s->arena + sl->kofs, sizeof(n));
	if (n != klen)
		return 0;
	/* An empty key may come with key == NULL: memcmp must not see it. */
	return klen == 0 ||
	       memcmp(s->arena + sl->kofs + sizeof(n), key, klen) == 0;
}

static struct slot *find(const struct bf_kset *s, uint32_t h, const char *key,
			 size_t klen)
{
	size_t mask = s->cap - 1;

	for (size_t i = h & mask;; i = (i + 1) & mask) {
		struct slot *sl = &s->t[i];

		if (!sl->h || (sl->h == h && key_eq(s, sl, key, klen)))
			return sl;
	}
}

static int grow(struct bf_kset *s)
{
	struct slot *old = s->t;
	size_t ocap = s->cap, mask;

	s->t = calloc(ocap * 2, sizeof(*s->t));
	if (!s->t) {
		s->t = old;
		return -ENOMEM;
	}
	s->cap = ocap * 2;
	mask = s->cap - 1;
	for (size_t i = 0; i < ocap; i++) {
		size_t j;

		if (!old[i].h)
			continue;
		for (j = old[i].h & mask; s->t[j].h; j = (j + 1) & mask)
			;
		s->t[j] = old[i];
	}
	free(old);
	return 0;
}

static int arena_add(struct bf_kset *s, const char *key, size_t klen,
		     uint32_t *ofs)
{
	uint32_t n = (uint32_t)klen;
	size_t need = s->alen + sizeof(n) + klen;

	/* offsets are 32-bit: 4 GiB of keys is far past any job */
	if (klen > UINT32_MAX / 2 || need > UINT32_MAX)
		return -ENOMEM;
	if (need > s->acap) {
		/* x1.5: the arena is the bulk of the memory; doubling
		 * would waste up to half of it. */
		size_t cap = s->acap ? s->acap + s->acap / 2 : ARENA_FIRST_CAP;
		char *p;

		while (cap < need)
			cap += cap / 2;
		p = realloc(s->arena, cap);
		if (!p)
			return -ENOMEM;
		s->arena = p;
		s->acap = cap;
	}
	*ofs = (uint32_t)s->alen;
	memcpy(s->arena + s->alen, &n, sizeof(n));
	memcpy(s->arena + s->alen + sizeof(n), key, klen);
	s->alen = need;
	return 0;
}

int bf_kset_put(struct bf_kset *s, const char *key, size_t klen,
		struct bf_kval **v)
{
	uint32_t h = hash(key, klen);
	struct slot *sl;
	int rc;

	/* load <= 4/5: linear probing still short, table 20% smaller */
	if ((s->n + 1) * 5 > s->cap * 4 && (rc = grow(s)) < 0)
		return rc;
	sl = find(s, h, key, klen);
	if (sl->h) {
		*v = &sl->v;
		return 0;
	}
	rc = arena_add(s, key, klen, &sl->kofs);
	if (rc < 0)
		return rc;
	sl->h = h;
	memset(&sl->v, 0, sizeof(sl->v));
	s->n++;
	*v = &sl->v;
	return 1;
}

struct bf_kval *bf_kset_get(struct bf_kset *s, const char *key, size_t klen)
{
	struct slot *sl = find(s, hash(key, klen), key, klen);

	return sl->h ? &sl->v : NULL;
}

size_t bf_kset_count(const struct bf_kset *s)
{
	return s->n;
}

void bf_kset_each(struct bf_kset *s, void (*fn)(void *ud, struct bf_kval *v),
		  void *ud)
{
	for (size_t i = 0; i < s->cap; i++)
		if (s->t[i].h)
			fn(ud, &s->t[i].v);
}

size_t bf_kset_bytes(const struct bf_kset *s)
{
	return s->cap * sizeof(*s->t) + s->acap;
}
