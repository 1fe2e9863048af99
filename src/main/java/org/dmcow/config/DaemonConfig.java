/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.config;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException.Missing;
import com.typesafe.config.ConfigException.WrongType;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigParseOptions;
import com.typesafe.config.ConfigUtil;
import com.typesafe.config.ConfigValueType;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Pattern;
import org.dmcow.protocol.Protocol;

/**
 * The daemon's settings and volume set. Daemon-wide errors refuse the whole file; a bad volume only
 * refuses that volume ({@link #volumeErrors}), so a good volume next to it still starts.
 */
public record DaemonConfig(Path controlDevice, Duration commitInterval, Path adminSocket, boolean lockMemory,
        int maxInFlight, int streamInFlight, int reloadMaxMappings, Duration reloadMaxDelay, int grantWindow,
        InetSocketAddress metricsListen, Map<String, VolumeConfig> volumes, Map<String, String> volumeErrors,
        Config raw, Path volumesDir, Set<String> fileVolumes) {

    /** Device-mapper names: what /dev/mapper accepts and what fits in the protocol's ident. */
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9_.+-]{1,63}");
    private static final List<String> VOLUME_KEYS = List.of("base", "cow", "format", "chunk-size", "no-space",
            "no-space-timeout", "autoextend");

    /** Reads {@code file} and the volumes of its {@code dmcow.volumes-dir} over the defaults in reference.conf. */
    public static DaemonConfig load(Path file) throws ConfigException {
        return load(file, Map.of(), Set.of());
    }

    /**
     * {@link #load(Path)} as if {@code added} (name: the HOCON of a NAME.conf) were in the volumes
     * folder and {@code dropped} were not: what an add or remove through the admin socket would make.
     */
    public static DaemonConfig load(Path file, Map<String, String> added, Set<String> dropped) throws ConfigException {
        if (!Files.isReadable(file)) {
            throw new ConfigException(file + ": cannot read the config file");
        }
        Config parsed;
        try {
            parsed = ConfigFactory.parseFile(file.toFile(), ConfigParseOptions.defaults().setAllowMissing(false));
        } catch (com.typesafe.config.ConfigException e) {
            throw new ConfigException(file + ": " + e.getMessage());
        }
        Config reference = ConfigFactory.defaultReference(DaemonConfig.class.getClassLoader());
        Path dir;
        try {
            dir = Path.of(parsed.withFallback(reference).getString("dmcow.volumes-dir"));
        } catch (com.typesafe.config.ConfigException e) {
            throw new ConfigException(file + ": " + e.getMessage());
        }
        VolumesDir.Read read = VolumesDir.read(dir, added, dropped, parsed);
        return from(file.toString(), read.config(), read.errors(), VolumesDir.names(parsed));
    }

    /** The built-in defaults alone (reference.conf), e.g. where the admin socket is by default. */
    public static DaemonConfig defaults() throws ConfigException {
        return from("the built-in defaults", ConfigFactory.empty());
    }

    /** Builds the config from parsed HOCON; {@code origin} names it in messages. */
    public static DaemonConfig from(String origin, Config parsed) throws ConfigException {
        return from(origin, parsed, Map.of(), VolumesDir.names(parsed));
    }

    /** {@code fileErrors}: volumes of the volumes folder refused before parsing (see {@link VolumesDir}). */
    private static DaemonConfig from(String origin, Config parsed, Map<String, String> fileErrors,
            Set<String> inFile) throws ConfigException {
        Config reference = ConfigFactory.defaultReference(DaemonConfig.class.getClassLoader());
        Config c = ConfigFactory.defaultOverrides().withFallback(parsed).withFallback(reference).resolve();
        try {
            refuseUnknownKeys(origin, parsed, reference);
            Config d = c.getConfig("dmcow");
            Duration commit = positive(origin, "dmcow.commit-interval", d.getDuration("commit-interval"));
            Duration delay = positive(origin, "dmcow.reload.max-delay", d.getDuration("reload.max-delay"));
            int maxMappings = atLeastOne(origin, "dmcow.reload.max-mappings", d.getInt("reload.max-mappings"));
            int maxInFlight = atLeastOne(origin, "dmcow.max-in-flight", d.getInt("max-in-flight"));
            int streamInFlight = atLeastOne(origin, "dmcow.stream-in-flight", d.getInt("stream-in-flight"));
            int grantWindow = d.getInt("grant-window");
            if (grantWindow < 0 || grantWindow > Protocol.MAX_GRANT_CHUNKS) {
                throw new ConfigException(origin + ": dmcow.grant-window = " + grantWindow + ": 0 (no grants) to "
                        + Protocol.MAX_GRANT_CHUNKS + " chunks");
            }
            SpacePolicy space = spacePolicy(origin + ": ", d, "dmcow.", warnings(origin, d));
            Map<String, VolumeConfig> volumes = new TreeMap<>();
            Map<String, String> errors = new TreeMap<>(fileErrors);
            Path dir = Path.of(d.getString("volumes-dir"));
            Config vols = d.getConfig("volumes");
            for (String name : vols.root().keySet()) {
                String where = inFile.contains(name) ? origin : VolumesDir.file(dir, name).toString();
                try {
                    volumes.put(name, volume(where, name, vols, space));
                } catch (ConfigException e) {
                    errors.put(name, e.getMessage());
                }
            }
            errors.putAll(VolumeConflicts.find(origin, volumes.values()));
            volumes.keySet().removeAll(errors.keySet());
            return new DaemonConfig(Path.of(d.getString("control-device")), commit,
                    Path.of(d.getString("admin-socket")), d.getBoolean("lock-memory"), maxInFlight, streamInFlight,
                    maxMappings, delay, grantWindow, listen(origin, d.getString("metrics.listen")), volumes, errors, c, dir,
                    Set.copyOf(inFile));
        } catch (com.typesafe.config.ConfigException e) {
            throw new ConfigException(origin + ": " + e.getMessage());
        }
    }

    /** {@code dmcow.metrics.listen}: HOST:PORT ([v6]:PORT), or null for "" (no HTTP listener). */
    private static InetSocketAddress listen(String origin, String value) throws ConfigException {
        if (value.isEmpty()) {
            return null;
        }
        String why = origin + ": dmcow.metrics.listen = \"" + value + "\": ";
        int colon = value.lastIndexOf(':');
        if (colon <= 0) {
            throw new ConfigException(why + "expected HOST:PORT, e.g. \"127.0.0.1:9567\" (\"\": no HTTP listener)");
        }
        String host = value.substring(0, colon).replaceAll("^\\[(.*)\\]$", "$1");
        int port;
        try {
            port = Integer.parseInt(value.substring(colon + 1));
        } catch (NumberFormatException e) {
            port = -1;
        }
        if (port < 1 || port > 65535) {
            throw new ConfigException(why + "the port must be a number from 1 to 65535");
        }
        InetSocketAddress address = new InetSocketAddress(host, port);
        if (address.isUnresolved()) {
            throw new ConfigException(why + "unknown host " + host);
        }
        return address;
    }

    private static VolumeConfig volume(String origin, String name, Config vols, SpacePolicy daemonWide)
            throws ConfigException {
        String where = origin + ": volume " + name + ": ";
        if (!NAME.matcher(name).matches() || name.equals(".") || name.equals("..")) {
            throw new ConfigException(where + "the name must be 1 to 63 of A-Z a-z 0-9 _ . + - (it becomes "
                    + "/dev/mapper/NAME)");
        }
        if (vols.root().get(name).valueType() != ConfigValueType.OBJECT) {
            throw new ConfigException(where + "dmcow.volumes." + name + " must be an object { base = ..., cow = ... }");
        }
        Config v = vols.getConfig(ConfigUtil.joinPath(name));
        for (String key : v.root().keySet()) {
            if (!VOLUME_KEYS.contains(key)) {
                throw new ConfigException(where + UnknownKeys.message(key, VOLUME_KEYS));
            }
        }
        Path base = Path.of(string(where, v, "base"));
        Path cow = Path.of(string(where, v, "cow"));
        if (!base.isAbsolute()) {
            throw new ConfigException(where + "base must be an absolute path, not " + base);
        }
        if (!cow.isAbsolute()) {
            throw new ConfigException(where + "cow must be an absolute path, not " + cow);
        }
        String format = v.hasPath("format") ? string(where, v, "format") : "native";
        long chunkSize;
        String chunkText = v.hasPath("chunk-size") ? string(where, v, "chunk-size") : "64k";
        try {
            chunkSize = Sizes.parse(chunkText);
        } catch (IllegalArgumentException e) {
            throw new ConfigException(where + "chunk-size: " + e.getMessage());
        }
        if (chunkSize < 4096 || Long.bitCount(chunkSize) != 1 || chunkSize > (1L << 30)) {
            throw new ConfigException(where + "chunk-size " + chunkText
                    + " must be a power of two from 4k to 1G");
        }
        return new VolumeConfig(name, base, cow, format, chunkSize,
                spacePolicy(where, v.withFallback(spaceKeys(daemonWide)), "", daemonWide.warnings()));
    }

    /** The daemon-wide no-space and autoextend settings as keys, under a volume's own. */
    private static Config spaceKeys(SpacePolicy p) {
        return ConfigFactory.parseMap(Map.of("no-space", p.noSpace().word(), "no-space-timeout",
                p.noSpaceTimeout().toMillis() + "ms", "autoextend.threshold", p.autoextend().threshold(),
                "autoextend.percent", p.autoextend().percent(), "autoextend.max", Long.toString(p.autoextend().max())));
    }

    /** {@code no-space} and {@code no-space-timeout} of {@code c}; {@code prefix} spells the keys in messages. */
    private static SpacePolicy spacePolicy(String where, Config c, String prefix, List<Integer> warnings)
            throws ConfigException {
        String policy = string(where, c, "no-space");
        SpacePolicy.NoSpace noSpace;
        try {
            noSpace = SpacePolicy.NoSpace.valueOf(policy.toUpperCase(java.util.Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new ConfigException(where + prefix + "no-space must be queue or error, not " + policy);
        }
        Duration timeout;
        try {
            timeout = c.getDuration("no-space-timeout");
        } catch (com.typesafe.config.ConfigException e) {
            throw new ConfigException(where + prefix + "no-space-timeout: " + e.getMessage());
        }
        if (timeout.isNegative()) {
            throw new ConfigException(where + prefix + "no-space-timeout must not be negative, not " + timeout);
        }
        return new SpacePolicy(noSpace, timeout, warnings, autoextend(where, c, prefix));
    }

    private static SpacePolicy.Autoextend autoextend(String where, Config c, String prefix) throws ConfigException {
        String key = prefix + "autoextend.";
        int threshold = c.getInt("autoextend.threshold");
        int percent = c.getInt("autoextend.percent");
        if (threshold < 1 || threshold > 100) {
            throw new ConfigException(where + key + "threshold must be a percentage from 1 to 100 (100: off), not "
                    + threshold);
        }
        if (percent < 1 || percent > 1000) {
            throw new ConfigException(where + key + "percent must be from 1 to 1000, not " + percent);
        }
        try {
            return new SpacePolicy.Autoextend(threshold, percent, Sizes.parse(c.getString("autoextend.max")));
        } catch (IllegalArgumentException e) {
            throw new ConfigException(where + key + "max: " + e.getMessage());
        }
    }

    /** {@code dmcow.space-warnings}: percentages of use, each from 1 to 99. */
    private static List<Integer> warnings(String origin, Config d) throws ConfigException {
        List<Integer> out = new ArrayList<>();
        for (int w : d.getIntList("space-warnings")) {
            if (w < 1 || w > 99) {
                throw new ConfigException(origin + ": dmcow.space-warnings: " + w + " is not a percentage from 1 to 99");
            }
            out.add(w);
        }
        return List.copyOf(out);
    }

    /**
     * A daemon-wide key the defaults do not have is a mistake (a misspelt setting would otherwise
     * silently keep its default): the file is refused. Volumes are checked one by one.
     */
    private static void refuseUnknownKeys(String origin, Config parsed, Config reference) throws ConfigException {
        if (!parsed.hasPath("dmcow") || parsed.getValue("dmcow").valueType() != ConfigValueType.OBJECT) {
            return;
        }
        Set<String> known = new TreeSet<>();
        reference.getConfig("dmcow").entrySet().forEach(e -> known.add("dmcow." + e.getKey()));
        for (var e : parsed.getConfig("dmcow").entrySet()) {
            String key = "dmcow." + e.getKey();
            if (!key.startsWith("dmcow.volumes.") && !known.contains(key)) {
                throw new ConfigException(origin + ": " + UnknownKeys.message(key, known));
            }
        }
    }

    private static String string(String where, Config v, String key) throws ConfigException {
        try {
            return v.getString(key);
        } catch (Missing e) {
            throw new ConfigException(where + key + " is missing");
        } catch (WrongType e) {
            throw new ConfigException(where + key + " must be a string");
        }
    }

    private static Duration positive(String origin, String key, Duration d) throws ConfigException {
        if (d.isNegative() || d.isZero()) {
            throw new ConfigException(origin + ": " + key + " must be positive, not " + d);
        }
        return d;
    }

    private static int atLeastOne(String origin, String key, int v) throws ConfigException {
        if (v < 1) {
            throw new ConfigException(origin + ": " + key + " must be at least 1, not " + v);
        }
        return v;
    }
}
