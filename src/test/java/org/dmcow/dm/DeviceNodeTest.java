/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.dm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** /dev/mapper nodes on a host without udev: made when missing, replaced when stale. */
class DeviceNodeTest {
    @TempDir
    Path dir;

    @BeforeEach
    void needsRoot() {
        assumeTrue("root".equals(System.getProperty("user.name")), "mknod of block devices needs root");
    }

    private static String majorMinor(Path node) throws Exception {
        long rdev = (Long) Files.getAttribute(node, "unix:rdev", LinkOption.NOFOLLOW_LINKS);
        long major = ((rdev >>> 32) & 0xfffff000L) | ((rdev >>> 8) & 0xfffL);
        long minor = ((rdev >>> 12) & 0xffffff00L) | (rdev & 0xffL);
        return major + ":" + minor;
    }

    @Test
    void aMissingNodeIsMade() throws Exception {
        Path node = dir.resolve("vm1");
        DmIoctl.ensureNode(node, 253, 3);
        assertTrue(Files.readAttributes(node, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).isOther());
        assertEquals("253:3", majorMinor(node));
        DmIoctl.ensureNode(node, 253, 3);
        assertEquals("253:3", majorMinor(node));
    }

    @Test
    void aNodeLeftFromAnEarlierDeviceOfTheSameNameIsReplaced() throws Exception {
        // dmsetup remove without udev left vm1's node at 253:1; the kernel gave 253:1 to vm2 since
        Path node = dir.resolve("vm1");
        DmIoctl.ensureNode(node, 253, 1);
        DmIoctl.ensureNode(node, 253, 0);
        assertEquals("253:0", majorMinor(node), "the stale node would open another volume");
        DmIoctl.ensureNode(node, 253, 300);
        assertEquals("253:300", majorMinor(node));
    }

    @Test
    void aRegularFileInTheWayIsReplacedAndUdevSymlinksAreLeftAlone() throws Exception {
        Path node = dir.resolve("vm1");
        Files.writeString(node, "not a device");
        DmIoctl.ensureNode(node, 253, 2);
        assertEquals("253:2", majorMinor(node));
        Path link = dir.resolve("vm2");
        Files.createSymbolicLink(link, Path.of("../dm-5"));
        DmIoctl.ensureNode(link, 253, 7);
        assertTrue(Files.isSymbolicLink(link));
        assertEquals(Path.of("../dm-5"), Files.readSymbolicLink(link));
    }
}
