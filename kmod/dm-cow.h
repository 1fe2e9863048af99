/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * dm-cow control protocol: the messages exchanged on /dev/dm-cow between the
 * kernel target "cow" and the allocation daemon (dmcowd).
 *
 * This header is the single definition of the protocol. The daemon's Java
 * codec mirrors it and a test compiles this file to check that the two agree.
 * docs/protocol.md explains every message, field and ordering rule.
 *
 * Every message is one struct dm_cow_msg: DM_COW_MSG_SIZE bytes, little-endian.
 * A read() returns one or more whole messages, up to DM_COW_MAX_READ_MSGS (the
 * buffer must hold at least one); a write() carries 1 to DM_COW_MAX_WRITE_MSGS
 * whole messages, any other length is refused with -EINVAL before any is
 * processed. Fields a message type does not use must be zero.
 *
 * Session:
 *   open()           - one daemon at a time; a second open gets -EBUSY.
 *   kernel -> HELLO  - the module's protocol version and message size.
 *   daemon -> HELLO  - the daemon's protocol version; any other first message,
 *                      or another version, is refused with -EPROTO.
 *   kernel -> replay - VOLUME for every live volume; then per volume GRANTED
 *                      and FILLED for every remap not yet committed; then
 *                      DISCARD for every discarded chunk not yet forgotten;
 *                      then FAULT for every fault not yet answered;
 *                      REPLAY_DONE.
 *   then live traffic: VOLUME, VOLUME_GONE, FAULT, FILLED, FLUSH, DISCARD from
 *   the kernel; MAP, FAIL, COMMITTED, FORGET from the daemon.
 *   close()          - queued writes wait for the next daemon (bounded by the
 *                      module parameter detach_timeout, in seconds).
 */
#ifndef _UAPI_LINUX_DM_COW_H
#define _UAPI_LINUX_DM_COW_H

#include <linux/types.h>

/*
 * 2: the target (1.2.0) takes mapped cow segments, which a daemon of version 2
 * builds its tables of; the messages are those of version 1.
 * 3: DISCARD, sent for segments with the discard_unmap option (target 1.3.0),
 * and FORGET of a discarded chunk.
 */
#define DM_COW_PROTOCOL_VERSION	3
#define DM_COW_MSG_SIZE		128
#define DM_COW_IDENT_LEN	64	/* bytes of ident, NUL included */
#define DM_COW_CONTROL_NAME	"dm-cow"	/* /dev/dm-cow */
#define DM_COW_MAX_READ_MSGS	64	/* messages one read() returns at most */
#define DM_COW_MAX_WRITE_MSGS	256	/* messages one write() takes at most */

enum dm_cow_msg_type {
	/* both directions: the version handshake */
	DM_COW_MSG_HELLO	= 1,

	/* kernel -> daemon */
	DM_COW_MSG_VOLUME	= 2,	/* a volume exists (on attach, or new ident) */
	DM_COW_MSG_VOLUME_GONE	= 3,	/* its last target was destroyed */
	DM_COW_MSG_FAULT	= 4,	/* a write waits on an unmapped chunk */
	DM_COW_MSG_GRANTED	= 5,	/* replay: mapped by an earlier daemon, fill running */
	DM_COW_MSG_FILLED	= 6,	/* chunk filled and its queued writes done */
	DM_COW_MSG_FLUSH	= 7,	/* a flush waits for commits up to seq */
	DM_COW_MSG_REPLAY_DONE	= 8,	/* the replay after HELLO is complete */
	DM_COW_MSG_DISCARD	= 9,	/* a committed chunk was discarded whole: it
					 * reads as the base until written again */

	/* daemon -> kernel */
	DM_COW_MSG_MAP		= 16,	/* answer a FAULT: place and fill */
	DM_COW_MSG_FAIL		= 17,	/* answer a FAULT: error its writes */
	DM_COW_MSG_COMMITTED	= 18,	/* a FILLED chunk's mapping is durable */
	DM_COW_MSG_FORGET	= 19,	/* a committed chunk is now served by a mapped
					 * segment; a discarded one by a cow segment */
};

/* DM_COW_MSG_MAP: how the kernel fills the chunk before the queued writes. */
enum dm_cow_fill {
	DM_COW_FILL_COPY	= 0,	/* copy the chunk from the base (dm-kcopyd) */
	DM_COW_FILL_ZERO	= 1,	/* zero the chunk */
	DM_COW_FILL_NONE	= 2,	/* nothing: only valid with DM_COW_FAULT_FULL_WRITE */
};

/* DM_COW_MSG_FAULT flags */
#define DM_COW_FAULT_FULL_WRITE	(1U << 0)	/* a queued write covers the whole chunk */

/* DM_COW_MSG_HELLO: same layout in every protocol version. */
struct dm_cow_hello {
	__le32 version;		/* DM_COW_PROTOCOL_VERSION of the sender */
	__le32 msg_size;	/* DM_COW_MSG_SIZE of the sender */
	__le32 max_copies;	/* kernel: copies it runs at once; daemon: 0 */
	__le32 reserved;
};

/*
 * DM_COW_MSG_FAULT, GRANTED, FILLED, DISCARD, MAP, FAIL, COMMITTED, FORGET.
 *
 * seq: FAULT, MAP, FAIL: the fault's sequence number, per volume, from 1;
 *      a MAP or FAIL must name an unanswered fault for that chunk.
 *      GRANTED, FILLED: the fill sequence number, per volume, from 1, in the
 *      order chunks became filled (GRANTED: 0, not filled yet).
 */
struct dm_cow_chunk {
	__le64 chunk;		/* volume chunk number */
	__le64 cow_sector;	/* MAP, GRANTED, FILLED: the chunk's first sector
				 * in the CoW device */
	__le32 fill;		/* MAP: enum dm_cow_fill */
	__le32 flags;		/* FAULT: DM_COW_FAULT_* */
	__le32 error;		/* FAIL: positive errno for the writes (EIO, ENOSPC) */
	__le32 reserved;
};

/* DM_COW_MSG_VOLUME (and VOLUME_GONE, which only uses ident). */
struct dm_cow_volume {
	__le64 volume_sectors;	/* the base device's size: the volume's size */
	__le64 cow_sectors;	/* the CoW device's size when sent */
	__le32 chunk_sectors;	/* power of two, >= 8 */
	__le32 base_dev;	/* huge_encode_dev() of the base device */
	__le32 cow_dev;		/* huge_encode_dev() of the CoW device */
	__le32 reserved;
	char ident[DM_COW_IDENT_LEN];	/* NUL-terminated */
};

struct dm_cow_msg {
	__le32 type;		/* enum dm_cow_msg_type */
	__le32 volume;		/* volume id: assigned by the kernel, never reused
				 * while the module is loaded; 0 for HELLO,
				 * REPLAY_DONE */
	__le64 seq;		/* see struct dm_cow_chunk; FLUSH: fill seq */
	union {
		struct dm_cow_hello hello;
		struct dm_cow_chunk chunk;
		struct dm_cow_volume vol;
		__u8 payload[DM_COW_MSG_SIZE - 16];
	};
};

#endif /* _UAPI_LINUX_DM_COW_H */
