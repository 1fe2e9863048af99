/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.admin;

/**
 * The names of the admin socket's ops, the {@code "op"} of a request; the daemon maps each to an
 * {@link AdminServer.Op} (Dmcowd#adminOps). A new op: a name here, an entry there, a client call.
 */
public final class AdminOps {
    /** {@link StatusReport#json}. */
    public static final String STATUS = "status";
    /** {@code volume}, {@code size}, {@code by}: {@link GrowResult#json}. */
    public static final String GROW = "grow";
    /** {@code volume}, {@code base}, {@code cow}, optional {@code format}, {@code chunk_size}, {@code wait_ms}: {@link VolumeChange#json}. */
    public static final String ADD = "add";
    /** {@code volume}: {@link VolumeChange#json}. */
    public static final String REMOVE = "remove";
    /** {@link StatusReport#json} with each volume's {@code source}. */
    public static final String LIST = "list";
    /** Re-read the config file and the volumes folder: {@link ReloadResult#json}. */
    public static final String RELOAD = "reload";
    /** The Prometheus text of {@link MetricsText} (not JSON). */
    public static final String METRICS = "metrics";

    private AdminOps() {
    }
}
