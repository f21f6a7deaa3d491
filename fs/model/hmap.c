/* hmap.c - a small string-keyed hash map (chained, FNV-1a, grows x2) for the
 * job table's name and id indexes. Keys are copied; values are borrowed. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model/hmap.h"

struct hent {
	char *key;
	void *val;
	struct hent *next;
};

struct bf_hmap {
	struct hent **b;
	size_t nb, n;
};

static uint64_t hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	while (*s) {
		h ^= (unsigned char)*s++;
		h *= 1099511628211ULL;
	}
	return h;
}

struct bf_hmap *bf_hmap_new(void)
{
	struct bf_hmap *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->nb = 64;
	m->b = calloc(m->nb, sizeof(*m->b));
	if (!m->b) {
		free(m);
		return NULL;
	}
	return m;
}

void bf_hmap_clear(struct bf_hmap *m)
{
	for (size_t i = 0; i < m->nb; i++) {
		struct hent *e = m->b[i], *nx;

		for (; e; e = nx) {
			nx = e->next;
			free(e->key);
			free(e);
		}
		m->b[i] = NULL;
	}
	m->n = 0;
}

void bf_hmap_free(struct bf_hmap *m)
{
	if (!m)
		return;
	bf_hmap_clear(m);
	free(m->b);
	free(m);
}

void *bf_hmap_get(const struct bf_hmap *m, const char *key)
{
	struct hent *e = m->b[hash(key) % m->nb];

	for (; e; e = e->next)
		if (strcmp(e->key, key) == 0)
			return e->val;
	return NULL;
}

static void grow(struct bf_hmap *m)
{
	size_t nb = m->nb * 2;
	struct hent **b = calloc(nb, sizeof(*b));

	if (!b)
		return; /* keep the old table: slower, still correct */
	for (size_t i = 0; i < m->nb; i++) {
		struct hent *e = m->b[i], *nx;

		for (; e; e = nx) {
			size_t k = hash(e->key) % nb;

			nx = e->next;
			e->next = b[k];
			b[k] = e;
		}
	}
	free(m->b);
	m->b = b;
	m->nb = nb;
}

int bf_hmap_put(struct bf_hmap *m, const char *key, void *val)
{
	size_t k = hash(key) % m->nb;
	struct hent *e;

	for (e = m->b[k]; e; e = e->next) {
		if (strcmp(e->key, key) == 0) {
			e->val = val;
			return 0;
		}
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->key = strdup(key);
	if (!e->key) {
		free(e);
		return -ENOMEM;
	}
	e->val = val;
	e->next = m->b[k];
	m->b[k] = e;
	if (++m->n > m->nb * 2)
		grow(m);
	return 0;
}

void bf_hmap_del(struct bf_hmap *m, const char *key)
{
	struct hent **pp = &m->b[hash(key) % m->nb], *e;

	for (; (e = *pp); pp = &e->next) {
		if (strcmp(e->key, key) == 0) {
			*pp = e->next;
			free(e->key);
			free(e);
			m->n--;
			return;
		}
	}
}
