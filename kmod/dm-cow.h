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
 *   kernel -> replay - VOLUME for every live volume; then per volume
 *                      GRANT_LIVE for every live grant; then GRANTED
 *                      and FILLED for every remap not yet committed; then
 *                      DISCARD for every discarded chunk not yet forgotten;
 *                      then FAULT for every fault not yet answered;
 *                      REPLAY_DONE.
 *   then live traffic: VOLUME, VOLUME_GONE, FAULT, FILLED, FLUSH, DISCARD,
 *   GRANT_LOW, REVOKED from the kernel; MAP, FAIL, COMMITTED, FORGET, GRANT,
 *   REVOKE from the daemon.
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
 * 4: grants (target 1.4.0): GRANT places chunks ahead of their first write,
 * which then fills with no FAULT; REVOKE/REVOKED, GRANT_LIVE, GRANT_LOW.
 */
#define DM_COW_PROTOCOL_VERSION	4
#define DM_COW_MSG_SIZE		128
#define DM_COW_IDENT_LEN	64	/* bytes of ident, NUL included */
#define DM_COW_CONTROL_NAME	"dm-cow"	/* /dev/dm-cow */
#define DM_COW_MAX_READ_MSGS	64	/* messages one read() returns at most */
#define DM_COW_MAX_WRITE_MSGS	256	/* messages one write() takes at most */
#define DM_COW_MAX_GRANT_CHUNKS	512	/* chunks one grant covers at most */

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
	DM_COW_MSG_GRANT_LOW	= 10,	/* the volume's free granted slots ran low */
	DM_COW_MSG_REVOKED	= 11,	/* answers REVOKE: the slots that were used */
	DM_COW_MSG_GRANT_LIVE	= 12,	/* replay: a live grant and its used slots */

	/* daemon -> kernel */
	DM_COW_MSG_MAP		= 16,	/* answer a FAULT: place and fill */
	DM_COW_MSG_FAIL		= 17,	/* answer a FAULT: error its writes */
	DM_COW_MSG_COMMITTED	= 18,	/* a FILLED chunk's mapping is durable */
	DM_COW_MSG_FORGET	= 19,	/* a committed chunk is now served by a mapped
					 * segment; a discarded one by a cow segment */
	DM_COW_MSG_GRANT	= 20,	/* place chunks ahead of their first write */
	DM_COW_MSG_REVOKE	= 21,	/* end a grant: its unused slots come back */
};

/* DM_COW_MSG_MAP, GRANT: how the kernel fills the chunk before the queued writes. */
enum dm_cow_fill {
	DM_COW_FILL_COPY	= 0,	/* copy the chunk from the base (dm-kcopyd) */
	DM_COW_FILL_ZERO	= 1,	/* zero the chunk */
	DM_COW_FILL_NONE	= 2,	/* nothing: only valid with DM_COW_FAULT_FULL_WRITE */
};

/* DM_COW_MSG_FAULT flags */
#define DM_COW_FAULT_FULL_WRITE	(1U << 0)	/* the queued writes cover the whole chunk */

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
	__le32 grant;		/* GRANTED, FILLED: the grant whose slot the chunk
				 * took, 0 for a MAP's; zero in the daemon's */
};

/*
 * DM_COW_MSG_GRANT, REVOKE, REVOKED, GRANT_LIVE, GRANT_LOW; seq is the grant
 * id (GRANT_LOW: 0), chosen by the daemon, 1 to 2^32-1, not that of a live
 * grant of the volume.
 *
 * GRANT: chunks first_chunk .. first_chunk + count - 1, when first written,
 * go to cow_sector + (chunk - first_chunk) * chunk_sectors, filled as @fill
 * says (COPY or ZERO; none when the queued writes cover the chunk).
 * Every chunk must be in the volume, in an unmapped cow segment, not
 * committed, forgotten or discarded, and in no other live grant; used must
 * be zero. A chunk with a write in flight (it faulted before the GRANT came)
 * has its slot used at once: the daemon answers its FAULT with a MAP there.
 * A write that takes a free slot sends no FAULT: the chunk goes to its fill
 * at once and FILLED names the grant.
 * REVOKE: only seq; the grant ends. REVOKED answers it with the grant's
 * fields and @used: the slots taken (their FILLED comes or came); every other
 * slot is the daemon's again. A grant stays live, used up or not, until
 * revoked: REVOKED of an id that is not live has count 0.
 * GRANT_LIVE: replayed per live grant after VOLUME, fields as REVOKED's.
 * GRANT_LOW: count is the volume's free granted slots, which fell to a quarter
 * of what they were after its last GRANT; one is sent per GRANT.
 */
struct dm_cow_grant {
	__le64 first_chunk;
	__le64 cow_sector;
	__le32 count;		/* 1 .. DM_COW_MAX_GRANT_CHUNKS */
	__le32 fill;		/* enum dm_cow_fill */
	__le64 used[DM_COW_MAX_GRANT_CHUNKS / 64];	/* bit i: chunk first_chunk + i */
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
		struct dm_cow_grant grant;
		__u8 payload[DM_COW_MSG_SIZE - 16];
	};
};

#endif /* _UAPI_LINUX_DM_COW_H */
