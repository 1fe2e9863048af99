/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.protocol;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.dmcow.CHeader;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Compiles kmod/dm-cow.h with gcc and checks every constant, size and offset against {@link Protocol}. */
class ProtocolHeaderTest {
    @TempDir
    Path tmp;

    @Test
    void javaCodecMatchesTheKernelHeader() throws Exception {
        Map<String, Long> java = new LinkedHashMap<>();
        java.put("DM_COW_PROTOCOL_VERSION", (long) Protocol.VERSION);
        java.put("DM_COW_MSG_SIZE", (long) Protocol.MSG_SIZE);
        java.put("DM_COW_IDENT_LEN", (long) Protocol.IDENT_LEN);
        java.put("DM_COW_MSG_HELLO", (long) Protocol.MSG_HELLO);
        java.put("DM_COW_MSG_VOLUME", (long) Protocol.MSG_VOLUME);
        java.put("DM_COW_MSG_VOLUME_GONE", (long) Protocol.MSG_VOLUME_GONE);
        java.put("DM_COW_MSG_FAULT", (long) Protocol.MSG_FAULT);
        java.put("DM_COW_MSG_GRANTED", (long) Protocol.MSG_GRANTED);
        java.put("DM_COW_MSG_FILLED", (long) Protocol.MSG_FILLED);
        java.put("DM_COW_MSG_FLUSH", (long) Protocol.MSG_FLUSH);
        java.put("DM_COW_MSG_REPLAY_DONE", (long) Protocol.MSG_REPLAY_DONE);
        java.put("DM_COW_MSG_MAP", (long) Protocol.MSG_MAP);
        java.put("DM_COW_MSG_FAIL", (long) Protocol.MSG_FAIL);
        java.put("DM_COW_MSG_COMMITTED", (long) Protocol.MSG_COMMITTED);
        java.put("DM_COW_MSG_FORGET", (long) Protocol.MSG_FORGET);
        java.put("DM_COW_FILL_COPY", (long) Protocol.FILL_COPY);
        java.put("DM_COW_FILL_ZERO", (long) Protocol.FILL_ZERO);
        java.put("DM_COW_FILL_NONE", (long) Protocol.FILL_NONE);
        java.put("DM_COW_FAULT_FULL_WRITE", (long) Protocol.FAULT_FULL_WRITE);
        java.put("sizeof(struct dm_cow_msg)", (long) Protocol.MSG_SIZE);
        java.put("offsetof(struct dm_cow_msg, type)", (long) Protocol.OFF_TYPE);
        java.put("offsetof(struct dm_cow_msg, volume)", (long) Protocol.OFF_VOLUME);
        java.put("offsetof(struct dm_cow_msg, seq)", (long) Protocol.OFF_SEQ);
        java.put("offsetof(struct dm_cow_msg, hello)", (long) Protocol.OFF_PAYLOAD);
        java.put("offsetof(struct dm_cow_msg, chunk)", (long) Protocol.OFF_PAYLOAD);
        java.put("offsetof(struct dm_cow_msg, vol)", (long) Protocol.OFF_PAYLOAD);
        java.put("offsetof(struct dm_cow_msg, payload)", (long) Protocol.OFF_PAYLOAD);
        java.put("sizeof(((struct dm_cow_msg *)0)->payload)", (long) Protocol.PAYLOAD_SIZE);
        java.put("sizeof(struct dm_cow_hello)", (long) Protocol.HELLO_SIZE);
        java.put("offsetof(struct dm_cow_hello, version)", (long) Protocol.HELLO_VERSION);
        java.put("offsetof(struct dm_cow_hello, msg_size)", (long) Protocol.HELLO_MSG_SIZE);
        java.put("offsetof(struct dm_cow_hello, max_copies)", (long) Protocol.HELLO_MAX_COPIES);
        java.put("offsetof(struct dm_cow_hello, reserved)", (long) Protocol.HELLO_RESERVED);
        java.put("sizeof(struct dm_cow_chunk)", (long) Protocol.CHUNK_SIZE);
        java.put("offsetof(struct dm_cow_chunk, chunk)", (long) Protocol.CHUNK_CHUNK);
        java.put("offsetof(struct dm_cow_chunk, cow_sector)", (long) Protocol.CHUNK_COW_SECTOR);
        java.put("offsetof(struct dm_cow_chunk, fill)", (long) Protocol.CHUNK_FILL);
        java.put("offsetof(struct dm_cow_chunk, flags)", (long) Protocol.CHUNK_FLAGS);
        java.put("offsetof(struct dm_cow_chunk, error)", (long) Protocol.CHUNK_ERROR);
        java.put("offsetof(struct dm_cow_chunk, reserved)", (long) Protocol.CHUNK_RESERVED);
        java.put("sizeof(struct dm_cow_volume)", (long) Protocol.VOL_SIZE);
        java.put("offsetof(struct dm_cow_volume, volume_sectors)", (long) Protocol.VOL_VOLUME_SECTORS);
        java.put("offsetof(struct dm_cow_volume, cow_sectors)", (long) Protocol.VOL_COW_SECTORS);
        java.put("offsetof(struct dm_cow_volume, chunk_sectors)", (long) Protocol.VOL_CHUNK_SECTORS);
        java.put("offsetof(struct dm_cow_volume, base_dev)", (long) Protocol.VOL_BASE_DEV);
        java.put("offsetof(struct dm_cow_volume, cow_dev)", (long) Protocol.VOL_COW_DEV);
        java.put("offsetof(struct dm_cow_volume, reserved)", (long) Protocol.VOL_RESERVED);
        java.put("offsetof(struct dm_cow_volume, ident)", (long) Protocol.VOL_IDENT);

        Map<String, Long> c = CHeader.values(tmp, "#include \"dm-cow.h\"\n", Path.of("kmod").toAbsolutePath(),
                java.keySet());
        assertEquals(java, c);
        assertEquals("\"" + Protocol.CONTROL_NAME + "\"",
                CHeader.stringValue(tmp, "#include \"dm-cow.h\"\n", Path.of("kmod").toAbsolutePath(),
                        "DM_COW_CONTROL_NAME"));
    }
}
