// SPDX-License-Identifier: MIT
/*
 * shadow_hammer - 8 threads call every shadow function at random for a
 * few seconds (argv[1], default 2), on objects of their own and on
 * objects they all share, and check that nothing is lost or handed out
 * twice.  `make check` runs it as built and under ThreadSanitizer and
 * AddressSanitizer.  Helgrind is not used: it knows locks, not the
 * acquire/release protocol of the lock-free readers, and would report
 * every one of their loads.
 *
 *  - own objects (ID_OWN): each thread keeps a model of its variables
 *    and checks every result, and get() after every call, against it;
 *  - tokens (ID_TOKEN, shared): whoever creates one owns it until it
 *    frees it; its ctor marks the data as its own and no second thread
 *    may be inside the token at the same time;
 *  - flags (ID_FLAG, shared, never dereferenced): allocated, got, freed
 *    and swept by free_all from all threads; one found right after its
 *    allocation unless a free could have come in between.
 * At the end ctors and dtors balance for each id, and stderr carries
 * exactly one warning per alloc that returned NULL.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "graft.h"

static FILE *report;

#define CHECK(cond)							\
	do {								\
		if (!(cond)) {						\
			fprintf(report, "%s:%d: check failed: %s\n",	\
				__FILE__, __LINE__, #cond);		\
			exit(1);					\
		}							\
	} while (0)

#define THREADS 8
#define OWN 1024 /* enough for stripes to grow while the others read */
#define SHARED 16

enum { ID_OWN = 1, ID_TOKEN, ID_FLAG, IDS };

struct payload {
	void *obj;
	int owner;
	unsigned long serial;
};

/* What a thread passes to a ctor; ran says whether the ctor ran. */
struct claim {
	int thread;
	unsigned long serial;
	int ran;
};

static long shared[SHARED];
static int inside[SHARED];
static unsigned long ctors[IDS], dtors[IDS];
static unsigned long null_allocs, flag_frees_started, flag_frees_done;
static int stop;

#define ADD(x, n) __atomic_add_fetch(&(x), (n), __ATOMIC_ACQ_REL)
#define GET(x) __atomic_load_n(&(x), __ATOMIC_ACQUIRE)

static int ctor_payload(void *obj, void *shadow_data, void *ctor_data)
{
	struct payload *p = shadow_data;
	struct claim *c = ctor_data;

	CHECK(p->obj == NULL && p->owner == 0 && p->serial == 0);
	*p = (struct payload){ obj, c->thread, c->serial };
	c->ran = 1;
	return 0;
}

static int ctor_flag(void *obj, void *shadow_data, void *ctor_data)
{
	(void)obj, (void)shadow_data, (void)ctor_data;
	ADD(ctors[ID_FLAG], 1);
	return 0;
}

/* Dtors run on the thread that frees. */
static __thread unsigned long own_dtors_here;

static void dtor_own(void *obj, void *shadow_data)
{
	CHECK(((struct payload *)shadow_data)->obj == obj);
	ADD(dtors[ID_OWN], 1);
	own_dtors_here++;
}

static void dtor_token(void *obj, void *shadow_data)
{
	CHECK(((struct payload *)shadow_data)->obj == obj);
	ADD(dtors[ID_TOKEN], 1);
}

static void dtor_flag(void *obj, void *shadow_data)
{
	(void)obj, (void)shadow_data;
	ADD(dtors[ID_FLAG], 1);
}

static void *alloc_counted(void *obj, unsigned long id, size_t size,
			   graft_shadow_ctor_t ctor, void *ctor_data)
{
	void *data = graft_shadow_alloc(obj, id, size, ctor, ctor_data);

	if (!data)
		ADD(null_allocs, 1);
	return data;
}

struct own_state {
	int thread;
	unsigned int seed;
	unsigned long serial;
	long objs[OWN];
	struct payload *model[OWN];
	unsigned long serials[OWN];
};

static void own_step(struct own_state *t)
{
	int i = rand_r(&t->seed) % OWN;
	struct claim c = { t->thread, ++t->serial, 0 };
	struct payload *p = NULL, *was = t->model[i];
	void *obj = &t->objs[i];
	unsigned long dtors_before = own_dtors_here;

	switch (rand_r(&t->seed) % 4) {
	case 0:
		/* Mostly absent pairs: each present one costs a warning. */
		if (was && rand_r(&t->seed) % 16)
			break;
		p = alloc_counted(obj, ID_OWN, sizeof(*p), ctor_payload, &c);
		CHECK(was ? p == NULL && !c.ran : p != NULL && c.ran);
		break;
	case 1:
		p = graft_shadow_get_or_alloc(obj, ID_OWN, sizeof(*p),
					      ctor_payload, &c);
		CHECK(p != NULL && (was ? p == was && !c.ran : c.ran));
		break;
	case 2:
		graft_shadow_free(obj, ID_OWN, dtor_own);
		CHECK(own_dtors_here == dtors_before + (was != NULL));
		t->model[i] = NULL;
		break;
	}
	if (c.ran) {
		ADD(ctors[ID_OWN], 1);
		t->model[i] = p;
		t->serials[i] = c.serial;
	}
	p = graft_shadow_get(obj, ID_OWN);
	CHECK(p == t->model[i]);
	CHECK(!p || (p->obj == obj && p->owner == t->thread &&
		     p->serial == t->serials[i]));
}

static void token_step(struct own_state *t)
{
	int i = rand_r(&t->seed) % SHARED;
	struct claim c = { t->thread, ++t->serial, 0 };
	struct payload *p;
	int k;

	if (rand_r(&t->seed) % 2)
		p = alloc_counted(&shared[i], ID_TOKEN, sizeof(*p),
				  ctor_payload, &c);
	else
		p = graft_shadow_get_or_alloc(&shared[i], ID_TOKEN, sizeof(*p),
					      ctor_payload, &c);
	/* Someone else's token may be freed at any time: no touching it. */
	if (!c.ran)
		return;
	ADD(ctors[ID_TOKEN], 1);
	CHECK(p != NULL && p->owner == t->thread && p->serial == c.serial);
	CHECK(ADD(inside[i], 1) == 1);
	for (k = 0; k < 4; k++)
		CHECK(graft_shadow_get(&shared[i], ID_TOKEN) == p);
	CHECK(ADD(inside[i], -1) == 0);
	graft_shadow_free(&shared[i], ID_TOKEN, dtor_token);
}

static void flag_step(struct own_state *t)
{
	void *obj = &shared[rand_r(&t->seed) % SHARED];
	unsigned long done;
	void *p, *found;

	switch (rand_r(&t->seed) % 64) {
	case 0:
		ADD(flag_frees_started, 1);
		graft_shadow_free_all(ID_FLAG, dtor_flag);
		ADD(flag_frees_done, 1);
		return;
	case 1 ... 8:
		ADD(flag_frees_started, 1);
		graft_shadow_free(obj, ID_FLAG, dtor_flag);
		ADD(flag_frees_done, 1);
		return;
	case 9 ... 16:
		done = GET(flag_frees_done);
		p = alloc_counted(obj, ID_FLAG, 0, ctor_flag, NULL);
		break;
	default:
		done = GET(flag_frees_done);
		p = graft_shadow_get_or_alloc(obj, ID_FLAG, 0, ctor_flag, NULL);
		CHECK(p != NULL);
		break;
	}
	/*
	 * Found unless a free was under way before the call or started
	 * before the get (read after it: a get that saw a free's unlink
	 * also sees that the free started).
	 */
	found = graft_shadow_get(obj, ID_FLAG);
	if (p && GET(flag_frees_started) == done)
		CHECK(found == p);
}

static void *hammer(void *arg)
{
	struct own_state *t = arg;
	int i;

	while (!GET(stop)) {
		unsigned int pick = rand_r(&t->seed) % 8;

		if (pick < 4)
			own_step(t);
		else if (pick < 6)
			flag_step(t);
		else
			token_step(t);
	}
	for (i = 0; i < OWN; i++)
		CHECK(graft_shadow_get(&t->objs[i], ID_OWN) == t->model[i]);
	return NULL;
}

/* Every line the library wrote must be an "already exists" warning. */
static unsigned long count_warnings(FILE *warnings)
{
	char line[256];
	unsigned long n = 0;

	rewind(warnings);
	while (fgets(line, sizeof(line), warnings)) {
		if (!strstr(line, "graft: shadow variable <") ||
		    !strstr(line, "> already exists\n")) {
			fprintf(report, "unexpected output: %s", line);
			exit(1);
		}
		n++;
	}
	return n;
}

int main(int argc, char **argv)
{
	struct timespec run = { argc > 1 ? atoi(argv[1]) : 2, 0 };
	static struct own_state states[THREADS];
	pthread_t threads[THREADS];
	int i;

	/* A deadlock must fail the test, not hang it. */
	alarm(120);
	/* glibc lets stderr be reassigned: the library's warnings go here. */
	report = stderr;
	stderr = tmpfile();
	CHECK(stderr != NULL);

	for (i = 0; i < THREADS; i++) {
		states[i] = (struct own_state){ .thread = i + 1, .seed = i + 1 };
		CHECK(pthread_create(&threads[i], NULL, hammer, &states[i]) == 0);
	}
	nanosleep(&run, NULL);
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	for (i = 0; i < THREADS; i++)
		CHECK(pthread_join(threads[i], NULL) == 0);

	graft_shadow_free_all(ID_OWN, dtor_own);
	for (i = 0; i < THREADS * OWN; i++)
		CHECK(!graft_shadow_get(&states[i / OWN].objs[i % OWN], ID_OWN));
	graft_shadow_free_all(ID_FLAG, dtor_flag);
	for (i = 0; i < SHARED; i++) {
		CHECK(graft_shadow_get(&shared[i], ID_FLAG) == NULL);
		CHECK(graft_shadow_get(&shared[i], ID_TOKEN) == NULL);
	}
	CHECK(ctors[ID_OWN] == dtors[ID_OWN] && ctors[ID_OWN] > 0);
	CHECK(ctors[ID_FLAG] == dtors[ID_FLAG] && ctors[ID_FLAG] > 0);
	CHECK(ctors[ID_TOKEN] == dtors[ID_TOKEN] && ctors[ID_TOKEN] > 0);
	fflush(stderr);
	CHECK(count_warnings(stderr) == null_allocs && null_allocs > 0);
	fprintf(report, "shadow_hammer: ok (variables made: %lu own, %lu "
		"flags, %lu tokens; %lu warnings)\n", ctors[ID_OWN],
		ctors[ID_FLAG], ctors[ID_TOKEN], null_allocs);
	return 0;
}
