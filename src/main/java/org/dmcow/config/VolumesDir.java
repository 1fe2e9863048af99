/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.config;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigParseOptions;
import com.typesafe.config.ConfigUtil;
import com.typesafe.config.ConfigValueType;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * {@code dmcow.volumes-dir}: the volumes added through the admin socket, one {@code NAME.conf} each
 * holding what {@code dmcow.volumes.NAME} would ({@code base = ..., cow = ...}). They join the main
 * file's volumes before any check, so they are refused for the same causes with the same messages.
 * A name in both the main file and the folder is refused in the folder; files starting with a dot
 * (the temporary files of {@link #write}) are not volumes.
 */
public final class VolumesDir {
    static final String SUFFIX = ".conf";

    /** The main config with the folder's volumes under {@code dmcow.volumes}, and the folder's refused files. */
    record Read(Config config, Map<String, String> errors) {
    }

    private VolumesDir() {
    }

    public static Path file(Path dir, String name) {
        return dir.resolve(name + SUFFIX);
    }

    /** The volumes {@code parsed} (a main config file) defines itself. */
    static Set<String> names(Config parsed) {
        Set<String> out = new TreeSet<>();
        if (parsed.hasPath("dmcow.volumes") && parsed.getValue("dmcow.volumes").valueType() == ConfigValueType.OBJECT) {
            out.addAll(parsed.getConfig("dmcow.volumes").root().keySet());
        }
        return out;
    }

    static Read read(Path dir, Map<String, String> added, Set<String> dropped, Config parsed) throws ConfigException {
        Map<String, String> texts = new TreeMap<>();
        Map<String, String> errors = new TreeMap<>();
        if (Files.isDirectory(dir)) {
            try (DirectoryStream<Path> files = Files.newDirectoryStream(dir, "*" + SUFFIX)) {
                for (Path f : files) {
                    String name = f.getFileName().toString();
                    if (!name.startsWith(".")) {
                        texts.put(name.substring(0, name.length() - SUFFIX.length()), Files.readString(f));
                    }
                }
            } catch (IOException e) {
                throw new ConfigException(dir + ": cannot read the volumes folder: " + e.getMessage());
            }
        }
        texts.putAll(added);
        texts.keySet().removeAll(dropped);
        Set<String> inFile = names(parsed);
        Config out = parsed;
        for (var e : texts.entrySet()) {
            String name = e.getKey();
            Path f = file(dir, name);
            if (inFile.contains(name)) {
                errors.put(name, f + ": volume " + name + ": already defined in the main config file; "
                        + "one of the two must go");
                continue;
            }
            try {
                Config v = ConfigFactory.parseString(e.getValue(), ConfigParseOptions.defaults().setOriginDescription(
                        f.toString()));
                out = out.withValue(ConfigUtil.joinPath("dmcow", "volumes", name), v.root());
            } catch (com.typesafe.config.ConfigException ex) {
                errors.put(name, f + ": volume " + name + ": " + ex.getMessage());
            }
        }
        return new Read(out, errors);
    }

    /** The HOCON of a NAME.conf. */
    public static String text(Path base, Path cow, String format, String chunkSize) {
        StringBuilder b = new StringBuilder("# added by dmcowctl add; dmcowctl remove deletes it\n");
        b.append("base = ").append(ConfigUtil.quoteString(base.toString())).append('\n');
        b.append("cow = ").append(ConfigUtil.quoteString(cow.toString())).append('\n');
        if (format != null) {
            b.append("format = ").append(ConfigUtil.quoteString(format)).append('\n');
        }
        if (chunkSize != null) {
            b.append("chunk-size = ").append(ConfigUtil.quoteString(chunkSize)).append('\n');
        }
        return b.toString();
    }

    /**
     * Writes NAME.conf so that a crash leaves either the old state or the whole new file: a
     * temporary file ({@code .NAME.conf.tmp}, never read as a volume) written and fsynced, renamed
     * over, then the folder fsynced so the rename itself is durable.
     */
    public static void write(Path dir, String name, String text) throws IOException {
        Files.createDirectories(dir);
        Path tmp = dir.resolve("." + name + SUFFIX + ".tmp");
        try (FileChannel c = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            c.write(java.nio.ByteBuffer.wrap(text.getBytes(StandardCharsets.UTF_8)));
            c.force(true);
        }
        Files.move(tmp, file(dir, name), StandardCopyOption.ATOMIC_MOVE);
        syncDir(dir);
    }

    /** Deletes NAME.conf durably; true if it was there. */
    public static boolean delete(Path dir, String name) throws IOException {
        try {
            Files.delete(file(dir, name));
        } catch (NoSuchFileException e) {
            return false;
        }
        syncDir(dir);
        return true;
    }

    private static void syncDir(Path dir) throws IOException {
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        }
    }
}
