/*
 * test_page_counter.c - unit tests of the C page counter (no Python).
 *
 * Every expected number below is worked out by hand from the kernel's
 * rules (mm/page_counter.c, mainline >= 6.15; SPEC.md section 1), not
 * from the C implementation: when a check fails, the C is suspect first.
 *
 * Counters are zeroed before page_counter_init(), as the kernel's are (its
 * struct page_counter lives in a zeroed allocation).
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "page_counter.h"
#include "pymemcg.h"

/* ------------------------------------------------------------------ */
/* A tiny assertion library: count, report file:line and both values.  */

static unsigned long n_passed, n_failed;

static void report_u(const char *file, int line, const char *func, const char *ea,
		     const char *eb, unsigned long long a, unsigned long long b)
{
	fprintf(stderr, "%s:%d: %s: FAILED: %s == %s\n    got      %llu (0x%llx)\n"
		"    expected %llu (0x%llx)\n", file, line, func, ea, eb, a, a, b, b);
}

static void report_i(const char *file, int line, const char *func, const char *ea,
		     const char *eb, long long a, long long b)
{
	fprintf(stderr, "%s:%d: %s: FAILED: %s == %s\n    got      %lld\n    expected %lld\n",
		file, line, func, ea, eb, a, b);
}

/* Unsigned equality (counts, masks, bytes). */
#define EXPECT_EQ(a, b) do {							\
	unsigned long long _a = (unsigned long long)(a);			\
	unsigned long long _b = (unsigned long long)(b);			\
	if (_a == _b) {								\
		n_passed++;							\
	} else {								\
		n_failed++;							\
		report_u(__FILE__, __LINE__, __func__, #a, #b, _a, _b);		\
	}									\
} while (0)

/* Signed equality (return codes). */
#define EXPECT_EQ_I(a, b) do {							\
	long long _a = (long long)(a);						\
	long long _b = (long long)(b);						\
	if (_a == _b) {								\
		n_passed++;							\
	} else {								\
		n_failed++;							\
		report_i(__FILE__, __LINE__, __func__, #a, #b, _a, _b);		\
	}									\
} while (0)

#define EXPECT_TRUE(cond) do {							\
	if (cond) {								\
		n_passed++;							\
	} else {								\
		n_failed++;							\
		fprintf(stderr, "%s:%d: %s: FAILED: %s\n",			\
			__FILE__, __LINE__, __func__, #cond);			\
	}									\
} while (0)

#define EXPECT_PTR(a, b) do {							\
	const void *_a = (a), *_b = (b);					\
	if (_a == _b) {								\
		n_passed++;							\
	} else {								\
		n_failed++;							\
		fprintf(stderr, "%s:%d: %s: FAILED: %s == %s\n    got      %p\n"	\
			"    expected %p\n", __FILE__, __LINE__, __func__,	\
			#a, #b, _a, _b);					\
	}									\
} while (0)

/* ------------------------------------------------------------------ */
/* Helpers.                                                            */

#define MAXP PAGE_COUNTER_MAX
#define M64 UINT64_MAX

#define RD(c, field) atomic_load(&(c)->field)
#define WR(c, field, v) atomic_store(&(c)->field, (unsigned long)(v))

static void pc_init(struct page_counter *c, struct page_counter *parent, bool protection,
		    bool track_failcnt, unsigned long max)
{
	memset(c, 0, sizeof(*c));
	page_counter_init(c, parent, protection);
	c->track_failcnt = track_failcnt;
	if (max != MAXP)
		EXPECT_EQ_I(page_counter_set_max(c, max), 0);
}

/* root -> a -> leaf */
struct chain3 {
	struct page_counter root, a, leaf;
};

static void chain3_init(struct chain3 *t, unsigned long root_max, unsigned long a_max,
			unsigned long leaf_max, bool protection, bool leaf_track)
{
	pc_init(&t->root, NULL, protection, false, root_max);
	pc_init(&t->a, &t->root, protection, false, a_max);
	pc_init(&t->leaf, &t->a, protection, leaf_track, leaf_max);
}

/* ------------------------------------------------------------------ */
/* page_counter_init                                                   */

static void test_init_fields(void)
{
	struct page_counter root, child;

	pc_init(&root, NULL, true, false, MAXP);
	pc_init(&child, &root, false, false, MAXP);
	/* page_counter_init: usage 0, max PAGE_COUNTER_MAX, parent, flags. */
	EXPECT_EQ(RD(&root, usage), 0);
	EXPECT_EQ(page_counter_read(&root), 0);
	EXPECT_EQ(RD(&root, max), MAXP);
	EXPECT_EQ(MAXP, 2251799813685247UL);
	EXPECT_PTR(root.parent, NULL);
	EXPECT_PTR(child.parent, &root);
	EXPECT_TRUE(root.protection_support);
	EXPECT_TRUE(!child.protection_support);
	/* track_failcnt defaults to false in page_counter_init. */
	memset(&root, 0, sizeof(root));
	page_counter_init(&root, NULL, true);
	EXPECT_TRUE(!root.track_failcnt);
	EXPECT_EQ(RD(&root, failcnt), 0);
	EXPECT_EQ(RD(&root, watermark), 0);
	EXPECT_EQ(RD(&root, local_watermark), 0);
	EXPECT_EQ(RD(&root, min), 0);
	EXPECT_EQ(RD(&root, low), 0);
	EXPECT_EQ(RD(&root, emin), 0);
	EXPECT_EQ(RD(&root, elow), 0);
	EXPECT_EQ(RD(&root, min_usage), 0);
	EXPECT_EQ(RD(&root, children_min_usage), 0);
}

/* ------------------------------------------------------------------ */
/* try_charge                                                          */

/* Success: every level leaf -> root gets +n, and its peaks follow. */
static void test_try_charge_walks_leaf_to_root(void)
{
	struct chain3 t;
	struct page_counter *fail = NULL;

	chain3_init(&t, MAXP, MAXP, MAXP, true, true);
	page_counter_charge(&t.a, 4);           /* a and root only */
	EXPECT_TRUE(page_counter_try_charge(&t.leaf, 5, &fail));
	EXPECT_PTR(fail, NULL);
	EXPECT_EQ(RD(&t.leaf, usage), 5);
	EXPECT_EQ(RD(&t.a, usage), 9);
	EXPECT_EQ(RD(&t.root, usage), 9);
	EXPECT_EQ(RD(&t.leaf, watermark), 5);
	EXPECT_EQ(RD(&t.leaf, local_watermark), 5);
	EXPECT_EQ(RD(&t.a, watermark), 9);
	EXPECT_EQ(RD(&t.a, local_watermark), 9);
	EXPECT_EQ(RD(&t.root, watermark), 9);
	EXPECT_EQ(RD(&t.root, local_watermark), 9);
	EXPECT_EQ(RD(&t.leaf, failcnt), 0);
	EXPECT_EQ(RD(&t.a, failcnt), 0);
	EXPECT_EQ(RD(&t.root, failcnt), 0);
}

/* `new > max` fails; a counter may sit exactly at its max. */
static void test_try_charge_exactly_at_max(void)
{
	struct chain3 t;
	struct page_counter *fail = NULL;

	chain3_init(&t, 20, 10, MAXP, true, true);
	EXPECT_TRUE(page_counter_try_charge(&t.leaf, 10, &fail));
	EXPECT_EQ(RD(&t.a, usage), 10);             /* == max: fine */
	EXPECT_TRUE(!page_counter_try_charge(&t.leaf, 1, &fail));
	EXPECT_PTR(fail, &t.a);
	EXPECT_EQ(RD(&t.leaf, usage), 10);
	EXPECT_EQ(RD(&t.a, usage), 10);
	EXPECT_EQ(RD(&t.root, usage), 10);
	/* The root can sit at its max too, through a direct charge. */
	fail = NULL;
	EXPECT_TRUE(page_counter_try_charge(&t.root, 10, &fail));
	EXPECT_EQ(RD(&t.root, usage), 20);
	EXPECT_TRUE(!page_counter_try_charge(&t.root, 1, &fail));
	EXPECT_PTR(fail, &t.root);
	EXPECT_EQ(RD(&t.root, usage), 20);
	/* A zero-page charge at exactly max succeeds (20 > 20 is false). */
	fail = NULL;
	EXPECT_TRUE(page_counter_try_charge(&t.root, 0, &fail));
	EXPECT_PTR(fail, NULL);
}

/*
 * root(max 100) -> a(max 50) -> leaf(max 1000), leaf tracks failcnt.
 * root holds 7 pages of its own.  try_charge(leaf, 60):
 *   leaf: 0+60 <= 1000 -> usage 60, watermarks 60
 *   a:    0+60 >  50   -> refused: a.failcnt 1, fail = a
 *   leaf rolled back to 0; its watermarks stay 60; root never touched.
 */
static void test_try_charge_failure_rollback(void)
{
	struct chain3 t;
	struct page_counter *fail = NULL;

	chain3_init(&t, 100, 50, 1000, true, true);
	page_counter_charge(&t.root, 7);
	EXPECT_TRUE(!page_counter_try_charge(&t.leaf, 60, &fail));
	EXPECT_PTR(fail, &t.a);
	/* rolled back below the failing level */
	EXPECT_EQ(RD(&t.leaf, usage), 0);
	/* watermarks raised below the failing level are NOT rolled back */
	EXPECT_EQ(RD(&t.leaf, watermark), 60);
	EXPECT_EQ(RD(&t.leaf, local_watermark), 60);
	/* the failing level: usage unchanged, no peak, failcnt + 1 */
	EXPECT_EQ(RD(&t.a, usage), 0);
	EXPECT_EQ(RD(&t.a, watermark), 0);
	EXPECT_EQ(RD(&t.a, local_watermark), 0);
	EXPECT_EQ(RD(&t.a, failcnt), 1);
	/* failcnt only at the failing level */
	EXPECT_EQ(RD(&t.leaf, failcnt), 0);
	/* above the failing level: untouched */
	EXPECT_EQ(RD(&t.root, usage), 7);
	EXPECT_EQ(RD(&t.root, watermark), 7);
	EXPECT_EQ(RD(&t.root, local_watermark), 7);
	EXPECT_EQ(RD(&t.root, failcnt), 0);
}

/* The root refuses: both lower levels are rolled back, both keep peaks. */
static void test_try_charge_failure_at_root(void)
{
	struct chain3 t;
	struct page_counter *fail = NULL;

	chain3_init(&t, 30, 100, 100, true, true);
	page_counter_charge(&t.root, 25);
	EXPECT_TRUE(!page_counter_try_charge(&t.leaf, 6, &fail));  /* 31 > 30 */
	EXPECT_PTR(fail, &t.root);
	EXPECT_EQ(RD(&t.leaf, usage), 0);
	EXPECT_EQ(RD(&t.a, usage), 0);
	EXPECT_EQ(RD(&t.root, usage), 25);
	EXPECT_EQ(RD(&t.leaf, watermark), 6);
	EXPECT_EQ(RD(&t.a, watermark), 6);
	EXPECT_EQ(RD(&t.a, local_watermark), 6);
	EXPECT_EQ(RD(&t.root, watermark), 25);
	EXPECT_EQ(RD(&t.root, failcnt), 1);
	EXPECT_EQ(RD(&t.a, failcnt), 0);
	EXPECT_EQ(RD(&t.leaf, failcnt), 0);
	/* 5 fits exactly: 30 == 30 */
	fail = NULL;
	EXPECT_TRUE(page_counter_try_charge(&t.leaf, 5, &fail));
	EXPECT_EQ(RD(&t.root, usage), 30);
	EXPECT_EQ(RD(&t.a, usage), 5);
	EXPECT_EQ(RD(&t.leaf, usage), 5);
}

/* Only the lowest refusing level is reported and counted, once per call. */
static void test_try_charge_lowest_failure_wins(void)
{
	struct chain3 t;
	struct page_counter *fail = NULL;

	chain3_init(&t, 5, 5, 5, true, true);
	EXPECT_TRUE(!page_counter_try_charge(&t.leaf, 10, &fail));
	EXPECT_PTR(fail, &t.leaf);
	EXPECT_EQ(RD(&t.leaf, failcnt), 1);
	EXPECT_EQ(RD(&t.a, failcnt), 0);
	EXPECT_EQ(RD(&t.root, failcnt), 0);
	EXPECT_EQ(RD(&t.leaf, usage), 0);
	EXPECT_EQ(RD(&t.leaf, watermark), 0);
	EXPECT_EQ(RD(&t.a, usage), 0);
	EXPECT_EQ(RD(&t.root, usage), 0);
	EXPECT_TRUE(!page_counter_try_charge(&t.leaf, 10, &fail));
	EXPECT_EQ(RD(&t.leaf, failcnt), 2);
}

/* failcnt moves only if the CHARGING (leaf) counter has track_failcnt. */
static void test_failcnt_uses_leaf_flag(void)
{
	struct chain3 t;
	struct page_counter *fail = NULL;

	chain3_init(&t, 100, 50, 1000, true, false);
	t.a.track_failcnt = true;
	/* leaf does not track: the refusal at a is not counted */
	EXPECT_TRUE(!page_counter_try_charge(&t.leaf, 60, &fail));
	EXPECT_PTR(fail, &t.a);
	EXPECT_EQ(RD(&t.a, failcnt), 0);
	/* a charging on its own behalf tracks */
	fail = NULL;
	EXPECT_TRUE(!page_counter_try_charge(&t.a, 60, &fail));
	EXPECT_PTR(fail, &t.a);
	EXPECT_EQ(RD(&t.a, failcnt), 1);
	/* the failing level's own flag does not matter, the leaf's does */
	t.a.track_failcnt = false;
	t.leaf.track_failcnt = true;
	fail = NULL;
	EXPECT_TRUE(!page_counter_try_charge(&t.leaf, 60, &fail));
	EXPECT_PTR(fail, &t.a);
	EXPECT_EQ(RD(&t.a, failcnt), 2);
	EXPECT_EQ(RD(&t.leaf, failcnt), 0);
	/* a root refusing a charge of a non-tracking root: not counted */
	fail = NULL;
	EXPECT_TRUE(!page_counter_try_charge(&t.root, 101, &fail));
	EXPECT_PTR(fail, &t.root);
	EXPECT_EQ(RD(&t.root, failcnt), 0);
}

/* try_charge(0) on a level already over max (forced charge) is refused. */
static void test_try_charge_zero_over_max(void)
{
	struct chain3 t;
	struct page_counter *fail = NULL;

	chain3_init(&t, MAXP, 50, MAXP, true, true);
	page_counter_charge(&t.leaf, 60);           /* a: 60 > 50 */
	EXPECT_TRUE(!page_counter_try_charge(&t.leaf, 0, &fail));  /* 60 > 50 */
	EXPECT_PTR(fail, &t.a);
	EXPECT_EQ(RD(&t.a, failcnt), 1);
	EXPECT_EQ(RD(&t.leaf, usage), 60);
	EXPECT_EQ(RD(&t.a, usage), 60);
	EXPECT_EQ(RD(&t.root, usage), 60);
}

/* Rollback of lower levels goes through cancel, which re-propagates. */
static void test_try_charge_rollback_propagates(void)
{
	struct chain3 t;
	struct page_counter *fail = NULL;

	chain3_init(&t, MAXP, 50, MAXP, true, true);
	page_counter_set_min(&t.leaf, 100);
	page_counter_set_low(&t.leaf, 100);
	EXPECT_TRUE(page_counter_try_charge(&t.leaf, 20, &fail));
	EXPECT_EQ(RD(&t.leaf, min_usage), 20);
	EXPECT_EQ(RD(&t.a, children_min_usage), 20);
	EXPECT_TRUE(!page_counter_try_charge(&t.leaf, 40, &fail));
	EXPECT_PTR(fail, &t.a);
	/* leaf went to 60 (min_usage 60), then back to 20 */
	EXPECT_EQ(RD(&t.leaf, usage), 20);
	EXPECT_EQ(RD(&t.leaf, min_usage), 20);
	EXPECT_EQ(RD(&t.leaf, low_usage), 20);
	EXPECT_EQ(RD(&t.a, children_min_usage), 20);
	EXPECT_EQ(RD(&t.a, children_low_usage), 20);
	EXPECT_EQ(RD(&t.leaf, watermark), 60);
}

/* ------------------------------------------------------------------ */
/* charge (forced)                                                     */

static void test_forced_charge_exceeds_max(void)
{
	struct chain3 t;
	struct page_counter *fail = NULL;

	chain3_init(&t, 10, MAXP, 5, true, true);
	page_counter_charge(&t.leaf, 20);
	EXPECT_EQ(RD(&t.leaf, usage), 20);
	EXPECT_EQ(RD(&t.a, usage), 20);
	EXPECT_EQ(RD(&t.root, usage), 20);
	EXPECT_EQ(RD(&t.leaf, watermark), 20);
	EXPECT_EQ(RD(&t.root, watermark), 20);
	EXPECT_EQ(RD(&t.root, local_watermark), 20);
	/* no limit check, no failcnt */
	EXPECT_EQ(RD(&t.leaf, failcnt), 0);
	EXPECT_EQ(RD(&t.root, failcnt), 0);
	EXPECT_EQ(RD(&t.leaf, max), 5);
	/* and now every try_charge is refused at the leaf */
	EXPECT_TRUE(!page_counter_try_charge(&t.leaf, 1, &fail));
	EXPECT_PTR(fail, &t.leaf);
	EXPECT_EQ(RD(&t.leaf, failcnt), 1);
}

/* ------------------------------------------------------------------ */
/* watermarks                                                          */

static void test_watermark_two_levels(void)
{
	struct page_counter c;

	pc_init(&c, NULL, true, false, MAXP);
	page_counter_charge(&c, 5);
	/* a memory.peak fd reset: local below global */
	WR(&c, watermark, 100);
	WR(&c, local_watermark, 5);
	page_counter_charge(&c, 10);                /* 15: local only */
	EXPECT_EQ(RD(&c, local_watermark), 15);
	EXPECT_EQ(RD(&c, watermark), 100);
	/* nested update: global is looked at only when local moved */
	WR(&c, local_watermark, 50);
	WR(&c, watermark, 10);
	page_counter_charge(&c, 5);                 /* 20: not > 50 */
	EXPECT_EQ(RD(&c, local_watermark), 50);
	EXPECT_EQ(RD(&c, watermark), 10);
	page_counter_charge(&c, 40);                /* 60 > 50 and > 10 */
	EXPECT_EQ(RD(&c, local_watermark), 60);
	EXPECT_EQ(RD(&c, watermark), 60);
}

static void test_watermark_not_lowered_and_reset(void)
{
	struct chain3 t;

	chain3_init(&t, MAXP, MAXP, MAXP, true, true);
	page_counter_charge(&t.leaf, 10);
	EXPECT_EQ(page_counter_uncharge(&t.leaf, 4), 0);
	EXPECT_EQ(RD(&t.leaf, usage), 6);
	EXPECT_EQ(RD(&t.leaf, watermark), 10);
	EXPECT_EQ(RD(&t.leaf, local_watermark), 10);
	EXPECT_EQ(RD(&t.root, watermark), 10);
	/* reset: both peaks become the current usage; only this counter */
	page_counter_reset_watermark(&t.leaf);
	EXPECT_EQ(RD(&t.leaf, watermark), 6);
	EXPECT_EQ(RD(&t.leaf, local_watermark), 6);
	EXPECT_EQ(RD(&t.leaf, usage), 6);
	EXPECT_EQ(RD(&t.a, watermark), 10);
	EXPECT_EQ(RD(&t.root, local_watermark), 10);
}

/* ------------------------------------------------------------------ */
/* uncharge / cancel                                                   */

static void test_uncharge_plain(void)
{
	struct chain3 t;

	chain3_init(&t, MAXP, MAXP, MAXP, true, true);
	page_counter_charge(&t.leaf, 10);
	page_counter_charge(&t.a, 3);
	EXPECT_EQ(page_counter_uncharge(&t.leaf, 4), 0);
	EXPECT_EQ(RD(&t.leaf, usage), 6);
	EXPECT_EQ(RD(&t.a, usage), 9);
	EXPECT_EQ(RD(&t.root, usage), 9);
	EXPECT_EQ(page_counter_uncharge(&t.leaf, 6), 0);
	EXPECT_EQ(RD(&t.leaf, usage), 0);
	EXPECT_EQ(RD(&t.a, usage), 3);
	EXPECT_EQ(page_counter_uncharge(&t.a, 3), 0);
	EXPECT_EQ(RD(&t.a, usage), 0);
	EXPECT_EQ(RD(&t.root, usage), 0);
}

/*
 * leaf 3, a 13, root 13; uncharge(leaf, 5):
 *   leaf 3-5 < 0 -> clamped to 0 (bit 0); a 8; root 8.
 */
static void test_uncharge_underflow_leaf_only(void)
{
	struct chain3 t;

	chain3_init(&t, MAXP, MAXP, MAXP, true, true);
	page_counter_charge(&t.a, 10);
	page_counter_charge(&t.leaf, 3);
	EXPECT_EQ(page_counter_uncharge(&t.leaf, 5), 1);
	EXPECT_EQ(RD(&t.leaf, usage), 0);
	EXPECT_EQ(RD(&t.a, usage), 8);
	EXPECT_EQ(RD(&t.root, usage), 8);
	/* watermarks are never lowered */
	EXPECT_EQ(RD(&t.a, watermark), 13);
}

/* leaf 10, a 2, root 50 (set by hand): uncharge(leaf, 5) clamps only a. */
static void test_uncharge_underflow_independent_levels(void)
{
	struct chain3 t;

	chain3_init(&t, MAXP, MAXP, MAXP, false, true);
	WR(&t.leaf, usage, 10);
	WR(&t.a, usage, 2);
	WR(&t.root, usage, 50);
	EXPECT_EQ(page_counter_uncharge(&t.leaf, 5), 2);
	EXPECT_EQ(RD(&t.leaf, usage), 5);
	EXPECT_EQ(RD(&t.a, usage), 0);
	EXPECT_EQ(RD(&t.root, usage), 45);  /* full -5 despite the clamp below */
	/* everything empty: every level clamps */
	WR(&t.leaf, usage, 0);
	WR(&t.root, usage, 0);
	EXPECT_EQ(page_counter_uncharge(&t.leaf, 1), 7);
	EXPECT_EQ(RD(&t.leaf, usage), 0);
	EXPECT_EQ(RD(&t.a, usage), 0);
	EXPECT_EQ(RD(&t.root, usage), 0);
	/* leaf and root clamp, a does not */
	WR(&t.a, usage, 9);
	EXPECT_EQ(page_counter_uncharge(&t.leaf, 4), 5);
	EXPECT_EQ(RD(&t.a, usage), 5);
	/* exact to zero is not an underflow */
	EXPECT_EQ(page_counter_uncharge(&t.a, 5), 2);       /* root 0-5 clamps */
	EXPECT_EQ(RD(&t.a, usage), 0);
}

static void test_cancel_single_level(void)
{
	struct chain3 t;

	chain3_init(&t, MAXP, MAXP, MAXP, true, true);
	page_counter_charge(&t.leaf, 4);
	EXPECT_TRUE(!page_counter_cancel(&t.leaf, 4));
	EXPECT_EQ(RD(&t.leaf, usage), 0);
	EXPECT_EQ(RD(&t.a, usage), 4);              /* one level only */
	EXPECT_TRUE(page_counter_cancel(&t.leaf, 1));
	EXPECT_EQ(RD(&t.leaf, usage), 0);
	/* "negative as a signed long": 2^63 away counts as an underflow */
	WR(&t.root, usage, 1);
	EXPECT_TRUE(page_counter_cancel(&t.root, 1UL << 63));
	EXPECT_EQ(RD(&t.root, usage), 0);
}

#define DEEP 70

/* Mask: bit i for the i-th ancestor, bit 62 for every level from 62 up. */
static void test_uncharge_mask_deep_chain(void)
{
	static struct page_counter c[DEEP];     /* c[0] root ... c[DEEP-1] leaf */
	struct page_counter *leaf = &c[DEEP - 1];
	int i;

	for (i = 0; i < DEEP; i++)
		pc_init(&c[i], i ? &c[i - 1] : NULL, true, false, MAXP);

	/* every level empty: bits 0..62 */
	EXPECT_EQ(page_counter_uncharge(leaf, 1), (UINT64_C(1) << 63) - 1);
	for (i = 0; i < DEEP; i++)
		EXPECT_EQ(RD(&c[i], usage), 0);

	/* level L of the leaf is c[DEEP-1-L]; only level 63 empty -> bit 62 */
	for (i = 0; i < DEEP; i++)
		WR(&c[i], usage, 5);
	WR(&c[DEEP - 1 - 63], usage, 0);
	EXPECT_EQ(page_counter_uncharge(leaf, 2), UINT64_C(1) << 62);
	EXPECT_EQ(RD(&c[DEEP - 1 - 63], usage), 0);
	EXPECT_EQ(RD(&c[DEEP - 1 - 62], usage), 3);
	EXPECT_EQ(RD(&c[0], usage), 3);

	/* only level 61 -> bit 61; levels 62 and 69 -> bit 62 once */
	for (i = 0; i < DEEP; i++)
		WR(&c[i], usage, 5);
	WR(&c[DEEP - 1 - 61], usage, 0);
	EXPECT_EQ(page_counter_uncharge(leaf, 1), UINT64_C(1) << 61);
	for (i = 0; i < DEEP; i++)
		WR(&c[i], usage, 5);
	WR(&c[DEEP - 1 - 62], usage, 0);
	WR(&c[0], usage, 0);                        /* level 69 */
	WR(&c[DEEP - 1], usage, 0);                 /* level 0 */
	EXPECT_EQ(page_counter_uncharge(leaf, 1), (UINT64_C(1) << 62) | 1);
}

/* ------------------------------------------------------------------ */
/* set_max / set_high                                                  */

static void test_set_max(void)
{
	struct chain3 t;

	chain3_init(&t, MAXP, MAXP, MAXP, true, true);
	page_counter_charge(&t.a, 50);              /* a 50, root 50, leaf 0 */
	page_counter_charge(&t.leaf, 10);           /* leaf 10, a 60, root 60 */
	EXPECT_EQ_I(page_counter_set_max(&t.a, 59), -EBUSY);
	EXPECT_EQ(RD(&t.a, max), MAXP);              /* unchanged on EBUSY */
	EXPECT_EQ_I(page_counter_set_max(&t.a, 60), 0);   /* equality allowed */
	EXPECT_EQ(RD(&t.a, max), 60);
	/* only this counter's own usage: the leaf has 10, its parents more */
	EXPECT_EQ_I(page_counter_set_max(&t.leaf, 10), 0);
	EXPECT_EQ(RD(&t.leaf, max), 10);
	EXPECT_EQ_I(page_counter_set_max(&t.leaf, 9), -EBUSY);
	EXPECT_EQ(RD(&t.leaf, max), 10);
	/* raising again, and back to unlimited */
	EXPECT_EQ_I(page_counter_set_max(&t.a, 1000), 0);
	EXPECT_EQ(RD(&t.a, max), 1000);
	EXPECT_EQ_I(page_counter_set_max(&t.a, MAXP), 0);
	EXPECT_EQ(RD(&t.a, max), MAXP);
	/* a child with no usage under a busy parent can get max 0 */
	{
		struct page_counter empty;

		pc_init(&empty, &t.a, true, false, MAXP);
		EXPECT_EQ_I(page_counter_set_max(&empty, 0), 0);
		EXPECT_EQ(RD(&empty, max), 0);
	}
	/* set_max changes nothing else */
	EXPECT_EQ(RD(&t.a, usage), 60);
	EXPECT_EQ(RD(&t.a, failcnt), 0);
	EXPECT_EQ(RD(&t.root, max), MAXP);
}

static void test_set_high_plain_store(void)
{
	struct chain3 t;
	struct page_counter *fail = NULL;

	chain3_init(&t, MAXP, MAXP, MAXP, true, true);
	page_counter_charge(&t.leaf, 10);
	page_counter_set_high(&t.leaf, 3);
	EXPECT_EQ(RD(&t.leaf, high), 3);
	EXPECT_EQ(RD(&t.leaf, usage), 10);
	/* high is never enforced by the page counter */
	EXPECT_TRUE(page_counter_try_charge(&t.leaf, 5, &fail));
	EXPECT_EQ(RD(&t.leaf, usage), 15);
	EXPECT_EQ(RD(&t.leaf, max), MAXP);
	EXPECT_EQ(RD(&t.leaf, failcnt), 0);
	page_counter_set_high(&t.leaf, MAXP);
	EXPECT_EQ(RD(&t.leaf, high), MAXP);
}

/* ------------------------------------------------------------------ */
/* protection propagation                                              */

/*
 * root -> a -> leaf, protection on.  leaf 50 pages.
 *   set_min(leaf, 30): leaf.min_usage = min(50, 30) = 30, a.cmu = 30
 *   set_min(a, 40):    a.min_usage = min(50, 40) = 40, root.cmu = 40
 *   set_min(leaf, 80): leaf.min_usage = 50, a.cmu = 50
 *   uncharge(leaf, 20): leaf 30 -> mu 30, a.cmu 30; a 30 -> mu 30, root.cmu 30
 */
static void test_set_min_propagation(void)
{
	struct chain3 t;

	chain3_init(&t, MAXP, MAXP, MAXP, true, true);
	page_counter_charge(&t.leaf, 50);
	EXPECT_EQ(RD(&t.leaf, min_usage), 0);
	page_counter_set_min(&t.leaf, 30);
	EXPECT_EQ(RD(&t.leaf, min), 30);
	EXPECT_EQ(RD(&t.leaf, min_usage), 30);
	EXPECT_EQ(RD(&t.a, children_min_usage), 30);
	EXPECT_EQ(RD(&t.a, min_usage), 0);
	EXPECT_EQ(RD(&t.root, children_min_usage), 0);
	page_counter_set_min(&t.a, 40);
	EXPECT_EQ(RD(&t.a, min_usage), 40);
	EXPECT_EQ(RD(&t.root, children_min_usage), 40);
	EXPECT_EQ(RD(&t.a, children_min_usage), 30);
	page_counter_set_min(&t.leaf, 80);
	EXPECT_EQ(RD(&t.leaf, min_usage), 50);
	EXPECT_EQ(RD(&t.a, children_min_usage), 50);
	EXPECT_EQ(page_counter_uncharge(&t.leaf, 20), 0);
	EXPECT_EQ(RD(&t.leaf, min_usage), 30);
	EXPECT_EQ(RD(&t.a, children_min_usage), 30);
	EXPECT_EQ(RD(&t.a, min_usage), 30);
	EXPECT_EQ(RD(&t.root, children_min_usage), 30);
	/* the low side is independent */
	EXPECT_EQ(RD(&t.leaf, low_usage), 0);
	EXPECT_EQ(RD(&t.a, children_low_usage), 0);
	/* the root has no parent: its own min_usage never moves */
	page_counter_set_min(&t.root, 1000);
	EXPECT_EQ(RD(&t.root, min_usage), 0);
	/* lowering the setting releases the claim */
	page_counter_set_min(&t.leaf, 0);
	EXPECT_EQ(RD(&t.leaf, min_usage), 0);
	EXPECT_EQ(RD(&t.a, children_min_usage), 0);
}

static void test_set_low_propagation_with_siblings(void)
{
	struct page_counter root, p, c1, c2;

	pc_init(&root, NULL, true, false, MAXP);
	pc_init(&p, &root, true, false, MAXP);
	pc_init(&c1, &p, true, false, MAXP);
	pc_init(&c2, &p, true, false, MAXP);
	page_counter_set_low(&c1, 10);              /* usage 0: claims 0 */
	EXPECT_EQ(RD(&c1, low), 10);
	EXPECT_EQ(RD(&c1, low_usage), 0);
	EXPECT_EQ(RD(&p, children_low_usage), 0);
	page_counter_charge(&c1, 4);                /* claims 4 */
	EXPECT_EQ(RD(&c1, low_usage), 4);
	EXPECT_EQ(RD(&p, children_low_usage), 4);
	page_counter_charge(&c1, 20);               /* claims 10 */
	EXPECT_EQ(RD(&c1, low_usage), 10);
	EXPECT_EQ(RD(&p, children_low_usage), 10);
	page_counter_set_low(&c2, 7);
	page_counter_charge(&c2, 3);
	EXPECT_EQ(RD(&c2, low_usage), 3);
	EXPECT_EQ(RD(&p, children_low_usage), 13);
	page_counter_charge(&c2, 30);
	EXPECT_EQ(RD(&p, children_low_usage), 17);
	/* p has no low: it claims nothing from root */
	EXPECT_EQ(RD(&p, low_usage), 0);
	EXPECT_EQ(RD(&root, children_low_usage), 0);
	page_counter_set_low(&p, 100);              /* p usage 57 */
	EXPECT_EQ(RD(&p, low_usage), 57);
	EXPECT_EQ(RD(&root, children_low_usage), 57);
	EXPECT_EQ(RD(&p, children_min_usage), 0);
	EXPECT_EQ(page_counter_uncharge(&c2, 33), 0);
	EXPECT_EQ(RD(&c2, low_usage), 0);
	EXPECT_EQ(RD(&p, children_low_usage), 10);
	EXPECT_EQ(RD(&p, low_usage), 24);
	EXPECT_EQ(RD(&root, children_low_usage), 24);
}

/*
 * protection_support = false: charge/try_charge skip propagation, but
 * set_min/set_low propagate from the counter up to the root anyway.
 */
static void test_no_protection_support(void)
{
	struct chain3 t;
	struct page_counter *fail = NULL;

	chain3_init(&t, MAXP, MAXP, MAXP, false, true);
	page_counter_set_min(&t.a, 100);            /* usage 0: claims 0 */
	page_counter_set_low(&t.a, 100);
	page_counter_charge(&t.leaf, 30);
	EXPECT_TRUE(page_counter_try_charge(&t.leaf, 5, &fail));
	/* stale: no propagation on the charge paths */
	EXPECT_EQ(RD(&t.a, min_usage), 0);
	EXPECT_EQ(RD(&t.a, low_usage), 0);
	EXPECT_EQ(RD(&t.root, children_min_usage), 0);
	/* set_min on the leaf walks leaf, a, root: a's claim gets fixed too */
	page_counter_set_min(&t.leaf, 5);
	EXPECT_EQ(RD(&t.leaf, min_usage), 5);
	EXPECT_EQ(RD(&t.a, children_min_usage), 5);
	EXPECT_EQ(RD(&t.a, min_usage), 35);
	EXPECT_EQ(RD(&t.root, children_min_usage), 35);
	/* propagation refreshes both claims, so a's low claim is fixed as well */
	EXPECT_EQ(RD(&t.a, low_usage), 35);
	EXPECT_EQ(RD(&t.root, children_low_usage), 35);
	/* uncharge: cancel propagates only where the level's own flag is on */
	EXPECT_EQ(page_counter_uncharge(&t.leaf, 35), 0);
	EXPECT_EQ(RD(&t.leaf, min_usage), 5);
	EXPECT_EQ(RD(&t.a, min_usage), 35);
	EXPECT_EQ(RD(&t.root, children_min_usage), 35);
}

/*
 * cancel uses THIS level's protection_support, charge the leaf's for all.
 * root(prot) -> p(prot) -> leaf(no prot); p.min = 100.
 *   charge(leaf, 30): leaf has no support -> p.min_usage stays 0
 *   uncharge(leaf, 10): p has support -> propagate(p, 20): mu 20, root.cmu 20
 */
static void test_cancel_uses_own_protection_flag(void)
{
	struct page_counter root, p, leaf;

	pc_init(&root, NULL, true, false, MAXP);
	pc_init(&p, &root, true, false, MAXP);
	pc_init(&leaf, &p, false, false, MAXP);
	page_counter_set_min(&p, 100);
	page_counter_charge(&leaf, 30);
	EXPECT_EQ(RD(&p, usage), 30);
	EXPECT_EQ(RD(&p, min_usage), 0);
	EXPECT_EQ(RD(&root, children_min_usage), 0);
	EXPECT_EQ(page_counter_uncharge(&leaf, 10), 0);
	EXPECT_EQ(RD(&p, min_usage), 20);
	EXPECT_EQ(RD(&root, children_min_usage), 20);
	/* and a charge by p itself (supported) propagates */
	page_counter_charge(&p, 5);
	EXPECT_EQ(RD(&p, min_usage), 25);
	EXPECT_EQ(RD(&root, children_min_usage), 25);
	/* the reverse: a supported leaf under an unsupported parent */
	{
		struct page_counter r2, q, l2;

		pc_init(&r2, NULL, false, false, MAXP);
		pc_init(&q, &r2, false, false, MAXP);
		pc_init(&l2, &q, true, false, MAXP);
		page_counter_set_min(&q, 100);
		page_counter_charge(&l2, 30);       /* leaf's flag: all levels */
		EXPECT_EQ(RD(&q, min_usage), 30);
		EXPECT_EQ(RD(&r2, children_min_usage), 30);
		EXPECT_EQ(page_counter_uncharge(&l2, 10), 0);
		/* q's own flag is off: its claim stays at 30 */
		EXPECT_EQ(RD(&q, min_usage), 30);
		EXPECT_EQ(RD(&r2, children_min_usage), 30);
	}
}

/* ------------------------------------------------------------------ */
/* calculate_protection                                                */

/* root -> p -> {c1, c2} */
struct tree4 {
	struct page_counter root, p, c1, c2;
};

static void tree4_init(struct tree4 *t)
{
	pc_init(&t->root, NULL, true, false, MAXP);
	pc_init(&t->p, &t->root, true, false, MAXP);
	pc_init(&t->c1, &t->p, true, false, MAXP);
	pc_init(&t->c2, &t->p, true, false, MAXP);
}

static void test_calc_target_and_first_level(void)
{
	struct tree4 t;

	tree4_init(&t);
	page_counter_set_min(&t.p, 1000);
	page_counter_set_low(&t.p, 2000);
	page_counter_charge(&t.p, 10);
	WR(&t.root, emin, 777);
	WR(&t.root, elow, 778);
	/* the target itself is never computed */
	page_counter_calculate_protection(&t.root, &t.root, false);
	EXPECT_EQ(RD(&t.root, emin), 777);
	EXPECT_EQ(RD(&t.root, elow), 778);
	/* first level below the target: raw settings, not clamped to usage */
	page_counter_calculate_protection(&t.root, &t.p, false);
	EXPECT_EQ(RD(&t.p, emin), 1000);
	EXPECT_EQ(RD(&t.p, elow), 2000);
	/* p as the target: its values stay */
	page_counter_set_min(&t.p, 3);
	page_counter_calculate_protection(&t.p, &t.p, true);
	EXPECT_EQ(RD(&t.p, emin), 1000);
}

static void test_calc_usage_zero_leaves_stale(void)
{
	struct tree4 t;

	tree4_init(&t);
	page_counter_charge(&t.p, 10);
	page_counter_set_min(&t.p, 1000);
	page_counter_set_low(&t.p, 500);
	page_counter_calculate_protection(&t.root, &t.p, false);
	EXPECT_EQ(RD(&t.p, emin), 1000);
	EXPECT_EQ(RD(&t.p, elow), 500);
	EXPECT_EQ(page_counter_uncharge(&t.p, 10), 0);
	page_counter_set_min(&t.p, 5);
	page_counter_set_low(&t.p, 6);
	page_counter_calculate_protection(&t.root, &t.p, false);
	EXPECT_EQ(RD(&t.p, emin), 1000);
	EXPECT_EQ(RD(&t.p, elow), 500);
	/* the same below the first level */
	WR(&t.c1, emin, 42);
	WR(&t.c1, elow, 43);
	page_counter_set_min(&t.c1, 9);
	page_counter_calculate_protection(&t.root, &t.c1, true);
	EXPECT_EQ(RD(&t.c1, emin), 42);
	EXPECT_EQ(RD(&t.c1, elow), 43);
}

/*
 * p.min 100; c1.min 80 usage 50 (claims 50); c2.min 60 usage 70 (claims 60)
 * siblings 110 > p.emin 100: overcommitted, multiply before divide:
 *   c1.emin = 50 * 100 / 110 = 45    c2.emin = 60 * 100 / 110 = 54
 * low: p.low 40; c1.low 30 (claims 30), c2.low 100 (claims 70): siblings 100
 *   c1.elow = 30 * 40 / 100 = 12     c2.elow = 70 * 40 / 100 = 28
 * Same numbers with recursive on (the overcommit branch returns first).
 */
static void test_calc_overcommitted(void)
{
	int recursive;

	for (recursive = 0; recursive <= 1; recursive++) {
		struct tree4 t;

		tree4_init(&t);
		page_counter_set_min(&t.p, 100);
		page_counter_set_low(&t.p, 40);
		page_counter_set_min(&t.c1, 80);
		page_counter_set_low(&t.c1, 30);
		page_counter_set_min(&t.c2, 60);
		page_counter_set_low(&t.c2, 100);
		page_counter_charge(&t.c1, 50);
		page_counter_charge(&t.c2, 70);
		EXPECT_EQ(RD(&t.p, children_min_usage), 110);
		EXPECT_EQ(RD(&t.p, children_low_usage), 100);
		page_counter_calculate_protection(&t.root, &t.p, recursive);
		EXPECT_EQ(RD(&t.p, emin), 100);
		EXPECT_EQ(RD(&t.p, elow), 40);
		page_counter_calculate_protection(&t.root, &t.c1, recursive);
		page_counter_calculate_protection(&t.root, &t.c2, recursive);
		EXPECT_EQ(RD(&t.c1, emin), 45);
		EXPECT_EQ(RD(&t.c2, emin), 54);
		EXPECT_EQ(RD(&t.c1, elow), 12);
		EXPECT_EQ(RD(&t.c2, elow), 28);
	}
}

/*
 * Undercommitted: p.min 200, p has 30 pages of its own, so p.usage 150.
 * c1: min 80, usage 50 (claims 50); c2: min 60, usage 70 (claims 60).
 * siblings 110 <= 200.
 *   not recursive: c1 50, c2 60 (own claims)
 *   recursive: c1 usage == protected -> 50;
 *              c2: unclaimed = (200-110) * (70-60) / (150-110) = 900/40 = 22
 *              -> 60 + 22 = 82  (divide first would give 90/40*10 = 20)
 * low (p.low 0, so p.elow 0, siblings_low 0): every elow 0.
 */
static void test_calc_undercommitted_and_recursive(void)
{
	int recursive;

	for (recursive = 0; recursive <= 1; recursive++) {
		struct tree4 t;

		tree4_init(&t);
		page_counter_set_min(&t.p, 200);
		page_counter_set_min(&t.c1, 80);
		page_counter_set_min(&t.c2, 60);
		page_counter_charge(&t.c1, 50);
		page_counter_charge(&t.c2, 70);
		page_counter_charge(&t.p, 30);
		EXPECT_EQ(RD(&t.p, usage), 150);
		page_counter_calculate_protection(&t.root, &t.p, recursive);
		page_counter_calculate_protection(&t.root, &t.c1, recursive);
		page_counter_calculate_protection(&t.root, &t.c2, recursive);
		EXPECT_EQ(RD(&t.p, emin), 200);
		EXPECT_EQ(RD(&t.c1, emin), 50);
		EXPECT_EQ(RD(&t.c2, emin), recursive ? 82 : 60);
		EXPECT_EQ(RD(&t.c1, elow), 0);
		EXPECT_EQ(RD(&t.c2, elow), 0);
	}
}

/*
 * Recursive protection floats to a child with NO setting of its own:
 * p.low 100, usage: c1 40 (low 0), c2 10 (low 10); siblings_low 10.
 *   c1: unclaimed = (100-10) * (40-0) / (50-10) = 3600/40 = 90 -> 90
 *   c2: usage == protected -> 10
 * And the guard parent_usage > siblings: with p usage == siblings, nothing.
 */
static void test_calc_recursive_floats_down(void)
{
	struct tree4 t;

	tree4_init(&t);
	page_counter_set_low(&t.p, 100);
	page_counter_set_low(&t.c2, 10);
	page_counter_charge(&t.c1, 40);
	page_counter_charge(&t.c2, 10);
	page_counter_calculate_protection(&t.root, &t.p, true);
	page_counter_calculate_protection(&t.root, &t.c1, true);
	page_counter_calculate_protection(&t.root, &t.c2, true);
	EXPECT_EQ(RD(&t.c1, elow), 90);
	EXPECT_EQ(RD(&t.c2, elow), 10);
	page_counter_calculate_protection(&t.root, &t.c1, false);
	EXPECT_EQ(RD(&t.c1, elow), 0);

	/*
	 * Guard parent_usage > siblings_protected (no division by zero):
	 * c1 low 0 usage 10, c2 low 1000 usage 30 -> siblings 30; p.usage
	 * forced down to 30 by hand.  c1: 100 > 30 but 30 > 30 is false -> 0.
	 */
	tree4_init(&t);
	page_counter_set_low(&t.p, 100);
	page_counter_set_low(&t.c2, 1000);
	page_counter_charge(&t.c1, 10);
	page_counter_charge(&t.c2, 30);
	EXPECT_EQ(RD(&t.p, children_low_usage), 30);
	page_counter_calculate_protection(&t.root, &t.p, true);
	EXPECT_EQ(RD(&t.p, elow), 100);
	WR(&t.p, usage, 30);
	page_counter_calculate_protection(&t.root, &t.c1, true);
	page_counter_calculate_protection(&t.root, &t.c2, true);
	EXPECT_EQ(RD(&t.c1, elow), 0);
	EXPECT_EQ(RD(&t.c2, elow), 30);
}

/*
 * Products wrap mod 2^64 as the kernel's unsigned long does.
 * c1: min = usage = 3*2^40; c2: min = usage = 7; p.emin = 2^30 + 5.
 * siblings 3*2^40 + 7 > 2^30 + 5: c1.emin = (3*2^40 * (2^30+5) mod 2^64)
 * / (3*2^40+7) = (15*2^40) / (3*2^40+7) = 4.
 */
static void test_calc_multiply_wraps(void)
{
	struct tree4 t;
	unsigned long big = 3UL << 40;

	tree4_init(&t);
	page_counter_set_min(&t.p, (1UL << 30) + 5);
	page_counter_set_min(&t.c1, big);
	page_counter_set_min(&t.c2, 7);
	page_counter_charge(&t.c1, big);
	page_counter_charge(&t.c2, 7);
	EXPECT_EQ(RD(&t.p, children_min_usage), big + 7);
	page_counter_calculate_protection(&t.root, &t.p, false);
	page_counter_calculate_protection(&t.root, &t.c1, false);
	page_counter_calculate_protection(&t.root, &t.c2, false);
	EXPECT_EQ(RD(&t.c1, emin), 4);
	/* c2: 7 * (2^30+5) / (3*2^40+7) = 0 */
	EXPECT_EQ(RD(&t.c2, emin), 0);
}

/* ------------------------------------------------------------------ */
/* memparse                                                            */

struct memparse_case {
	const char *text;
	unsigned long long bytes;
	size_t end;             /* where parsing stopped */
};

static const struct memparse_case memparse_cases[] = {
	{ "1", 1, 1 },
	{ "4095", 4095, 4 },
	{ "4096", 4096, 4 },
	{ "4097", 4097, 4 },
	{ "8K", 8192, 2 },
	{ "8k", 8192, 2 },
	{ "1k", 1024, 2 },
	{ "2m", 2ULL << 20, 2 },
	{ "2M", 2ULL << 20, 2 },
	{ "1M", 1ULL << 20, 2 },
	{ "3g", 3ULL << 30, 2 },
	{ "1T", 1ULL << 40, 2 },
	{ "1p", 1ULL << 50, 2 },
	{ "4E", 1ULL << 62, 2 },
	{ "0x1000", 4096, 6 },
	{ "0X1000", 4096, 6 },
	{ "0x100000", 1ULL << 20, 8 },
	{ "010M", 8ULL << 20, 4 },
	{ "0777K", 511ULL << 10, 5 },
	{ "0", 0, 1 },
	{ "00", 0, 2 },
	{ "0K", 0, 2 },
	{ "K", 0, 1 },
	{ "", 0, 0 },
	{ "0x", 0, 1 },                 /* octal 0, stops at 'x' */
	{ "0xg", 0, 1 },
	{ "08", 0, 1 },                 /* 8 is not octal */
	{ "1e", 1ULL << 60, 2 },        /* 'e' is the exa suffix */
	{ "0x1e", 30, 4 },              /* ... but a hex digit after 0x */
	{ "0xE", 14, 3 },
	{ "0x1K", 1024, 4 },
	{ "1e6", 1ULL << 60, 2 },
	{ "16E", 0, 3 },                /* 2^64 wraps */
	{ "1KB", 1024, 2 },
	{ "1Ki", 1024, 2 },
	{ "1KK", 1024, 2 },             /* one suffix only */
	{ "12 M", 12, 2 },
	{ "1.5G", 1, 1 },
	{ "1.5M", 1, 1 },
	{ "-2", 0, 0 },
	{ "-1", 0, 0 },
	{ " 2M", 0, 0 },                /* no stripping */
	{ "2M ", 2ULL << 20, 2 },
	{ "max", 0, 1 },                /* zero digits, 'm' suffix, "ax" left */
	{ "MAX", 0, 1 },                /* zero digits, 'M' suffix, "AX" left */
	{ "99999999999999999999", 7766279631452241919ULL, 20 },
	{ "18446744073709551615", 18446744073709551615ULL, 20 },
	{ "18446744073709551616", 0, 20 },
	{ "0xffffffffffffffffK", 18446744073709550592ULL, 19 },
	{ "0x10000000000000000", 0, 19 },
	{ "9223372036854771712", 9223372036854771712ULL, 19 },
};

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static void test_memparse_cases(void)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(memparse_cases); i++) {
		const struct memparse_case *mc = &memparse_cases[i];
		char *end = NULL;
		unsigned long long v = memparse(mc->text, &end);
		uint64_t bytes = 0xdeadbeef;
		int64_t ret;

		if (v != mc->bytes || end != mc->text + mc->end)
			fprintf(stderr, "    (memparse case \"%s\")\n", mc->text);
		EXPECT_EQ(v, mc->bytes);
		EXPECT_EQ(end - mc->text, mc->end);
		/* retptr may be NULL */
		EXPECT_EQ(memparse(mc->text, NULL), mc->bytes);
		/* the handle API: -EINVAL iff text is left over */
		ret = pmc_memparse(mc->text, &bytes);
		if (mc->text[mc->end] == '\0') {
			if (ret != 0 || bytes != mc->bytes)
				fprintf(stderr, "    (pmc_memparse case \"%s\")\n", mc->text);
			EXPECT_EQ_I(ret, 0);
			EXPECT_EQ(bytes, mc->bytes);
		} else {
			if (ret != -EINVAL)
				fprintf(stderr, "    (pmc_memparse case \"%s\")\n", mc->text);
			EXPECT_EQ_I(ret, -EINVAL);
		}
	}
}

/* The text is a C string: it ends at the first NUL. */
static void test_memparse_nul_terminates(void)
{
	static const char buf[] = { '4', 'K', '\0', 'x', '1', '\0' };
	char *end = NULL;

	EXPECT_EQ(memparse(buf, &end), 4096);
	EXPECT_PTR(end, buf + 2);
}

struct pcm_case {
	const char *text;
	const char *token;
	int ret;
	unsigned long pages;
};

static const struct pcm_case pcm_cases[] = {
	{ "max", "max", 0, PAGE_COUNTER_MAX },
	{ "max", "-1", -EINVAL, 0 },
	{ "-1", "-1", 0, PAGE_COUNTER_MAX },
	{ "-1", "max", -EINVAL, 0 },
	{ "", "", 0, PAGE_COUNTER_MAX },
	{ "", "max", 0, 0 },
	{ "", "-1", 0, 0 },
	{ "-1", "", -EINVAL, 0 },
	{ "max ", "max", -EINVAL, 0 },
	{ " max", "max", -EINVAL, 0 },
	{ "MAX", "max", -EINVAL, 0 },
	{ "1", "max", 0, 0 },                    /* round down */
	{ "4095", "max", 0, 0 },
	{ "4096", "max", 0, 1 },
	{ "4097", "-1", 0, 1 },
	{ "8191", "max", 0, 1 },
	{ "8K", "max", 0, 2 },
	{ "8k", "max", 0, 2 },
	{ "1k", "-1", 0, 0 },
	{ "1M", "max", 0, 256 },
	{ "2M", "max", 0, 512 },
	{ "3g", "-1", 0, 786432 },
	{ "0x1000", "max", 0, 1 },
	{ "0x100000", "-1", 0, 256 },
	{ "010M", "max", 0, 2048 },
	{ "K", "max", 0, 0 },
	{ "16E", "max", 0, 0 },
	{ "1e", "max", 0, 1UL << 48 },
	{ "0x1e", "max", 0, 0 },
	{ "8E", "max", 0, PAGE_COUNTER_MAX },    /* 2^51 pages: clamped */
	{ "9223372036854771712", "max", 0, PAGE_COUNTER_MAX },
	{ "9223372036854775807", "max", 0, PAGE_COUNTER_MAX },
	{ "9223372036854775808", "max", 0, PAGE_COUNTER_MAX },
	{ "9223372036854767616", "max", 0, PAGE_COUNTER_MAX - 1 },
	{ "18446744073709551615", "max", 0, PAGE_COUNTER_MAX },
	{ "99999999999999999999", "-1", 0, 1896064363147519UL },
	{ "1KB", "max", -EINVAL, 0 },
	{ "1Ki", "max", -EINVAL, 0 },
	{ "1.5G", "max", -EINVAL, 0 },
	{ "1.5M", "-1", -EINVAL, 0 },
	{ "12 M", "max", -EINVAL, 0 },
	{ " 2M", "-1", -EINVAL, 0 },
	{ "2M\n", "max", -EINVAL, 0 },
	{ "-2", "-1", -EINVAL, 0 },
	{ "-2", "max", -EINVAL, 0 },
	{ "0x", "max", -EINVAL, 0 },
	{ "08", "max", -EINVAL, 0 },
	{ "1e6", "max", -EINVAL, 0 },
};

static void test_page_counter_memparse_cases(void)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(pcm_cases); i++) {
		const struct pcm_case *pc = &pcm_cases[i];
		unsigned long pages = 0xdeadbeef;
		uint64_t pages64 = 0xdeadbeef;
		int ret = page_counter_memparse(pc->text, pc->token, &pages);
		int64_t ret64 = pmc_page_counter_memparse(pc->text, pc->token, &pages64);

		if (ret != pc->ret || (!pc->ret && pages != pc->pages) || ret64 != pc->ret ||
		    (!pc->ret && pages64 != pc->pages))
			fprintf(stderr, "    (page_counter_memparse case \"%s\", token \"%s\")\n",
				pc->text, pc->token);
		EXPECT_EQ_I(ret, pc->ret);
		EXPECT_EQ_I(ret64, pc->ret);
		if (pc->ret == 0) {
			EXPECT_EQ(pages, pc->pages);
			EXPECT_EQ(pages64, pc->pages);
		}
	}
}

/* ------------------------------------------------------------------ */
/* the handle API (pymemcg.h)                                          */

static void test_api_new_read_put(void)
{
	int64_t base = pmc_page_counter_nr_live();
	struct pmc_page_counter_info info;
	int64_t root, child;

	root = pmc_page_counter_new(0, 100, 1, 1);
	EXPECT_TRUE(root > 0);
	child = pmc_page_counter_new(root, PMC_PAGE_COUNTER_MAX, 0, 0);
	EXPECT_TRUE(child > 0);
	EXPECT_TRUE(child != root);
	EXPECT_EQ_I(pmc_page_counter_nr_live(), base + 2);

	memset(&info, 0xff, sizeof(info));
	EXPECT_EQ_I(pmc_page_counter_read(root, &info), 0);
	EXPECT_EQ(info.usage, 0);
	EXPECT_EQ(info.max, 100);
	EXPECT_EQ(info.high, PMC_PAGE_COUNTER_MAX);
	EXPECT_EQ(info.min, 0);
	EXPECT_EQ(info.low, 0);
	EXPECT_EQ(info.watermark, 0);
	EXPECT_EQ(info.local_watermark, 0);
	EXPECT_EQ(info.failcnt, 0);
	EXPECT_EQ(info.emin, 0);
	EXPECT_EQ(info.children_min_usage, 0);
	EXPECT_EQ_I(info.track_failcnt, 1);
	EXPECT_EQ_I(info.protection, 1);
	EXPECT_EQ_I(info.depth, 0);
	EXPECT_EQ_I(info.nr_children, 1);
	EXPECT_EQ_I(pmc_page_counter_read(child, &info), 0);
	EXPECT_EQ(info.max, PMC_PAGE_COUNTER_MAX);
	EXPECT_EQ_I(info.track_failcnt, 0);
	EXPECT_EQ_I(info.protection, 0);
	EXPECT_EQ_I(info.depth, 1);
	EXPECT_EQ_I(info.nr_children, 0);

	/* a charge through the handles reaches the parent */
	EXPECT_EQ_I(pmc_page_counter_charge(child, 7), 0);
	EXPECT_EQ_I(pmc_page_counter_read(root, &info), 0);
	EXPECT_EQ(info.usage, 7);
	EXPECT_EQ(info.watermark, 7);
	EXPECT_EQ_I(pmc_page_counter_uncharge(child, 7), 0);
	EXPECT_EQ_I(pmc_page_counter_reset_watermark(root), 0);
	EXPECT_EQ_I(pmc_page_counter_read(root, &info), 0);
	EXPECT_EQ(info.watermark, 0);

	/* the child first, then the parent */
	EXPECT_EQ_I(pmc_page_counter_put(child), 0);
	EXPECT_EQ_I(pmc_page_counter_read(root, &info), 0);
	EXPECT_EQ_I(info.nr_children, 0);
	EXPECT_EQ_I(pmc_page_counter_put(root), 0);
	EXPECT_EQ_I(pmc_page_counter_nr_live(), base);

	/* the parent first: the child keeps working; both freed at the end */
	root = pmc_page_counter_new(0, PMC_PAGE_COUNTER_MAX, 0, 1);
	child = pmc_page_counter_new(root, 10, 0, 1);
	EXPECT_TRUE(root > 0 && child > 0);
	EXPECT_EQ_I(pmc_page_counter_put(root), 0);
	EXPECT_EQ_I(pmc_page_counter_try_charge(child, 10), 0);
	EXPECT_EQ_I(pmc_page_counter_try_charge(child, 1), 1);
	EXPECT_EQ_I(pmc_page_counter_uncharge(child, 10), 0);
	EXPECT_EQ_I(pmc_page_counter_put(child), 0);
	EXPECT_EQ_I(pmc_page_counter_nr_live(), base);
}

static void test_api_stale_handles(void)
{
	enum { N = 64 };
	int64_t base = pmc_page_counter_nr_live();
	int64_t old[N], fresh[N];
	struct pmc_page_counter_info info;
	int64_t a, b;
	int i, reused = 0;

	a = pmc_page_counter_new(0, PMC_PAGE_COUNTER_MAX, 1, 1);
	EXPECT_TRUE(a > 0);
	EXPECT_EQ_I(pmc_page_counter_put(a), 0);
	EXPECT_EQ_I(pmc_page_counter_read(a, &info), -ESTALE);
	EXPECT_EQ_I(pmc_page_counter_charge(a, 1), -ESTALE);
	EXPECT_EQ_I(pmc_page_counter_try_charge(a, 1), -ESTALE);
	EXPECT_EQ_I(pmc_page_counter_uncharge(a, 1), -ESTALE);
	EXPECT_EQ_I(pmc_page_counter_set_max(a, 1), -ESTALE);
	EXPECT_EQ_I(pmc_page_counter_set_min(a, 1), -ESTALE);
	EXPECT_EQ_I(pmc_page_counter_set_low(a, 1), -ESTALE);
	EXPECT_EQ_I(pmc_page_counter_set_high(a, 1), -ESTALE);
	EXPECT_EQ_I(pmc_page_counter_reset_watermark(a), -ESTALE);
	EXPECT_EQ_I(pmc_page_counter_reset_local_watermark(a), -ESTALE);
	EXPECT_EQ_I(pmc_page_counter_calculate_protection(a, a, 0), -ESTALE);
	EXPECT_EQ_I(pmc_page_counter_put(a), -ESTALE);          /* no double free */
	EXPECT_EQ_I(pmc_page_counter_new(a, 10, 0, 0), -ESTALE); /* bad parent */
	EXPECT_EQ_I(pmc_page_counter_nr_live(), base);

	/* the freed slot comes back for b: a must stay stale */
	b = pmc_page_counter_new(0, 50, 0, 0);
	EXPECT_TRUE(b > 0);
	EXPECT_TRUE(b != a);
	EXPECT_EQ_I(pmc_page_counter_read(a, &info), -ESTALE);
	EXPECT_EQ_I(pmc_page_counter_charge(a, 1), -ESTALE);
	EXPECT_EQ_I(pmc_page_counter_put(a), -ESTALE);
	EXPECT_EQ_I(pmc_page_counter_read(b, &info), 0);
	EXPECT_EQ(info.usage, 0);
	EXPECT_EQ(info.max, 50);
	EXPECT_EQ_I(pmc_page_counter_put(b), 0);

	/* churn: none of many freed handles ever becomes valid again */
	for (i = 0; i < N; i++) {
		old[i] = pmc_page_counter_new(0, PMC_PAGE_COUNTER_MAX, 0, 0);
		EXPECT_TRUE(old[i] > 0);
	}
	for (i = 0; i < N; i++)
		EXPECT_EQ_I(pmc_page_counter_put(old[i]), 0);
	for (i = 0; i < N; i++)
		fresh[i] = pmc_page_counter_new(0, PMC_PAGE_COUNTER_MAX, 0, 0);
	for (i = 0; i < N; i++) {
		int j;

		EXPECT_EQ_I(pmc_page_counter_read(old[i], &info), -ESTALE);
		for (j = 0; j < N; j++)
			if (fresh[j] == old[i])
				reused++;
	}
	EXPECT_EQ_I(reused, 0);
	for (i = 0; i < N; i++)
		EXPECT_EQ_I(pmc_page_counter_put(fresh[i]), 0);

	/* handles that were never issued */
	EXPECT_TRUE(pmc_page_counter_read(0, &info) < 0);
	EXPECT_TRUE(pmc_page_counter_read(-1, &info) < 0);
	EXPECT_TRUE(pmc_page_counter_read(INT64_MIN, &info) < 0);
	EXPECT_TRUE(pmc_page_counter_read(INT64_MAX, &info) < 0);
	EXPECT_TRUE(pmc_page_counter_charge((int64_t)1 << 32 | 12345, 1) < 0);
	EXPECT_TRUE(pmc_page_counter_new(INT64_MAX, 1, 0, 0) < 0);
	EXPECT_EQ_I(pmc_page_counter_nr_live(), base);
}

/*
 * put() drops the OWNER's reference only once.  A second put of a parent
 * whose children still live must not drop a child's reference: that would
 * free the parent under its child, hand the slot to a new counter, and
 * send the child's charges (and later its reference drop) to a stranger.
 */
static void test_api_double_put_with_children(void)
{
	int64_t base = pmc_page_counter_nr_live();
	struct pmc_page_counter_info info;
	int64_t r, c, x;

	r = pmc_page_counter_new(0, 100, 0, 0);
	c = pmc_page_counter_new(r, 100, 0, 0);
	EXPECT_TRUE(r > 0 && c > 0);
	EXPECT_EQ_I(pmc_page_counter_put(r), 0);
	EXPECT_EQ_I(pmc_page_counter_nr_live(), base + 2);     /* r lives for c */
	EXPECT_TRUE(pmc_page_counter_put(r) < 0);              /* no owner ref left */
	EXPECT_EQ_I(pmc_page_counter_nr_live(), base + 2);
	x = pmc_page_counter_new(0, 1000, 0, 0);                /* may get a freed slot */
	EXPECT_TRUE(x > 0);
	EXPECT_EQ_I(pmc_page_counter_charge(c, 5), 0);
	EXPECT_EQ_I(pmc_page_counter_read(x, &info), 0);
	EXPECT_EQ(info.usage, 0);                               /* not c's parent */
	EXPECT_EQ_I(pmc_page_counter_uncharge(c, 5), 0);
	EXPECT_EQ_I(pmc_page_counter_put(c), 0);                /* frees c, then r */
	EXPECT_EQ_I(pmc_page_counter_read(x, &info), 0);        /* x untouched */
	EXPECT_EQ_I(pmc_page_counter_nr_live(), base + 1);
	EXPECT_EQ_I(pmc_page_counter_put(x), 0);
	EXPECT_EQ_I(pmc_page_counter_nr_live(), base);
}

static void test_api_invalid_counts(void)
{
	static const int64_t bad[] = { -1, -4096, INT64_MIN, PMC_PAGE_COUNTER_MAX + 1,
				       INT64_MAX };
	int64_t base = pmc_page_counter_nr_live();
	struct pmc_page_counter_info before, after;
	int64_t c, p;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad); i++)
		EXPECT_EQ_I(pmc_page_counter_new(0, bad[i], 0, 0), -EINVAL);
	EXPECT_EQ_I(pmc_page_counter_nr_live(), base);

	p = pmc_page_counter_new(0, 100, 1, 1);
	c = pmc_page_counter_new(p, 100, 1, 1);
	EXPECT_TRUE(p > 0 && c > 0);
	EXPECT_EQ_I(pmc_page_counter_charge(c, 5), 0);
	EXPECT_EQ_I(pmc_page_counter_set_min(c, 3), 0);
	EXPECT_EQ_I(pmc_page_counter_read(c, &before), 0);
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		EXPECT_EQ_I(pmc_page_counter_charge(c, bad[i]), -EINVAL);
		EXPECT_EQ_I(pmc_page_counter_try_charge(c, bad[i]), -EINVAL);
		EXPECT_EQ_I(pmc_page_counter_uncharge(c, bad[i]), -EINVAL);
		EXPECT_EQ_I(pmc_page_counter_set_max(c, bad[i]), -EINVAL);
		EXPECT_EQ_I(pmc_page_counter_set_min(c, bad[i]), -EINVAL);
		EXPECT_EQ_I(pmc_page_counter_set_low(c, bad[i]), -EINVAL);
		EXPECT_EQ_I(pmc_page_counter_set_high(c, bad[i]), -EINVAL);
		EXPECT_EQ_I(pmc_page_counter_new(p, bad[i], 0, 0), -EINVAL);
	}
	/* a bad argument changes nothing */
	EXPECT_EQ_I(pmc_page_counter_read(c, &after), 0);
	EXPECT_TRUE(memcmp(&before, &after, sizeof(before)) == 0);
	EXPECT_EQ(after.usage, 5);
	EXPECT_EQ(after.max, 100);
	EXPECT_EQ(after.min, 3);
	EXPECT_EQ(after.high, PMC_PAGE_COUNTER_MAX);
	EXPECT_EQ(after.failcnt, 0);
	EXPECT_EQ_I(pmc_page_counter_read(p, &after), 0);
	EXPECT_EQ(after.usage, 5);

	/* the boundary values are accepted */
	EXPECT_EQ_I(pmc_page_counter_set_max(c, PMC_PAGE_COUNTER_MAX), 0);
	EXPECT_EQ_I(pmc_page_counter_set_high(c, PMC_PAGE_COUNTER_MAX), 0);
	EXPECT_EQ_I(pmc_page_counter_set_high(c, 0), 0);
	EXPECT_EQ_I(pmc_page_counter_try_charge(c, 0), 0);
	EXPECT_EQ_I(pmc_page_counter_set_max(c, 5), 0);
	EXPECT_EQ_I(pmc_page_counter_set_max(c, 4), -EBUSY);
	EXPECT_EQ_I(pmc_page_counter_uncharge(c, 5), 0);
	EXPECT_EQ_I(pmc_page_counter_set_max(c, 0), 0);
	EXPECT_EQ_I(pmc_page_counter_put(c), 0);
	EXPECT_EQ_I(pmc_page_counter_put(p), 0);

	/* a PAGE_COUNTER_MAX charge on an unlimited root is fine */
	p = pmc_page_counter_new(0, PMC_PAGE_COUNTER_MAX, 0, 0);
	EXPECT_EQ_I(pmc_page_counter_try_charge(p, PMC_PAGE_COUNTER_MAX), 0);
	EXPECT_EQ_I(pmc_page_counter_try_charge(p, 1), 1);
	EXPECT_EQ_I(pmc_page_counter_read(p, &after), 0);
	EXPECT_EQ(after.usage, PMC_PAGE_COUNTER_MAX);
	EXPECT_EQ_I(pmc_page_counter_uncharge(p, PMC_PAGE_COUNTER_MAX), 0);
	EXPECT_EQ_I(pmc_page_counter_put(p), 0);
	EXPECT_EQ_I(pmc_page_counter_nr_live(), base);
}

/* try_charge returns k = level + 1 of the refusing counter (1: itself). */
static void test_api_try_charge_level(void)
{
	int64_t base = pmc_page_counter_nr_live();
	struct pmc_page_counter_info info;
	int64_t r, a, b, l;

	r = pmc_page_counter_new(0, 100, 1, 1);
	a = pmc_page_counter_new(r, 60, 1, 1);
	b = pmc_page_counter_new(a, 40, 1, 1);
	l = pmc_page_counter_new(b, 30, 1, 1);
	EXPECT_TRUE(r > 0 && a > 0 && b > 0 && l > 0);
	EXPECT_EQ_I(pmc_page_counter_try_charge(l, 31), 1);     /* leaf */
	EXPECT_EQ_I(pmc_page_counter_charge(b, 15), 0);         /* b 15, a 15, r 15 */
	EXPECT_EQ_I(pmc_page_counter_try_charge(l, 26), 2);     /* b: 41 > 40 */
	EXPECT_EQ_I(pmc_page_counter_charge(a, 30), 0);         /* a 45, r 45 */
	EXPECT_EQ_I(pmc_page_counter_try_charge(l, 16), 3);     /* a: 61 > 60 */
	EXPECT_EQ_I(pmc_page_counter_charge(r, 50), 0);         /* r 95 */
	EXPECT_EQ_I(pmc_page_counter_try_charge(l, 6), 4);      /* r: 101 > 100 */
	EXPECT_EQ_I(pmc_page_counter_try_charge(l, 5), 0);      /* every level fits */
	EXPECT_EQ_I(pmc_page_counter_try_charge(r, 1), 1);      /* r is the refuser */
	EXPECT_EQ_I(pmc_page_counter_try_charge(a, 1), 2);
	/* failcnt of each refusing level: r 3, a 1, b 1, l 1 */
	EXPECT_EQ_I(pmc_page_counter_read(r, &info), 0);
	EXPECT_EQ(info.usage, 100);
	EXPECT_EQ(info.failcnt, 3);
	EXPECT_EQ_I(pmc_page_counter_read(a, &info), 0);
	EXPECT_EQ(info.usage, 50);
	EXPECT_EQ(info.failcnt, 1);
	EXPECT_EQ_I(pmc_page_counter_read(b, &info), 0);
	EXPECT_EQ(info.usage, 20);
	EXPECT_EQ(info.failcnt, 1);
	/* b peaked at 31 in the charge that a refused (41 was refused by b) */
	EXPECT_EQ(info.watermark, 31);
	EXPECT_EQ_I(pmc_page_counter_read(l, &info), 0);
	EXPECT_EQ(info.usage, 5);
	EXPECT_EQ(info.failcnt, 1);
	/* watermark kept from the charges refused higher up: 26 */
	EXPECT_EQ(info.watermark, 26);

	/* uncharge mask through the handle API */
	EXPECT_EQ_I(pmc_page_counter_uncharge(l, 6), 1);        /* l 5 - 6 */
	EXPECT_EQ_I(pmc_page_counter_uncharge(l, 200), 15);     /* every level */

	/* calculate_protection: root must be the counter or an ancestor */
	EXPECT_EQ_I(pmc_page_counter_calculate_protection(l, r, 0), -EINVAL);
	EXPECT_EQ_I(pmc_page_counter_calculate_protection(b, a, 1), -EINVAL);
	EXPECT_EQ_I(pmc_page_counter_calculate_protection(r, l, 0), 0);
	EXPECT_EQ_I(pmc_page_counter_calculate_protection(l, l, 0), 0);

	/* reset_local_watermark: only the local peak */
	EXPECT_EQ_I(pmc_page_counter_charge(l, 3), 0);
	EXPECT_EQ_I(pmc_page_counter_reset_local_watermark(l), 0);
	EXPECT_EQ_I(pmc_page_counter_read(l, &info), 0);
	EXPECT_EQ(info.local_watermark, 3);
	EXPECT_EQ(info.watermark, 26);
	EXPECT_EQ_I(pmc_page_counter_uncharge(l, 3), 0);

	EXPECT_EQ_I(pmc_page_counter_put(l), 0);
	EXPECT_EQ_I(pmc_page_counter_put(b), 0);
	EXPECT_EQ_I(pmc_page_counter_put(a), 0);
	EXPECT_EQ_I(pmc_page_counter_put(r), 0);
	EXPECT_EQ_I(pmc_page_counter_nr_live(), base);
}

/* ------------------------------------------------------------------ */

int main(void)
{
	static void (*const tests[])(void) = {
		test_init_fields,
		test_try_charge_walks_leaf_to_root,
		test_try_charge_exactly_at_max,
		test_try_charge_failure_rollback,
		test_try_charge_failure_at_root,
		test_try_charge_lowest_failure_wins,
		test_failcnt_uses_leaf_flag,
		test_try_charge_zero_over_max,
		test_try_charge_rollback_propagates,
		test_forced_charge_exceeds_max,
		test_watermark_two_levels,
		test_watermark_not_lowered_and_reset,
		test_uncharge_plain,
		test_uncharge_underflow_leaf_only,
		test_uncharge_underflow_independent_levels,
		test_cancel_single_level,
		test_uncharge_mask_deep_chain,
		test_set_max,
		test_set_high_plain_store,
		test_set_min_propagation,
		test_set_low_propagation_with_siblings,
		test_no_protection_support,
		test_cancel_uses_own_protection_flag,
		test_calc_target_and_first_level,
		test_calc_usage_zero_leaves_stale,
		test_calc_overcommitted,
		test_calc_undercommitted_and_recursive,
		test_calc_recursive_floats_down,
		test_calc_multiply_wraps,
		test_memparse_cases,
		test_memparse_nul_terminates,
		test_page_counter_memparse_cases,
		test_api_new_read_put,
		test_api_stale_handles,
		test_api_double_put_with_children,
		test_api_invalid_counts,
		test_api_try_charge_level,
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(tests); i++)
		tests[i]();
	printf("%lu passed, %lu failed\n", n_passed, n_failed);
	return n_failed ? 1 : 0;
}
