/* hmap.h - a string -> pointer map (hmap.c). */
#ifndef BATCHFS_MODEL_HMAP_H
#define BATCHFS_MODEL_HMAP_H

#include <stddef.h>

struct bf_hmap;
struct bf_hmap *bf_hmap_new(void);
void bf_hmap_free(struct bf_hmap *m);
void *bf_hmap_get(const struct bf_hmap *m, const char *key);
int bf_hmap_put(struct bf_hmap *m, const char *key, void *val); /* replaces */
void bf_hmap_del(struct bf_hmap *m, const char *key);
void bf_hmap_clear(struct bf_hmap *m);

#endif
