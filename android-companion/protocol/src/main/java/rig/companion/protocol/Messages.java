package rig.companion.protocol;

import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * The ten message types of docs/protocol.md §4.3 and their body validation (§4.2).
 *
 * <p>Every message is an immutable record; {@link Message#body()} gives its JSON object, which
 * {@link Json#write} turns into the canonical body. {@link #decodeBody} is the receive check 8
 * of §4.4: it never throws anything but {@link Rejected} ("malformed").
 */
public final class Messages {
    public static final int ROLE_DESKTOP = 0;
    public static final int ROLE_PHONE = 1;

    public static final int ERR_GAP = 1;
    public static final int ERR_BUSY = 2;
    public static final int ERR_BAD_REQUEST = 3;
    public static final int ST_SHOOTING = 0;
    public static final int ST_SAVED = 1;
    public static final int ST_FAILED = 2;
    public static final int MAX_INDEX = Integer.MAX_VALUE; // 2^31 - 1

    private static final Pattern SHA_RE = Pattern.compile("[0-9a-f]{64}");

    private Messages() {}

    /** A protocol message: its type code, the role that sends it, its JSON body. */
    public interface Message {
        int type();

        int sender();

        Map<String, Object> body();
    }

    private static Map<String, Object> obj(Object... kv) {
        Map<String, Object> m = new TreeMap<>();
        for (int i = 0; i < kv.length; i += 2) m.put((String) kv[i], kv[i + 1]);
        return m;
    }

    public record Hello(int cursor, long nonce) implements Message {
        public int type() { return 0x01; }
        public int sender() { return ROLE_PHONE; }
        public Map<String, Object> body() { return obj("cursor", cursor, "nonce", nonce); }
    }

    public record HelloAck(long nonce, int next) implements Message {
        public int type() { return 0x02; }
        public int sender() { return ROLE_DESKTOP; }
        public Map<String, Object> body() { return obj("nonce", nonce, "next", next); }
    }

    public record Capture(int index, int attempt, String tag) implements Message {
        public int type() { return 0x03; }
        public int sender() { return ROLE_DESKTOP; }
        public Map<String, Object> body() { return obj("index", index, "attempt", attempt, "tag", tag); }
    }

    public record CaptureAck(int index, int attempt, int state) implements Message {
        public int type() { return 0x04; }
        public int sender() { return ROLE_PHONE; }
        public Map<String, Object> body() {
            return obj("index", index, "attempt", attempt, "state", state);
        }
    }

    public record PhotoReady(int index, int attempt, String sha256, int size) implements Message {
        public int type() { return 0x05; }
        public int sender() { return ROLE_PHONE; }
        public Map<String, Object> body() {
            return obj("index", index, "attempt", attempt, "sha256", sha256, "size", size);
        }
    }

    public record CameraFailed(int index, int attempt, String reason) implements Message {
        public int type() { return 0x06; }
        public int sender() { return ROLE_PHONE; }
        public Map<String, Object> body() {
            return obj("index", index, "attempt", attempt, "reason", reason);
        }
    }

    public record Stored(int index, int attempt, String sha256) implements Message {
        public int type() { return 0x07; }
        public int sender() { return ROLE_DESKTOP; }
        public Map<String, Object> body() {
            return obj("index", index, "attempt", attempt, "sha256", sha256);
        }
    }

    public record Error(int code, int index, int attempt, int cursor) implements Message {
        public int type() { return 0x08; }
        public int sender() { return ROLE_PHONE; }
        public Map<String, Object> body() {
            return obj("code", code, "index", index, "attempt", attempt, "cursor", cursor);
        }
    }

    public record Resync(int next) implements Message {
        public int type() { return 0x09; }
        public int sender() { return ROLE_DESKTOP; }
        public Map<String, Object> body() { return obj("next", next); }
    }

    public record ResyncAck(int next) implements Message {
        public int type() { return 0x0A; }
        public int sender() { return ROLE_PHONE; }
        public Map<String, Object> body() { return obj("next", next); }
    }

    /** The role that sends messages of {@code type}, or -1 for an unknown type. */
    public static int senderOf(int type) {
        return switch (type) {
            case 0x01, 0x04, 0x05, 0x06, 0x08, 0x0A -> ROLE_PHONE;
            case 0x02, 0x03, 0x07, 0x09 -> ROLE_DESKTOP;
            default -> -1;
        };
    }

    /** Parse and validate the body of a message of {@code type} (a known type). */
    public static Message decodeBody(int type, byte[] body, int off, int len) throws Rejected {
        Map<String, Object> o = parseObject(body, off, len);
        Fields f = new Fields(o);
        return switch (type) {
            case 0x01 -> new Hello(f.i32("cursor"), f.i64("nonce"));
            case 0x02 -> new HelloAck(f.i64("nonce"), f.i32("next"));
            case 0x03 -> new Capture(f.i32("index"), f.i32("attempt"), f.str("tag"));
            case 0x04 -> new CaptureAck(f.i32("index"), f.i32("attempt"), f.i32("state"));
            case 0x05 -> new PhotoReady(f.i32("index"), f.i32("attempt"), f.str("sha256"), f.i32("size"));
            case 0x06 -> new CameraFailed(f.i32("index"), f.i32("attempt"), f.str("reason"));
            case 0x07 -> new Stored(f.i32("index"), f.i32("attempt"), f.str("sha256"));
            case 0x08 -> new Error(f.i32("code"), f.i32("index"), f.i32("attempt"), f.i32("cursor"));
            case 0x09 -> new Resync(f.i32("next"));
            case 0x0A -> new ResyncAck(f.i32("next"));
            default -> throw new Rejected(Rejected.TYPE);
        };
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> parseObject(byte[] body, int off, int len) throws Rejected {
        String text;
        try {
            // Strict UTF-8: invalid sequences (and encoded surrogates) are malformed, as in Python.
            CharBuffer chars = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(body, off, len));
            text = chars.toString();
        } catch (CharacterCodingException e) {
            throw new Rejected(Rejected.MALFORMED);
        }
        Object value;
        try {
            value = Json.parse(text);
        } catch (Json.JsonException e) {
            throw new Rejected(Rejected.MALFORMED);
        }
        if (!(value instanceof Map)) throw new Rejected(Rejected.MALFORMED);
        return (Map<String, Object>) value;
    }

    /** Typed, range-checked access to body fields (§4.2 field types). */
    private static final class Fields {
        private final Map<String, Object> o;

        Fields(Map<String, Object> o) {
            this.o = o;
        }

        private long integer(String name, long lo, long hi) throws Rejected {
            Object v = o.get(name);
            if (!(v instanceof BigInteger big)) throw new Rejected(Rejected.MALFORMED); // bools too
            if (big.bitLength() > 63) throw new Rejected(Rejected.MALFORMED);
            long x = big.longValue();
            if (x < lo || x > hi) throw new Rejected(Rejected.MALFORMED);
            return x;
        }

        int i32(String name) throws Rejected {
            long[] r = range(name);
            return (int) integer(name, r[0], r[1]);
        }

        long i64(String name) throws Rejected {
            long[] r = range(name);
            return integer(name, r[0], r[1]);
        }

        String str(String name) throws Rejected {
            Object v = o.get(name);
            if (!(v instanceof String s) || !validString(name, s)) {
                throw new Rejected(Rejected.MALFORMED);
            }
            return s;
        }
    }

    /** [lo, hi] of an integer field (§4.2). */
    static long[] range(String name) {
        return switch (name) {
            case "index", "attempt" -> new long[] {0, MAX_INDEX};
            case "next", "cursor" -> new long[] {-1, MAX_INDEX};
            case "nonce" -> new long[] {0, 0xFFFFFFFFL};
            case "size" -> new long[] {1, MAX_INDEX};
            case "code", "state" -> new long[] {0, 255};
            default -> throw new IllegalArgumentException("not an integer field: " + name);
        };
    }

    /** Whether a string field value is valid (§4.2): lengths count code points, as Python. */
    static boolean validString(String name, String s) {
        return switch (name) {
            case "sha256" -> SHA_RE.matcher(s).matches();
            case "tag" -> s.length() <= 128 && s.chars().allMatch(c -> c >= 32 && c < 127);
            case "reason" -> s.codePointCount(0, s.length()) <= 200;
            default -> false;
        };
    }

    /** Check a message's own fields before sending (an encoder must not emit what it rejects). */
    public static void validate(Message msg) {
        for (Map.Entry<String, Object> e : msg.body().entrySet()) {
            Object v = e.getValue();
            if (v instanceof String s) {
                if (!validString(e.getKey(), s)) {
                    throw new IllegalArgumentException("field '" + e.getKey() + "' invalid");
                }
            } else {
                long x = ((Number) v).longValue();
                long[] r = range(e.getKey());
                if (x < r[0] || x > r[1]) {
                    throw new IllegalArgumentException("field '" + e.getKey() + "' out of range");
                }
            }
        }
    }
}
