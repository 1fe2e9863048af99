/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.dm;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.dmcow.CHeader;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The dm and loop ioctl layouts in Java against the installed kernel headers. */
class DmIoctlHeaderTest {
    @TempDir
    Path tmp;

    @Test
    void layoutsMatchTheKernelHeaders() throws Exception {
        Map<String, Long> java = new LinkedHashMap<>();
        java.put("sizeof(struct dm_ioctl)", (long) DmIoctl.SIZEOF_DM_IOCTL);
        java.put("offsetof(struct dm_ioctl, version)", (long) DmIoctl.OFF_VERSION);
        java.put("offsetof(struct dm_ioctl, data_size)", (long) DmIoctl.OFF_DATA_SIZE);
        java.put("offsetof(struct dm_ioctl, data_start)", (long) DmIoctl.OFF_DATA_START);
        java.put("offsetof(struct dm_ioctl, target_count)", (long) DmIoctl.OFF_TARGET_COUNT);
        java.put("offsetof(struct dm_ioctl, open_count)", (long) DmIoctl.OFF_OPEN_COUNT);
        java.put("offsetof(struct dm_ioctl, flags)", (long) DmIoctl.OFF_FLAGS);
        java.put("offsetof(struct dm_ioctl, dev)", (long) DmIoctl.OFF_DEV);
        java.put("offsetof(struct dm_ioctl, name)", (long) DmIoctl.OFF_NAME);
        java.put("offsetof(struct dm_ioctl, uuid)", (long) DmIoctl.OFF_UUID);
        java.put("DM_NAME_LEN", (long) DmIoctl.NAME_LEN);
        java.put("DM_UUID_LEN", (long) DmIoctl.UUID_LEN);
        java.put("sizeof(struct dm_target_spec)", (long) DmIoctl.SIZEOF_TARGET_SPEC);
        java.put("offsetof(struct dm_target_spec, sector_start)", (long) DmIoctl.SPEC_SECTOR_START);
        java.put("offsetof(struct dm_target_spec, length)", (long) DmIoctl.SPEC_LENGTH);
        java.put("offsetof(struct dm_target_spec, status)", (long) DmIoctl.SPEC_STATUS);
        java.put("offsetof(struct dm_target_spec, next)", (long) DmIoctl.SPEC_NEXT);
        java.put("offsetof(struct dm_target_spec, target_type)", (long) DmIoctl.SPEC_TARGET_TYPE);
        java.put("DM_MAX_TYPE_NAME", (long) DmIoctl.MAX_TYPE_NAME);
        java.put("DM_DEV_CREATE", DmIoctl.request(DmIoctl.DM_DEV_CREATE));
        java.put("DM_DEV_REMOVE", DmIoctl.request(DmIoctl.DM_DEV_REMOVE));
        java.put("DM_DEV_SUSPEND", DmIoctl.request(DmIoctl.DM_DEV_SUSPEND));
        java.put("DM_DEV_STATUS", DmIoctl.request(DmIoctl.DM_DEV_STATUS));
        java.put("DM_TABLE_LOAD", DmIoctl.request(DmIoctl.DM_TABLE_LOAD));
        java.put("DM_TABLE_STATUS", DmIoctl.request(DmIoctl.DM_TABLE_STATUS));
        java.put("DM_SUSPEND_FLAG", (long) DmIoctl.DM_SUSPEND_FLAG);
        java.put("DM_STATUS_TABLE_FLAG", (long) DmIoctl.DM_STATUS_TABLE_FLAG);
        java.put("DM_ACTIVE_PRESENT_FLAG", (long) DmIoctl.DM_ACTIVE_PRESENT_FLAG);
        java.put("DM_BUFFER_FULL_FLAG", (long) DmIoctl.DM_BUFFER_FULL_FLAG);
        java.put("DM_SKIP_LOCKFS_FLAG", (long) DmIoctl.DM_SKIP_LOCKFS_FLAG);
        java.put("DM_NOFLUSH_FLAG", (long) DmIoctl.DM_NOFLUSH_FLAG);
        java.put("LOOP_CLR_FD", LoopIoctl.LOOP_CLR_FD);
        java.put("LOOP_SET_CAPACITY", LoopIoctl.LOOP_SET_CAPACITY);
        java.put("LOOP_CONFIGURE", LoopIoctl.LOOP_CONFIGURE);
        java.put("LOOP_CTL_GET_FREE", LoopIoctl.LOOP_CTL_GET_FREE);
        java.put("sizeof(struct loop_config)", (long) LoopIoctl.SIZEOF_LOOP_CONFIG);
        java.put("offsetof(struct loop_config, fd)", (long) LoopIoctl.CONFIG_FD);
        java.put("offsetof(struct loop_config, info)", (long) LoopIoctl.CONFIG_INFO);
        java.put("offsetof(struct loop_info64, lo_flags)", (long) LoopIoctl.INFO_FLAGS);
        java.put("offsetof(struct loop_info64, lo_file_name)", (long) LoopIoctl.INFO_FILE_NAME);
        java.put("LO_NAME_SIZE", (long) LoopIoctl.LO_NAME_SIZE);
        java.put("LO_FLAGS_READ_ONLY", (long) LoopIoctl.LO_FLAGS_READ_ONLY);
        assertEquals(java, CHeader.values(tmp, "#include <sys/ioctl.h>\n#include <linux/dm-ioctl.h>\n#include <linux/loop.h>\n", tmp,
                java.keySet()));
    }

    @Test
    void tableLoadBufferRoundTrips() {
        List<DeviceMapper.Target> table = List.of(new DeviceMapper.Target(0, 128, "cow", "vm1 7:0 7:1 128"),
                new DeviceMapper.Target(128, 256, "linear", "7:1 2048"),
                new DeviceMapper.Target(384, 1000, "cow", "vm1 7:0 7:1 128"));
        ByteBuffer b = DmIoctl.loadBuffer("vm1", table);
        assertEquals(0, (b.getInt(DmIoctl.SIZEOF_DM_IOCTL + DmIoctl.SPEC_NEXT)) % 8);
        // The kernel's TABLE_STATUS reply counts "next" from the first spec, not from the current one.
        int off = DmIoctl.SIZEOF_DM_IOCTL;
        int fromFirst = 0;
        for (int i = 0; i < table.size(); i++) {
            int next = b.getInt(off + DmIoctl.SPEC_NEXT);
            fromFirst += next;
            b.putInt(off + DmIoctl.SPEC_NEXT, fromFirst);
            off += next;
        }
        assertEquals(table, DmIoctl.parseTable(b));
    }
}
