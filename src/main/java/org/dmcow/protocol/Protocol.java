/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.protocol;

/**
 * The constants and field offsets of kmod/dm-cow.h. The twin of the header's {@code DM_COW_X} is
 * {@code X}: {@code ProtocolHeaderTest} finds every {@code DM_COW_*} name of the header and fails on
 * one without its twin here, or with another value.
 */
public final class Protocol {
    private Protocol() {
    }

    public static final int PROTOCOL_VERSION = 4;
    public static final int MSG_SIZE = 128;
    public static final int IDENT_LEN = 64;
    public static final String CONTROL_NAME = "dm-cow";
    /** Messages one read() returns at most. */
    public static final int MAX_READ_MSGS = 64;
    /** Messages one write() takes at most: the module refuses a longer write whole (EINVAL). */
    public static final int MAX_WRITE_MSGS = 256;
    /** Chunks one grant covers at most (its used bitmap fills one message). */
    public static final int MAX_GRANT_CHUNKS = 512;

    public static final int MSG_HELLO = 1;
    public static final int MSG_VOLUME = 2;
    public static final int MSG_VOLUME_GONE = 3;
    public static final int MSG_FAULT = 4;
    public static final int MSG_GRANTED = 5;
    public static final int MSG_FILLED = 6;
    public static final int MSG_FLUSH = 7;
    public static final int MSG_REPLAY_DONE = 8;
    public static final int MSG_DISCARD = 9;
    public static final int MSG_GRANT_LOW = 10;
    public static final int MSG_REVOKED = 11;
    public static final int MSG_GRANT_LIVE = 12;
    public static final int MSG_MAP = 16;
    public static final int MSG_FAIL = 17;
    public static final int MSG_COMMITTED = 18;
    public static final int MSG_FORGET = 19;
    public static final int MSG_GRANT = 20;
    public static final int MSG_REVOKE = 21;

    public static final int FILL_COPY = 0;
    public static final int FILL_ZERO = 1;
    public static final int FILL_NONE = 2;

    public static final int FAULT_FULL_WRITE = 1;

    /* struct dm_cow_msg */
    public static final int OFF_TYPE = 0;
    public static final int OFF_VOLUME = 4;
    public static final int OFF_SEQ = 8;
    public static final int OFF_PAYLOAD = 16;
    public static final int PAYLOAD_SIZE = MSG_SIZE - 16;

    /* struct dm_cow_hello, relative to the payload */
    public static final int HELLO_SIZE = 16;
    public static final int HELLO_VERSION = 0;
    public static final int HELLO_MSG_SIZE = 4;
    public static final int HELLO_MAX_COPIES = 8;
    public static final int HELLO_RESERVED = 12;

    /* struct dm_cow_chunk, relative to the payload */
    public static final int CHUNK_SIZE = 32;
    public static final int CHUNK_CHUNK = 0;
    public static final int CHUNK_COW_SECTOR = 8;
    public static final int CHUNK_FILL = 16;
    public static final int CHUNK_FLAGS = 20;
    public static final int CHUNK_ERROR = 24;
    public static final int CHUNK_GRANT = 28;

    /* struct dm_cow_grant, relative to the payload */
    public static final int GRANT_SIZE = 88;
    public static final int GRANT_FIRST_CHUNK = 0;
    public static final int GRANT_COW_SECTOR = 8;
    public static final int GRANT_COUNT = 16;
    public static final int GRANT_FILL = 20;
    public static final int GRANT_USED = 24;

    /* struct dm_cow_volume, relative to the payload */
    public static final int VOL_SIZE = 96;
    public static final int VOL_VOLUME_SECTORS = 0;
    public static final int VOL_COW_SECTORS = 8;
    public static final int VOL_CHUNK_SECTORS = 16;
    public static final int VOL_BASE_DEV = 20;
    public static final int VOL_COW_DEV = 24;
    public static final int VOL_RESERVED = 28;
    public static final int VOL_IDENT = 32;
}
