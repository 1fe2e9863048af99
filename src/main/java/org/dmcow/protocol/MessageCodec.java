/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.protocol;

import static org.dmcow.protocol.Protocol.*;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/** Encodes and decodes struct dm_cow_msg (little-endian, {@link Protocol#MSG_SIZE} bytes each). */
public final class MessageCodec {
    private MessageCodec() {
    }

    /** Writes one message at the buffer's position and advances it by {@link Protocol#MSG_SIZE}. */
    public static void encode(ControlMessage m, ByteBuffer out) {
        ByteBuffer b = out.slice(out.position(), MSG_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < MSG_SIZE; i += 8) {
            b.putLong(i, 0);
        }
        b.putInt(OFF_VOLUME, m.volume());
        int p = OFF_PAYLOAD;
        if (m instanceof ControlMessage.Hello h) {
            b.putInt(OFF_TYPE, MSG_HELLO);
            b.putInt(p + HELLO_VERSION, h.version());
            b.putInt(p + HELLO_MSG_SIZE, h.msgSize());
            b.putInt(p + HELLO_MAX_COPIES, h.maxCopies());
        } else if (m instanceof ControlMessage.Volume v) {
            b.putInt(OFF_TYPE, MSG_VOLUME);
            putVolume(b, v.volumeSectors(), v.cowSectors(), v.chunkSectors(), v.baseDev(), v.cowDev(), v.ident());
        } else if (m instanceof ControlMessage.VolumeGone v) {
            b.putInt(OFF_TYPE, MSG_VOLUME_GONE);
            putVolume(b, 0, 0, 0, 0, 0, v.ident());
        } else if (m instanceof ControlMessage.Fault f) {
            b.putInt(OFF_TYPE, MSG_FAULT);
            b.putLong(OFF_SEQ, f.seq());
            b.putLong(p + CHUNK_CHUNK, f.chunk());
            b.putInt(p + CHUNK_FLAGS, f.flags());
        } else if (m instanceof ControlMessage.Granted g) {
            b.putInt(OFF_TYPE, MSG_GRANTED);
            b.putLong(p + CHUNK_CHUNK, g.chunk());
            b.putLong(p + CHUNK_COW_SECTOR, g.cowSector());
            b.putInt(p + CHUNK_GRANT, g.grant());
        } else if (m instanceof ControlMessage.Filled f) {
            b.putInt(OFF_TYPE, MSG_FILLED);
            b.putLong(OFF_SEQ, f.seq());
            b.putLong(p + CHUNK_CHUNK, f.chunk());
            b.putLong(p + CHUNK_COW_SECTOR, f.cowSector());
            b.putInt(p + CHUNK_GRANT, f.grant());
        } else if (m instanceof ControlMessage.Grant g) {
            b.putInt(OFF_TYPE, switch (g.kind()) {
                case GRANT -> MSG_GRANT;
                case GRANT_LIVE -> MSG_GRANT_LIVE;
                case REVOKED -> MSG_REVOKED;
            });
            b.putLong(OFF_SEQ, g.id());
            b.putLong(p + GRANT_FIRST_CHUNK, g.firstChunk());
            b.putLong(p + GRANT_COW_SECTOR, g.cowSector());
            b.putInt(p + GRANT_COUNT, g.count());
            b.putInt(p + GRANT_FILL, g.fill());
            long[] words = g.used().toLongArray();
            for (int i = 0; i < words.length; i++) {
                b.putLong(p + GRANT_USED + 8 * i, words[i]);
            }
        } else if (m instanceof ControlMessage.Revoke r) {
            b.putInt(OFF_TYPE, MSG_REVOKE);
            b.putLong(OFF_SEQ, r.id());
        } else if (m instanceof ControlMessage.GrantLow g) {
            b.putInt(OFF_TYPE, MSG_GRANT_LOW);
            b.putInt(p + GRANT_COUNT, g.freeSlots());
        } else if (m instanceof ControlMessage.Discard d) {
            b.putInt(OFF_TYPE, MSG_DISCARD);
            b.putLong(p + CHUNK_CHUNK, d.chunk());
        } else if (m instanceof ControlMessage.Flush f) {
            b.putInt(OFF_TYPE, MSG_FLUSH);
            b.putLong(OFF_SEQ, f.fillSeq());
        } else if (m instanceof ControlMessage.ReplayDone) {
            b.putInt(OFF_TYPE, MSG_REPLAY_DONE);
        } else if (m instanceof ControlMessage.Map mp) {
            b.putInt(OFF_TYPE, MSG_MAP);
            b.putLong(OFF_SEQ, mp.seq());
            b.putLong(p + CHUNK_CHUNK, mp.chunk());
            b.putLong(p + CHUNK_COW_SECTOR, mp.cowSector());
            b.putInt(p + CHUNK_FILL, mp.fill());
        } else if (m instanceof ControlMessage.Fail f) {
            b.putInt(OFF_TYPE, MSG_FAIL);
            b.putLong(OFF_SEQ, f.seq());
            b.putLong(p + CHUNK_CHUNK, f.chunk());
            b.putInt(p + CHUNK_ERROR, f.error());
        } else if (m instanceof ControlMessage.Committed c) {
            b.putInt(OFF_TYPE, MSG_COMMITTED);
            b.putLong(p + CHUNK_CHUNK, c.chunk());
        } else if (m instanceof ControlMessage.Forget f) {
            b.putInt(OFF_TYPE, MSG_FORGET);
            b.putLong(p + CHUNK_CHUNK, f.chunk());
        }
        out.position(out.position() + MSG_SIZE);
    }

    private static void putVolume(ByteBuffer b, long volumeSectors, long cowSectors, int chunkSectors, int baseDev,
            int cowDev, String ident) {
        int p = OFF_PAYLOAD;
        b.putLong(p + VOL_VOLUME_SECTORS, volumeSectors);
        b.putLong(p + VOL_COW_SECTORS, cowSectors);
        b.putInt(p + VOL_CHUNK_SECTORS, chunkSectors);
        b.putInt(p + VOL_BASE_DEV, baseDev);
        b.putInt(p + VOL_COW_DEV, cowDev);
        byte[] id = ident.getBytes(StandardCharsets.UTF_8);
        if (id.length >= IDENT_LEN) {
            throw new IllegalArgumentException("ident longer than " + (IDENT_LEN - 1) + " bytes: " + ident);
        }
        b.put(p + VOL_IDENT, id);
    }

    /** Encodes one message into a fresh buffer. */
    public static ByteBuffer encode(ControlMessage m) {
        ByteBuffer b = ByteBuffer.allocate(MSG_SIZE);
        encode(m, b);
        return b.flip();
    }

    /**
     * Reads one message at the buffer's position and advances it by {@link Protocol#MSG_SIZE}, even
     * when the message is malformed, so one bad message never desynchronises the stream.
     */
    public static ControlMessage decode(ByteBuffer in) throws MalformedMessageException {
        if (in.remaining() < MSG_SIZE) {
            throw new MalformedMessageException("short message: " + in.remaining() + " bytes, expected " + MSG_SIZE);
        }
        ByteBuffer b = in.slice(in.position(), MSG_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        in.position(in.position() + MSG_SIZE);
        int type = b.getInt(OFF_TYPE);
        int volume = b.getInt(OFF_VOLUME);
        long seq = b.getLong(OFF_SEQ);
        int p = OFF_PAYLOAD;
        return switch (type) {
            case MSG_HELLO -> {
                zeroes(b, p + HELLO_RESERVED, MSG_SIZE, "HELLO");
                yield new ControlMessage.Hello(b.getInt(p + HELLO_VERSION), b.getInt(p + HELLO_MSG_SIZE),
                        b.getInt(p + HELLO_MAX_COPIES));
            }
            case MSG_VOLUME -> {
                needVolume(volume, "VOLUME");
                int chunkSectors = b.getInt(p + VOL_CHUNK_SECTORS);
                if (chunkSectors < 8 || Integer.bitCount(chunkSectors) != 1) {
                    throw new MalformedMessageException("VOLUME " + volume + ": chunk_sectors " + chunkSectors
                            + " is not a power of two >= 8");
                }
                yield new ControlMessage.Volume(volume, b.getLong(p + VOL_VOLUME_SECTORS),
                        b.getLong(p + VOL_COW_SECTORS), chunkSectors, b.getInt(p + VOL_BASE_DEV),
                        b.getInt(p + VOL_COW_DEV), ident(b, "VOLUME"));
            }
            case MSG_VOLUME_GONE -> {
                needVolume(volume, "VOLUME_GONE");
                yield new ControlMessage.VolumeGone(volume, ident(b, "VOLUME_GONE"));
            }
            case MSG_FAULT -> {
                needVolume(volume, "FAULT");
                if (seq == 0) {
                    throw new MalformedMessageException("FAULT on volume " + volume + " with sequence number 0");
                }
                int flags = b.getInt(p + CHUNK_FLAGS);
                if ((flags & ~FAULT_FULL_WRITE) != 0) {
                    throw new MalformedMessageException("FAULT with unknown flags 0x" + Integer.toHexString(flags));
                }
                yield new ControlMessage.Fault(volume, seq, b.getLong(p + CHUNK_CHUNK), flags);
            }
            case MSG_GRANTED -> {
                needVolume(volume, "GRANTED");
                yield new ControlMessage.Granted(volume, b.getLong(p + CHUNK_CHUNK), b.getLong(p + CHUNK_COW_SECTOR),
                        b.getInt(p + CHUNK_GRANT));
            }
            case MSG_FILLED -> {
                needVolume(volume, "FILLED");
                if (seq == 0) {
                    throw new MalformedMessageException("FILLED on volume " + volume + " with fill sequence 0");
                }
                yield new ControlMessage.Filled(volume, seq, b.getLong(p + CHUNK_CHUNK),
                        b.getLong(p + CHUNK_COW_SECTOR), b.getInt(p + CHUNK_GRANT));
            }
            case MSG_FLUSH -> {
                needVolume(volume, "FLUSH");
                yield new ControlMessage.Flush(volume, seq);
            }
            case MSG_REPLAY_DONE -> new ControlMessage.ReplayDone();
            case MSG_DISCARD -> {
                needVolume(volume, "DISCARD");
                yield new ControlMessage.Discard(volume, b.getLong(p + CHUNK_CHUNK));
            }
            case MSG_GRANT_LIVE -> grant(ControlMessage.Grant.Kind.GRANT_LIVE, b, volume, seq);
            case MSG_REVOKED -> grant(ControlMessage.Grant.Kind.REVOKED, b, volume, seq);
            case MSG_GRANT_LOW -> {
                needVolume(volume, "GRANT_LOW");
                yield new ControlMessage.GrantLow(volume, b.getInt(p + GRANT_COUNT));
            }
            // daemon messages, decoded as strictly as the module does (for the kernel double)
            case MSG_GRANT -> {
                zeroes(b, p + GRANT_USED, MSG_SIZE, "GRANT");
                yield grant(ControlMessage.Grant.Kind.GRANT, b, volume, seq);
            }
            case MSG_REVOKE -> {
                zeroes(b, p, MSG_SIZE, "REVOKE");
                yield new ControlMessage.Revoke(volume, seq);
            }
            case MSG_MAP -> {
                zeroes(b, p + CHUNK_FLAGS, MSG_SIZE, "MAP");
                yield new ControlMessage.Map(volume, seq, b.getLong(p + CHUNK_CHUNK),
                        b.getLong(p + CHUNK_COW_SECTOR), b.getInt(p + CHUNK_FILL));
            }
            case MSG_FAIL -> {
                zeroes(b, p + CHUNK_COW_SECTOR, p + CHUNK_ERROR, "FAIL");
                zeroes(b, p + CHUNK_GRANT, MSG_SIZE, "FAIL");
                yield new ControlMessage.Fail(volume, seq, b.getLong(p + CHUNK_CHUNK), b.getInt(p + CHUNK_ERROR));
            }
            case MSG_COMMITTED -> {
                zeroes(b, OFF_SEQ, OFF_PAYLOAD, "COMMITTED");
                zeroes(b, p + CHUNK_COW_SECTOR, MSG_SIZE, "COMMITTED");
                yield new ControlMessage.Committed(volume, b.getLong(p + CHUNK_CHUNK));
            }
            case MSG_FORGET -> {
                zeroes(b, OFF_SEQ, OFF_PAYLOAD, "FORGET");
                zeroes(b, p + CHUNK_COW_SECTOR, MSG_SIZE, "FORGET");
                yield new ControlMessage.Forget(volume, b.getLong(p + CHUNK_CHUNK));
            }
            default -> throw new MalformedMessageException("unknown message type " + type + " (volume " + volume
                    + ")");
        };
    }

    private static ControlMessage.Grant grant(ControlMessage.Grant.Kind kind, ByteBuffer b, int volume, long id)
            throws MalformedMessageException {
        needVolume(volume, kind.name());
        int p = OFF_PAYLOAD;
        int count = b.getInt(p + GRANT_COUNT);
        if (count < 0 || count > MAX_GRANT_CHUNKS || id == 0) {
            throw new MalformedMessageException(kind + " " + id + " on volume " + volume + ": count " + count
                    + " is not 0 to " + MAX_GRANT_CHUNKS + ", or id 0");
        }
        long[] words = new long[MAX_GRANT_CHUNKS / 64];
        for (int i = 0; i < words.length; i++) {
            words[i] = b.getLong(p + GRANT_USED + 8 * i);
        }
        java.util.BitSet used = java.util.BitSet.valueOf(words);
        if (used.length() > count) {
            throw new MalformedMessageException(kind + " " + id + ": slot " + (used.length() - 1)
                    + " used beyond its " + count + " chunks");
        }
        return new ControlMessage.Grant(kind, volume, id, b.getLong(p + GRANT_FIRST_CHUNK),
                b.getLong(p + GRANT_COW_SECTOR), count, b.getInt(p + GRANT_FILL), used);
    }

    private static void needVolume(int volume, String what) throws MalformedMessageException {
        if (volume == 0) {
            throw new MalformedMessageException(what + " without a volume id");
        }
    }

    private static void zeroes(ByteBuffer b, int from, int to, String what) throws MalformedMessageException {
        for (int i = from; i < to; i++) {
            if (b.get(i) != 0) {
                throw new MalformedMessageException(what + ": unused byte " + i + " is not zero");
            }
        }
    }

    private static String ident(ByteBuffer b, String what) throws MalformedMessageException {
        int start = OFF_PAYLOAD + VOL_IDENT;
        for (int i = 0; i < IDENT_LEN; i++) {
            if (b.get(start + i) == 0) {
                byte[] id = new byte[i];
                b.get(start, id);
                return new String(id, StandardCharsets.UTF_8);
            }
        }
        throw new MalformedMessageException(what + ": ident is not NUL-terminated within " + IDENT_LEN + " bytes");
    }
}
