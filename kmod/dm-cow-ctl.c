// SPDX-License-Identifier: GPL-2.0
/*
 * dm-cow control device /dev/dm-cow: the queue of messages to the daemon,
 * read/write/poll, the HELLO handshake and replay, the detach expiry and the
 * unanswered-fault warning.
 * The daemon's answers are checked here and applied to the chunk state by
 * dm-cow-target.c (cow_dispatch_chunk_msg); the protocol is dm-cow.h.
 *
 * States (one opener): open -> HELLO_WAIT (kernel HELLO queued); daemon
 * HELLO -> ATTACHED (replay queued); close -> CLOSED. ctl.lock guards the
 * state and the queues (the control queue and each volume's own); it is
 * taken inside a volume's lock, never around one.
 */

#include <linux/module.h>
#include <linux/miscdevice.h>
#include <linux/fs.h>
#include <linux/poll.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "dm-cow-core.h"

#define DM_MSG_PREFIX "cow"

#define COW_READ_BATCH		4	/* messages popped at once by read() */
#define COW_REPLAY_BATCH	256	/* chunks queued per hold of a volume's lock */

enum cow_ctl_state {
	CTL_CLOSED,
	CTL_HELLO_WAIT,
	CTL_ATTACHED,
};

static struct {
	spinlock_t lock;		/* state, *_since, out, pushback */
	enum cow_ctl_state state;
	unsigned long detached_since;
	unsigned long attached_since;
	struct list_head out;
	struct cow_out out_hello;
	struct cow_out out_replay_done;
	wait_queue_head_t wait;
	struct delayed_work watch_work;
	/* Popped messages a read() could not copy out: the next read's first. */
	struct mutex read_lock;		/* one read() at a time, so they fit */
	struct dm_cow_msg pushback[COW_READ_BATCH];
	unsigned int nr_pushback;
} ctl;

/* ---------------------------------------------------------------- queue */

/*
 * The control queue (ctl.out) holds HELLO, the replay, REPLAY_DONE and
 * VOLUME_GONE in order, and a turn (vol->out_turn) for each volume with live
 * messages waiting in its own queue (vol->out). read() takes one message per
 * turn and sends the turn to the back, so one volume's burst of faults does
 * not hold back another's. A volume's live messages go to its own queue only
 * once the replay has queued all of its (STAGE_LIVE), so its turn is behind
 * them and its messages keep their order.
 */
static void __cow_queue_out(struct cow_out *o, u32 type)
{
	lockdep_assert_held(&ctl.lock);
	if (ctl.state != CTL_ATTACHED)
		return;
	o->type = type;
	if (list_empty(&o->node))
		list_add_tail(&o->node, &ctl.out);
	wake_up_interruptible(&ctl.wait);
}

/* A live message in @vol's own queue; a subject already queued is updated in place. */
static void __cow_queue_vol_out(struct cow_volume *vol, struct cow_out *o, u32 type)
{
	lockdep_assert_held(&ctl.lock);
	if (ctl.state != CTL_ATTACHED)
		return;
	o->type = type;
	if (list_empty(&o->node)) {
		list_add_tail(&o->node, &vol->out);
		if (list_empty(&vol->out_turn.node))
			list_add_tail(&vol->out_turn.node, &ctl.out);
	}
	wake_up_interruptible(&ctl.wait);
}

/*
 * Queue a message for the daemon. A subject already queued is updated in
 * place, so GRANTED turns into FILLED at its replay position.
 */
void cow_queue_out(struct cow_out *o, u32 type)
{
	unsigned long flags;

	spin_lock_irqsave(&ctl.lock, flags);
	__cow_queue_out(o, type);
	spin_unlock_irqrestore(&ctl.lock, flags);
}

/*
 * A live message about @vol: held back until the replay has sent its kind,
 * behind the replay until it has sent all of the volume's.
 */
void cow_queue_live(struct cow_volume *vol, struct cow_out *o, u32 type)
{
	enum cow_replay_stage need = type == DM_COW_MSG_FILLED ? STAGE_REMAPS :
				     type == DM_COW_MSG_DISCARD ? STAGE_DISCARDS : STAGE_LIVE;
	unsigned long flags;

	lockdep_assert_held(&vol->lock);
	if (vol->stage < need)
		return;
	spin_lock_irqsave(&ctl.lock, flags);
	if (vol->stage == STAGE_LIVE)
		__cow_queue_vol_out(vol, o, type);
	else
		__cow_queue_out(o, type);
	spin_unlock_irqrestore(&ctl.lock, flags);
}

/*
 * Queue a message whose subject the control queue then owns (REVOKED): freed
 * once read or when the daemon goes. False if not queued (no daemon): the
 * caller frees it. A subject queued already (as GRANT_LIVE) turns into it.
 */
bool cow_queue_owned(struct cow_out *o, u32 type)
{
	unsigned long flags;
	bool queued;

	spin_lock_irqsave(&ctl.lock, flags);
	__cow_queue_out(o, type);
	queued = !list_empty(&o->node);
	spin_unlock_irqrestore(&ctl.lock, flags);
	return queued;
}

/* Free a subject the control queue owns, once it left the queue. */
static void cow_free_owned(struct cow_out *o)
{
	if (o->type == DM_COW_MSG_VOLUME_GONE)
		kfree(container_of(o, struct cow_gone, out));
	else if (o->type == DM_COW_MSG_REVOKED)
		kfree(container_of(o, struct cow_grant, out));
}

void cow_unqueue_out(struct cow_out *o)
{
	unsigned long flags;

	spin_lock_irqsave(&ctl.lock, flags);
	list_del_init(&o->node);
	spin_unlock_irqrestore(&ctl.lock, flags);
}

/* Empty a volume's own queue and take its turn out of the control queue. */
static void cow_discard_vol_out(struct cow_volume *vol)
{
	struct cow_out *o, *tmp;

	lockdep_assert_held(&ctl.lock);
	list_for_each_entry_safe(o, tmp, &vol->out, node)
		list_del_init(&o->node);
	list_del_init(&vol->out_turn.node);
}

/* Drop every queued message: a new daemon gets a fresh replay. */
static void cow_discard_out(void)
{
	struct cow_out *o, *tmp;

	lockdep_assert_held(&ctl.lock);
	ctl.nr_pushback = 0;
	list_for_each_entry_safe(o, tmp, &ctl.out, node) {
		if (o->type == COW_OUT_TURN) {
			cow_discard_vol_out(container_of(o, struct cow_volume, out_turn));
			continue;
		}
		list_del_init(&o->node);
		cow_free_owned(o);
	}
}

/* FLUSH messages not yet read merge: the highest seq wins. */
void cow_send_flush(struct cow_volume *vol, u64 seq)
{
	unsigned long flags;

	lockdep_assert_held(&vol->lock);
	if (vol->stage < STAGE_LIVE)
		return;		/* the replay sends it for the waiters */
	spin_lock_irqsave(&ctl.lock, flags);
	if (list_empty(&vol->out_flush.node) || seq > vol->flush_msg_seq)
		vol->flush_msg_seq = seq;
	__cow_queue_vol_out(vol, &vol->out_flush, DM_COW_MSG_FLUSH);
	spin_unlock_irqrestore(&ctl.lock, flags);
}

/*
 * Unlocked: for the status line, and for constructors, which hold the volume
 * mutex that HELLO attaches under (a detach meanwhile queues nothing).
 */
bool cow_daemon_attached(void)
{
	return READ_ONCE(ctl.state) == CTL_ATTACHED;
}

/*
 * A volume goes: its VOLUME and FLUSH leave the queue, and a daemon that was
 * told about it (VOLUME read) learns it is gone, by @gone. One hold of the
 * lock, so that VOLUME cannot be read in between. True if @gone was queued.
 */
bool cow_queue_gone(struct cow_volume *vol, struct cow_gone *gone)
{
	bool queued = false;
	unsigned long flags;

	lockdep_assert_held(&vol->lock);
	spin_lock_irqsave(&ctl.lock, flags);
	if (gone && vol->stage >= STAGE_VOLUME && list_empty(&vol->out_volume.node) &&
	    ctl.state == CTL_ATTACHED) {
		cow_out_init(&gone->out, DM_COW_MSG_VOLUME_GONE);
		gone->id = vol->id;
		strscpy(gone->ident, vol->ident, sizeof(gone->ident));
		__cow_queue_out(&gone->out, DM_COW_MSG_VOLUME_GONE);
		queued = true;
	}
	list_del_init(&vol->out_volume.node);
	cow_discard_vol_out(vol);
	spin_unlock_irqrestore(&ctl.lock, flags);
	return queued;
}

/* ---------------------------------------------------------------- watch */

/*
 * Every second: with no daemon attached, fail what waited detach_timeout for
 * one; with one, name the faults it left unanswered for answer_timeout.
 */
static void cow_watch_work(struct work_struct *work)
{
	unsigned int detach = READ_ONCE(detach_timeout), answer = READ_ONCE(answer_timeout);
	unsigned long flags, since;
	bool attached;

	spin_lock_irqsave(&ctl.lock, flags);
	attached = ctl.state == CTL_ATTACHED;
	since = attached ? ctl.attached_since : ctl.detached_since;
	spin_unlock_irqrestore(&ctl.lock, flags);
	if (attached && answer)
		cow_check_volumes_answered(since, (unsigned long)answer * HZ);
	else if (!attached && detach)
		cow_expire_volumes(since, (unsigned long)detach * HZ);
	queue_delayed_work(cow_wq, &ctl.watch_work, HZ);
}

/* ---------------------------------------------------------------- read */

static void cow_format(struct cow_out *o, struct dm_cow_msg *m)
{
	struct cow_volume *vol;
	struct cow_chunk *c;
	struct cow_gone *g;

	memset(m, 0, sizeof(*m));
	m->type = cpu_to_le32(o->type);
	switch (o->type) {
	case DM_COW_MSG_HELLO:
		m->hello.version = cpu_to_le32(DM_COW_PROTOCOL_VERSION);
		m->hello.msg_size = cpu_to_le32(DM_COW_MSG_SIZE);
		m->hello.max_copies = cpu_to_le32(max(1U, READ_ONCE(max_copies)));
		break;
	case DM_COW_MSG_REPLAY_DONE:
		break;
	case DM_COW_MSG_VOLUME:
		vol = container_of(o, struct cow_volume, out_volume);
		m->volume = cpu_to_le32(vol->id);
		m->vol.volume_sectors = cpu_to_le64(vol->volume_sectors);
		m->vol.cow_sectors = cpu_to_le64(bdev_nr_sectors(vol->cow_bdev));
		m->vol.chunk_sectors = cpu_to_le32(vol->chunk_sectors);
		m->vol.base_dev = cpu_to_le32(huge_encode_dev(vol->base_dev));
		m->vol.cow_dev = cpu_to_le32(huge_encode_dev(vol->cow_dev));
		strscpy(m->vol.ident, vol->ident, sizeof(m->vol.ident));
		break;
	case DM_COW_MSG_VOLUME_GONE:
		g = container_of(o, struct cow_gone, out);
		m->volume = cpu_to_le32(g->id);
		strscpy(m->vol.ident, g->ident, sizeof(m->vol.ident));
		break;
	case DM_COW_MSG_FLUSH:
		vol = container_of(o, struct cow_volume, out_flush);
		m->volume = cpu_to_le32(vol->id);
		m->seq = cpu_to_le64(vol->flush_msg_seq);
		break;
	case DM_COW_MSG_GRANT_LOW:
		vol = container_of(o, struct cow_volume, out_grant_low);
		m->volume = cpu_to_le32(vol->id);
		/* Without vol->lock: a figure for the daemon's policy, not a count it keeps. */
		m->grant.count = cpu_to_le32(min_t(u64, READ_ONCE(vol->granted_free), U32_MAX));
		break;
	case DM_COW_MSG_GRANT_LIVE:
	case DM_COW_MSG_REVOKED:
		cow_format_grant(container_of(o, struct cow_grant, out), m);
		break;
	case DM_COW_MSG_FAULT:
	case DM_COW_MSG_GRANTED:
	case DM_COW_MSG_FILLED:
	case DM_COW_MSG_DISCARD:
		c = container_of(o, struct cow_chunk, out);
		m->volume = cpu_to_le32(c->vol->id);
		m->chunk.chunk = cpu_to_le64(c->nr);
		if (o->type == DM_COW_MSG_FAULT) {
			m->seq = cpu_to_le64(c->fault_seq);
			m->chunk.flags = cpu_to_le32(READ_ONCE(c->full_write) ?
						     DM_COW_FAULT_FULL_WRITE : 0);
		} else if (o->type != DM_COW_MSG_DISCARD) {
			m->seq = cpu_to_le64(o->type == DM_COW_MSG_FILLED ? c->fill_seq : 0);
			m->chunk.cow_sector = cpu_to_le64(c->cow_sector);
			m->chunk.grant = cpu_to_le32(c->grant);
		}
		break;
	}
}

/*
 * Is a message waiting for read()? Unlocked for wait conditions, where a
 * turn whose volume's messages were all unqueued meanwhile only costs a look.
 */
static bool cow_out_pending(void)
{
	return READ_ONCE(ctl.nr_pushback) || !list_empty(&ctl.out);
}

/*
 * The next message: the control queue's first, or, for a volume's turn, the
 * first of that volume's queue, the turn going to the back while the volume
 * has more. Turns left with no message are dropped on the way.
 */
static struct cow_out *cow_next_out(void)
{
	struct cow_volume *vol;
	struct cow_out *o, *m;

	lockdep_assert_held(&ctl.lock);
	while ((o = list_first_entry_or_null(&ctl.out, struct cow_out, node))) {
		if (o->type != COW_OUT_TURN) {
			list_del_init(&o->node);
			return o;
		}
		vol = container_of(o, struct cow_volume, out_turn);
		m = list_first_entry_or_null(&vol->out, struct cow_out, node);
		if (!m) {
			list_del_init(&o->node);
			continue;
		}
		list_del_init(&m->node);
		if (list_empty(&vol->out))
			list_del_init(&o->node);
		else
			list_move_tail(&o->node, &ctl.out);
		return m;
	}
	return NULL;
}

/* Drop the turns at the head with no message left: then ctl.out is empty only if nothing waits. */
static void cow_drop_idle_turns(void)
{
	struct cow_out *o;

	lockdep_assert_held(&ctl.lock);
	while ((o = list_first_entry_or_null(&ctl.out, struct cow_out, node)) &&
	       o->type == COW_OUT_TURN &&
	       list_empty(&container_of(o, struct cow_volume, out_turn)->out))
		list_del_init(&o->node);
}

/* Pop up to @max messages into @msgs: the pushed-back ones first. */
static size_t cow_pop_out(struct dm_cow_msg *msgs, size_t max)
{
	unsigned long flags;
	size_t n;

	spin_lock_irqsave(&ctl.lock, flags);
	n = min_t(size_t, max, ctl.nr_pushback);
	memcpy(msgs, ctl.pushback, n * sizeof(*msgs));
	memmove(ctl.pushback, ctl.pushback + n, (ctl.nr_pushback - n) * sizeof(*msgs));
	WRITE_ONCE(ctl.nr_pushback, ctl.nr_pushback - n);
	while (n < max) {
		struct cow_out *o = cow_next_out();

		if (!o)
			break;
		cow_format(o, &msgs[n++]);
		cow_free_owned(o);
	}
	spin_unlock_irqrestore(&ctl.lock, flags);
	return n;
}

/*
 * Put back at the head the messages of a batch that did not reach the
 * reader. They are kept formatted: their subjects may change or go away
 * before the next read, and the daemon must still get what was popped, in
 * order. With one reader at a time they fit (see cow_ctl_read).
 */
static void cow_push_back(const struct dm_cow_msg *msgs, size_t n)
{
	unsigned long flags;

	spin_lock_irqsave(&ctl.lock, flags);
	if (!WARN_ON_ONCE(ctl.nr_pushback + n > COW_READ_BATCH)) {
		memmove(ctl.pushback + n, ctl.pushback, ctl.nr_pushback * sizeof(*msgs));
		memcpy(ctl.pushback, msgs, n * sizeof(*msgs));
		WRITE_ONCE(ctl.nr_pushback, ctl.nr_pushback + n);
	}
	spin_unlock_irqrestore(&ctl.lock, flags);
}

/*
 * The daemon may be all that stands between the kernel and free memory, so
 * its read path does not allocate: messages go out in small on-stack batches.
 * A batch that cannot be copied out whole is pushed back from its first
 * message not copied; the read returns the whole messages copied, or -EFAULT
 * if none. A batch popped always fits back: the pushed-back messages come
 * first in the next batch, and one read() runs at a time.
 */
static ssize_t cow_ctl_read(struct file *file, char __user *buf, size_t count,
			    loff_t *ppos)
{
	size_t max_msgs = min_t(size_t, count / DM_COW_MSG_SIZE, DM_COW_MAX_READ_MSGS);
	struct dm_cow_msg msgs[COW_READ_BATCH];
	size_t done = 0, n, copied;
	ssize_t r = 0;

	if (!max_msgs)
		return -EINVAL;
	if (mutex_lock_interruptible(&ctl.read_lock))
		return -ERESTARTSYS;
	for (;;) {
		n = cow_pop_out(msgs, min_t(size_t, ARRAY_SIZE(msgs), max_msgs - done));
		if (n) {
			copied = n * DM_COW_MSG_SIZE -
				 copy_to_user(buf + done * DM_COW_MSG_SIZE, msgs,
					      n * DM_COW_MSG_SIZE);
			copied /= DM_COW_MSG_SIZE;
			done += copied;
			if (copied < n) {
				cow_push_back(msgs + copied, n - copied);
				r = -EFAULT;
				break;
			}
			if (done == max_msgs)
				break;
			continue;
		}
		if (done)
			break;
		if (file->f_flags & O_NONBLOCK) {
			r = -EAGAIN;
			goto out;
		}
		r = wait_event_interruptible(ctl.wait, cow_out_pending());
		if (r)
			goto out;
	}
	r = done ? done * DM_COW_MSG_SIZE : r;
out:
	mutex_unlock(&ctl.read_lock);
	return r;
}

static __poll_t cow_ctl_poll(struct file *file, poll_table *wait)
{
	__poll_t mask = EPOLLOUT | EPOLLWRNORM;
	unsigned long flags;

	poll_wait(file, &ctl.wait, wait);
	spin_lock_irqsave(&ctl.lock, flags);
	cow_drop_idle_turns();
	if (cow_out_pending())
		mask |= EPOLLIN | EPOLLRDNORM;
	spin_unlock_irqrestore(&ctl.lock, flags);
	return mask;
}

/* ---------------------------------------------------------------- write */

const char *cow_msg_name(u32 type)
{
	switch (type) {
	case DM_COW_MSG_HELLO: return "HELLO";
	case DM_COW_MSG_MAP: return "MAP";
	case DM_COW_MSG_FAIL: return "FAIL";
	case DM_COW_MSG_COMMITTED: return "COMMITTED";
	case DM_COW_MSG_FORGET: return "FORGET";
	case DM_COW_MSG_GRANT: return "GRANT";
	case DM_COW_MSG_REVOKE: return "REVOKE";
	default: return "message";
	}
}

static bool cow_payload_zero_after(const struct dm_cow_msg *m, size_t used)
{
	return !memchr_inv(m->payload + used, 0, sizeof(m->payload) - used);
}

/*
 * The replay walks each volume's lists of chunks that get a message, never
 * the tree (committed remaps can be millions), one volume's lock at a time
 * and at most COW_REPLAY_BATCH chunks per hold of it.
 */
static void cow_replay_volume(struct cow_volume *vol)
{
	unsigned long flags;

	spin_lock_irqsave(&vol->lock, flags);
	vol->stage = STAGE_VOLUME;
	cow_queue_out(&vol->out_volume, DM_COW_MSG_VOLUME);
	spin_unlock_irqrestore(&vol->lock, flags);
}

/*
 * Queue @type for the next batch of chunks on @head (their @offset node) after
 * the cursor. True when the list is done: then, in this same hold, the
 * volume moves to stage @done, so that no chunk added to the list later is
 * missed (it goes out live) or sent twice (the walk would find it too).
 */
static bool cow_replay_batch(struct cow_volume *vol, struct list_head *head,
			     size_t offset, u32 type, enum cow_replay_stage done)
{
	struct list_head *pos;
	unsigned int n;

	lockdep_assert_held(&vol->lock);
	for (n = 0; n < COW_REPLAY_BATCH; n++) {
		pos = vol->replay_last->next;
		if (pos == head)
			break;
		cow_queue_out(&((struct cow_chunk *)((char *)pos - offset))->out, type);
		vol->replay_last = pos;
	}
	if (vol->replay_last->next != head)
		return false;
	vol->replay_last = NULL;
	vol->stage = done;
	return true;
}

/*
 * Walk one of the volume's chunk lists in batches, the lock dropped in
 * between. Chunks are added at the tail only, so the cursor's successors are
 * exactly the chunks not yet sent; a chunk leaving the list moves the cursor
 * back (cow_chunk_unlist).
 */
static void cow_replay_list(struct cow_volume *vol, struct list_head *head,
			    size_t offset, u32 type, enum cow_replay_stage done)
{
	unsigned long flags;
	bool last;

	spin_lock_irqsave(&vol->lock, flags);
	vol->replay_last = head;
	for (;;) {
		last = cow_replay_batch(vol, head, offset, type, done);
		spin_unlock_irqrestore(&vol->lock, flags);
		if (last)
			return;
		cond_resched();
		spin_lock_irqsave(&vol->lock, flags);
	}
}

/*
 * GRANT_LIVE for each live grant, before any GRANTED or FILLED: those of
 * chunks that took a slot tell the daemon the slot is used even if the
 * GRANT_LIVE, formatted when read, shows it free. At most max_grants: one hold.
 */
static void cow_replay_grants(struct cow_volume *vol)
{
	struct interval_tree_node *n;
	unsigned long flags;

	spin_lock_irqsave(&vol->lock, flags);
	for (n = interval_tree_iter_first(&vol->grants, 0, ULONG_MAX); n;
	     n = interval_tree_iter_next(n, 0, ULONG_MAX))
		cow_queue_out(&container_of(n, struct cow_grant, node)->out,
			      DM_COW_MSG_GRANT_LIVE);
	spin_unlock_irqrestore(&vol->lock, flags);
}

/*
 * GRANTED for the mapped chunks still filling, then FILLED for the
 * uncommitted ones, live FILLED held back all along (STAGE_VOLUME): a granted
 * chunk that fills meanwhile joins the uncommitted list's tail, so the second
 * walk sends its FILLED (in place of its GRANTED if that is not read yet).
 */
static void cow_replay_remaps(struct cow_volume *vol)
{
	cow_replay_list(vol, &vol->granted, offsetof(struct cow_chunk, granted),
			DM_COW_MSG_GRANTED, STAGE_VOLUME);
	cow_replay_list(vol, &vol->uncommitted, offsetof(struct cow_chunk, list),
			DM_COW_MSG_FILLED, STAGE_REMAPS);
}

/* DISCARD for the discarded chunks not yet forgotten, before any FAULT. */
static void cow_replay_discards(struct cow_volume *vol)
{
	cow_replay_list(vol, &vol->discarded, offsetof(struct cow_chunk, list),
			DM_COW_MSG_DISCARD, STAGE_DISCARDS);
}

static void cow_replay_faults(struct cow_volume *vol)
{
	cow_replay_list(vol, &vol->faulted, offsetof(struct cow_chunk, list),
			DM_COW_MSG_FAULT, STAGE_LIVE);
}

/* Flushes that waited while detached still need their commits. */
static void cow_replay_flushes(struct cow_volume *vol)
{
	unsigned long flags;

	spin_lock_irqsave(&vol->lock, flags);
	/* The last waiter needs the highest seq. */
	if (!bio_list_empty(&vol->flush_waiters))
		cow_send_flush(vol, cow_flush_seq_of(vol->flush_waiters.tail));
	spin_unlock_irqrestore(&vol->lock, flags);
}

#define cow_for_each_volume(vol, step) do {			\
	list_for_each_entry(vol, &cow_volumes, node) {		\
		step(vol);					\
		cond_resched();					\
	}							\
} while (0)

/* Queue the replay for a daemon that just said HELLO. */
static void cow_replay(void)
{
	struct cow_volume *vol;

	lockdep_assert_held(&cow_volumes_lock);
	cow_for_each_volume(vol, cow_replay_volume);
	cow_for_each_volume(vol, cow_replay_grants);
	cow_for_each_volume(vol, cow_replay_remaps);
	cow_for_each_volume(vol, cow_replay_discards);
	cow_for_each_volume(vol, cow_replay_faults);
	cow_queue_out(&ctl.out_replay_done, DM_COW_MSG_REPLAY_DONE);
	cow_for_each_volume(vol, cow_replay_flushes);
}

static void cow_unannounce(struct cow_volume *vol)
{
	unsigned long flags;

	spin_lock_irqsave(&vol->lock, flags);
	vol->stage = STAGE_NONE;
	vol->late_fault_seq = 0;	/* a new daemon is told again */
	spin_unlock_irqrestore(&vol->lock, flags);
}

/* HELLO_WAIT -> ATTACHED; false if the daemon is not waiting for it. */
static bool cow_attach_daemon(void)
{
	unsigned long flags;
	bool ok;

	spin_lock_irqsave(&ctl.lock, flags);
	ok = ctl.state == CTL_HELLO_WAIT;
	if (ok) {
		WRITE_ONCE(ctl.state, CTL_ATTACHED);
		ctl.attached_since = jiffies;
	}
	spin_unlock_irqrestore(&ctl.lock, flags);
	return ok;
}

static int cow_handle_hello(const struct dm_cow_msg *m)
{
	u32 version = le32_to_cpu(m->hello.version);
	struct cow_volume *vol;

	if (le32_to_cpu(m->type) != DM_COW_MSG_HELLO) {
		DMWARN_LIMIT("daemon sent type %u before HELLO; refusing",
			     le32_to_cpu(m->type));
		return -EPROTO;
	}
	if (version != DM_COW_PROTOCOL_VERSION) {
		DMERR_LIMIT("daemon speaks protocol version %u, module speaks version %u; refusing",
			    version, DM_COW_PROTOCOL_VERSION);
		return -EPROTO;
	}
	if (m->volume || m->seq || le32_to_cpu(m->hello.msg_size) != DM_COW_MSG_SIZE ||
	    m->hello.max_copies || m->hello.reserved ||
	    !cow_payload_zero_after(m, sizeof(m->hello)))
		return cow_reject(m, "bad HELLO fields (msg_size must be %u, the rest zero)",
				  DM_COW_MSG_SIZE);

	/* The mutex keeps the volume set still and HELLOs one at a time. */
	mutex_lock(&cow_volumes_lock);
	if (READ_ONCE(ctl.state) != CTL_HELLO_WAIT) {
		mutex_unlock(&cow_volumes_lock);
		return cow_reject(m, "HELLO after the handshake");
	}
	/* Nothing goes out live for a volume until the replay reached it. */
	cow_for_each_volume(vol, cow_unannounce);
	if (!cow_attach_daemon()) {
		mutex_unlock(&cow_volumes_lock);
		return cow_reject(m, "HELLO after the handshake");
	}
	cow_replay();
	mutex_unlock(&cow_volumes_lock);
	DMINFO("daemon attached (protocol version %u)", version);
	return 0;
}

static int cow_handle_grant_msg(const struct dm_cow_msg *m)
{
	struct cow_volume *vol;
	int r;

	if (le32_to_cpu(m->type) == DM_COW_MSG_REVOKE && !cow_payload_zero_after(m, 0))
		return cow_reject(m, "only volume and seq may be set");
	if (!cow_payload_zero_after(m, sizeof(m->grant)))
		return cow_reject(m, "the bytes after the grant fields must be zero");
	vol = cow_get_volume(le32_to_cpu(m->volume));
	if (!vol)
		return cow_reject(m, "unknown volume");
	if (le32_to_cpu(m->type) == DM_COW_MSG_GRANT)
		r = cow_handle_grant(vol, m);
	else
		r = cow_handle_revoke(vol, m);
	cow_put_volume(vol);
	return r;
}

/* The daemon's answers take no lock shared by all volumes. */
static int cow_handle_chunk_msg(const struct dm_cow_msg *m)
{
	u32 type = le32_to_cpu(m->type);
	struct cow_volume *vol;
	int r;

	if (type == DM_COW_MSG_GRANT || type == DM_COW_MSG_REVOKE)
		return cow_handle_grant_msg(m);
	if (!cow_payload_zero_after(m, sizeof(m->chunk)) || m->chunk.grant)
		return cow_reject(m, "grant and the bytes after the chunk fields must be zero");
	if ((type == DM_COW_MSG_COMMITTED || type == DM_COW_MSG_FORGET) &&
	    (m->seq || m->chunk.cow_sector || m->chunk.fill || m->chunk.flags ||
	     m->chunk.error))
		return cow_reject(m, "only volume and chunk may be set");

	vol = cow_get_volume(le32_to_cpu(m->volume));
	if (!vol)
		return cow_reject(m, "unknown volume");
	r = cow_dispatch_chunk_msg(vol, m);
	cow_put_volume(vol);
	return r;
}

static int cow_handle_msg(const struct dm_cow_msg *m)
{
	if (READ_ONCE(ctl.state) != CTL_ATTACHED)
		return cow_handle_hello(m);

	switch (le32_to_cpu(m->type)) {
	case DM_COW_MSG_MAP:
	case DM_COW_MSG_FAIL:
	case DM_COW_MSG_COMMITTED:
	case DM_COW_MSG_FORGET:
	case DM_COW_MSG_GRANT:
	case DM_COW_MSG_REVOKE:
		return cow_handle_chunk_msg(m);
	case DM_COW_MSG_HELLO:
		return cow_reject(m, "HELLO after the handshake");
	default:
		return cow_reject(m, "unknown or kernel-only message type");
	}
}

static ssize_t cow_ctl_write(struct file *file, const char __user *buf,
			     size_t count, loff_t *ppos)
{
	struct dm_cow_msg m;
	size_t done;
	int r;

	if (!count || count % DM_COW_MSG_SIZE ||
	    count > DM_COW_MAX_WRITE_MSGS * DM_COW_MSG_SIZE) {
		DMWARN_LIMIT("rejected write of %zu bytes: must be 1 to %u whole %u-byte messages",
			     count, DM_COW_MAX_WRITE_MSGS, DM_COW_MSG_SIZE);
		return -EINVAL;
	}
	for (done = 0; done < count; done += DM_COW_MSG_SIZE) {
		if (copy_from_user(&m, buf + done, sizeof(m)))
			return -EFAULT;
		r = cow_handle_msg(&m);
		if (r)
			return r;
	}
	return count;
}

/* ---------------------------------------------------------------- open */

static int cow_ctl_open(struct inode *inode, struct file *file)
{
	unsigned long flags;
	int r = 0;

	if (!capable(CAP_SYS_ADMIN))
		return -EACCES;
	spin_lock_irqsave(&ctl.lock, flags);
	if (ctl.state != CTL_CLOSED) {
		r = -EBUSY;
	} else {
		WRITE_ONCE(ctl.state, CTL_HELLO_WAIT);
		cow_discard_out();
		list_add_tail(&ctl.out_hello.node, &ctl.out);
	}
	spin_unlock_irqrestore(&ctl.lock, flags);
	if (!r)
		r = nonseekable_open(inode, file);
	return r;
}

static int cow_ctl_release(struct inode *inode, struct file *file)
{
	unsigned long flags;

	spin_lock_irqsave(&ctl.lock, flags);
	if (ctl.state == CTL_ATTACHED)
		ctl.detached_since = jiffies;
	WRITE_ONCE(ctl.state, CTL_CLOSED);
	cow_discard_out();
	spin_unlock_irqrestore(&ctl.lock, flags);
	DMINFO("daemon detached; queued writes wait up to %u s (0: forever)",
	       READ_ONCE(detach_timeout));
	mod_delayed_work(cow_wq, &ctl.watch_work, HZ);
	return 0;
}

static const struct file_operations cow_ctl_fops = {
	.owner = THIS_MODULE,
	.open = cow_ctl_open,
	.release = cow_ctl_release,
	.read = cow_ctl_read,
	.write = cow_ctl_write,
	.poll = cow_ctl_poll,
};

static struct miscdevice cow_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = DM_COW_CONTROL_NAME,
	.fops = &cow_ctl_fops,
};

/* ---------------------------------------------------------------- module */

/* Before the target is registered: a constructor queues VOLUME. */
void cow_ctl_init(void)
{
	spin_lock_init(&ctl.lock);
	INIT_LIST_HEAD(&ctl.out);
	cow_out_init(&ctl.out_hello, DM_COW_MSG_HELLO);
	cow_out_init(&ctl.out_replay_done, DM_COW_MSG_REPLAY_DONE);
	init_waitqueue_head(&ctl.wait);
	mutex_init(&ctl.read_lock);
	INIT_DELAYED_WORK(&ctl.watch_work, cow_watch_work);
	ctl.state = CTL_CLOSED;
	ctl.detached_since = jiffies;
}

/* Last at module load: an open() pins the module from then on. */
int cow_ctl_register(void)
{
	int r = misc_register(&cow_misc);

	if (!r)
		queue_delayed_work(cow_wq, &ctl.watch_work, HZ);
	return r;
}

void cow_ctl_unregister(void)
{
	misc_deregister(&cow_misc);
	cancel_delayed_work_sync(&ctl.watch_work);
}
