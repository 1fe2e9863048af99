// SPDX-License-Identifier: GPL-2.0
/*
 * dm-cow grants (protocol 4): the daemon places chunks ahead of their first
 * write, so that write fills at once with no FAULT and no round trip.
 *
 * A grant (struct cow_grant) lives in its volume's interval tree, under
 * vol->lock, from GRANT until REVOKE or the volume's end:
 *
 *   GRANT --checks--> live              every chunk in an unmapped cow
 *                                       segment, not committed, in no other
 *                                       live grant; at most max_grants live.
 *                                       A chunk with a write in flight (it
 *                                       faulted before the GRANT came) has
 *                                       its slot used from the start: the
 *                                       daemon MAPs it there
 *   live --first write to a free slot--> slot used
 *                                       the chunk is placed there and fills
 *                                       (dm-cow-target.c); FILLED names the
 *                                       grant; a fill error frees the slot
 *   live --REVOKE--> REVOKED queued     out of the tree: no slot is taken any
 *                                       more; the control queue owns it and
 *                                       frees it once read (or detached).
 *                                       A grant used up stays live (and
 *                                       counts against max_grants) until
 *                                       revoked, so REVOKED of an id that is
 *                                       not live (count 0) means it never was
 *   live --volume destroyed--> freed
 *
 * Free slots are counted in vol->granted_free; when a use brings it to a
 * quarter of what it was after the last GRANT, GRANT_LOW goes out (once per
 * GRANT), so the daemon can grant the next range before the writer gets
 * there. A new daemon learns the live grants from GRANT_LIVE in the replay.
 *
 * A grant's slots are the daemon's decision; the kernel only checks that no
 * chunk of it has a place already, and a table load is refused when a mapped
 * segment covers a free slot (cow_grant_free_slot_in).
 */

#include <linux/slab.h>
#include <linux/sched/mm.h>

#include "dm-cow-core.h"

#define DM_MSG_PREFIX "cow"

#define cow_for_each_grant(vol, n)						\
	for (n = interval_tree_iter_first(&(vol)->grants, 0, ULONG_MAX); n;	\
	     n = interval_tree_iter_next(n, 0, ULONG_MAX))

static struct cow_grant *cow_grant_of(struct interval_tree_node *n)
{
	return container_of(n, struct cow_grant, node);
}

static struct cow_grant *cow_find_grant(struct cow_volume *vol, u32 id)
{
	struct interval_tree_node *n;

	lockdep_assert_held(&vol->lock);
	cow_for_each_grant(vol, n)
		if (cow_grant_of(n)->id == id)
			return cow_grant_of(n);
	return NULL;
}

/* A grant @id of @vol, not in the tree; the daemon's write may not recurse into I/O. */
static struct cow_grant *cow_alloc_grant(struct cow_volume *vol, u32 id, u32 type)
{
	struct cow_grant *g;
	unsigned int noio;

	noio = memalloc_noio_save();
	g = kzalloc(sizeof(*g), GFP_KERNEL);
	memalloc_noio_restore(noio);
	if (!g)
		return NULL;
	g->id = id;
	g->volume = vol->id;
	cow_out_init(&g->out, type);
	return g;
}

static void cow_unlink_grant(struct cow_volume *vol, struct cow_grant *g)
{
	lockdep_assert_held(&vol->lock);
	interval_tree_remove(&g->node, &vol->grants);
	vol->nr_grants--;
	vol->granted_free -= g->count - g->nr_used;
}

/* ---------------------------------------------------------------- step: grant */

/*
 * Why chunk @nr cannot be granted, or NULL; a chunk with a write in flight
 * (not committed, not discarded) takes its slot of @g at once.
 */
static const char *cow_grant_conflict(struct cow_volume *vol, struct cow_grant *g, u64 nr)
{
	struct cow_chunk *c;

	lockdep_assert_held(&vol->targets_lock);
	lockdep_assert_held(&vol->lock);
	if (!interval_tree_iter_first(&vol->targets, nr, nr))
		return "is in no unmapped cow segment";
	c = cow_lookup(vol, nr);
	if (c && (c->committed || c->state == CHUNK_DISCARDED))
		return "is committed or discarded";
	if (c) {
		__set_bit(nr - g->node.start, g->used);
		g->nr_used++;
		return NULL;
	}
	if (xa_load(&vol->remaps, nr) ||
	    (vol->forgotten && test_bit(nr, vol->forgotten)))
		return "is committed";
	if (interval_tree_iter_first(&vol->grants, nr, nr))
		return "is in another live grant";
	return NULL;
}

/* The checks that need no lock: EINVAL (logged) or 0. */
static int cow_check_grant_msg(struct cow_volume *vol, const struct dm_cow_msg *m)
{
	u64 id = le64_to_cpu(m->seq);
	u64 first = le64_to_cpu(m->grant.first_chunk);
	u64 cow_sector = le64_to_cpu(m->grant.cow_sector);
	u32 count = le32_to_cpu(m->grant.count);
	u32 fill = le32_to_cpu(m->grant.fill);
	sector_t cow_size = bdev_nr_sectors(vol->cow_bdev);

	if (!id || id > U32_MAX)
		return cow_reject(m, "grant id %llu is not 1 to %u", id, U32_MAX);
	if (!count || count > DM_COW_MAX_GRANT_CHUNKS)
		return cow_reject(m, "count %u is not 1 to %u", count, DM_COW_MAX_GRANT_CHUNKS);
	if (fill != DM_COW_FILL_COPY && fill != DM_COW_FILL_ZERO)
		return cow_reject(m, "fill %u is not COPY or ZERO", fill);
	if (memchr_inv(m->grant.used, 0, sizeof(m->grant.used)))
		return cow_reject(m, "used must be zero");
	if (first >= vol->nr_chunks || vol->nr_chunks - first < count)
		return cow_reject(m, "chunks %llu + %u beyond the volume's %llu chunks",
				  first, count, vol->nr_chunks);
	if (cow_sector & (vol->chunk_sectors - 1))
		return cow_reject(m, "cow_sector %llu not a multiple of chunk_sectors %u",
				  cow_sector, vol->chunk_sectors);
	if (cow_sector > cow_size ||
	    (cow_size - cow_sector) >> vol->chunk_shift < count)
		return cow_reject(m, "cow_sector %llu + %u chunks beyond the CoW device's %llu sectors",
				  cow_sector, count, (u64)cow_size);
	return 0;
}

int cow_handle_grant(struct cow_volume *vol, const struct dm_cow_msg *m)
{
	u32 id = le64_to_cpu(m->seq);
	u64 first = le64_to_cpu(m->grant.first_chunk);
	u32 count = le32_to_cpu(m->grant.count);
	const char *why = NULL;
	struct cow_grant *g;
	unsigned long flags;
	u64 nr = first;
	int r;

	r = cow_check_grant_msg(vol, m);
	if (r)
		return r;
	g = cow_alloc_grant(vol, id, DM_COW_MSG_GRANT_LIVE);
	if (!g)
		return -ENOMEM;
	g->count = count;
	g->fill = le32_to_cpu(m->grant.fill);
	g->cow_sector = le64_to_cpu(m->grant.cow_sector);
	g->node.start = first;
	g->node.last = first + count - 1;

	/* The segments and the forgotten marks change under targets_lock. */
	mutex_lock(&vol->targets_lock);
	spin_lock_irqsave(&vol->lock, flags);
	if (vol->nr_grants >= READ_ONCE(max_grants))
		why = "the volume has max_grants live grants";
	else if (cow_find_grant(vol, id))
		why = "a live grant has this id";
	for (; !why && nr < first + count; nr++)
		why = cow_grant_conflict(vol, g, nr);
	if (!why) {
		interval_tree_insert(&g->node, &vol->grants);
		vol->nr_grants++;
		vol->granted_free += count - g->nr_used;
		vol->grant_low_at = vol->granted_free / 4;
		vol->grant_low_sent = false;
		g = NULL;
	}
	spin_unlock_irqrestore(&vol->lock, flags);
	mutex_unlock(&vol->targets_lock);
	if (!g)
		return 0;
	kfree(g);
	if (nr > first)
		return cow_reject(m, "grant %u: chunk %llu %s", id, nr - 1, why);
	return cow_reject(m, "grant %u: %s", id, why);
}

/* ---------------------------------------------------------------- step: use */

static void cow_note_grant_low(struct cow_volume *vol)
{
	lockdep_assert_held(&vol->lock);
	if (vol->grant_low_sent || vol->granted_free > vol->grant_low_at)
		return;
	vol->grant_low_sent = true;
	cow_queue_live(vol, &vol->out_grant_low, DM_COW_MSG_GRANT_LOW);
}

/*
 * A first write to chunk @nr, which has no state: if a live grant has its
 * slot free, the slot is used and true returned with where the chunk goes.
 */
bool cow_take_grant_slot(struct cow_volume *vol, u64 nr, u32 *grant, sector_t *cow_sector,
			 u32 *fill)
{
	struct interval_tree_node *n;
	struct cow_grant *g;
	u64 i;

	lockdep_assert_held(&vol->lock);
	if (RB_EMPTY_ROOT(&vol->grants.rb_root))
		return false;
	n = interval_tree_iter_first(&vol->grants, nr, nr);
	if (!n)
		return false;
	g = cow_grant_of(n);
	i = nr - g->node.start;
	/* Used before, then discarded and forgotten: it faults. */
	if (__test_and_set_bit(i, g->used))
		return false;
	g->nr_used++;
	vol->granted_free--;
	*grant = g->id;
	*cow_sector = g->cow_sector + (i << vol->chunk_shift);
	*fill = g->fill;
	cow_note_grant_low(vol);
	return true;
}

/* The fill of a chunk that took a slot of grant @grant failed: the slot is free again. */
void cow_return_grant_slot(struct cow_volume *vol, u32 grant, u64 nr)
{
	struct interval_tree_node *n;
	struct cow_grant *g;

	lockdep_assert_held(&vol->lock);
	n = interval_tree_iter_first(&vol->grants, nr, nr);
	if (!n || cow_grant_of(n)->id != grant)
		return;		/* revoked: the daemon counts it used */
	g = cow_grant_of(n);
	__clear_bit(nr - g->node.start, g->used);
	g->nr_used--;
	vol->granted_free++;
}

/* ---------------------------------------------------------------- step: revoke */

int cow_handle_revoke(struct cow_volume *vol, const struct dm_cow_msg *m)
{
	u64 id = le64_to_cpu(m->seq);
	struct cow_grant *g;
	unsigned long flags;

	if (!id || id > U32_MAX)
		return cow_reject(m, "grant id %llu is not 1 to %u", id, U32_MAX);
	spin_lock_irqsave(&vol->lock, flags);
	g = cow_find_grant(vol, id);
	if (g)
		cow_unlink_grant(vol, g);
	spin_unlock_irqrestore(&vol->lock, flags);
	if (!g) {
		/* Never granted (refused): REVOKED with count 0 says so. */
		g = cow_alloc_grant(vol, id, DM_COW_MSG_REVOKED);
		if (!g)
			return -ENOMEM;
	}
	if (!cow_queue_owned(&g->out, DM_COW_MSG_REVOKED))
		kfree(g);
	return 0;
}

/* ---------------------------------------------------------------- tables, status, teardown */

/* A live grant with a free slot among chunks @first..@last; under vol->lock. */
struct cow_grant *cow_grant_free_slot_in(struct cow_volume *vol, u64 first, u64 last)
{
	struct interval_tree_node *n;
	struct cow_grant *g;
	u64 from, to;

	lockdep_assert_held(&vol->lock);
	for (n = interval_tree_iter_first(&vol->grants, first, last); n;
	     n = interval_tree_iter_next(n, first, last)) {
		g = cow_grant_of(n);
		from = max_t(u64, first, g->node.start) - g->node.start;
		to = min_t(u64, last, g->node.last) - g->node.start;
		if (find_next_zero_bit(g->used, to + 1, from) <= to)
			return g;
	}
	return NULL;
}

/* The volume is going: nothing can use or revoke its grants any more. */
void cow_free_grants(struct cow_volume *vol)
{
	struct interval_tree_node *n;
	struct cow_grant *g;
	unsigned long flags;

	spin_lock_irqsave(&vol->lock, flags);
	while ((n = interval_tree_iter_first(&vol->grants, 0, ULONG_MAX))) {
		g = cow_grant_of(n);
		cow_unlink_grant(vol, g);
		cow_unqueue_out(&g->out);
		kfree(g);
	}
	spin_unlock_irqrestore(&vol->lock, flags);
}

/* GRANT_LIVE or REVOKED, under ctl.lock. */
void cow_format_grant(const struct cow_grant *g, struct dm_cow_msg *m)
{
	unsigned int bit;

	m->volume = cpu_to_le32(g->volume);
	m->seq = cpu_to_le64(g->id);
	m->grant.count = cpu_to_le32(g->count);
	if (!g->count)
		return;
	m->grant.first_chunk = cpu_to_le64(g->node.start);
	m->grant.cow_sector = cpu_to_le64(g->cow_sector);
	m->grant.fill = cpu_to_le32(g->fill);
	/* Read without vol->lock: a slot used meanwhile is told by its GRANTED or FILLED. */
	for_each_set_bit(bit, g->used, g->count)
		m->grant.used[bit / 64] |= cpu_to_le64(1ULL << (bit % 64));
}
