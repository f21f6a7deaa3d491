/* inode.c - the inode table: one stable inode number per (parent, name)
 * while the kernel holds it, the node it stands for, and lookup counts
 * (an inode lives until the kernel forgets it). Numbers are never reused. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "fuse/fuse_int.h"

#define NBUCKETS 16384

/* Every field of an entry is guarded by its table's lock (callers get
 * copies of the node). */
struct ient {
	fuse_ino_t ino;
	fuse_ino_t parent;
	char *name; /* NULL once detached from its name */
	struct bf_node node;
	uint64_t nlookup;
	struct ient *next_ino, *next_key;
};

struct bf_itable {
	pthread_mutex_t lock; /* a leaf: guards all below */
	struct ient *by_ino[NBUCKETS];
	struct ient *by_key[NBUCKETS];
	fuse_ino_t next;
	struct ient root;
};

static size_t key_hash(fuse_ino_t parent, const char *name)
{
	uint64_t h = 1469598103934665603ULL ^ parent;

	while (*name) {
		h ^= (unsigned char)*name++;
		h *= 1099511628211ULL;
	}
	return h % NBUCKETS;
}

struct bf_itable *bf_itable_new(void)
{
	struct bf_itable *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	pthread_mutex_init(&t->lock, NULL);
	t->root.ino = FUSE_ROOT_ID;
	t->root.node.kind = BF_K_ROOT;
	t->root.nlookup = 1;
	t->next = FUSE_ROOT_ID + 1;
	return t;
}

static void ient_free(struct ient *e)
{
	bf_node_clear(&e->node);
	free(e->name);
	free(e);
}

void bf_itable_free(struct bf_itable *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < NBUCKETS; i++) {
		struct ient *e = t->by_ino[i], *nx;

		for (; e; e = nx) {
			nx = e->next_ino;
			ient_free(e);
		}
	}
	pthread_mutex_destroy(&t->lock);
	free(t);
}

static struct ient *find_ino(struct bf_itable *t, fuse_ino_t ino)
{
	struct ient *e;

	if (ino == FUSE_ROOT_ID)
		return &t->root;
	for (e = t->by_ino[ino % NBUCKETS]; e; e = e->next_ino)
		if (e->ino == ino)
			return e;
	return NULL;
}

static struct ient *find_key(struct bf_itable *t, fuse_ino_t parent,
			     const char *name)
{
	struct ient *e;

	for (e = t->by_key[key_hash(parent, name)]; e; e = e->next_key)
		if (e->parent == parent && strcmp(e->name, name) == 0)
			return e;
	return NULL;
}

static void detach_key(struct bf_itable *t, struct ient *e)
{
	struct ient **pp;

	if (!e->name)
		return;
	pp = &t->by_key[key_hash(e->parent, e->name)];
	for (; *pp; pp = &(*pp)->next_key) {
		if (*pp == e) {
			*pp = e->next_key;
			break;
		}
	}
	free(e->name);
	e->name = NULL;
	e->next_key = NULL;
}

static void attach_key(struct bf_itable *t, struct ient *e, fuse_ino_t parent,
		       char *name)
{
	size_t k = key_hash(parent, name);

	e->parent = parent;
	e->name = name;
	e->next_key = t->by_key[k];
	t->by_key[k] = e;
}

fuse_ino_t bf_itable_link(struct bf_itable *t, fuse_ino_t parent,
			  const char *name, const struct bf_node *node)
{
	struct ient *e;
	char *nm;
	fuse_ino_t ino = 0;

	pthread_mutex_lock(&t->lock);
	e = find_key(t, parent, name);
	if (e && bf_node_same(&e->node, node)) {
		e->nlookup++;
		ino = e->ino;
		goto out;
	}
	if (e)
		detach_key(t, e); /* the name now means something else */
	e = calloc(1, sizeof(*e));
	nm = strdup(name);
	if (!e || !nm || bf_node_copy(&e->node, node)) {
		free(e);
		free(nm);
		goto out;
	}
	e->ino = t->next++;
	e->nlookup = 1;
	e->next_ino = t->by_ino[e->ino % NBUCKETS];
	t->by_ino[e->ino % NBUCKETS] = e;
	attach_key(t, e, parent, nm);
	ino = e->ino;
out:
	pthread_mutex_unlock(&t->lock);
	return ino;
}

int bf_itable_node(struct bf_itable *t, fuse_ino_t ino, struct bf_node *out)
{
	struct ient *e;
	int rc = -ESTALE;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&t->lock);
	e = find_ino(t, ino);
	if (e)
		rc = bf_node_copy(out, &e->node);
	pthread_mutex_unlock(&t->lock);
	return rc;
}

void bf_itable_forget(struct bf_itable *t, fuse_ino_t ino, uint64_t n)
{
	struct ient *e, **pp;

	if (ino == FUSE_ROOT_ID)
		return;
	pthread_mutex_lock(&t->lock);
	pp = &t->by_ino[ino % NBUCKETS];
	for (; (e = *pp); pp = &e->next_ino)
		if (e->ino == ino)
			break;
	if (e) {
		e->nlookup = n >= e->nlookup ? 0 : e->nlookup - n;
		if (e->nlookup == 0) {
			*pp = e->next_ino;
			detach_key(t, e);
			ient_free(e);
		}
	}
	pthread_mutex_unlock(&t->lock);
}

void bf_itable_unlink(struct bf_itable *t, fuse_ino_t parent, const char *name)
{
	struct ient *e;

	pthread_mutex_lock(&t->lock);
	e = find_key(t, parent, name);
	if (e)
		detach_key(t, e);
	pthread_mutex_unlock(&t->lock);
}

void bf_itable_rename(struct bf_itable *t, fuse_ino_t parent, const char *name,
		      fuse_ino_t np, const char *nn, const struct bf_node *node)
{
	struct ient *e, *old;
	struct bf_node copy;
	char *nm;

	pthread_mutex_lock(&t->lock);
	old = find_key(t, np, nn);
	if (old)
		detach_key(t, old);
	e = find_key(t, parent, name);
	if (e) {
		detach_key(t, e);
		nm = strdup(nn);
		if (nm)
			attach_key(t, e, np, nm);
		/* The kernel keeps this inode for the new name: make it
		 * stand for what that name is now. */
		if (node && bf_node_copy(&copy, node) == 0) {
			bf_node_clear(&e->node);
			e->node = copy;
		}
	}
	pthread_mutex_unlock(&t->lock);
}
