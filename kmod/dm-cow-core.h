/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dm-cow's private declarations, shared by the target (dm-cow-target.c) and
 * the control device (dm-cow-ctl.c). The protocol is dm-cow.h.
 */
#ifndef DM_COW_CORE_H
#define DM_COW_CORE_H

#include <linux/blkdev.h>
#include <linux/bio.h>
#include <linux/device-mapper.h>
#include <linux/interval_tree.h>
#include <linux/list.h>
#include <linux/mempool.h>
#include <linux/mutex.h>
#include <linux/rbtree.h>
#include <linux/refcount.h>
#include <linux/spinlock.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>

#include "dm-cow.h"

/* An entry of the control device's output queue, embedded in its subject. */
struct cow_out {
	struct list_head node;
	u32 type;			/* DM_COW_MSG_*, or COW_OUT_TURN */
};

#define COW_OUT_TURN	0	/* a volume's turn in the control queue, not a message */

enum cow_chunk_state {
	CHUNK_FAULTED,
	CHUNK_QUEUED,
	CHUNK_FILLING,
	CHUNK_WRITING,
	CHUNK_FILLED,
	CHUNK_DISCARDED,
};

struct cow_volume;

struct cow_chunk {
	struct rb_node node;
	struct cow_volume *vol;
	u64 nr;
	u64 fault_seq;
	u64 fill_seq;
	sector_t cow_sector;
	enum cow_chunk_state state;
	u32 fill;			/* enum dm_cow_fill */
	u32 grant;			/* the grant whose slot it took; 0: MAPped */
	bool full_write;
	bool committed;
	blk_status_t fill_error;
	unsigned int fill_parts;	/* copy jobs and writes of the fill not done */
	unsigned int copy_jobs;		/* of them, dm-kcopyd jobs */
	unsigned int in_flight;		/* queued writes issued, not done */
	struct bio_list queued;		/* writes waiting for the fill */
	struct bio_list held;		/* writes that arrived while WRITING */
	struct bio_list done;		/* finished writes, not yet completed */
	struct cow_out out;		/* FAULT, GRANTED, FILLED or DISCARD */
	struct list_head list;		/* faulted, fill queue, fill_done, uncommitted
					 * or discarded */
	struct list_head granted;	/* on vol->granted from MAP until FILLED */
	unsigned long since;		/* jiffies when the fault was raised */
};

/*
 * A live grant: chunks node.start .. node.last go, at their first write, to
 * cow_sector onwards. In its volume's grant tree under vol->lock until REVOKE,
 * the last slot's use or the volume's end; then freed, or (REVOKE) owned by
 * the control queue until its REVOKED is read.
 */
struct cow_grant {
	struct interval_tree_node node;
	u32 id;
	u32 volume;			/* its volume's id, for REVOKED */
	u32 count;
	u32 fill;			/* enum dm_cow_fill */
	u32 nr_used;
	sector_t cow_sector;
	DECLARE_BITMAP(used, DM_COW_MAX_GRANT_CHUNKS);
	struct cow_out out;		/* GRANT_LIVE or REVOKED */
};

/* A cow segment, its chunks registered in its volume for FORGET checks. */
struct cow_target {
	struct interval_tree_node chunks;	/* first and last chunk it covers */
	struct cow_volume *vol;
	struct dm_dev *base;
	struct dm_dev *cow;
	bool mapped;				/* committed whole: served like dm-linear */
	sector_t mapped_sector;			/* where on the CoW device its start is */
	bool discard_unmap;			/* whole-chunk discards unmap (DISCARD) */
};

/*
 * How far the replay to the attached daemon has come for a volume. Each walk
 * of a list ends, in the same hold of the volume's lock as its last batch, by
 * moving to the next stage.
 */
enum cow_replay_stage {
	STAGE_NONE,		/* nothing sent to this daemon yet */
	STAGE_VOLUME,		/* VOLUME queued; the GRANTED, then the FILLED walk runs */
	STAGE_REMAPS,		/* GRANTED and FILLED queued: live FILLED follow; the
				 * DISCARD walk runs */
	STAGE_DISCARDS,		/* DISCARDs queued: live ones follow; the FAULT
				 * walk runs */
	STAGE_LIVE,		/* FAULTs queued: every message goes out live */
};

/* Counters the I/O path only adds to: per CPU, summed for the status line. */
struct cow_stats {
	u64 copies;
	u64 nocopy_fills;
	u64 zero_fills;
	u64 errors;
	u64 discards;
	u64 granted_fills;
};

struct cow_volume {
	/* under cow_volumes_lock */
	struct list_head node;
	unsigned int refs;		/* targets; 0: dying, findable until freed */
	unsigned int closers;		/* dtrs waiting for commits at refs 0 */
	/*
	 * The table whose segment of this volume took dm's empty flushes
	 * last (see cow_take_flushes); NULL once that segment is destroyed.
	 * Only compared, never dereferenced.
	 */
	struct dm_table *flush_table;

	/* lookups by id: one for the xarray, one per control message handled */
	refcount_t users;
	struct rcu_head rcu;

	/* FORGET against the segments: under targets_lock */
	struct mutex targets_lock;
	struct rb_root_cached targets;	/* interval tree of the segments' chunks */
	unsigned long *forgotten;	/* chunks freed by FORGET; NULL until the first */
	/*
	 * Chunks given state by a discard, until FORGET: mapped segments send
	 * their bios the cow way (read without a lock; NULL until the first).
	 */
	unsigned long *discarded_map;

	/* constant */
	u32 id;
	char ident[DM_COW_IDENT_LEN];
	dev_t base_dev;
	dev_t cow_dev;
	/* the volume's own references: it outlives the table that made it */
	struct block_device *base_bdev;
	struct block_device *cow_bdev;
	struct file *base_file;		/* kernels that open a bdev as a file */
	struct file *cow_file;
	sector_t volume_sectors;
	u32 chunk_sectors;
	unsigned int chunk_shift;
	u64 nr_chunks;

	/* committed remaps: chunk -> CoW chunk (xa_mk_value), looked up under RCU */
	struct xarray remaps;

	spinlock_t lock;		/* everything below, but fill_* and stats */
	struct rb_root chunks;		/* chunks in flight, FILLED, uncommitted */
	struct list_head faulted;	/* FAULTED chunks, oldest first */
	u64 fault_seq;
	u64 fill_seq;
	struct list_head uncommitted;	/* FILLED, !committed, by fill seq */
	struct list_head granted;	/* mapped, not FILLED yet: QUEUED..WRITING */
	struct list_head fill_queue;	/* QUEUED chunks, oldest first */
	struct list_head fill_done;	/* fills finished, for the worker */
	struct list_head discarded;	/* DISCARDED chunks, oldest first */
	struct rb_root_cached grants;	/* live grants by chunk range */
	unsigned int nr_grants;
	u64 granted_free;		/* free slots over all live grants */
	u64 grant_low_at;		/* GRANT_LOW when granted_free falls to this */
	bool grant_low_sent;		/* since the last GRANT */
	struct cow_out out_grant_low;
	struct bio_list deferred;	/* writes for the worker to place */
	struct bio_list flushes;	/* waiting for a CoW device flush */
	struct bio_list flush_waiters;	/* waiting for COMMITTED, by flush seq */
	u64 flush_msg_seq;
	struct cow_out out_volume;
	struct cow_out out_flush;
	struct list_head out;		/* its live messages, under ctl.lock */
	struct cow_out out_turn;	/* its turn in the control queue, under ctl.lock */
	enum cow_replay_stage stage;
	u64 late_fault_seq;		/* the last fault named as unanswered */
	/*
	 * The replay's cursor: the last node of the list being walked whose
	 * message is queued (the list's head before the first). A chunk leaving
	 * that list moves it back to the node before (cow_chunk_unlist).
	 */
	struct list_head *replay_last;

	/* gauges of the chunk state */
	u64 faults_pending;
	u64 filled_uncommitted;
	u64 copies_in_flight;
	u64 discarded_pending;

	/* under cow_fills.lock */
	struct list_head fill_node;	/* in the fill line while fill_queue is not empty */
	u32 fill_credit;		/* sectors it may still fill this turn */
	bool fill_turn;			/* its turn has begun (credit given) */

	struct cow_stats __percpu *stats;	/* no lock */

	struct work_struct work;
	struct work_struct flush_work;
	wait_queue_head_t commit_wait;	/* closers: COMMITTED arrived, or revived */
};

struct cow_gone {
	struct cow_out out;
	u32 id;
	char ident[DM_COW_IDENT_LEN];
};

/* Per-bio data. */
struct cow_bio {
	struct cow_volume *vol;
	struct dm_target *ti;		/* the segment that mapped it */
	struct cow_chunk *chunk;
	bio_end_io_t *saved_end_io;
	void *saved_private;
	u64 flush_seq;
	unsigned long since;		/* jiffies when it began to wait for commits */
};

static inline void cow_out_init(struct cow_out *o, u32 type)
{
	INIT_LIST_HEAD(&o->node);
	o->type = type;
}

/* Take a chunk's @node (c->list or c->granted) off its list; the replay keeps its place. */
static inline void cow_chunk_unlist(struct cow_volume *vol, struct list_head *node)
{
	lockdep_assert_held(&vol->lock);
	if (vol->replay_last == node)
		vol->replay_last = node->prev;
	list_del_init(node);
}

#define cow_reject(m, fmt, ...) ({					\
	DMWARN_LIMIT("rejected %s (type %u) for volume %u: " fmt,	\
		     cow_msg_name(le32_to_cpu((m)->type)),		\
		     le32_to_cpu((m)->type), le32_to_cpu((m)->volume),	\
		     ##__VA_ARGS__);					\
	-EINVAL;							\
})

/* dm-cow-target.c */
extern unsigned int max_copies;
extern unsigned int max_grants;
extern unsigned int detach_timeout;
extern unsigned int answer_timeout;
extern struct mutex cow_volumes_lock;
extern struct list_head cow_volumes;
extern struct workqueue_struct *cow_wq;
extern mempool_t *cow_chunk_pool;

struct cow_chunk *cow_lookup(struct cow_volume *vol, u64 nr);
bool cow_committed_sector(struct cow_volume *vol, u64 nr, sector_t *cow_sector);
void cow_erase(struct cow_chunk *c);
void cow_remap_to_cow(struct cow_volume *vol, struct bio *bio, sector_t cow_sector);
void cow_hook_bio(struct bio *bio, bio_end_io_t *fn);
void cow_end_bios(struct bio_list *bios, blk_status_t status);
u64 cow_flush_seq_of(struct bio *bio);
void cow_release_flush_waiters(struct cow_volume *vol, struct bio_list *done);
struct cow_volume *cow_get_volume(u32 id);
void cow_put_volume(struct cow_volume *vol);
int cow_dispatch_chunk_msg(struct cow_volume *vol, const struct dm_cow_msg *m);
void cow_expire_volumes(unsigned long detached_since, unsigned long timeout);
void cow_check_volumes_answered(unsigned long attached_since, unsigned long timeout);

/* dm-cow-grant.c */
int cow_handle_grant(struct cow_volume *vol, const struct dm_cow_msg *m);
int cow_handle_revoke(struct cow_volume *vol, const struct dm_cow_msg *m);
bool cow_take_grant_slot(struct cow_volume *vol, u64 nr, u32 *grant, sector_t *cow_sector,
			 u32 *fill);
void cow_return_grant_slot(struct cow_volume *vol, u32 grant, u64 nr);
struct cow_grant *cow_grant_free_slot_in(struct cow_volume *vol, u64 first, u64 last);
void cow_free_grants(struct cow_volume *vol);
void cow_format_grant(const struct cow_grant *g, struct dm_cow_msg *m);

/* dm-cow-ctl.c */
void cow_queue_out(struct cow_out *o, u32 type);
void cow_queue_live(struct cow_volume *vol, struct cow_out *o, u32 type);
bool cow_queue_owned(struct cow_out *o, u32 type);
void cow_unqueue_out(struct cow_out *o);
void cow_send_flush(struct cow_volume *vol, u64 seq);
bool cow_queue_gone(struct cow_volume *vol, struct cow_gone *gone);
bool cow_daemon_attached(void);
const char *cow_msg_name(u32 type);
void cow_ctl_init(void);
int cow_ctl_register(void);
void cow_ctl_unregister(void);

#endif /* DM_COW_CORE_H */
