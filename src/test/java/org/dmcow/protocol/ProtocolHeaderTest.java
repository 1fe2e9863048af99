/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.protocol;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.dmcow.CHeader;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * kmod/dm-cow.h is the protocol's one definition; its mirrors must agree with it. Every
 * {@code DM_COW_X} name of the header (macro or enumerator) needs its twin {@code Protocol.X} with
 * the same value; kmod/tests/responder.py's twins (the X it defines) must have the header's value.
 * Struct sizes and offsets are checked against {@link Protocol} too.
 */
class ProtocolHeaderTest {
    private static final String INCLUDE = "#include \"dm-cow.h\"\n";
    private static final Path KMOD = Path.of("kmod").toAbsolutePath();
    private static final Path RESPONDER = KMOD.resolve("tests/responder.py");
    /** Prints the responder's upper-case int and str constants as NAME=value lines (no __pycache__ left). */
    private static final String RESPONDER_CONSTANTS = String.join("\n",
            "import importlib.util, sys",
            "sys.dont_write_bytecode = True",
            "spec = importlib.util.spec_from_file_location('responder', sys.argv[1])",
            "m = importlib.util.module_from_spec(spec)",
            "spec.loader.exec_module(m)",
            "for k, v in vars(m).items():",
            "    if k.isupper() and type(v) in (int, str):",
            "        print(f'{k}={v}')");

    @TempDir
    Path tmp;

    @Test
    void everyHeaderNameHasItsJavaTwin() throws Exception {
        assertEquals(List.of(), javaDrift(KMOD));
    }

    @Test
    void theResponderAgreesWithTheHeader() throws Exception {
        assertEquals(List.of(), responderDrift(KMOD, RESPONDER));
    }

    @Test
    void aNewMacroOrEnumeratorWithoutAJavaTwinIsCaught() throws Exception {
        Path kmod = headerCopy(h -> h.replace("#endif /* _UAPI_LINUX_DM_COW_H */",
                "#define DM_COW_MAX_VOLUMES\t1024\n#endif /* _UAPI_LINUX_DM_COW_H */")
                .replace("DM_COW_MSG_REVOKE\t= 21,", "DM_COW_MSG_REVOKE\t= 21,\n\tDM_COW_MSG_PING\t= 22,"));
        assertEquals(List.of("DM_COW_MAX_VOLUMES has no twin Protocol.MAX_VOLUMES",
                "DM_COW_MSG_PING has no twin Protocol.MSG_PING"), javaDrift(kmod));
    }

    @Test
    void aChangedLimitIsCaughtInJavaAndInTheResponder() throws Exception {
        Path kmod = headerCopy(h -> h.replace("#define DM_COW_MAX_WRITE_MSGS\t256",
                "#define DM_COW_MAX_WRITE_MSGS\t512"));
        assertEquals(List.of("DM_COW_MAX_WRITE_MSGS is 512 in the header, 256 in Protocol.MAX_WRITE_MSGS"),
                javaDrift(kmod));
        assertEquals(List.of("DM_COW_MAX_WRITE_MSGS is 512 in the header, 256 in responder.py's MAX_WRITE_MSGS"),
                responderDrift(kmod, RESPONDER));
    }

    @Test
    void aResponderConstantThatDriftedIsCaught() throws Exception {
        String responder = Files.readString(RESPONDER);
        Path drifted = Files.writeString(tmp.resolve("responder.py"), responder.replace("MAX_READ_MSGS = 64\n",
                "MAX_READ_MSGS = 65\n").replace("MSG_FORGET, MSG_GRANT, MSG_REVOKE = 16, 17, 18, 19,", "MSG_FORGET, MSG_GRANT, MSG_REVOKE = 16, 17, 18, 20,"));
        assertEquals(List.of("DM_COW_MAX_READ_MSGS is 64 in the header, 65 in responder.py's MAX_READ_MSGS",
                "DM_COW_MSG_FORGET is 19 in the header, 20 in responder.py's MSG_FORGET"),
                responderDrift(KMOD, drifted));
    }

    @Test
    void structLayoutMatchesTheKernelHeader() throws Exception {
        Map<String, Long> java = new LinkedHashMap<>();
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
        java.put("offsetof(struct dm_cow_chunk, grant)", (long) Protocol.CHUNK_GRANT);
        java.put("offsetof(struct dm_cow_msg, grant)", (long) Protocol.OFF_PAYLOAD);
        java.put("sizeof(struct dm_cow_grant)", (long) Protocol.GRANT_SIZE);
        java.put("offsetof(struct dm_cow_grant, first_chunk)", (long) Protocol.GRANT_FIRST_CHUNK);
        java.put("offsetof(struct dm_cow_grant, cow_sector)", (long) Protocol.GRANT_COW_SECTOR);
        java.put("offsetof(struct dm_cow_grant, count)", (long) Protocol.GRANT_COUNT);
        java.put("offsetof(struct dm_cow_grant, fill)", (long) Protocol.GRANT_FILL);
        java.put("offsetof(struct dm_cow_grant, used)", (long) Protocol.GRANT_USED);
        java.put("sizeof(struct dm_cow_volume)", (long) Protocol.VOL_SIZE);
        java.put("offsetof(struct dm_cow_volume, volume_sectors)", (long) Protocol.VOL_VOLUME_SECTORS);
        java.put("offsetof(struct dm_cow_volume, cow_sectors)", (long) Protocol.VOL_COW_SECTORS);
        java.put("offsetof(struct dm_cow_volume, chunk_sectors)", (long) Protocol.VOL_CHUNK_SECTORS);
        java.put("offsetof(struct dm_cow_volume, base_dev)", (long) Protocol.VOL_BASE_DEV);
        java.put("offsetof(struct dm_cow_volume, cow_dev)", (long) Protocol.VOL_COW_DEV);
        java.put("offsetof(struct dm_cow_volume, reserved)", (long) Protocol.VOL_RESERVED);
        java.put("offsetof(struct dm_cow_volume, ident)", (long) Protocol.VOL_IDENT);

        assertEquals(java, CHeader.values(tmp, INCLUDE, KMOD, java.keySet()));
    }

    /** A copy of kmod/dm-cow.h, edited, in a folder of its own: the folder. */
    private Path headerCopy(Function<String, String> edit) throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("kmod"));
        String header = Files.readString(KMOD.resolve("dm-cow.h"));
        String edited = edit.apply(header);
        assertNotEquals(header, edited, "the edit changed nothing");
        Files.writeString(dir.resolve("dm-cow.h"), edited);
        return dir;
    }

    /** Where {@link Protocol} differs from the header in {@code includeDir}: one line per name. */
    private List<String> javaDrift(Path includeDir) throws Exception {
        Map<String, Object> twins = new LinkedHashMap<>();
        List<String> drift = new ArrayList<>();
        for (String name : CHeader.names(tmp, INCLUDE, includeDir, "DM_COW_")) {
            try {
                twins.put(name, Protocol.class.getField(twin(name)).get(null));
            } catch (NoSuchFieldException e) {
                drift.add(name + " has no twin Protocol." + twin(name));
            }
        }
        compare(includeDir, twins, "Protocol.", drift);
        return drift;
    }

    /** Where responder.py's twins differ from the header in {@code includeDir}: one line per name. */
    private List<String> responderDrift(Path includeDir, Path responder) throws Exception {
        Map<String, String> constants = pythonConstants(responder);
        Map<String, Object> twins = new LinkedHashMap<>();
        for (String name : CHeader.names(tmp, INCLUDE, includeDir, "DM_COW_")) {
            String value = constants.get(twin(name));
            if (value != null) {
                twins.put(name, value);
            }
        }
        List<String> drift = new ArrayList<>();
        compare(includeDir, twins, "responder.py's ", drift);
        return drift;
    }

    /** Adds a line to {@code drift} for each header name whose twin's value differs. */
    private void compare(Path includeDir, Map<String, Object> twins, String where, List<String> drift)
            throws Exception {
        Map<String, Long> numbers = CHeader.values(tmp, INCLUDE, includeDir,
                twins.keySet().stream().filter(n -> !(twins.get(n) instanceof String s) || isNumber(s)).toList());
        for (Map.Entry<String, Object> t : twins.entrySet()) {
            String name = t.getKey();
            String header = numbers.containsKey(name) ? String.valueOf(numbers.get(name))
                    : unquote(CHeader.stringValue(tmp, INCLUDE, includeDir, name));
            String mirror = String.valueOf(t.getValue());
            if (!header.equals(mirror)) {
                drift.add(name + " is " + header + " in the header, " + mirror + " in " + where + twin(name));
            }
        }
    }

    private Map<String, String> pythonConstants(Path responder) throws IOException, InterruptedException {
        Process p = new ProcessBuilder("python3", "-c", RESPONDER_CONSTANTS, responder.toString())
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0, "python3 could not load " + responder);
        Map<String, String> constants = new LinkedHashMap<>();
        out.lines().forEach(l -> constants.put(l.substring(0, l.indexOf('=')), l.substring(l.indexOf('=') + 1)));
        return constants;
    }

    /** The mirrors' name for the header's {@code DM_COW_X}: {@code X}. */
    private static String twin(String headerName) {
        return headerName.substring("DM_COW_".length());
    }

    private static boolean isNumber(String s) {
        return s.matches("-?\\d+");
    }

    private static String unquote(String cString) {
        return cString.substring(1, cString.length() - 1);
    }
}
