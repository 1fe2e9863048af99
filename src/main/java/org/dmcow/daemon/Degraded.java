/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.daemon;

/**
 * Why a volume is degraded: new chunks wait, every other volume keeps serving. The cause, not the
 * text shown to people, decides the way back; a config re-read (SIGHUP) retries every cause.
 */
enum Degraded {
    /** The base or CoW device could not be set up; ends when a new allocator opens the space. */
    DEVICES,
    /** The CoW space could not be opened. */
    SPACE_OPEN,
    /** The kernel holds a chunk at a place the CoW space cannot record. */
    ADOPTION,
    /** Placement failed reading or writing the space. */
    PLACEMENT,
    /** A metadata commit failed; ends with the next commit that succeeds. */
    METADATA,
    /** The dm device could not be created or adopted. */
    ACTIVATION,
    /** The kernel's table does not fit the config (chunk size, volume size). */
    KERNEL_TABLE
}
