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
 * Design: a fixed hash table of buckets keyed by <obj, id>.
 *
 * Readers (graft_shadow_get, the hot path) take no lock.  Each bucket has
 * a sequence count that writers make odd while they relink its chain, and
 * a reader retries when the count moved under it.  That is only sound if
 * a node a reader may still be looking at is never handed back to
 * malloc(), so unlinked nodes go to their bucket's spare list and are
 * reused by that bucket only; the memory kept is bounded by the peak
 * number of shadow variables per bucket.  Compared to per-bucket locks,
 * readers of one hot object never write a shared cache line and, more
 * importantly, a replacement function called from a signal handler can
 * call graft_shadow_get() without deadlocking against its own thread.
 *
 * Writers serialise on a per-bucket mutex and block signals while they
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

#define SHADOW_HASH_BITS 10
#define SHADOW_BUCKETS (1UL << SHADOW_HASH_BITS)

/* Racy reads by lock-free readers are validated by the sequence count. */
#define READ_ONCE(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define WRITE_ONCE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)

struct shadow {
	struct shadow *next;
	void *obj;
	unsigned long id;
	void *data;
};

struct bucket {
	pthread_mutex_t lock;	/* serialises writers */
	unsigned int seq;	/* odd while a writer changes the chain */
	unsigned int len;	/* nodes on the chain, bounds a racing reader */
	struct shadow *head;
	struct shadow *spare;	/* unlinked nodes, reused by this bucket only */
} __attribute__((aligned(64)));

static struct bucket table[SHADOW_BUCKETS] = {
	[0 ... SHADOW_BUCKETS - 1] = { .lock = PTHREAD_MUTEX_INITIALIZER },
};

const unsigned int graft_runtime_abi_version = GRAFT_ABI_VERSION;

static struct bucket *bucket_of(const void *obj, unsigned long id)
{
	const uint64_t golden = 0x9e3779b97f4a7c15ULL;
	uint64_t key = (uintptr_t)obj ^ (id * golden);

	return &table[(key * golden) >> (64 - SHADOW_HASH_BITS)];
}

/*
 * Bounded by len: a reader racing a writer may follow a recycled node
 * into a loop; the sequence check then discards whatever it found.
 */
static struct shadow *lookup(struct bucket *b, const void *obj,
			     unsigned long id)
{
	unsigned int left = READ_ONCE(b->len);
	struct shadow *s;

	for (s = READ_ONCE(b->head); s && left; s = READ_ONCE(s->next), left--)
		if (READ_ONCE(s->obj) == obj && READ_ONCE(s->id) == id)
			return s;
	return NULL;
}

static void write_begin(struct bucket *b)
{
	WRITE_ONCE(b->seq, b->seq + 1);
	__atomic_thread_fence(__ATOMIC_RELEASE);
}

static void write_end(struct bucket *b)
{
	__atomic_store_n(&b->seq, b->seq + 1, __ATOMIC_RELEASE);
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
	struct bucket *b = bucket_of(obj, id);
	unsigned int spins = 0;

	for (;;) {
		unsigned int seq = __atomic_load_n(&b->seq, __ATOMIC_ACQUIRE);

		if (!(seq & 1)) {
			struct shadow *s = lookup(b, obj, id);
			void *data = s ? READ_ONCE(s->data) : NULL;

			__atomic_thread_fence(__ATOMIC_ACQUIRE);
			if (READ_ONCE(b->seq) == seq)
				return data;
		}
		/* The writer may be descheduled (or stopped by a tracer). */
		if (++spins % 64 == 0)
			sched_yield();
		else
			__builtin_ia32_pause();
	}
}

static void link_shadow(struct bucket *b, struct shadow *s, void *obj,
			unsigned long id, void *data)
{
	write_begin(b);
	WRITE_ONCE(s->obj, obj);
	WRITE_ONCE(s->id, id);
	WRITE_ONCE(s->data, data);
	WRITE_ONCE(s->next, b->head);
	WRITE_ONCE(b->head, s);
	WRITE_ONCE(b->len, b->len + 1);
	write_end(b);
}

static struct shadow *take_spare(struct bucket *b)
{
	struct shadow *s = b->spare;

	if (!s)
		return malloc(sizeof(*s));
	b->spare = s->next;
	return s;
}

static void put_spare(struct bucket *b, struct shadow *s)
{
	WRITE_ONCE(s->next, b->spare);
	b->spare = s;
}

/* Frees the data; keeps the node as a spare (see the top of this file). */
static void unlink_shadow(struct bucket *b, struct shadow **prev,
			  graft_shadow_dtor_t dtor)
{
	struct shadow *s = *prev;

	write_begin(b);
	WRITE_ONCE(*prev, s->next);
	WRITE_ONCE(b->len, b->len - 1);
	put_spare(b, s);
	write_end(b);

	if (dtor)
		dtor(s->obj, s->data);
	free(s->data);
}

/*
 * Called with b locked.  False if out of memory or if ctor failed, in
 * which case *ctor_err is its nonzero result.
 */
static int add_shadow(struct bucket *b, void *obj, unsigned long id,
		      void *data, graft_shadow_ctor_t ctor, void *ctor_data,
		      int *ctor_err)
{
	/* Taken before the ctor runs: nothing could undo its work after. */
	struct shadow *s = take_spare(b);

	if (!s)
		return 0;
	*ctor_err = ctor ? ctor(obj, data, ctor_data) : 0;
	if (*ctor_err) {
		put_spare(b, s);
		return 0;
	}
	link_shadow(b, s, obj, id, data);
	return 1;
}

static void *get_or_alloc(void *obj, unsigned long id, size_t size,
			  graft_shadow_ctor_t ctor, void *ctor_data,
			  int warn_on_exist)
{
	struct bucket *b = bucket_of(obj, id);
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
	pthread_mutex_lock(&b->lock);
	s = lookup(b, obj, id);
	if (s)
		existing = s->data;
	else
		added = add_shadow(b, obj, id, data, ctor, ctor_data, &ctor_err);
	pthread_mutex_unlock(&b->lock);
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
	struct bucket *b = bucket_of(obj, id);
	struct shadow **prev;
	sigset_t saved;

	block_signals(&saved);
	pthread_mutex_lock(&b->lock);
	for (prev = &b->head; *prev; prev = &(*prev)->next) {
		if ((*prev)->obj == obj && (*prev)->id == id) {
			unlink_shadow(b, prev, dtor);
			break;
		}
	}
	pthread_mutex_unlock(&b->lock);
	restore_signals(&saved);
}

void graft_shadow_free_all(unsigned long id, graft_shadow_dtor_t dtor)
{
	struct shadow **prev;
	sigset_t saved;
	unsigned long i;

	block_signals(&saved);
	for (i = 0; i < SHADOW_BUCKETS; i++) {
		struct bucket *b = &table[i];

		pthread_mutex_lock(&b->lock);
		prev = &b->head;
		while (*prev) {
			if ((*prev)->id == id)
				unlink_shadow(b, prev, dtor);
			else
				prev = &(*prev)->next;
		}
		pthread_mutex_unlock(&b->lock);
	}
	restore_signals(&saved);
}

/*
 * A child forked while another thread held a bucket would find that
 * bucket locked, and its sequence count odd, forever.
 */
static void lock_all(void)
{
	unsigned long i;

	for (i = 0; i < SHADOW_BUCKETS; i++)
		pthread_mutex_lock(&table[i].lock);
}

static void unlock_all(void)
{
	unsigned long i;

	for (i = 0; i < SHADOW_BUCKETS; i++)
		pthread_mutex_unlock(&table[i].lock);
}

__attribute__((constructor)) static void register_fork_handlers(void)
{
	pthread_atfork(lock_all, unlock_all, unlock_all);
}
