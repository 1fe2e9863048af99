// SPDX-License-Identifier: GPL-2.0
/*
 * dm-cow: a copy-on-write target whose allocation decisions are made by a
 * userspace daemon over the misc device /dev/dm-cow (protocol: dm-cow.h,
 * docs/protocol.md).
 *
 * Table: <start> <len> cow <ident> <base_dev> <cow_dev> <chunk_sectors>
 *        [<#opt_args> [mapped <cow_sector>] [discard_unmap]]
 * A mapped segment may not cover a free slot of a live grant.
 *
 * All segments with one <ident> share one refcounted volume, which survives
 * table reloads. A bio's device sector is its volume sector.
 *
 * A mapped segment ("2 mapped <cow_sector>") is committed whole: its range
 * lives at <cow_sector> + offset on the CoW device (chunk-aligned, inside
 * it), and its bios go there as through dm-linear, with no chunk state, no
 * FAULT and no look at the remap index, so FORGET of its chunks is allowed
 * (it is not in vol->targets) and it may cover forgotten chunks. It holds a
 * volume reference like any segment, has nothing of its own that waits, and
 * takes dm's empty flushes if it is the volume's first segment in the table:
 * they go through the same flush path as a cow segment's (below), so the
 * daemon builds its tables of cow segments only and dm sends one empty flush
 * per volume per table, not one per committed run.
 *
 * Per-chunk state machine (all transitions under the volume's lock):
 *
 *   (no state) --write--> FAULTED      FAULT sent; writes queue on the chunk
 *   (no state) --write, free slot of a live grant--> QUEUED or FILLING
 *                                      no FAULT: placed at the slot, filled
 *                                      as MAP would with the grant's fill;
 *                                      FILLED names the grant; a fill error
 *                                      frees the slot (dm-cow-grant.c)
 *   FAULTED --MAP--> QUEUED            the fill MAP names (copy or zero; a
 *                                      none whose write a noflush suspend
 *                                      handed back copies) waits on the
 *                                      volume's fill queue for a copy slot
 *                                      (max_copies over all volumes, given to
 *                                      the volumes by deficit round robin over
 *                                      the sectors filled)
 *   QUEUED --slot--> FILLING           dm-kcopyd copies from base or zeroes
 *                                      the gaps the queued writes leave (up to
 *                                      4, else the whole chunk, the writes
 *                                      after it), and the writes go out beside
 *                                      it: each sector of the slot is written
 *                                      once; the fill is done when all are
 *   FAULTED --MAP--> FILLING, QUEUED --slot--> FILLING
 *                                      when the queued writes cover the chunk
 *                                      (one whole-chunk write, or up to 64
 *                                      that together do), they are the fill,
 *                                      whatever MAP named, and no copy slot
 *                                      is taken; FAULT says FULL_WRITE if they
 *                                      cover it when the daemon reads it
 *   FAULTED --FAIL or timeout--> (no state)   queued writes fail
 *   FILLING --fill done--> WRITING     the writes that queued during the fill
 *                                      issued to the CoW device; writes
 *                                      arriving now are held
 *   FILLING --fill error--> (no state) queued writes fail with EIO
 *   WRITING --last write done--> FILLED   fill seq assigned, FILLED sent,
 *                                      then the queued writes complete and
 *                                      the held writes go to the CoW device
 *   FILLED --COMMITTED--> committed remap   the chunk state is freed; the
 *                                      volume's remap index (an xarray of
 *                                      values, read without a lock) keeps only
 *                                      where the chunk is on the CoW device.
 *                                      If no index slot can be had, the chunk
 *                                      stays FILLED+committed instead.
 *   committed --FORGET--> (no state)   only when no cow segment but mapped
 *                                      ones covers it; the chunk is marked
 *                                      forgotten, and no unmapped cow segment
 *                                      may cover it again (it would read as
 *                                      the base)
 *   committed, forgotten or in a mapped segment
 *     --whole-chunk discard, discard_unmap--> DISCARDED
 *                                      DISCARD sent; the remap (or forgotten
 *                                      mark) is dropped: it reads as the base.
 *                                      A mapped segment's chunk without state
 *                                      is committed even if this kernel never
 *                                      forgot it (a table loaded after a
 *                                      reboot)
 *   DISCARDED --write--> FAULTED       as an unmapped chunk (a new fault)
 *   DISCARDED --FORGET--> (no state)   the daemon has unmapped it and serves
 *                                      it from a cow segment
 *
 * Reads go to the base unless the chunk is FILLED or committed, then to the
 * CoW device. Every bio is cut at chunk boundaries. WRITE_ZEROES is a write
 * (a whole chunk of it needs no fill); a discard goes to the CoW device for a
 * FILLED or committed chunk and is dropped for others (they read as the base),
 * except a whole-chunk one in a discard_unmap segment, which the worker turns
 * into DISCARDED (a discard is advisory: a chunk in flight is left as it is).
 * A chunk given state by a discard has its bit in vol->discarded_map until
 * FORGET, and a mapped segment sends its bios the cow way: its table may
 * still map the chunk to the old place. The daemon reuses that place only
 * after a table reload has completed after the DISCARD (dm waits for the
 * bios the old table mapped).
 * Since a chunk is FILLED before any of its queued writes completes upwards,
 * a read issued after a write completed always sees the CoW device.
 *
 * Flush: an empty REQ_PREFLUSH notes F = the volume's last fill seq, flushes
 * the CoW device, and if a chunk with fill seq <= F is uncommitted, sends
 * FLUSH{F} and waits until COMMITTED has arrived for all of them. A FUA write
 * to a chunk that is not committed does the same after the write, with F = its
 * chunk's fill seq. Since that covers the whole volume, dm's empty flush goes
 * to one cow segment of the volume per table (num_flush_bios 1), not to each:
 * the first segment constructed in a table takes it (cow_take_flushes),
 * mapped or not; a mapped segment's own writes never wait for COMMITTED.
 *
 * Noflush suspend (cow_presuspend): what waits for the daemon goes back to
 * dm core, which maps it again after the resume, as dm-thin's requeue_io: the
 * segment's writes on FAULTED chunks (the chunk stays FAULTED, without bios)
 * and its flushes waiting for COMMITTED; until dm core ends the noflush
 * suspend, a write that would fault or queue on a FAULTED chunk, or a flush
 * that would wait for commits, goes back too. A full CoW space or an absent
 * daemon thus never holds a table reload. A suspend with flush waits.
 *
 * Control device (dm-cow-ctl.c; one opener): open -> HELLO_WAIT (kernel
 * HELLO queued); daemon HELLO -> ATTACHED (replay queued); close -> CLOSED.
 * While not ATTACHED, no messages are queued; writes wait, and a write on an
 * unanswered fault or a flush waiting for commits fails with EIO once it and
 * the daemon's absence have both lasted detach_timeout seconds.
 *
 * Locking: each volume's chunk state, lists and gauges are under its own
 * spinlock (vol->lock, interrupts off); the counters the I/O path only adds
 * to are per CPU (vol->stats, no lock). The control queue is under ctl.lock
 * (dm-cow-ctl.c) and the copy slots under cow_fills.lock, both only ever
 * taken inside a volume's lock, never the other way round. The volume mutex
 * (cow_volumes_lock) is for constructors, destructors and the replay: the
 * daemon's answers find a volume by id in an xarray and hold a reference
 * (vol->users), and FORGET checks the segments under the volume's own
 * targets_lock.
 *
 * Replay: a new daemon's HELLO walks the volumes five times (VOLUME, then
 * GRANT_LIVE, then GRANTED and FILLED, then DISCARD, then FAULT), one volume's
 * lock at a time, and each of a volume's chunk lists in batches of 256 chunks
 * with the lock dropped in between
 * (a cursor, vol->replay_last, keeps the place; chunks join a list only at
 * its tail). vol->stage says how far the walk has come for the volume; a live
 * message of a kind the walk has not yet sent for it is not queued (the walk
 * will find its chunk), and the stage moves on in the hold that sends a
 * list's last batch, so each volume's messages keep the protocol's order.
 *
 * Volume removal: the dtr that drops the volume's last reference waits
 * (bounded the same way, killably) until the daemon has committed every
 * filled chunk, so no completed write is forgotten with the volume. While it
 * waits the volume stays findable with no references (dying): a new target
 * with its ident revives it and the wait ends; of several dtrs that dropped
 * it to zero meanwhile, the last to finish waiting frees it, unless revived.
 */

#include <linux/module.h>
#include <linux/init.h>
#include <linux/dm-kcopyd.h>
#include <linux/mempool.h>
#include <linux/slab.h>
#include <linux/version.h>
#include <linux/kdev_t.h>
#include <linux/ctype.h>

#include "dm-cow-core.h"

#define DM_MSG_PREFIX "cow"

#define COW_MAX_CHUNK_SECTORS	(1U << 21)	/* 1 GiB */
#define COW_MIN_POOL		64
#define COW_FREE_BATCH		256	/* chunks freed per lock hold at removal */

#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 5, 0)
#define COW_MODE_READ BLK_OPEN_READ
#else
#define COW_MODE_READ FMODE_READ
#endif

unsigned int max_copies = 16;
module_param(max_copies, uint, 0644);
MODULE_PARM_DESC(max_copies, "Chunk fills (dm-kcopyd copies or zeroings) running at once");

unsigned int max_grants = 64;
module_param(max_grants, uint, 0644);
MODULE_PARM_DESC(max_grants, "Live grants a volume may hold (GRANT beyond them: EINVAL)");

unsigned int detach_timeout = 300;
module_param(detach_timeout, uint, 0644);
MODULE_PARM_DESC(detach_timeout,
		 "Seconds without an attached daemon before queued writes fail with EIO (0: wait forever)");

unsigned int answer_timeout = 30;
module_param(answer_timeout, uint, 0644);
MODULE_PARM_DESC(answer_timeout,
		 "Seconds an attached daemon may leave a fault unanswered before the kernel log names it (0: never)");

DEFINE_MUTEX(cow_volumes_lock);	/* volume list, refs, closers */
LIST_HEAD(cow_volumes);
static DEFINE_XARRAY_ALLOC1(cow_volume_ids);	/* id -> volume, for the daemon's answers */
static u32 cow_next_volume_id = 1;

/*
 * Fair fills: the copy slots go to the volumes with QUEUED chunks by deficit
 * round robin over the sectors filled, so a volume of small chunks gets as
 * many bytes filled as one of large chunks, not as many fills.
 */
static struct {
	spinlock_t lock;		/* everything here, and each volume's fill_* */
	struct list_head vols;		/* volumes with QUEUED chunks, next in turn first */
	unsigned int running;
	u32 quantum;			/* sectors per turn: the largest chunk queued yet */
	struct work_struct work;
} cow_fills;

struct workqueue_struct *cow_wq;
static struct dm_kcopyd_client *cow_kc;
static struct kmem_cache *cow_chunk_cache;
mempool_t *cow_chunk_pool;

/* ---------------------------------------------------------------- chunks */

struct cow_chunk *cow_lookup(struct cow_volume *vol, u64 nr)
{
	struct rb_node *n = vol->chunks.rb_node;

	while (n) {
		struct cow_chunk *c = rb_entry(n, struct cow_chunk, node);

		if (nr < c->nr)
			n = n->rb_left;
		else if (nr > c->nr)
			n = n->rb_right;
		else
			return c;
	}
	return NULL;
}

static void cow_insert(struct cow_volume *vol, struct cow_chunk *c)
{
	struct rb_node **p = &vol->chunks.rb_node, *parent = NULL;

	while (*p) {
		struct cow_chunk *e = rb_entry(*p, struct cow_chunk, node);

		parent = *p;
		p = c->nr < e->nr ? &(*p)->rb_left : &(*p)->rb_right;
	}
	rb_link_node(&c->node, parent, p);
	rb_insert_color(&c->node, &vol->chunks);
}

/*
 * A committed remap's place on the CoW device. Without the volume's lock
 * (RCU): an entry, once stored, stays until FORGET, which no cow segment
 * covering the chunk allows. Under the lock, a miss here and in the chunk
 * tree means the chunk is not mapped: COMMITTED stores the entry before it
 * erases the chunk, in one hold of the lock.
 */
bool cow_committed_sector(struct cow_volume *vol, u64 nr, sector_t *cow_sector)
{
	void *e = xa_load(&vol->remaps, nr);

	if (!xa_is_value(e))
		return false;
	*cow_sector = (sector_t)xa_to_value(e) << vol->chunk_shift;
	return true;
}

/* Remove a chunk with no bios left; the caller frees it. */
void cow_erase(struct cow_chunk *c)
{
	struct cow_volume *vol = c->vol;

	lockdep_assert_held(&vol->lock);
	rb_erase(&c->node, &vol->chunks);
	cow_unqueue_out(&c->out);
	cow_chunk_unlist(vol, &c->list);
	cow_chunk_unlist(vol, &c->granted);
	if (c->state == CHUNK_FAULTED)
		vol->faults_pending--;
	if (c->state == CHUNK_FILLED && !c->committed)
		vol->filled_uncommitted--;
	if (c->state == CHUNK_DISCARDED)
		vol->discarded_pending--;
}

static u64 cow_chunk_of(struct cow_volume *vol, sector_t sector)
{
	return sector >> vol->chunk_shift;
}

static sector_t cow_chunk_start(struct cow_volume *vol, u64 nr)
{
	return (sector_t)nr << vol->chunk_shift;
}

/* Sectors of the chunk that exist in the base (the last one may be short). */
static sector_t cow_chunk_len(struct cow_volume *vol, u64 nr)
{
	sector_t start = cow_chunk_start(vol, nr);

	return min_t(sector_t, vol->chunk_sectors, vol->volume_sectors - start);
}

static bool cow_bio_covers_chunk(struct cow_volume *vol, struct bio *bio)
{
	sector_t sector = bio->bi_iter.bi_sector;
	u64 nr = cow_chunk_of(vol, sector);

	return sector == cow_chunk_start(vol, nr) &&
	       bio_sectors(bio) >= cow_chunk_len(vol, nr);
}

void cow_remap_to_cow(struct cow_volume *vol, struct bio *bio,
			     sector_t cow_sector)
{
	sector_t offset = bio->bi_iter.bi_sector & (vol->chunk_sectors - 1);

	bio_set_dev(bio, vol->cow_bdev);
	bio->bi_iter.bi_sector = cow_sector + offset;
}

void cow_hook_bio(struct bio *bio, bio_end_io_t *fn)
{
	struct cow_bio *pb = dm_per_bio_data(bio, sizeof(*pb));

	pb->saved_end_io = bio->bi_end_io;
	pb->saved_private = bio->bi_private;
	bio->bi_end_io = fn;
	bio->bi_private = pb;
}

static struct cow_bio *cow_unhook_bio(struct bio *bio)
{
	struct cow_bio *pb = bio->bi_private;

	bio->bi_end_io = pb->saved_end_io;
	bio->bi_private = pb->saved_private;
	return pb;
}

void cow_end_bios(struct bio_list *bios, blk_status_t status)
{
	struct bio *bio;

	while ((bio = bio_list_pop(bios))) {
		if (status)
			bio->bi_status = status;
		bio_endio(bio);
	}
}

/*
 * Is the bio's device suspending with noflush? Then a bio that would wait for
 * the daemon is handed back to dm core (BLK_STS_DM_REQUEUE, DM_MAPIO_REQUEUE),
 * which maps it again after the resume. dm core sets the flag before it calls
 * presuspend and clears it before postsuspend, or when the suspend is
 * interrupted, so the target keeps no mode of its own. Called under the
 * volume's lock: cow_presuspend hands back in one hold of it what already
 * waits, and a bio that comes to wait after that sees the flag.
 */
static bool cow_handing_back(struct bio *bio)
{
	struct cow_bio *pb = dm_per_bio_data(bio, sizeof(*pb));

	return dm_noflush_suspending(pb->ti);
}

/* A write that would wait for the daemon: its chunk unmapped, DISCARDED or FAULTED. */
static bool cow_hand_back_write(struct cow_volume *vol, struct cow_chunk *c,
				struct bio *bio)
{
	lockdep_assert_held(&vol->lock);
	return (!c || c->state == CHUNK_FAULTED || c->state == CHUNK_DISCARDED) &&
	       cow_handing_back(bio);
}

/* Is a chunk with fill seq <= seq still uncommitted? */
static bool cow_uncommitted_upto(struct cow_volume *vol, u64 seq)
{
	struct cow_chunk *first;

	lockdep_assert_held(&vol->lock);
	first = list_first_entry_or_null(&vol->uncommitted, struct cow_chunk, list);
	return first && first->fill_seq <= seq;
}

/* ---------------------------------------------------------------- step: fault */

/* Beyond this many queued writes their union is not looked at: the chunk is copied whole. */
#define COW_UNION_MAX_WRITES	64

/*
 * How far from volume sector @pos, up to @end, the writes on @list (each
 * inside one chunk) cover it without a hole.
 */
static sector_t cow_covered_to(struct bio_list *list, sector_t pos, sector_t end)
{
	bool grew = true;
	struct bio *bio;

	/* Each pass extends the covered stretch by the writes that start inside it. */
	while (pos < end && grew) {
		grew = false;
		bio_list_for_each(bio, list) {
			if (bio->bi_iter.bi_sector <= pos && bio_end_sector(bio) > pos) {
				pos = bio_end_sector(bio);
				grew = true;
			}
		}
	}
	return pos;
}

/*
 * Whether the writes on @list, each inside chunk @nr, together cover it: one
 * whole-chunk write or several adjoining ones. Such a chunk needs no fill,
 * its writes are its fill.
 */
static bool cow_writes_cover_chunk(struct cow_volume *vol, u64 nr, struct bio_list *list)
{
	sector_t start = cow_chunk_start(vol, nr);
	sector_t end = start + cow_chunk_len(vol, nr);

	return bio_list_size(list) <= COW_UNION_MAX_WRITES &&
	       cow_covered_to(list, start, end) >= end;
}

static void cow_chunk_add_write(struct cow_chunk *c, struct bio *bio)
{
	struct cow_bio *pb = dm_per_bio_data(bio, sizeof(*pb));

	pb->chunk = c;
	if (c->state == CHUNK_WRITING) {
		bio_list_add(&c->held, bio);
		return;
	}
	bio_list_add(&c->queued, bio);
	/* Read by cow_format under ctl.lock only. */
	if (c->state == CHUNK_FAULTED && !c->full_write &&
	    cow_writes_cover_chunk(c->vol, c->nr, &c->queued))
		WRITE_ONCE(c->full_write, true);
}

/*
 * A new FAULTED chunk with its first write. The FAULT is queued only once
 * the write is on the chunk: read() formats it under ctl.lock alone, without
 * the volume's lock, and must see the write's FULL_WRITE.
 */
static void cow_init_chunk(struct cow_volume *vol, struct cow_chunk *c, u64 nr, u32 type)
{
	memset(c, 0, sizeof(*c));
	c->vol = vol;
	c->nr = nr;
	bio_list_init(&c->queued);
	bio_list_init(&c->held);
	bio_list_init(&c->done);
	INIT_LIST_HEAD(&c->granted);
	cow_out_init(&c->out, type);
}

/* Chunk @c, with no bios and on no list, becomes FAULTED by its first write. */
static void cow_fault(struct cow_volume *vol, struct cow_chunk *c, struct bio *bio)
{
	c->state = CHUNK_FAULTED;
	c->fault_seq = ++vol->fault_seq;
	c->since = jiffies;
	list_add_tail(&c->list, &vol->faulted);
	vol->faults_pending++;
	cow_chunk_add_write(c, bio);
	cow_queue_live(vol, &c->out, DM_COW_MSG_FAULT);
}

static void cow_new_fault(struct cow_volume *vol, struct cow_chunk *c, u64 nr,
			  struct bio *bio)
{
	cow_init_chunk(vol, c, nr, DM_COW_MSG_FAULT);
	cow_insert(vol, c);
	cow_fault(vol, c, bio);
}

/*
 * A write to a DISCARDED chunk faults as one to an unmapped chunk. Its FAULT
 * takes the place of a DISCARD not read yet: for the daemon, a FAULT of a
 * chunk it mapped means the chunk was discarded.
 */
static void cow_refault(struct cow_volume *vol, struct cow_chunk *c, struct bio *bio)
{
	cow_chunk_unlist(vol, &c->list);
	vol->discarded_pending--;
	cow_fault(vol, c, bio);
}

/* Add a write to chunk @c, in whatever state, that is not FILLED. */
static void cow_add_write(struct cow_volume *vol, struct cow_chunk *c, struct bio *bio)
{
	if (c->state == CHUNK_DISCARDED)
		cow_refault(vol, c, bio);
	else
		cow_chunk_add_write(c, bio);
}

/* ---------------------------------------------------------------- step: flush */

static void cow_queue_flush(struct cow_volume *vol, struct bio *bio, u64 seq)
{
	struct cow_bio *pb = dm_per_bio_data(bio, sizeof(*pb));

	lockdep_assert_held(&vol->lock);
	pb->flush_seq = seq;
	bio_list_add(&vol->flushes, bio);
	queue_work(cow_wq, &vol->flush_work);
}

u64 cow_flush_seq_of(struct bio *bio)
{
	struct cow_bio *pb = dm_per_bio_data(bio, sizeof(*pb));

	return pb->flush_seq;
}

/*
 * Waiters stay in flush seq order, so COMMITTED releases them from the head
 * and looks at no other. They nearly always come in order (an empty flush
 * waits for the volume's latest fill seq); a FUA write to an older chunk is
 * put in its place.
 */
static void cow_add_flush_waiter(struct cow_volume *vol, struct bio *bio)
{
	struct bio_list *w = &vol->flush_waiters;
	u64 seq = cow_flush_seq_of(bio);
	struct bio *prev;

	lockdep_assert_held(&vol->lock);
	if (bio_list_empty(w) || cow_flush_seq_of(w->tail) <= seq) {
		bio_list_add(w, bio);
		return;
	}
	if (seq < cow_flush_seq_of(w->head)) {
		bio_list_add_head(w, bio);
		return;
	}
	for (prev = w->head; cow_flush_seq_of(prev->bi_next) <= seq; prev = prev->bi_next)
		;
	bio->bi_next = prev->bi_next;
	prev->bi_next = bio;
}

/* Take the waiters whose commits are all in: a prefix of the list. */
void cow_release_flush_waiters(struct cow_volume *vol,
				      struct bio_list *done)
{
	struct bio *bio;

	lockdep_assert_held(&vol->lock);
	while ((bio = bio_list_peek(&vol->flush_waiters)) &&
	       !cow_uncommitted_upto(vol, cow_flush_seq_of(bio)))
		bio_list_add(done, bio_list_pop(&vol->flush_waiters));
}

static void cow_flush_work(struct work_struct *work)
{
	struct cow_volume *vol = container_of(work, struct cow_volume, flush_work);
	struct bio_list batch, done = BIO_EMPTY_LIST, failed = BIO_EMPTY_LIST;
	struct bio_list back = BIO_EMPTY_LIST;
	unsigned long flags;
	struct bio *bio;
	u64 need = 0;
	int r;

	spin_lock_irqsave(&vol->lock, flags);
	batch = vol->flushes;
	bio_list_init(&vol->flushes);
	spin_unlock_irqrestore(&vol->lock, flags);
	if (bio_list_empty(&batch))
		return;

	r = blkdev_issue_flush(vol->cow_bdev);

	spin_lock_irqsave(&vol->lock, flags);
	while ((bio = bio_list_pop(&batch))) {
		struct cow_bio *pb = dm_per_bio_data(bio, sizeof(*pb));

		if (r) {
			bio_list_add(&failed, bio);
		} else if (!cow_uncommitted_upto(vol, pb->flush_seq)) {
			bio_list_add(&done, bio);
		} else if (cow_handing_back(bio)) {
			bio_list_add(&back, bio);
		} else {
			pb->since = jiffies;
			cow_add_flush_waiter(vol, bio);
			need = max(need, pb->flush_seq);
		}
	}
	if (need)
		cow_send_flush(vol, need);
	spin_unlock_irqrestore(&vol->lock, flags);

	if (r && !bio_list_empty(&failed))
		DMERR_LIMIT("volume %s: flushing the CoW device failed: %d",
			    vol->ident, r);
	cow_end_bios(&failed, BLK_STS_IOERR);
	cow_end_bios(&back, BLK_STS_DM_REQUEUE);
	cow_end_bios(&done, BLK_STS_OK);
}

/* ---------------------------------------------------------------- step: filled */

/*
 * The last queued write is done: the chunk is FILLED before any of its
 * writes completes upwards. Returns the writes to complete in @done.
 */
static void cow_chunk_filled(struct cow_chunk *c, struct bio_list *done)
{
	struct cow_volume *vol = c->vol;

	lockdep_assert_held(&vol->lock);
	c->state = CHUNK_FILLED;
	cow_chunk_unlist(vol, &c->granted);
	c->fill_seq = ++vol->fill_seq;
	list_add_tail(&c->list, &vol->uncommitted);
	vol->filled_uncommitted++;
	cow_queue_live(vol, &c->out, DM_COW_MSG_FILLED);
	bio_list_merge(done, &c->done);
	bio_list_init(&c->done);
	if (!bio_list_empty(&c->held)) {
		bio_list_merge(&vol->deferred, &c->held);
		bio_list_init(&c->held);
		queue_work(cow_wq, &vol->work);
	}
}

/* Complete a filled chunk's writes; FUA ones wait for the commit. */
static void cow_complete_filled(struct cow_volume *vol, u64 fill_seq,
				struct bio_list *done)
{
	struct bio_list fua = BIO_EMPTY_LIST, ok = BIO_EMPTY_LIST;
	unsigned long flags;
	struct bio *bio;

	while ((bio = bio_list_pop(done))) {
		if ((bio->bi_opf & REQ_FUA) && !bio->bi_status)
			bio_list_add(&fua, bio);
		else
			bio_list_add(&ok, bio);
	}
	if (!bio_list_empty(&fua)) {
		spin_lock_irqsave(&vol->lock, flags);
		while ((bio = bio_list_pop(&fua)))
			cow_queue_flush(vol, bio, fill_seq);
		spin_unlock_irqrestore(&vol->lock, flags);
	}
	cow_end_bios(&ok, BLK_STS_OK);
}

static void cow_queued_write_endio(struct bio *bio)
{
	struct cow_bio *pb = cow_unhook_bio(bio);
	struct cow_chunk *c = pb->chunk;
	struct cow_volume *vol = pb->vol;
	struct bio_list done = BIO_EMPTY_LIST;
	unsigned long flags;
	u64 fill_seq = 0;

	if (bio->bi_status)
		this_cpu_inc(vol->stats->errors);
	spin_lock_irqsave(&vol->lock, flags);
	bio_list_add(&c->done, bio);
	if (--c->in_flight == 0) {
		cow_chunk_filled(c, &done);
		fill_seq = c->fill_seq;
	}
	spin_unlock_irqrestore(&vol->lock, flags);

	if (fill_seq)
		cow_complete_filled(vol, fill_seq, &done);
}

/* A FUA write to a filled chunk whose mapping was not committed when sent. */
static void cow_fua_write_endio(struct bio *bio)
{
	struct cow_bio *pb = cow_unhook_bio(bio);
	struct cow_volume *vol = pb->vol;
	unsigned long flags;

	if (!bio->bi_status) {
		spin_lock_irqsave(&vol->lock, flags);
		if (cow_uncommitted_upto(vol, pb->flush_seq)) {
			cow_queue_flush(vol, bio, pb->flush_seq);
			spin_unlock_irqrestore(&vol->lock, flags);
			return;
		}
		spin_unlock_irqrestore(&vol->lock, flags);
	}
	bio_endio(bio);
}

/* Send a write to a FILLED chunk; FUA waits for the commit if needed. */
static void cow_issue_to_filled(struct cow_chunk *c, struct bio *bio,
				bool *hooked)
{
	struct cow_bio *pb = dm_per_bio_data(bio, sizeof(*pb));

	lockdep_assert_held(&c->vol->lock);
	cow_remap_to_cow(c->vol, bio, c->cow_sector);
	*hooked = false;
	if (op_is_write(bio_op(bio)) && (bio->bi_opf & REQ_FUA) && !c->committed) {
		pb->flush_seq = c->fill_seq;
		cow_hook_bio(bio, cow_fua_write_endio);
		*hooked = true;
	}
}

/* ---------------------------------------------------------------- step: write */

/* The fill is done: issue the queued writes, or fail them. */
static void cow_fill_finished(struct cow_chunk *c)
{
	struct cow_volume *vol = c->vol;
	struct bio_list writes, done = BIO_EMPTY_LIST;
	unsigned long flags;
	blk_status_t err;
	u64 fill_seq = 0;
	struct bio *bio;

	spin_lock_irqsave(&vol->lock, flags);
	err = c->fill_error;
	writes = c->queued;
	bio_list_init(&c->queued);
	if (err) {
		bio_list_merge(&done, &c->done);
		this_cpu_inc(vol->stats->errors);
		if (c->grant)
			cow_return_grant_slot(vol, c->grant, c->nr);
		cow_erase(c);
		spin_unlock_irqrestore(&vol->lock, flags);
		DMERR_LIMIT("volume %s: filling chunk %llu failed", vol->ident, c->nr);
		mempool_free(c, cow_chunk_pool);
		cow_end_bios(&writes, BLK_STS_IOERR);
		cow_end_bios(&done, err);
		return;
	}
	c->state = CHUNK_WRITING;
	c->in_flight = bio_list_size(&writes);
	if (!c->in_flight) {
		cow_chunk_filled(c, &done);
		fill_seq = c->fill_seq;
	}
	bio_list_for_each(bio, &writes) {
		cow_remap_to_cow(vol, bio, c->cow_sector);
		cow_hook_bio(bio, cow_queued_write_endio);
	}
	spin_unlock_irqrestore(&vol->lock, flags);

	while ((bio = bio_list_pop(&writes)))
		submit_bio_noacct(bio);
	if (fill_seq)
		cow_complete_filled(vol, fill_seq, &done);
}

/* ---------------------------------------------------------------- step: fill */

static void cow_fill_ended(struct cow_chunk *c, blk_status_t err)
{
	struct cow_volume *vol = c->vol;

	lockdep_assert_held(&vol->lock);
	c->fill_error = err;
	list_add_tail(&c->list, &vol->fill_done);
	queue_work(cow_wq, &vol->work);
}

/*
 * A free copy slot and the volume whose chunk takes it. The volume at the
 * head of the line gets a quantum of sectors at the start of its turn and
 * spends a chunk's worth per fill; once what is left buys no chunk, the turn
 * passes on. The quantum buys at least one chunk of any volume, so every turn
 * starts a fill, and one volume's burst of first writes does not hold back
 * another's, neither by count nor by size.
 */
static struct cow_volume *cow_get_copy_slot(void)
{
	struct cow_volume *vol = NULL, *v;
	unsigned long flags;

	spin_lock_irqsave(&cow_fills.lock, flags);
	while (cow_fills.running < max(1U, READ_ONCE(max_copies)) &&
	       !list_empty(&cow_fills.vols)) {
		v = list_first_entry(&cow_fills.vols, struct cow_volume, fill_node);
		if (!v->fill_turn) {
			v->fill_turn = true;
			v->fill_credit += cow_fills.quantum;
		}
		if (v->fill_credit >= v->chunk_sectors) {
			v->fill_credit -= v->chunk_sectors;
			cow_fills.running++;
			vol = v;
			break;
		}
		v->fill_turn = false;
		list_move_tail(&v->fill_node, &cow_fills.vols);
	}
	spin_unlock_irqrestore(&cow_fills.lock, flags);
	return vol;
}

/* The volume has no QUEUED chunk left: out of the line, its credit with it. */
static void cow_leave_fill_line(struct cow_volume *vol)
{
	lockdep_assert_held(&cow_fills.lock);
	list_del_init(&vol->fill_node);
	vol->fill_credit = 0;
	vol->fill_turn = false;
}

static void cow_put_copy_slot(void)
{
	unsigned long flags;

	spin_lock_irqsave(&cow_fills.lock, flags);
	cow_fills.running--;
	spin_unlock_irqrestore(&cow_fills.lock, flags);
}

/*
 * One part of a chunk's fill is done: a dm-kcopyd job, or a write that is
 * part of it. Any part failing fails the fill (the slot holds part old, part
 * new). True for the last part.
 */
static bool cow_fill_part_done(struct cow_chunk *c, blk_status_t err)
{
	lockdep_assert_held(&c->vol->lock);
	if (err && !c->fill_error)
		c->fill_error = err;
	return !--c->fill_parts;
}

static void cow_fill_write_endio(struct bio *bio)
{
	struct cow_bio *pb = cow_unhook_bio(bio);
	struct cow_chunk *c = pb->chunk;
	struct cow_volume *vol = c->vol;
	unsigned long flags;

	spin_lock_irqsave(&vol->lock, flags);
	bio_list_add(&c->done, bio);
	if (cow_fill_part_done(c, bio->bi_status)) {
		if (c->fill == DM_COW_FILL_NONE && !c->fill_error)
			this_cpu_inc(vol->stats->nocopy_fills);
		cow_fill_ended(c, c->fill_error);
	}
	spin_unlock_irqrestore(&vol->lock, flags);
}

/*
 * The queued writes leave the queue for @writes, for the caller to submit
 * once it has dropped the lock: they are parts of the chunk's fill.
 */
static void cow_take_fill_writes(struct cow_chunk *c, struct bio_list *writes)
{
	struct bio *bio;

	*writes = c->queued;
	bio_list_init(&c->queued);
	bio_list_for_each(bio, writes) {
		cow_remap_to_cow(c->vol, bio, c->cow_sector);
		cow_hook_bio(bio, cow_fill_write_endio);
	}
	c->fill_parts += bio_list_size(writes);
}

/* If the queued writes cover the chunk, they are its whole fill (FILLING). */
static bool cow_take_covering_writes(struct cow_chunk *c, struct bio_list *writes)
{
	lockdep_assert_held(&c->vol->lock);
	if (!cow_writes_cover_chunk(c->vol, c->nr, &c->queued))
		return false;
	c->state = CHUNK_FILLING;
	c->fill = DM_COW_FILL_NONE;
	c->fill_error = BLK_STS_OK;
	c->fill_parts = 0;
	c->copy_jobs = 0;
	cow_take_fill_writes(c, writes);
	return true;
}

static void cow_submit_bios(struct bio_list *bios)
{
	struct bio *bio;

	while ((bio = bio_list_pop(bios)))
		submit_bio_noacct(bio);
}

/* Beyond this many stretches between its queued writes, a chunk is copied whole first. */
#define COW_MAX_FILL_GAPS	4

/* The stretches of a chunk its copy or zeroing fills, in sectors from its start. */
struct cow_gaps {
	unsigned int nr;
	struct {
		sector_t offset;
		sector_t len;
	} gap[COW_MAX_FILL_GAPS];
};

/*
 * The stretches of chunk @c, up to @len sectors from its start, that its
 * queued writes leave; false if there are more than fit.
 */
static bool cow_find_gaps(struct cow_chunk *c, sector_t len, struct cow_gaps *gaps)
{
	sector_t start = cow_chunk_start(c->vol, c->nr), end = start + len;
	sector_t pos = start, next;
	struct bio *bio;

	gaps->nr = 0;
	if (bio_list_size(&c->queued) > COW_UNION_MAX_WRITES)
		return false;
	while ((pos = cow_covered_to(&c->queued, pos, end)) < end) {
		next = end;
		bio_list_for_each(bio, &c->queued)
			if (bio->bi_iter.bi_sector > pos && bio->bi_iter.bi_sector < next)
				next = bio->bi_iter.bi_sector;
		if (gaps->nr == COW_MAX_FILL_GAPS)
			return false;
		gaps->gap[gaps->nr].offset = pos - start;
		gaps->gap[gaps->nr].len = next - pos;
		gaps->nr++;
		pos = next;
	}
	return true;
}

/*
 * FILLING by dm-kcopyd: a copy (or zeroing) of each gap between the queued
 * writes, which go out beside it (returned in @writes), so each sector of the
 * slot is written once. With too many gaps the whole chunk is copied and the
 * writes wait for it.
 */
static void cow_plan_copy(struct cow_chunk *c, struct bio_list *writes, struct cow_gaps *gaps)
{
	struct cow_volume *vol = c->vol;
	/* A zeroing clears the whole slot, a copy what the base has of the chunk. */
	sector_t len = c->fill == DM_COW_FILL_ZERO ? vol->chunk_sectors : cow_chunk_len(vol, c->nr);

	lockdep_assert_held(&vol->lock);
	c->state = CHUNK_FILLING;
	c->fill_error = BLK_STS_OK;
	c->fill_parts = 0;
	vol->copies_in_flight++;
	if (cow_find_gaps(c, len, gaps)) {
		cow_take_fill_writes(c, writes);
	} else {
		gaps->nr = 1;
		gaps->gap[0].offset = 0;
		gaps->gap[0].len = len;
	}
	/* One zeroing clears several regions; a copy has one source. */
	c->copy_jobs = c->fill == DM_COW_FILL_ZERO ? 1 : gaps->nr;
	c->fill_parts += c->copy_jobs;
}

/*
 * The volume's oldest QUEUED chunk starts FILLING; it leaves the line when
 * none is left. Its queued writes go out now (@writes) when they cover the
 * chunk (no copy: @gaps is empty) or when the copy can fill around them.
 */
static struct cow_chunk *cow_take_queued(struct cow_volume *vol, struct bio_list *writes,
					 struct cow_gaps *gaps)
{
	struct cow_chunk *c;
	unsigned long flags;

	gaps->nr = 0;
	spin_lock_irqsave(&vol->lock, flags);
	c = list_first_entry_or_null(&vol->fill_queue, struct cow_chunk, list);
	if (c) {
		list_del_init(&c->list);
		if (!cow_take_covering_writes(c, writes))
			cow_plan_copy(c, writes, gaps);
	}
	if (list_empty(&vol->fill_queue)) {
		spin_lock(&cow_fills.lock);
		cow_leave_fill_line(vol);
		spin_unlock(&cow_fills.lock);
	}
	spin_unlock_irqrestore(&vol->lock, flags);
	return c;
}

/*
 * A copy or zero fill: the chunk waits in its volume's fill queue. The caller
 * starts the fills (cow_start_fills) once it has dropped the lock.
 */
static void cow_queue_fill(struct cow_chunk *c)
{
	struct cow_volume *vol = c->vol;

	lockdep_assert_held(&vol->lock);
	c->state = CHUNK_QUEUED;
	list_add_tail(&c->list, &vol->fill_queue);
	spin_lock(&cow_fills.lock);
	cow_fills.quantum = max(cow_fills.quantum, vol->chunk_sectors);
	if (list_empty(&vol->fill_node))
		list_add_tail(&vol->fill_node, &cow_fills.vols);
	spin_unlock(&cow_fills.lock);
}

static void cow_copy_done(int read_err, unsigned long write_err, void *context)
{
	struct cow_chunk *c = context;
	struct cow_volume *vol = c->vol;
	blk_status_t err = (read_err || write_err) ? BLK_STS_IOERR : BLK_STS_OK;
	unsigned long flags;
	bool copied, last;

	spin_lock_irqsave(&vol->lock, flags);
	copied = !--c->copy_jobs;
	if (copied)
		vol->copies_in_flight--;
	last = cow_fill_part_done(c, err);
	if (copied && !c->fill_error) {
		if (c->fill == DM_COW_FILL_ZERO)
			this_cpu_inc(vol->stats->zero_fills);
		else
			this_cpu_inc(vol->stats->copies);
	}
	spin_unlock_irqrestore(&vol->lock, flags);
	if (copied) {
		cow_put_copy_slot();
		/* Not started from here: waiting for a kcopyd job in kcopyd's own thread could deadlock. */
		queue_work(cow_wq, &cow_fills.work);
	}
	/* kcopyd calls back in process context: the queued writes go out from here, no worker hop. */
	if (last)
		cow_fill_finished(c);
}

static void cow_start_copy(struct cow_chunk *c, const struct cow_gaps *gaps)
{
	struct cow_volume *vol = c->vol;
	struct dm_io_region from, to[COW_MAX_FILL_GAPS];
	unsigned int i;

	for (i = 0; i < gaps->nr; i++) {
		to[i].bdev = vol->cow_bdev;
		to[i].sector = c->cow_sector + gaps->gap[i].offset;
		to[i].count = gaps->gap[i].len;
	}
	if (c->fill == DM_COW_FILL_ZERO) {
		dm_kcopyd_zero(cow_kc, gaps->nr, to, 0, cow_copy_done, c);
		return;
	}
	for (i = 0; i < gaps->nr; i++) {
		from.bdev = vol->base_bdev;
		from.sector = cow_chunk_start(vol, c->nr) + gaps->gap[i].offset;
		from.count = gaps->gap[i].len;
		dm_kcopyd_copy(cow_kc, &from, 1, &to[i], 0, cow_copy_done, c);
	}
}

/*
 * Start queued copies while there are free slots: straight from the worker
 * that placed a granted chunk (it may sleep, and holds no lock then), and
 * from the fill worker after a MAP or when a copy ends. A chunk its writes
 * cover gives its slot back at once.
 */
static void cow_start_fills(void)
{
	struct bio_list writes = BIO_EMPTY_LIST;
	struct cow_volume *vol;
	struct cow_gaps gaps;
	struct cow_chunk *c;

	while ((vol = cow_get_copy_slot())) {
		c = cow_take_queued(vol, &writes, &gaps);
		if (c && gaps.nr)
			cow_start_copy(c, &gaps);
		else
			cow_put_copy_slot();
		cow_submit_bios(&writes);
	}
}

static void cow_fill_work(struct work_struct *work)
{
	cow_start_fills();
}

/*
 * The chunk, on no list, is placed at @cow_sector (by MAP, or a grant's
 * slot). If its queued writes cover it they are its fill, returned in
 * @writes; else it is filled @fill's way (a FILL_NONE whose write a noflush
 * suspend handed back copies: the base is what the chunk holds).
 */
static void cow_start_fill(struct cow_chunk *c, sector_t cow_sector, u32 fill,
			   struct bio_list *writes)
{
	struct cow_volume *vol = c->vol;

	lockdep_assert_held(&vol->lock);
	c->cow_sector = cow_sector;
	list_add_tail(&c->granted, &vol->granted);
	if (cow_take_covering_writes(c, writes))
		return;
	c->fill = fill == DM_COW_FILL_NONE ? DM_COW_FILL_COPY : fill;
	cow_queue_fill(c);
}

/*
 * A first write to chunk @nr, which has no state, inside a live grant with
 * its slot free: the chunk takes the slot and goes to its fill, no FAULT
 * sent. Returns false if no grant has a free slot for it.
 */
static bool cow_place_granted(struct cow_volume *vol, struct cow_chunk *c, u64 nr,
			      struct bio *bio, struct bio_list *writes)
{
	sector_t cow_sector;
	u32 grant, fill;

	lockdep_assert_held(&vol->lock);
	if (!cow_take_grant_slot(vol, nr, &grant, &cow_sector, &fill))
		return false;
	cow_init_chunk(vol, c, nr, DM_COW_MSG_FILLED);
	c->grant = grant;
	cow_insert(vol, c);
	/* Queued as on a FAULTED chunk, to be the fill if it covers the chunk. */
	c->state = CHUNK_FAULTED;
	cow_chunk_add_write(c, bio);
	this_cpu_inc(vol->stats->granted_fills);
	cow_start_fill(c, cow_sector, fill, writes);
	return true;
}

/* ---------------------------------------------------------------- worker */

static void cow_place_deferred(struct cow_volume *vol, struct bio *bio)
{
	u64 nr = cow_chunk_of(vol, bio->bi_iter.bi_sector);
	struct cow_chunk *c, *spare = NULL;
	struct bio_list fill_writes = BIO_EMPTY_LIST;
	unsigned long flags;
	bool submit = false, hooked = false, back = false, granted = false;
	sector_t cow_sector;

	for (;;) {
		spin_lock_irqsave(&vol->lock, flags);
		c = cow_lookup(vol, nr);
		if (c || spare)
			break;
		if (cow_committed_sector(vol, nr, &cow_sector))
			break;
		spin_unlock_irqrestore(&vol->lock, flags);
		spare = mempool_alloc(cow_chunk_pool, GFP_NOIO);
	}
	if (!c && cow_committed_sector(vol, nr, &cow_sector)) {
		/* Committed while the write waited to be placed. */
		spin_unlock_irqrestore(&vol->lock, flags);
		if (spare)
			mempool_free(spare, cow_chunk_pool);
		cow_remap_to_cow(vol, bio, cow_sector);
		submit_bio_noacct(bio);
		return;
	}
	if (cow_hand_back_write(vol, c, bio)) {
		back = true;
	} else if (!c) {
		granted = cow_place_granted(vol, spare, nr, bio, &fill_writes);
		if (!granted)
			cow_new_fault(vol, spare, nr, bio);
		spare = NULL;
	} else if (c->state == CHUNK_FILLED) {
		cow_issue_to_filled(c, bio, &hooked);
		submit = true;
	} else {
		cow_add_write(vol, c, bio);
	}
	spin_unlock_irqrestore(&vol->lock, flags);

	if (spare)
		mempool_free(spare, cow_chunk_pool);
	if (!bio_list_empty(&fill_writes))
		cow_submit_bios(&fill_writes);
	else if (granted)
		cow_start_fills();
	if (submit)
		submit_bio_noacct(bio);
	if (back) {
		bio->bi_status = BLK_STS_DM_REQUEUE;
		bio_endio(bio);
	}
}

/*
 * A bitmap of the volume's chunks (forgotten, discarded_map), allocated at
 * its first use, outside every lock and without recursing into I/O (dmcowd
 * sits in the guests' I/O path); set under targets_lock.
 */
static int cow_alloc_chunk_map(struct cow_volume *vol, unsigned long **mapp)
{
	unsigned long *map;
	unsigned int noio;

	if (READ_ONCE(*mapp))
		return 0;
	noio = memalloc_noio_save();
	map = kvcalloc(BITS_TO_LONGS(vol->nr_chunks), sizeof(unsigned long), GFP_KERNEL);
	memalloc_noio_restore(noio);
	if (!map)
		return -ENOMEM;
	mutex_lock(&vol->targets_lock);
	if (!*mapp) {
		WRITE_ONCE(*mapp, map);
		map = NULL;
	}
	mutex_unlock(&vol->targets_lock);
	kvfree(map);
	return 0;
}

/* Chunk @c, committed and on no list, turns DISCARDED: DISCARD goes out. */
static void cow_chunk_discarded(struct cow_volume *vol, struct cow_chunk *c)
{
	lockdep_assert_held(&vol->lock);
	c->state = CHUNK_DISCARDED;
	c->committed = false;
	set_bit(c->nr, vol->discarded_map);
	list_add_tail(&c->list, &vol->discarded);
	vol->discarded_pending++;
	this_cpu_inc(vol->stats->discards);
	cow_queue_live(vol, &c->out, DM_COW_MSG_DISCARD);
}

/*
 * Whether a chunk with no state in the tree is committed: in the remap index,
 * forgotten, or served by the mapped segment @ct (which holds committed chunks
 * only, whether or not this kernel ever had their remaps).
 */
static bool cow_committed_without_state(struct cow_volume *vol, struct cow_target *ct, u64 nr)
{
	sector_t cow_sector;

	return ct->mapped || cow_committed_sector(vol, nr, &cow_sector) ||
	       (vol->forgotten && test_bit(nr, vol->forgotten));
}

/*
 * A whole-chunk discard in a discard_unmap segment: a committed or forgotten
 * chunk turns DISCARDED and reads as the base from now on; any other is left
 * as it is (a discard is advisory). The discard completes either way.
 */
static void cow_unmap_discarded(struct cow_volume *vol, struct bio *bio)
{
	struct cow_bio *pb = dm_per_bio_data(bio, sizeof(*pb));
	u64 nr = cow_chunk_of(vol, bio->bi_iter.bi_sector);
	struct cow_chunk *c, *spare;
	unsigned long flags;

	if (cow_alloc_chunk_map(vol, &vol->discarded_map)) {
		DMWARN_LIMIT("volume %s: no memory to unmap discarded chunk %llu; it stays mapped",
			     vol->ident, nr);
		bio_endio(bio);
		return;
	}
	spare = mempool_alloc(cow_chunk_pool, GFP_NOIO);
	/* The forgotten mark changes under targets_lock, as FORGET sets it. */
	mutex_lock(&vol->targets_lock);
	spin_lock_irqsave(&vol->lock, flags);
	c = cow_lookup(vol, nr);
	if (c) {
		if (c->state != CHUNK_FILLED || !c->committed)
			c = NULL;	/* in flight, or DISCARDED already */
	} else if (cow_committed_without_state(vol, pb->ti->private, nr)) {
		c = spare;
		spare = NULL;
		cow_init_chunk(vol, c, nr, DM_COW_MSG_DISCARD);
		/* In the tree before the remap goes: lockless lookups then miss both. */
		cow_insert(vol, c);
		xa_erase(&vol->remaps, nr);
		if (vol->forgotten)
			__clear_bit(nr, vol->forgotten);
	}
	if (c)
		cow_chunk_discarded(vol, c);
	spin_unlock_irqrestore(&vol->lock, flags);
	mutex_unlock(&vol->targets_lock);
	if (spare)
		mempool_free(spare, cow_chunk_pool);
	bio_endio(bio);
}

static void cow_volume_work(struct work_struct *work)
{
	struct cow_volume *vol = container_of(work, struct cow_volume, work);
	struct bio_list bios;
	unsigned long flags;
	struct cow_chunk *c;
	struct bio *bio;

	for (;;) {
		spin_lock_irqsave(&vol->lock, flags);
		c = list_first_entry_or_null(&vol->fill_done, struct cow_chunk, list);
		if (c)
			list_del_init(&c->list);
		spin_unlock_irqrestore(&vol->lock, flags);
		if (!c)
			break;
		cow_fill_finished(c);
	}

	spin_lock_irqsave(&vol->lock, flags);
	bios = vol->deferred;
	bio_list_init(&vol->deferred);
	spin_unlock_irqrestore(&vol->lock, flags);
	while ((bio = bio_list_pop(&bios))) {
		if (bio_op(bio) == REQ_OP_DISCARD)
			cow_unmap_discarded(vol, bio);
		else
			cow_place_deferred(vol, bio);
	}
}

/* ---------------------------------------------------------------- map */

static int cow_map_write(struct cow_volume *vol, struct bio *bio)
{
	u64 nr = cow_chunk_of(vol, bio->bi_iter.bi_sector);
	sector_t cow_sector;
	struct cow_chunk *c;
	unsigned long flags;
	bool hooked;

	/* Committed: straight to the CoW device, no lock, no FUA wait. */
	if (cow_committed_sector(vol, nr, &cow_sector)) {
		cow_remap_to_cow(vol, bio, cow_sector);
		return DM_MAPIO_REMAPPED;
	}
	spin_lock_irqsave(&vol->lock, flags);
	c = cow_lookup(vol, nr);
	if (!c && cow_committed_sector(vol, nr, &cow_sector)) {
		spin_unlock_irqrestore(&vol->lock, flags);
		cow_remap_to_cow(vol, bio, cow_sector);
		return DM_MAPIO_REMAPPED;
	}
	if (c && c->state == CHUNK_FILLED) {
		cow_issue_to_filled(c, bio, &hooked);
		spin_unlock_irqrestore(&vol->lock, flags);
		if (!hooked)
			return DM_MAPIO_REMAPPED;
		submit_bio_noacct(bio);
		return DM_MAPIO_SUBMITTED;
	}
	if (cow_hand_back_write(vol, c, bio)) {
		spin_unlock_irqrestore(&vol->lock, flags);
		return DM_MAPIO_REQUEUE;
	}
	if (c) {
		cow_add_write(vol, c, bio);
	} else {
		/* No chunk state yet: allocating it may sleep, so defer. */
		bio_list_add(&vol->deferred, bio);
		queue_work(cow_wq, &vol->work);
	}
	spin_unlock_irqrestore(&vol->lock, flags);
	return DM_MAPIO_SUBMITTED;
}

/*
 * Reads and discards: the CoW device for FILLED and committed chunks, else
 * base or nothing. Committed ones are found without the volume's lock.
 */
static bool cow_filled_sector(struct cow_volume *vol, struct bio *bio,
			      sector_t *cow_sector)
{
	u64 nr = cow_chunk_of(vol, bio->bi_iter.bi_sector);
	struct cow_chunk *c;
	unsigned long flags;
	bool filled;

	if (cow_committed_sector(vol, nr, cow_sector))
		return true;
	spin_lock_irqsave(&vol->lock, flags);
	c = cow_lookup(vol, nr);
	filled = c && c->state == CHUNK_FILLED;
	if (filled)
		*cow_sector = c->cow_sector;
	else if (!c)
		filled = cow_committed_sector(vol, nr, cow_sector);
	spin_unlock_irqrestore(&vol->lock, flags);
	return filled;
}

/* One chunk at a time: dm sends the rest as another bio. */
static void cow_cut_at_chunk_end(struct cow_volume *vol, struct bio *bio)
{
	sector_t left = vol->chunk_sectors - (bio->bi_iter.bi_sector & (vol->chunk_sectors - 1));

	if (bio_sectors(bio) > left)
		dm_accept_partial_bio(bio, left);
}

/*
 * A mapped segment's bio goes the cow way (true, cut to its first chunk) for
 * a whole-chunk discard to unmap, or when its first chunk has state of a
 * discard; else it goes straight (false), cut before the first chunk that
 * has. Without a lock: a bit set meanwhile only concerns bios racing the
 * discard, which the daemon's reload waits for before it reuses the place.
 */
static bool cow_mapped_takes_cow_way(struct cow_target *ct, struct bio *bio)
{
	struct cow_volume *vol = ct->vol;
	unsigned long *map = READ_ONCE(vol->discarded_map);
	sector_t sector = bio->bi_iter.bi_sector;
	u64 first = cow_chunk_of(vol, sector);
	u64 last, nr;

	if (ct->discard_unmap && bio_op(bio) == REQ_OP_DISCARD) {
		cow_cut_at_chunk_end(vol, bio);
		if (cow_bio_covers_chunk(vol, bio))
			return true;
	}
	if (!map || !bio_sectors(bio))
		return false;
	last = cow_chunk_of(vol, bio_end_sector(bio) - 1);
	nr = find_next_bit(map, last + 1, first);
	if (nr > last)
		return false;
	if (nr == first) {
		cow_cut_at_chunk_end(vol, bio);
		return true;
	}
	dm_accept_partial_bio(bio, cow_chunk_start(vol, nr) - sector);
	return false;
}

/* Whole-chunk discards of discard_unmap segments go to the worker (it may sleep). */
static int cow_defer_discard(struct cow_volume *vol, struct bio *bio)
{
	unsigned long flags;

	spin_lock_irqsave(&vol->lock, flags);
	bio_list_add(&vol->deferred, bio);
	spin_unlock_irqrestore(&vol->lock, flags);
	queue_work(cow_wq, &vol->work);
	return DM_MAPIO_SUBMITTED;
}

static int cow_map(struct dm_target *ti, struct bio *bio)
{
	struct cow_target *ct = ti->private;
	struct cow_volume *vol = ct->vol;
	struct cow_bio *pb = dm_per_bio_data(bio, sizeof(*pb));
	sector_t sector = bio->bi_iter.bi_sector;
	sector_t cow_sector;
	unsigned long flags;

	pb->vol = vol;
	pb->ti = ti;
	pb->chunk = NULL;
	pb->flush_seq = 0;

	if (bio->bi_opf & REQ_PREFLUSH) {
		spin_lock_irqsave(&vol->lock, flags);
		cow_queue_flush(vol, bio, vol->fill_seq);
		spin_unlock_irqrestore(&vol->lock, flags);
		return DM_MAPIO_SUBMITTED;
	}

	switch (bio_op(bio)) {
	case REQ_OP_READ:
	case REQ_OP_WRITE:
	case REQ_OP_WRITE_ZEROES:
	case REQ_OP_DISCARD:
		break;
	default:
		return DM_MAPIO_KILL;
	}

	/*
	 * Committed whole: straight to its place, as dm-linear, whatever the
	 * chunks' index (FORGET may have dropped their remaps), unless a
	 * discard gave a chunk state.
	 */
	if (ct->mapped && !cow_mapped_takes_cow_way(ct, bio)) {
		bio_set_dev(bio, vol->cow_bdev);
		bio->bi_iter.bi_sector = ct->mapped_sector + dm_target_offset(ti, sector);
		return DM_MAPIO_REMAPPED;
	}

	cow_cut_at_chunk_end(vol, bio);

	switch (bio_op(bio)) {
	case REQ_OP_WRITE:
	case REQ_OP_WRITE_ZEROES:
		/* Zeroes are written like data: a whole chunk of them needs no fill. */
		return cow_map_write(vol, bio);
	case REQ_OP_DISCARD:
		if (ct->discard_unmap && cow_bio_covers_chunk(vol, bio))
			return cow_defer_discard(vol, bio);
		/* Unmapped chunks keep reading as the base: nothing to do. */
		if (cow_filled_sector(vol, bio, &cow_sector)) {
			cow_remap_to_cow(vol, bio, cow_sector);
			return DM_MAPIO_REMAPPED;
		}
		bio_endio(bio);
		return DM_MAPIO_SUBMITTED;
	default:
		if (cow_filled_sector(vol, bio, &cow_sector))
			cow_remap_to_cow(vol, bio, cow_sector);
		else
			bio_set_dev(bio, vol->base_bdev);
		return DM_MAPIO_REMAPPED;
	}
}

/* ---------------------------------------------------------------- noflush suspend */

/* Move the bios of target @ti from @from to @to; the others keep their order. */
static void cow_take_bios_of(struct bio_list *from, struct dm_target *ti,
			     struct bio_list *to)
{
	struct bio_list keep = BIO_EMPTY_LIST;
	struct bio *bio;

	while ((bio = bio_list_pop(from))) {
		struct cow_bio *pb = dm_per_bio_data(bio, sizeof(*pb));

		bio_list_add(pb->ti == ti ? to : &keep, bio);
	}
	*from = keep;
}

/*
 * A noflush suspend must not wait for answers the daemon may not give (a full
 * CoW space, no daemon attached): the segment's writes on FAULTED chunks and
 * its flushes waiting for COMMITTED go back to dm core (as dm-thin's
 * requeue_io does), which maps them again after the resume. A FAULTED chunk
 * stays FAULTED without bios: the daemon's answer still counts (a FILL_NONE
 * then copies, see cow_handle_map), and the writes queue on the chunk again
 * after the resume. Writes being filled or written complete by I/O. A suspend
 * with flush waits for everything, as before.
 */
static void cow_presuspend(struct dm_target *ti)
{
	struct cow_target *ct = ti->private;
	struct cow_volume *vol = ct->vol;
	struct bio_list back = BIO_EMPTY_LIST;
	struct cow_chunk *c;
	unsigned long flags;

	if (!dm_noflush_suspending(ti))
		return;
	spin_lock_irqsave(&vol->lock, flags);
	list_for_each_entry(c, &vol->faulted, list)
		cow_take_bios_of(&c->queued, ti, &back);
	cow_take_bios_of(&vol->flush_waiters, ti, &back);
	spin_unlock_irqrestore(&vol->lock, flags);
	cow_end_bios(&back, BLK_STS_DM_REQUEUE);
}

/* ---------------------------------------------------------------- volumes */

static struct cow_volume *cow_find_volume_by_ident(const char *ident)
{
	struct cow_volume *vol;

	lockdep_assert_held(&cow_volumes_lock);
	list_for_each_entry(vol, &cow_volumes, node)
		if (!strcmp(vol->ident, ident))
			return vol;
	return NULL;
}

/* A reference for a control message's handler; NULL if the id is not live. */
struct cow_volume *cow_get_volume(u32 id)
{
	struct cow_volume *vol;

	rcu_read_lock();
	vol = xa_load(&cow_volume_ids, id);
	if (vol && !refcount_inc_not_zero(&vol->users))
		vol = NULL;
	rcu_read_unlock();
	return vol;
}

void cow_put_volume(struct cow_volume *vol)
{
	if (refcount_dec_and_test(&vol->users))
		wake_up_var(&vol->users);
}

/*
 * A reference of the volume's own to one of its devices, opened shared (no
 * holder) for reading: the volume's bios go out whatever the open mode, and
 * each table holds the devices with its own mode.
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 9, 0)
static struct block_device *cow_hold_bdev(dev_t dev, struct file **file)
{
	struct file *f = bdev_file_open_by_dev(dev, BLK_OPEN_READ, NULL, NULL);

	if (IS_ERR(f))
		return ERR_CAST(f);
	*file = f;
	return file_bdev(f);
}

static void cow_release_bdev(struct block_device *bdev, struct file *file)
{
	fput(file);
}
#elif LINUX_VERSION_CODE < KERNEL_VERSION(6, 5, 0)
static struct block_device *cow_hold_bdev(dev_t dev, struct file **file)
{
	*file = NULL;
	return blkdev_get_by_dev(dev, FMODE_READ, NULL);
}

static void cow_release_bdev(struct block_device *bdev, struct file *file)
{
	blkdev_put(bdev, FMODE_READ);
}
#else
#error "dm-cow: no way to hold a block device written for kernels 6.5 to 6.8"
#endif

static int cow_hold_bdevs(struct cow_volume *vol)
{
	vol->base_bdev = cow_hold_bdev(vol->base_dev, &vol->base_file);
	if (IS_ERR(vol->base_bdev))
		return PTR_ERR(vol->base_bdev);
	vol->cow_bdev = cow_hold_bdev(vol->cow_dev, &vol->cow_file);
	if (IS_ERR(vol->cow_bdev)) {
		cow_release_bdev(vol->base_bdev, vol->base_file);
		return PTR_ERR(vol->cow_bdev);
	}
	return 0;
}

/* A volume no lookup can reach any more, or never published. */
static void cow_free_volume(struct cow_volume *vol)
{
	free_percpu(vol->stats);
	cow_release_bdev(vol->cow_bdev, vol->cow_file);
	cow_release_bdev(vol->base_bdev, vol->base_file);
	mutex_destroy(&vol->targets_lock);
	/* A lookup that raced the erase may still read vol->users. */
	kfree_rcu(vol, rcu);
}

/* Allocated before the volume mutex is taken: nothing allocates under it. */
static struct cow_volume *cow_alloc_volume(const char *ident,
					   struct dm_dev *base,
					   struct dm_dev *cow, u32 chunk_sectors)
{
	struct cow_volume *vol = kzalloc(sizeof(*vol), GFP_KERNEL);
	int r;

	if (!vol)
		return ERR_PTR(-ENOMEM);
	vol->stats = alloc_percpu(struct cow_stats);
	if (!vol->stats) {
		kfree(vol);
		return ERR_PTR(-ENOMEM);
	}
	vol->base_dev = base->bdev->bd_dev;
	vol->cow_dev = cow->bdev->bd_dev;
	r = cow_hold_bdevs(vol);
	if (r) {
		free_percpu(vol->stats);
		kfree(vol);
		return ERR_PTR(r);
	}
	refcount_set(&vol->users, 1);
	mutex_init(&vol->targets_lock);
	vol->targets = RB_ROOT_CACHED;
	strscpy(vol->ident, ident, sizeof(vol->ident));
	vol->volume_sectors = bdev_nr_sectors(base->bdev);
	vol->chunk_sectors = chunk_sectors;
	vol->chunk_shift = ilog2(chunk_sectors);
	vol->nr_chunks = DIV_ROUND_UP_ULL(vol->volume_sectors, chunk_sectors);
	xa_init(&vol->remaps);
	spin_lock_init(&vol->lock);
	vol->chunks = RB_ROOT;
	INIT_LIST_HEAD(&vol->faulted);
	INIT_LIST_HEAD(&vol->uncommitted);
	INIT_LIST_HEAD(&vol->granted);
	INIT_LIST_HEAD(&vol->fill_queue);
	INIT_LIST_HEAD(&vol->fill_done);
	INIT_LIST_HEAD(&vol->discarded);
	vol->grants = RB_ROOT_CACHED;
	cow_out_init(&vol->out_grant_low, DM_COW_MSG_GRANT_LOW);
	bio_list_init(&vol->deferred);
	bio_list_init(&vol->flushes);
	bio_list_init(&vol->flush_waiters);
	cow_out_init(&vol->out_volume, DM_COW_MSG_VOLUME);
	cow_out_init(&vol->out_flush, DM_COW_MSG_FLUSH);
	INIT_LIST_HEAD(&vol->out);
	cow_out_init(&vol->out_turn, COW_OUT_TURN);
	INIT_LIST_HEAD(&vol->fill_node);
	INIT_WORK(&vol->work, cow_volume_work);
	INIT_WORK(&vol->flush_work, cow_flush_work);
	init_waitqueue_head(&vol->commit_wait);
	return vol;
}

/*
 * Give the volume its id and announce it. The xarray may need a node: the
 * allocation must not recurse into I/O while the volume mutex is held.
 */
static int cow_publish_volume(struct cow_volume *vol)
{
	unsigned int noio = memalloc_noio_save();
	unsigned long flags;
	int r;

	lockdep_assert_held(&cow_volumes_lock);
	r = xa_alloc_cyclic(&cow_volume_ids, &vol->id, vol, xa_limit_32b,
			    &cow_next_volume_id, GFP_KERNEL);
	memalloc_noio_restore(noio);
	if (r < 0)
		return r;
	list_add_tail(&vol->node, &cow_volumes);
	spin_lock_irqsave(&vol->lock, flags);
	/* No replay runs: HELLO holds the volume mutex through it. */
	vol->stage = cow_daemon_attached() ? STAGE_LIVE : STAGE_NONE;
	cow_queue_out(&vol->out_volume, DM_COW_MSG_VOLUME);
	spin_unlock_irqrestore(&vol->lock, flags);
	return 0;
}

/* No control message handler holds the volume once this returns. */
static void cow_unpublish_volume(struct cow_volume *vol)
{
	lockdep_assert_held(&cow_volumes_lock);
	list_del(&vol->node);
	xa_erase(&cow_volume_ids, vol->id);
	cow_put_volume(vol);
	wait_var_event(&vol->users, !refcount_read(&vol->users));
}

/*
 * Unqueue the volume's messages and take it out of the fill line; a daemon
 * that was told about the volume learns it is gone (@gone, if not NULL, is
 * used for that and then owned by the queue). Returns the bios left, none
 * expected: no table uses the volume.
 */
static bool cow_detach_volume(struct cow_volume *vol, struct cow_gone *gone,
			      struct bio_list *orphans)
{
	struct cow_chunk *c;
	unsigned long flags;
	bool gone_used = false;

	spin_lock_irqsave(&vol->lock, flags);
	/* Only chunks on these lists can have a message queued. */
	list_for_each_entry(c, &vol->faulted, list)
		cow_unqueue_out(&c->out);
	list_for_each_entry(c, &vol->uncommitted, list)
		cow_unqueue_out(&c->out);
	list_for_each_entry(c, &vol->granted, granted) {
		cow_unqueue_out(&c->out);
		if (c->state == CHUNK_QUEUED)
			list_del_init(&c->list);
	}
	spin_lock(&cow_fills.lock);
	cow_leave_fill_line(vol);
	spin_unlock(&cow_fills.lock);

	gone_used = cow_queue_gone(vol, gone);

	bio_list_merge(orphans, &vol->deferred);
	bio_list_merge(orphans, &vol->flushes);
	bio_list_merge(orphans, &vol->flush_waiters);
	spin_unlock_irqrestore(&vol->lock, flags);
	return gone_used;
}

static void cow_destroy_volume(struct cow_volume *vol, struct cow_gone *gone)
{
	struct bio_list orphans = BIO_EMPTY_LIST;
	struct cow_chunk *c;
	struct rb_node *n;
	unsigned long flags;
	unsigned int i;

	lockdep_assert_held(&cow_volumes_lock);
	cow_unpublish_volume(vol);
	cancel_work_sync(&vol->work);
	cancel_work_sync(&vol->flush_work);
	if (cow_detach_volume(vol, gone, &orphans))
		gone = NULL;
	/* The fill worker may still hold the volume it took from the line. */
	flush_work(&cow_fills.work);

	/*
	 * Nothing can reach the volume's chunks any more (not findable, no
	 * message queued, no table), so free them in batches, with interrupts
	 * back on and a chance to reschedule in between.
	 */
	do {
		spin_lock_irqsave(&vol->lock, flags);
		for (i = 0; i < COW_FREE_BATCH && (n = rb_first(&vol->chunks)); i++) {
			c = rb_entry(n, struct cow_chunk, node);
			/* No table uses the volume, so no bio can be left; be safe. */
			bio_list_merge(&orphans, &c->queued);
			bio_list_merge(&orphans, &c->held);
			bio_list_merge(&orphans, &c->done);
			cow_erase(c);
			mempool_free(c, cow_chunk_pool);
		}
		spin_unlock_irqrestore(&vol->lock, flags);
		cond_resched();
	} while (n);

	cow_free_grants(vol);
	kfree(gone);
	cow_end_bios(&orphans, BLK_STS_IOERR);
	xa_destroy(&vol->remaps);
	kvfree(vol->forgotten);
	kvfree(vol->discarded_map);
	cow_free_volume(vol);
}

/* ---------------------------------------------------------------- target */

static int cow_parse_chunk_sectors(struct dm_target *ti, const char *arg,
				   u32 *chunk_sectors)
{
	unsigned int v;

	if (kstrtouint(arg, 10, &v)) {
		ti->error = "chunk_sectors is not a number";
		return -EINVAL;
	}
	if (v < 8 || !is_power_of_2(v) || v > COW_MAX_CHUNK_SECTORS) {
		ti->error = "chunk_sectors must be a power of two between 8 and 2097152";
		return -EINVAL;
	}
	*chunk_sectors = v;
	return 0;
}

/* [<#opt_args> [mapped <cow_sector>] [discard_unmap]] */
static int cow_parse_opt_args(struct dm_target *ti, unsigned int argc, char **argv,
			      struct cow_target *ct)
{
	unsigned long long v;
	unsigned int n, i;

	if (!argc)
		return 0;
	if (kstrtouint(argv[0], 10, &n)) {
		ti->error = "#opt_args is not a number";
		return -EINVAL;
	}
	if (n != argc - 1) {
		ti->error = "#opt_args does not match the number of optional arguments";
		return -EINVAL;
	}
	for (i = 1; i <= n; i++) {
		if (!strcmp(argv[i], "discard_unmap")) {
			if (ct->discard_unmap) {
				ti->error = "discard_unmap given twice";
				return -EINVAL;
			}
			ct->discard_unmap = true;
			continue;
		}
		if (strcmp(argv[i], "mapped")) {
			ti->error = "Unknown optional argument";
			return -EINVAL;
		}
		if (ct->mapped) {
			ti->error = "mapped given twice";
			return -EINVAL;
		}
		if (i == n) {
			ti->error = "mapped takes exactly one argument, <cow_sector>";
			return -EINVAL;
		}
		if (kstrtoull(argv[++i], 10, &v)) {
			ti->error = "mapped <cow_sector> is not a number";
			return -EINVAL;
		}
		ct->mapped = true;
		ct->mapped_sector = v;
	}
	return 0;
}

static int cow_check_ident(struct dm_target *ti, const char *ident)
{
	size_t len = strnlen(ident, DM_COW_IDENT_LEN);
	size_t i;

	if (!len || len >= DM_COW_IDENT_LEN) {
		ti->error = "ident must be 1 to 63 characters";
		return -EINVAL;
	}
	for (i = 0; i < len; i++) {
		if (!isgraph(ident[i])) {
			ti->error = "ident must be printable characters without spaces";
			return -EINVAL;
		}
	}
	return 0;
}

/*
 * A mapped segment's chunks are where the daemon placed them: each at a
 * chunk-aligned place, all of them inside the CoW device.
 */
static int cow_check_mapped(struct dm_target *ti, struct cow_target *ct,
			    u32 chunk_sectors)
{
	sector_t cow_sectors = bdev_nr_sectors(ct->cow->bdev);

	if (ct->mapped_sector & (chunk_sectors - 1)) {
		ti->error = "mapped <cow_sector> is not a multiple of chunk_sectors";
		return -EINVAL;
	}
	if (ct->mapped_sector > cow_sectors || ti->len > cow_sectors - ct->mapped_sector) {
		ti->error = "mapped segment ends beyond the CoW device";
		return -EINVAL;
	}
	return 0;
}

static int cow_check_geometry(struct dm_target *ti, struct cow_target *ct,
			      u32 chunk_sectors)
{
	sector_t base_sectors = bdev_nr_sectors(ct->base->bdev);
	sector_t end = ti->begin + ti->len;

	if (ct->base->bdev->bd_dev == ct->cow->bdev->bd_dev) {
		ti->error = "base_dev and cow_dev are the same device";
		return -EINVAL;
	}
	/* A fill copies or zeroes whole chunks: each must be whole blocks of both. */
	if ((chunk_sectors << SECTOR_SHIFT) < bdev_logical_block_size(ct->base->bdev) ||
	    (chunk_sectors << SECTOR_SHIFT) < bdev_logical_block_size(ct->cow->bdev)) {
		ti->error = "chunk_sectors is smaller than the base or CoW device's logical block size";
		return -EINVAL;
	}
	if (base_sectors < end) {
		ti->error = "base_dev is shorter than the segment's end";
		return -EINVAL;
	}
	if (ti->begin & (chunk_sectors - 1)) {
		ti->error = "segment start is not a multiple of chunk_sectors";
		return -EINVAL;
	}
	if ((end & (chunk_sectors - 1)) && end != base_sectors) {
		ti->error = "segment end is neither a multiple of chunk_sectors nor the base's end";
		return -EINVAL;
	}
	return ct->mapped ? cow_check_mapped(ti, ct, chunk_sectors) : 0;
}

/*
 * A table older than the daemon's last reload would put a cow segment over a
 * chunk the kernel has forgotten; reads of it would silently return the base.
 */
static bool cow_covers_forgotten(struct cow_volume *vol, struct cow_target *ct)
{
	lockdep_assert_held(&vol->targets_lock);
	return vol->forgotten &&
	       find_next_bit(vol->forgotten, ct->chunks.last + 1, ct->chunks.start) <=
	       ct->chunks.last;
}

static int cow_check_same_volume(struct dm_target *ti, struct cow_volume *vol,
				 struct cow_target *ct, u32 chunk_sectors)
{
	if (vol->base_dev != ct->base->bdev->bd_dev ||
	    vol->cow_dev != ct->cow->bdev->bd_dev) {
		ti->error = "ident already in use with other base or CoW device";
		return -EINVAL;
	}
	if (vol->chunk_sectors != chunk_sectors) {
		ti->error = "ident already in use with another chunk_sectors";
		return -EINVAL;
	}
	if (vol->volume_sectors != bdev_nr_sectors(ct->base->bdev)) {
		ti->error = "base_dev changed size since the volume was created";
		return -EINVAL;
	}
	return 0;
}

/*
 * A mapped segment holds committed chunks only, and a granted slot not yet
 * used is none: its write would go to the mapped place, not the slot's.
 */
static int cow_check_mapped_grants(struct dm_target *ti, struct cow_volume *vol,
				   struct cow_target *ct)
{
	struct cow_grant *g;
	unsigned long flags;
	u32 id = 0;

	spin_lock_irqsave(&vol->lock, flags);
	g = cow_grant_free_slot_in(vol, ct->chunks.start, ct->chunks.last);
	if (g)
		id = g->id;
	spin_unlock_irqrestore(&vol->lock, flags);
	if (!id)
		return 0;
	DMERR("volume %s: a mapped segment over chunks %lu-%lu covers a free slot of live grant %u",
	      vol->ident, ct->chunks.start, ct->chunks.last, id);
	ti->error = "mapped segment covers a free slot of a live grant: revoke it first";
	return -EINVAL;
}

/* Register the segment's range, unless it covers a forgotten chunk. */
static int cow_add_target(struct dm_target *ti, struct cow_volume *vol,
			  struct cow_target *ct)
{
	int r = 0;

	/* Mapped: never looks at a chunk's remap, so forgotten ones are fine. */
	if (ct->mapped)
		return cow_check_mapped_grants(ti, vol, ct);
	mutex_lock(&vol->targets_lock);
	if (cow_covers_forgotten(vol, ct)) {
		ti->error = "segment covers chunks already moved to mapped segments and forgotten: load the daemon's current table, not an older one";
		r = -EINVAL;
	} else {
		interval_tree_insert(&ct->chunks, &vol->targets);
	}
	mutex_unlock(&vol->targets_lock);
	return r;
}

/*
 * dm sends its empty flush to every segment of a table that asks for one, but
 * a cow segment's flush covers its whole volume, so one segment of the volume
 * per table takes them: a table's first segment of the volume finds another
 * table (or none) in vol->flush_table and takes the role. The segment that
 * set vol->flush_table clears it when destroyed, so a table freed and another
 * allocated at its address cannot be taken for one that has its flush segment.
 * Tables of two devices constructed at once may give a table two flush
 * segments (one flush more), never none.
 */
static void cow_take_flushes(struct dm_target *ti, struct cow_volume *vol)
{
	lockdep_assert_held(&cow_volumes_lock);
	if (vol->flush_table == ti->table)
		return;
	vol->flush_table = ti->table;
	ti->num_flush_bios = 1;
}

static int cow_attach_volume(struct dm_target *ti, struct cow_target *ct,
			     const char *ident, u32 chunk_sectors)
{
	struct cow_volume *fresh, *vol;
	int r;

	fresh = cow_alloc_volume(ident, ct->base, ct->cow, chunk_sectors);
	if (IS_ERR(fresh)) {
		ti->error = PTR_ERR(fresh) == -ENOMEM ? "Cannot allocate volume" :
			    "Cannot hold the base and CoW devices for the volume";
		return PTR_ERR(fresh);
	}
	mutex_lock(&cow_volumes_lock);
	vol = cow_find_volume_by_ident(ident);
	if (vol) {
		r = cow_check_same_volume(ti, vol, ct, chunk_sectors);
		if (!r)
			r = cow_add_target(ti, vol, ct);
		if (r)
			goto out;
	} else {
		/* Not findable yet: its first target needs no lock. */
		if (!ct->mapped)
			interval_tree_insert(&ct->chunks, &fresh->targets);
		r = cow_publish_volume(fresh);
		if (r) {
			ti->error = "Cannot allocate volume id";
			goto out;
		}
		vol = fresh;
		fresh = NULL;
	}
	/* A dying volume is revived: its closers stop waiting, this target owns it. */
	if (!vol->refs++)
		wake_up_all(&vol->commit_wait);
	ct->vol = vol;
	cow_take_flushes(ti, vol);
out:
	mutex_unlock(&cow_volumes_lock);
	if (fresh)
		cow_free_volume(fresh);
	return r;
}

/*
 * Discards only ever go to the CoW device (the base is read-only), so they
 * are offered when it takes them, whatever the base does. dm splits them at
 * chunk boundaries where it can (max_discard_granularity), cow_map where not.
 */
static void cow_offer_discards(struct dm_target *ti, struct cow_target *ct)
{
	if (!bdev_max_discard_sectors(ct->cow->bdev))
		return;
	ti->num_discard_bios = 1;
	ti->discards_supported = true;
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 5, 0)
	ti->max_discard_granularity = true;
#endif
}

/*
 * <ident> <base_dev> <cow_dev> <chunk_sectors> [<#opt_args> [mapped <cow_sector>]]
 */
static int cow_ctr(struct dm_target *ti, unsigned int argc, char **argv)
{
	struct cow_target *ct;
	u32 chunk_sectors;
	int r;

	if (argc < 4) {
		ti->error = "Expected <ident> <base_dev> <cow_dev> <chunk_sectors> [<#opt_args> [mapped <cow_sector>]]";
		return -EINVAL;
	}
	r = cow_check_ident(ti, argv[0]);
	if (r)
		return r;
	r = cow_parse_chunk_sectors(ti, argv[3], &chunk_sectors);
	if (r)
		return r;

	ct = kzalloc(sizeof(*ct), GFP_KERNEL);
	if (!ct) {
		ti->error = "Cannot allocate cow target";
		return -ENOMEM;
	}
	r = cow_parse_opt_args(ti, argc - 4, argv + 4, ct);
	if (r)
		goto bad_base;
	ct->chunks.start = ti->begin >> ilog2(chunk_sectors);
	ct->chunks.last = (ti->begin + ti->len - 1) >> ilog2(chunk_sectors);

	r = dm_get_device(ti, argv[1], COW_MODE_READ, &ct->base);
	if (r) {
		ti->error = "Cannot open base_dev";
		goto bad_base;
	}
	r = dm_get_device(ti, argv[2], dm_table_get_mode(ti->table), &ct->cow);
	if (r) {
		ti->error = "Cannot open cow_dev";
		goto bad_cow;
	}
	r = cow_check_geometry(ti, ct, chunk_sectors);
	if (r)
		goto bad;
	/* A mapped segment's bios need no cutting at chunks. */
	r = ct->mapped ? 0 : dm_set_target_max_io_len(ti, chunk_sectors);
	if (r)
		goto bad;
	r = cow_attach_volume(ti, ct, argv[0], chunk_sectors);
	if (r)
		goto bad;

	/* num_flush_bios: cow_take_flushes */
	ti->flush_supported = true;
	cow_offer_discards(ti, ct);
	ti->num_write_zeroes_bios = 1;
	ti->per_io_data_size = sizeof(struct cow_bio);
	ti->private = ct;
	return 0;

bad:
	dm_put_device(ti, ct->cow);
bad_cow:
	dm_put_device(ti, ct->base);
bad_base:
	kfree(ct);
	return r;
}

/*
 * The volume's last target went away. Filled chunks the daemon has not
 * committed would be forgotten with the volume although their writes
 * completed, so do what a flush does: flush the CoW device, send FLUSH and
 * wait for the commits, as long as queued writes would wait for a daemon
 * (detach_timeout; 0 waits forever), until the caller is killed, or until a
 * new target revives the volume. FLUSH is sent again every second, for a
 * daemon that attaches meanwhile. After a failed flush nothing is sent: the
 * daemon must not commit remaps whose data may not be on the CoW device.
 */
static void cow_commit_before_destroy(struct cow_volume *vol)
{
	unsigned long flags, start = jiffies;
	unsigned int timeout;
	long left;
	int r;

	r = blkdev_issue_flush(vol->cow_bdev);
	if (r) {
		DMERR("volume %s: flushing the CoW device before removal failed: %d; not asking the daemon to commit",
		      vol->ident, r);
		return;
	}
	for (;;) {
		spin_lock_irqsave(&vol->lock, flags);
		if (vol->filled_uncommitted)
			cow_send_flush(vol, vol->fill_seq);
		spin_unlock_irqrestore(&vol->lock, flags);

		timeout = READ_ONCE(detach_timeout);
		left = HZ;
		if (timeout) {
			unsigned long end = start + (unsigned long)timeout * HZ;

			if (time_after_eq(jiffies, end))
				return;
			left = min_t(long, left, end - jiffies);
		}
		/* Unlocked reads: a change wakes the queue after it is made. */
		left = wait_event_killable_timeout(vol->commit_wait,
						   !READ_ONCE(vol->filled_uncommitted) ||
						   READ_ONCE(vol->refs), left);
		if (left < 0 || !READ_ONCE(vol->filled_uncommitted) || READ_ONCE(vol->refs))
			return;
	}
}

static void cow_dtr(struct dm_target *ti)
{
	struct cow_target *ct = ti->private;
	struct cow_volume *vol = ct->vol;
	struct cow_gone *gone;
	unsigned long flags;
	u64 left;

	if (!ct->mapped) {
		mutex_lock(&vol->targets_lock);
		interval_tree_remove(&ct->chunks, &vol->targets);
		mutex_unlock(&vol->targets_lock);
	}
	/*
	 * Drop the reference first: of two dtrs racing (an old table destroyed
	 * after a resume, a remove of another table), exactly the one that
	 * reaches zero waits for the commits.
	 */
	mutex_lock(&cow_volumes_lock);
	if (ti->num_flush_bios && vol->flush_table == ti->table)
		vol->flush_table = NULL;
	if (--vol->refs) {
		mutex_unlock(&cow_volumes_lock);
		goto out;
	}
	vol->closers++;
	mutex_unlock(&cow_volumes_lock);

	/* Without the mutex: a new target of the volume revives it meanwhile. */
	cow_commit_before_destroy(vol);

	/* Not allocated under the mutex; VOLUME_GONE needs it if this dtr frees. */
	gone = kzalloc(sizeof(*gone), GFP_KERNEL);
	mutex_lock(&cow_volumes_lock);
	if (!--vol->closers && !vol->refs) {
		spin_lock_irqsave(&vol->lock, flags);
		left = vol->filled_uncommitted;
		spin_unlock_irqrestore(&vol->lock, flags);
		if (left)
			DMERR("volume %s: removed with %llu filled chunks the daemon did not commit",
			      vol->ident, left);
		cow_destroy_volume(vol, gone);
		gone = NULL;
	}
	mutex_unlock(&cow_volumes_lock);
	kfree(gone);
out:
	dm_put_device(ti, ct->cow);
	dm_put_device(ti, ct->base);
	kfree(ct);
}

static void cow_sum_stats(struct cow_volume *vol, struct cow_stats *sum)
{
	int cpu;

	memset(sum, 0, sizeof(*sum));
	for_each_possible_cpu(cpu) {
		struct cow_stats *s = per_cpu_ptr(vol->stats, cpu);

		sum->copies += READ_ONCE(s->copies);
		sum->nocopy_fills += READ_ONCE(s->nocopy_fills);
		sum->zero_fills += READ_ONCE(s->zero_fills);
		sum->errors += READ_ONCE(s->errors);
		sum->discards += READ_ONCE(s->discards);
		sum->granted_fills += READ_ONCE(s->granted_fills);
	}
}

static void cow_status(struct dm_target *ti, status_type_t type,
		       unsigned int status_flags, char *result, unsigned int maxlen)
{
	struct cow_target *ct = ti->private;
	struct cow_volume *vol = ct->vol;
	unsigned int sz = 0;
	unsigned long flags;
	struct cow_stats st;
	bool attached;
	unsigned int grants;
	u64 g[6];

	switch (type) {
	case STATUSTYPE_INFO:
		attached = cow_daemon_attached();
		spin_lock_irqsave(&vol->lock, flags);
		g[0] = vol->filled_uncommitted;
		g[1] = vol->faults_pending;
		g[2] = vol->copies_in_flight;
		g[3] = vol->discarded_pending;
		g[4] = vol->fault_seq;
		g[5] = vol->granted_free;
		grants = vol->nr_grants;
		spin_unlock_irqrestore(&vol->lock, flags);
		cow_sum_stats(vol, &st);
		DMEMIT("%s %s filled_uncommitted=%llu faults_pending=%llu copies_in_flight=%llu copies=%llu nocopy_fills=%llu zero_fills=%llu errors=%llu discards=%llu discarded_pending=%llu",
		       vol->ident, attached ? "attached" : "detached",
		       g[0], g[1], g[2], st.copies, st.nocopy_fills, st.zero_fills, st.errors,
		       st.discards, g[3]);
		DMEMIT(" faults=%llu granted_fills=%llu grants=%u granted_free=%llu",
		       g[4], st.granted_fills, grants, g[5]);
		break;
	case STATUSTYPE_TABLE:
		DMEMIT("%s %s %s %u", vol->ident, ct->base->name, ct->cow->name,
		       vol->chunk_sectors);
		if (ct->mapped || ct->discard_unmap)
			DMEMIT(" %u", (ct->mapped ? 2 : 0) + (ct->discard_unmap ? 1 : 0));
		if (ct->mapped)
			DMEMIT(" mapped %llu", (unsigned long long)ct->mapped_sector);
		if (ct->discard_unmap)
			DMEMIT(" discard_unmap");
		break;
	case STATUSTYPE_IMA:
		DMEMIT_TARGET_NAME_VERSION(ti->type);
		DMEMIT(",ident=%s,base=%s,cow=%s,chunk_sectors=%u", vol->ident,
		       ct->base->name, ct->cow->name, vol->chunk_sectors);
		if (ct->mapped)
			DMEMIT(",mapped=%llu", (unsigned long long)ct->mapped_sector);
		if (ct->discard_unmap)
			DMEMIT(",discard_unmap=y");
		DMEMIT(";");
		break;
	}
}

static int cow_iterate_devices(struct dm_target *ti,
			       iterate_devices_callout_fn fn, void *data)
{
	struct cow_target *ct = ti->private;
	int r;

	r = fn(ti, ct->base, ti->begin, ti->len, data);
	if (!r)
		r = fn(ti, ct->cow, 0, bdev_nr_sectors(ct->cow->bdev), data);
	return r;
}

static void cow_io_hints(struct dm_target *ti, struct queue_limits *limits)
{
	struct cow_target *ct = ti->private;
	u32 chunk_sectors = ct->vol->chunk_sectors;

	/* A chunk is the unit of placement: whole ones are written without a fill. */
	limits->io_opt = chunk_sectors << SECTOR_SHIFT;
	/* A discard is passed down or dropped a chunk at a time. */
	if (ti->num_discard_bios) {
		limits->discard_granularity = chunk_sectors << SECTOR_SHIFT;
		limits->max_discard_sectors = chunk_sectors;
		limits->max_hw_discard_sectors = chunk_sectors;
	}
#ifdef BLK_FEAT_FUA
	/* Flush and FUA carry the commit contract even on a cacheless device. */
	limits->features |= BLK_FEAT_WRITE_CACHE | BLK_FEAT_FUA;
#endif
}

static struct target_type cow_target = {
	.name = "cow",
	.version = {1, 4, 0},
	.module = THIS_MODULE,
	.ctr = cow_ctr,
	.dtr = cow_dtr,
	.map = cow_map,
	.presuspend = cow_presuspend,
	.status = cow_status,
	.iterate_devices = cow_iterate_devices,
	.io_hints = cow_io_hints,
};

/* ---------------------------------------------------------------- detach */

/* Has a waiter that began at @since waited @timeout jiffies with no daemon? */
static bool cow_waited_out(unsigned long since, unsigned long detached_since,
			   unsigned long timeout)
{
	unsigned long from = time_after(since, detached_since) ? since : detached_since;

	return time_after_eq(jiffies, from + timeout);
}

static void cow_expire_volume(struct cow_volume *vol, unsigned long detached_since,
			      unsigned long timeout)
{
	struct bio_list failed = BIO_EMPTY_LIST, keep = BIO_EMPTY_LIST;
	unsigned int writes = 0, nflushes = 0;
	struct cow_chunk *c, *tmp;
	unsigned long flags;
	struct bio *bio;

	spin_lock_irqsave(&vol->lock, flags);
	list_for_each_entry_safe(c, tmp, &vol->faulted, list) {
		if (!cow_waited_out(c->since, detached_since, timeout))
			break;
		writes += bio_list_size(&c->queued);
		bio_list_merge(&failed, &c->queued);
		cow_erase(c);
		mempool_free(c, cow_chunk_pool);
	}
	while ((bio = bio_list_pop(&vol->flush_waiters))) {
		struct cow_bio *pb = dm_per_bio_data(bio, sizeof(*pb));

		if (cow_waited_out(pb->since, detached_since, timeout)) {
			bio_list_add(&failed, bio);
			nflushes++;
		} else {
			bio_list_add(&keep, bio);
		}
	}
	vol->flush_waiters = keep;
	spin_unlock_irqrestore(&vol->lock, flags);
	this_cpu_add(vol->stats->errors, writes + nflushes);

	if (writes || nflushes)
		DMERR("volume %s: no daemon attached for %u s: failing %u queued writes and %u flushes with EIO",
		      vol->ident, READ_ONCE(detach_timeout), writes, nflushes);
	cow_end_bios(&failed, BLK_STS_IOERR);
}

/*
 * The attached daemon has left the volume's oldest fault unanswered for
 * @timeout: say so once for that fault (an unanswered fault holds the guest's
 * writes; a daemon that stopped answering is otherwise invisible).
 */
static void cow_check_answers(struct cow_volume *vol, unsigned long attached_since,
			      unsigned long timeout)
{
	struct cow_chunk *c;
	unsigned long flags;
	u64 nr = 0, pending = 0;
	bool late = false;

	spin_lock_irqsave(&vol->lock, flags);
	c = list_first_entry_or_null(&vol->faulted, struct cow_chunk, list);
	if (c && c->fault_seq > vol->late_fault_seq &&
	    cow_waited_out(c->since, attached_since, timeout)) {
		vol->late_fault_seq = c->fault_seq;
		nr = c->nr;
		pending = vol->faults_pending;
		late = true;
	}
	spin_unlock_irqrestore(&vol->lock, flags);

	if (late)
		DMWARN("volume %s: the daemon has left the fault on chunk %llu unanswered for %lu s (%llu faults pending)",
		       vol->ident, nr, timeout / HZ, pending);
}

/* Each volume held by a reference, not by the volume mutex. */
static void cow_for_each_volume_since(void (*fn)(struct cow_volume *vol, unsigned long since,
						 unsigned long timeout),
				      unsigned long since, unsigned long timeout)
{
	struct cow_volume *vol;
	unsigned long id;

	rcu_read_lock();
	xa_for_each(&cow_volume_ids, id, vol) {
		if (!refcount_inc_not_zero(&vol->users))
			continue;
		rcu_read_unlock();
		fn(vol, since, timeout);
		cow_put_volume(vol);
		rcu_read_lock();
	}
	rcu_read_unlock();
}

/* Fail what waited too long for a daemon, in every volume. */
void cow_expire_volumes(unsigned long detached_since, unsigned long timeout)
{
	cow_for_each_volume_since(cow_expire_volume, detached_since, timeout);
}

/* Name the faults the attached daemon has left unanswered too long. */
void cow_check_volumes_answered(unsigned long attached_since, unsigned long timeout)
{
	cow_for_each_volume_since(cow_check_answers, attached_since, timeout);
}

/* ---------------------------------------------------------------- step: answers */

static int cow_handle_map(struct cow_volume *vol, const struct dm_cow_msg *m)
{
	u64 nr = le64_to_cpu(m->chunk.chunk);
	u64 seq = le64_to_cpu(m->seq);
	u64 cow_sector = le64_to_cpu(m->chunk.cow_sector);
	u32 fill = le32_to_cpu(m->chunk.fill);
	sector_t cow_size = bdev_nr_sectors(vol->cow_bdev);
	struct bio_list writes = BIO_EMPTY_LIST;
	struct cow_chunk *c;
	unsigned long flags;

	if (m->chunk.flags || m->chunk.error)
		return cow_reject(m, "flags and error must be zero");
	if (fill > DM_COW_FILL_NONE)
		return cow_reject(m, "unknown fill %u", fill);
	if (cow_sector & (vol->chunk_sectors - 1))
		return cow_reject(m, "cow_sector %llu not a multiple of chunk_sectors %u",
				  cow_sector, vol->chunk_sectors);
	if (cow_sector > cow_size || cow_size - cow_sector < vol->chunk_sectors)
		return cow_reject(m, "cow_sector %llu + %u beyond the CoW device's %llu sectors",
				  cow_sector, vol->chunk_sectors, (u64)cow_size);

	spin_lock_irqsave(&vol->lock, flags);
	c = cow_lookup(vol, nr);
	if (!c || c->state != CHUNK_FAULTED || c->fault_seq != seq) {
		spin_unlock_irqrestore(&vol->lock, flags);
		return cow_reject(m, "no unanswered fault seq %llu for chunk %llu", seq, nr);
	}
	if (fill == DM_COW_FILL_NONE && !c->full_write) {
		spin_unlock_irqrestore(&vol->lock, flags);
		return cow_reject(m, "FILL_NONE for chunk %llu without a full-chunk write", nr);
	}
	cow_unqueue_out(&c->out);
	cow_chunk_unlist(vol, &c->list);
	vol->faults_pending--;
	cow_start_fill(c, cow_sector, fill, &writes);
	spin_unlock_irqrestore(&vol->lock, flags);

	if (!bio_list_empty(&writes))
		cow_submit_bios(&writes);
	else	/* not in the daemon's write(): a kcopyd job may wait for memory */
		queue_work(cow_wq, &cow_fills.work);
	return 0;
}

static int cow_handle_fail(struct cow_volume *vol, const struct dm_cow_msg *m)
{
	u64 nr = le64_to_cpu(m->chunk.chunk);
	u64 seq = le64_to_cpu(m->seq);
	u32 error = le32_to_cpu(m->chunk.error);
	struct bio_list bios;
	struct cow_chunk *c;
	unsigned long flags;

	if (m->chunk.cow_sector || m->chunk.fill || m->chunk.flags)
		return cow_reject(m, "cow_sector, fill and flags must be zero");
	if (!error || error > 133)
		return cow_reject(m, "error %u is not an errno", error);

	spin_lock_irqsave(&vol->lock, flags);
	c = cow_lookup(vol, nr);
	if (!c || c->state != CHUNK_FAULTED || c->fault_seq != seq) {
		spin_unlock_irqrestore(&vol->lock, flags);
		return cow_reject(m, "no unanswered fault seq %llu for chunk %llu", seq, nr);
	}
	bios = c->queued;
	cow_erase(c);
	spin_unlock_irqrestore(&vol->lock, flags);
	this_cpu_add(vol->stats->errors, bio_list_size(&bios));

	mempool_free(c, cow_chunk_pool);
	/* Only EIO or ENOSPC reach the upper layer: never a dm-internal status. */
	cow_end_bios(&bios, error == ENOSPC ? BLK_STS_NOSPC : BLK_STS_IOERR);
	return 0;
}

/*
 * The committed chunk moves from the chunk tree to the remap index, into the
 * slot reserved for it; false (it stays in the tree) without a slot.
 */
static bool cow_compact_remap(struct cow_chunk *c, bool reserved)
{
	struct cow_volume *vol = c->vol;

	lockdep_assert_held(&vol->lock);
	if (!reserved ||
	    xa_is_err(xa_store(&vol->remaps, c->nr,
			       xa_mk_value(c->cow_sector >> vol->chunk_shift), GFP_NOWAIT)))
		return false;
	cow_erase(c);
	return true;
}

static int cow_handle_committed(struct cow_volume *vol, const struct dm_cow_msg *m)
{
	u64 nr = le64_to_cpu(m->chunk.chunk);
	struct bio_list done = BIO_EMPTY_LIST;
	struct cow_chunk *c, *freed = NULL;
	unsigned long flags;
	sector_t cow_sector;
	bool reserved;
	int r = 0;

	/* The index slot is allocated here, not under the lock (nor into I/O). */
	reserved = !xa_reserve(&vol->remaps, nr, GFP_NOIO);

	spin_lock_irqsave(&vol->lock, flags);
	c = cow_lookup(vol, nr);
	if (!c && cow_committed_sector(vol, nr, &cow_sector))
		goto unlock;	/* committed again: nothing to do */
	if (!c || c->state != CHUNK_FILLED) {
		r = -EINVAL;
		goto unlock;
	}
	if (!c->committed) {
		c->committed = true;
		cow_chunk_unlist(vol, &c->list);
		vol->filled_uncommitted--;
		cow_unqueue_out(&c->out);
		cow_release_flush_waiters(vol, &done);
		if (!vol->filled_uncommitted)
			wake_up_all(&vol->commit_wait);
		if (cow_compact_remap(c, reserved))
			freed = c;
	}
unlock:
	spin_unlock_irqrestore(&vol->lock, flags);

	/* A slot not used (the entry stored, or none) is given back. */
	xa_release(&vol->remaps, nr);
	if (freed)
		mempool_free(freed, cow_chunk_pool);
	cow_end_bios(&done, BLK_STS_OK);
	return r ? cow_reject(m, "chunk %llu is not filled", nr) : 0;
}

static bool cow_chunk_in_cow_segment(struct cow_volume *vol, u64 nr)
{
	lockdep_assert_held(&vol->targets_lock);
	return interval_tree_iter_first(&vol->targets, nr, nr);
}

/*
 * Erase a committed remap: from the index, or (stored there without a slot)
 * the chunk state, returned in @freed. False if the chunk is not one.
 */
static bool cow_forget_chunk(struct cow_volume *vol, u64 nr, struct cow_chunk **freed)
{
	struct cow_chunk *c;
	unsigned long flags;
	bool ok;

	*freed = NULL;
	spin_lock_irqsave(&vol->lock, flags);
	c = cow_lookup(vol, nr);
	if (!c) {
		ok = xa_is_value(xa_erase(&vol->remaps, nr));
	} else {
		ok = c->state == CHUNK_FILLED && c->committed;
		if (ok) {
			cow_erase(c);
			*freed = c;
		}
	}
	spin_unlock_irqrestore(&vol->lock, flags);
	return ok;
}

/*
 * FORGET of a DISCARDED chunk: the daemon has unmapped it and resumed a table
 * that serves it from a cow segment, so it may go; true if it was one.
 */
static bool cow_forget_discarded(struct cow_volume *vol, u64 nr, struct cow_chunk **freed)
{
	struct cow_chunk *c;
	unsigned long flags;

	*freed = NULL;
	spin_lock_irqsave(&vol->lock, flags);
	c = cow_lookup(vol, nr);
	if (c && c->state == CHUNK_DISCARDED) {
		cow_erase(c);
		clear_bit(nr, vol->discarded_map);
		*freed = c;
	}
	spin_unlock_irqrestore(&vol->lock, flags);
	return *freed;
}

static int cow_handle_forget(struct cow_volume *vol, const struct dm_cow_msg *m)
{
	u64 nr = le64_to_cpu(m->chunk.chunk);
	struct cow_chunk *c;
	int r = 0;

	if (cow_alloc_chunk_map(vol, &vol->forgotten)) {
		DMERR_LIMIT("FORGET for volume %u: no memory to mark chunk %llu forgotten; the remap stays",
			    vol->id, nr);
		return -ENOMEM;
	}
	/* No segment may come to cover the chunk between the check and the mark. */
	mutex_lock(&vol->targets_lock);
	if (cow_chunk_in_cow_segment(vol, nr)) {
		/* A discarded chunk goes once a cow segment serves it; a committed one may not. */
		if (cow_forget_discarded(vol, nr, &c))
			mempool_free(c, cow_chunk_pool);
		else
			r = cow_reject(m, "chunk %llu is still covered by a cow segment", nr);
		goto out;
	}
	if (!cow_forget_chunk(vol, nr, &c)) {
		r = cow_reject(m, "chunk %llu is not a committed remap", nr);
		goto out;
	}
	__set_bit(nr, vol->forgotten);
	/* Its mapped segment serves the new place: no longer the cow way. */
	if (vol->discarded_map)
		clear_bit(nr, vol->discarded_map);
	if (c)
		mempool_free(c, cow_chunk_pool);
out:
	mutex_unlock(&vol->targets_lock);
	return r;
}

int cow_dispatch_chunk_msg(struct cow_volume *vol, const struct dm_cow_msg *m)
{
	if (le64_to_cpu(m->chunk.chunk) >= vol->nr_chunks)
		return cow_reject(m, "chunk %llu beyond the volume's %llu chunks",
				  le64_to_cpu(m->chunk.chunk), vol->nr_chunks);
	switch (le32_to_cpu(m->type)) {
	case DM_COW_MSG_MAP:
		return cow_handle_map(vol, m);
	case DM_COW_MSG_FAIL:
		return cow_handle_fail(vol, m);
	case DM_COW_MSG_COMMITTED:
		return cow_handle_committed(vol, m);
	default:
		return cow_handle_forget(vol, m);
	}
}

/* ---------------------------------------------------------------- module */

static int __init dm_cow_init(void)
{
	int r = -ENOMEM;

	BUILD_BUG_ON(sizeof(struct dm_cow_msg) != DM_COW_MSG_SIZE);

	cow_ctl_init();
	spin_lock_init(&cow_fills.lock);
	INIT_LIST_HEAD(&cow_fills.vols);
	INIT_WORK(&cow_fills.work, cow_fill_work);

	cow_chunk_cache = KMEM_CACHE(cow_chunk, 0);
	if (!cow_chunk_cache)
		goto bad_cache;
	cow_chunk_pool = mempool_create_slab_pool(COW_MIN_POOL, cow_chunk_cache);
	if (!cow_chunk_pool)
		goto bad_pool;
	cow_wq = alloc_workqueue("dm-cow", WQ_MEM_RECLAIM, 0);
	if (!cow_wq)
		goto bad_wq;
	cow_kc = dm_kcopyd_client_create(NULL);
	if (IS_ERR(cow_kc)) {
		r = PTR_ERR(cow_kc);
		goto bad_kc;
	}
	r = dm_register_target(&cow_target);
	if (r)
		goto bad_target;
	/* The control device last: an open() pins the module from then on. */
	r = cow_ctl_register();
	if (r)
		goto bad_misc;
	return 0;

bad_misc:
	dm_unregister_target(&cow_target);
bad_target:
	dm_kcopyd_client_destroy(cow_kc);
bad_kc:
	destroy_workqueue(cow_wq);
bad_wq:
	mempool_destroy(cow_chunk_pool);
bad_pool:
	kmem_cache_destroy(cow_chunk_cache);
bad_cache:
	return r;
}

static void __exit dm_cow_exit(void)
{
	cow_ctl_unregister();
	dm_unregister_target(&cow_target);
	cancel_work_sync(&cow_fills.work);
	dm_kcopyd_client_destroy(cow_kc);
	destroy_workqueue(cow_wq);
	mempool_destroy(cow_chunk_pool);
	kmem_cache_destroy(cow_chunk_cache);
}

module_init(dm_cow_init);
module_exit(dm_cow_exit);

MODULE_DESCRIPTION(DM_NAME " copy-on-write target with a userspace allocator");
MODULE_LICENSE("GPL");
