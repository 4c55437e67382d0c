// SPDX-License-Identifier: MIT
/*
 * libgraft - the runtime Graft patches link against: shadow variables.
 *
 * The table is a static array, so there is exactly one per process no
 * matter how many patches use it: every patch names libgraft.so as
 * DT_NEEDED, and the dynamic linker loads one object per soname.  The
 * library is linked -z nodelete so that the table outlives the patches,
 * as the kernel's outlives livepatch modules: a patch applied after the
 * last one was reverted still finds the variables it made.
 *
 * Design: <obj, id> hashes to one of a fixed number of stripes; the next
 * bits of the hash pick a chain within the stripe's array of chain heads.
 * A stripe doubles its array when it holds as many variables as chains,
 * so chains stay about one node long however many variables there are,
 * and a stripe grows alone, under its own lock.
 *
 * Readers (graft_shadow_get, the hot path) take no lock.  Each stripe has
 * a sequence count that writers make odd while they change it, and a
 * reader retries when the count moved under it.  That is only sound if
 * memory a reader may still be looking at is never handed back to
 * malloc(): unlinked nodes go to their stripe's spare list and are reused
 * by that stripe only, and a replaced array of heads stays linked from
 * its successor.  Whatever a racing reader follows is therefore NULL or
 * memory of its own stripe; the memory kept is bounded by the peak number
 * of variables per stripe (arrays: by twice the current one).  Compared
 * to per-stripe locks, readers of one hot object never write a shared
 * cache line and, more importantly, a replacement function called from a
 * signal handler can call graft_shadow_get() without deadlocking against
 * its own thread.
 *
 * Orderings.  Every field a reader looks at is written with a release
 * store and read with an acquire load (both plain moves on x86-64), with
 * no fences, which ThreadSanitizer understands:
 *  - a reader's acquire loads keep its final load of the count after
 *    them; a writer's release stores keep its odd count before them.  A
 *    reader that saw any store of a write section thus sees the count
 *    odd or moved when it checks again, and retries;
 *  - a release store of a pointer (a head, a next, the array) pairs with
 *    the acquire load that follows it: the node or array behind it is
 *    seen initialised, so even a reader that will retry never follows
 *    uninitialised memory;
 *  - the even count stored at the end of a write section pairs with the
 *    reader's first acquire load of it: a reader that returns data sees
 *    what the ctor wrote into it.
 * Fields only writers touch are plain: the stripe lock orders them.
 *
 * Writers serialise on the stripe's mutex and block signals while they
 * hold it, as the kernel takes klp_shadow_lock with irqsave: a reader in
 * a signal handler therefore never waits for an odd count that its own
 * interrupted thread would have to make even.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#pragma GCC visibility push(default)
#include "graft.h"
#pragma GCC visibility pop

#define STRIPE_BITS 10
#define STRIPES (1UL << STRIPE_BITS)
#define FIRST_CHAIN_BITS 2
/* 2^24 chains per stripe, 2^34 in all: beyond that chains grow longer. */
#define LAST_CHAIN_BITS 24

#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_ACQUIRE)
#define STORE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELEASE)

struct shadow {
	struct shadow *next;
	void *obj;
	unsigned long id;
	void *data;
};

struct chains {
	struct chains *older;	/* replaced, kept while readers may look */
	unsigned int bits;
	struct shadow *head[];
};

struct stripe {
	pthread_mutex_t lock;	/* serialises writers */
	unsigned int seq;	/* odd while a writer changes the stripe */
	unsigned int len;	/* nodes in the stripe, bounds a racing reader */
	struct chains *chains;	/* NULL until the first variable */
	struct shadow *spare;	/* unlinked nodes, reused by this stripe only */
} __attribute__((aligned(64)));

static struct stripe table[STRIPES] = {
	[0 ... STRIPES - 1] = { .lock = PTHREAD_MUTEX_INITIALIZER },
};

const unsigned int graft_runtime_abi_version = GRAFT_ABI_VERSION;

static uint64_t hash_of(const void *obj, unsigned long id)
{
	const uint64_t golden = 0x9e3779b97f4a7c15ULL;

	return ((uintptr_t)obj ^ (id * golden)) * golden;
}

/* The top bits of a multiplicative hash are its well-mixed ones. */
static struct stripe *stripe_of(uint64_t hash)
{
	return &table[hash >> (64 - STRIPE_BITS)];
}

static struct shadow **chain_of(struct chains *c, uint64_t hash)
{
	return &c->head[(hash << STRIPE_BITS) >> (64 - c->bits)];
}

/*
 * Bounded by len: a reader racing a writer may follow a recycled node
 * into a loop; the sequence check then discards whatever it found.
 */
static struct shadow *lookup(struct stripe *st, uint64_t hash,
			     const void *obj, unsigned long id)
{
	unsigned int left = LOAD(st->len);
	struct chains *c = LOAD(st->chains);
	struct shadow *s;

	if (!c)
		return NULL;
	for (s = LOAD(*chain_of(c, hash)); s && left; s = LOAD(s->next), left--)
		if (LOAD(s->obj) == obj && LOAD(s->id) == id)
			return s;
	return NULL;
}

static void write_begin(struct stripe *st)
{
	STORE(st->seq, st->seq + 1);
}

static void write_end(struct stripe *st)
{
	STORE(st->seq, st->seq + 1);
}

static void block_signals(sigset_t *saved)
{
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, saved);
}

static void restore_signals(const sigset_t *saved)
{
	pthread_sigmask(SIG_SETMASK, saved, NULL);
}

void *graft_shadow_get(void *obj, unsigned long id)
{
	uint64_t hash = hash_of(obj, id);
	struct stripe *st = stripe_of(hash);
	unsigned int spins = 0;

	for (;;) {
		unsigned int seq = LOAD(st->seq);

		if (!(seq & 1)) {
			struct shadow *s = lookup(st, hash, obj, id);
			void *data = s ? LOAD(s->data) : NULL;

			if (LOAD(st->seq) == seq)
				return data;
		}
		/* The writer may be descheduled (or stopped by a tracer). */
		if (++spins % 64 == 0)
			sched_yield();
		else
			__builtin_ia32_pause();
	}
}

/*
 * Called with st locked, before a node is added.  Without memory for a
 * larger array the chains just get longer; without a first one the
 * variable cannot be added.
 */
static void grow(struct stripe *st)
{
	struct chains *old = st->chains, *c;
	unsigned int bits = old ? old->bits + 1 : FIRST_CHAIN_BITS;
	unsigned long i;

	if (old && (st->len < (1U << old->bits) || old->bits == LAST_CHAIN_BITS))
		return;
	c = calloc(1, sizeof(*c) + (sizeof(c->head[0]) << bits));
	if (!c)
		return;
	c->older = old;
	c->bits = bits;

	write_begin(st);
	for (i = 0; old && i < (1UL << old->bits); i++) {
		struct shadow *s = old->head[i], *next;

		for (; s; s = next) {
			struct shadow **chain = chain_of(c, hash_of(s->obj, s->id));

			next = s->next;
			STORE(s->next, *chain);
			STORE(*chain, s);
		}
	}
	STORE(st->chains, c);
	write_end(st);
}

static void link_shadow(struct stripe *st, struct shadow *s, uint64_t hash,
			void *obj, unsigned long id, void *data)
{
	struct shadow **chain = chain_of(st->chains, hash);

	write_begin(st);
	STORE(s->obj, obj);
	STORE(s->id, id);
	STORE(s->data, data);
	STORE(s->next, *chain);
	STORE(*chain, s);
	STORE(st->len, st->len + 1);
	write_end(st);
}

static struct shadow *take_spare(struct stripe *st)
{
	struct shadow *s = st->spare;

	if (!s)
		return malloc(sizeof(*s));
	st->spare = s->next;
	return s;
}

static void put_spare(struct stripe *st, struct shadow *s)
{
	STORE(s->next, st->spare);
	st->spare = s;
}

/* Frees the data; keeps the node as a spare (see the top of this file). */
static void unlink_shadow(struct stripe *st, struct shadow **prev,
			  graft_shadow_dtor_t dtor)
{
	struct shadow *s = *prev;

	write_begin(st);
	STORE(*prev, s->next);
	STORE(st->len, st->len - 1);
	put_spare(st, s);
	write_end(st);

	if (dtor)
		dtor(s->obj, s->data);
	free(s->data);
}

/*
 * Called with st locked.  False if out of memory or if ctor failed, in
 * which case *ctor_err is its nonzero result.
 */
static int add_shadow(struct stripe *st, uint64_t hash, void *obj,
		      unsigned long id, void *data, graft_shadow_ctor_t ctor,
		      void *ctor_data, int *ctor_err)
{
	struct shadow *s;

	/* Before the ctor runs: nothing could undo its work after. */
	grow(st);
	s = st->chains ? take_spare(st) : NULL;
	if (!s)
		return 0;
	*ctor_err = ctor ? ctor(obj, data, ctor_data) : 0;
	if (*ctor_err) {
		put_spare(st, s);
		return 0;
	}
	link_shadow(st, s, hash, obj, id, data);
	return 1;
}

static void *get_or_alloc(void *obj, unsigned long id, size_t size,
			  graft_shadow_ctor_t ctor, void *ctor_data,
			  int warn_on_exist)
{
	uint64_t hash = hash_of(obj, id);
	struct stripe *st = stripe_of(hash);
	struct shadow *s;
	sigset_t saved;
	int added = 0, ctor_err = 0;
	void *data, *existing = NULL;

	data = graft_shadow_get(obj, id);
	if (data)
		goto exists;

	/* Never NULL for size 0: a shadow variable may be a mere flag. */
	data = calloc(1, size ? size : 1);
	if (!data)
		return NULL;

	block_signals(&saved);
	pthread_mutex_lock(&st->lock);
	s = lookup(st, hash, obj, id);
	if (s)
		existing = s->data;
	else
		added = add_shadow(st, hash, obj, id, data, ctor, ctor_data,
				   &ctor_err);
	pthread_mutex_unlock(&st->lock);
	restore_signals(&saved);

	if (existing) {
		/* Another thread won the race. */
		free(data);
		data = existing;
		goto exists;
	}
	if (added)
		return data;
	if (ctor_err)
		fprintf(stderr,
			"graft: failed to construct shadow variable <%p, %lx> (%d)\n",
			obj, id, ctor_err);
	free(data);
	return NULL;

exists:
	if (!warn_on_exist)
		return data;
	fprintf(stderr, "graft: shadow variable <%p, %lx> already exists\n",
		obj, id);
	return NULL;
}

void *graft_shadow_alloc(void *obj, unsigned long id, size_t size,
			 graft_shadow_ctor_t ctor, void *ctor_data)
{
	return get_or_alloc(obj, id, size, ctor, ctor_data, 1);
}

void *graft_shadow_get_or_alloc(void *obj, unsigned long id, size_t size,
				graft_shadow_ctor_t ctor, void *ctor_data)
{
	return get_or_alloc(obj, id, size, ctor, ctor_data, 0);
}

void graft_shadow_free(void *obj, unsigned long id, graft_shadow_dtor_t dtor)
{
	uint64_t hash = hash_of(obj, id);
	struct stripe *st = stripe_of(hash);
	struct shadow **prev;
	sigset_t saved;

	block_signals(&saved);
	pthread_mutex_lock(&st->lock);
	prev = st->chains ? chain_of(st->chains, hash) : NULL;
	for (; prev && *prev; prev = &(*prev)->next) {
		if ((*prev)->obj == obj && (*prev)->id == id) {
			unlink_shadow(st, prev, dtor);
			break;
		}
	}
	pthread_mutex_unlock(&st->lock);
	restore_signals(&saved);
}

/* Called with st locked. */
static void free_all_in(struct stripe *st, unsigned long id,
			graft_shadow_dtor_t dtor)
{
	unsigned long i;

	for (i = 0; st->chains && i < (1UL << st->chains->bits); i++) {
		struct shadow **prev = &st->chains->head[i];

		while (*prev) {
			if ((*prev)->id == id)
				unlink_shadow(st, prev, dtor);
			else
				prev = &(*prev)->next;
		}
	}
}

void graft_shadow_free_all(unsigned long id, graft_shadow_dtor_t dtor)
{
	sigset_t saved;
	unsigned long i;

	block_signals(&saved);
	for (i = 0; i < STRIPES; i++) {
		pthread_mutex_lock(&table[i].lock);
		free_all_in(&table[i], id, dtor);
		pthread_mutex_unlock(&table[i].lock);
	}
	restore_signals(&saved);
}

/*
 * A child forked while another thread held a stripe would find that
 * stripe locked, and its sequence count odd, forever.
 */
static void lock_all(void)
{
	unsigned long i;

	for (i = 0; i < STRIPES; i++)
		pthread_mutex_lock(&table[i].lock);
}

static void unlock_all(void)
{
	unsigned long i;

	for (i = 0; i < STRIPES; i++)
		pthread_mutex_unlock(&table[i].lock);
}

__attribute__((constructor)) static void register_fork_handlers(void)
{
	pthread_atfork(lock_all, unlock_all, unlock_all);
}
