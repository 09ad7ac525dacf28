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
 * The twelve message types of docs/protocol.md §4.3 (v1.1) and their body validation (§4.2).
 * Fields added in v1.1 ({@code minor}, {@code shot_s}) are nullable: null = absent, left out of
 * the body, so a v1.0 peer sees exactly the v1.0 bytes.
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
    // This implementation's minor version (§7.4). 2: the phone serves pipelined captures (§6.4):
    // it answers a CAPTURE of the next item while earlier uploads still run (PhoneLoop uploads
    // on their own threads) and keeps every saved photo until the desktop stored it.
    public static final int MINOR = 2;

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
        for (int i = 0; i < kv.length; i += 2) {
            if (kv[i + 1] != null) m.put((String) kv[i], kv[i + 1]); // absent optional field
        }
        return m;
    }

    public record Hello(int cursor, long nonce, Integer minor, Integer shotS) implements Message {
        public Hello(int cursor, long nonce) { this(cursor, nonce, null, null); }
        public int type() { return 0x01; }
        public int sender() { return ROLE_PHONE; }
        public Map<String, Object> body() {
            return obj("cursor", cursor, "nonce", nonce, "minor", minor, "shot_s", shotS);
        }
    }

    public record HelloAck(long nonce, int next, Integer minor) implements Message {
        public HelloAck(long nonce, int next) { this(nonce, next, null); }
        public int type() { return 0x02; }
        public int sender() { return ROLE_DESKTOP; }
        public Map<String, Object> body() { return obj("nonce", nonce, "next", next, "minor", minor); }
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

    /** v1.1: the session is over (for now); the phone stops its keepalives (§7.5). */
    public record Bye(String reason) implements Message {
        public int type() { return 0x0B; }
        public int sender() { return ROLE_DESKTOP; }
        public Map<String, Object> body() { return obj("reason", reason); }
    }

    /** v1.1: the phone's answer to every BYE (empty body). */
    public record ByeAck() implements Message {
        public int type() { return 0x0C; }
        public int sender() { return ROLE_PHONE; }
        public Map<String, Object> body() { return obj(); }
    }

    /** The role that sends messages of {@code type}, or -1 for an unknown type. */
    public static int senderOf(int type) {
        return switch (type) {
            case 0x01, 0x04, 0x05, 0x06, 0x08, 0x0A, 0x0C -> ROLE_PHONE;
            case 0x02, 0x03, 0x07, 0x09, 0x0B -> ROLE_DESKTOP;
            default -> -1;
        };
    }

    /** Parse and validate the body of a message of {@code type} (a known type). */
    public static Message decodeBody(int type, byte[] body, int off, int len) throws Rejected {
        Map<String, Object> o = parseObject(body, off, len);
        Fields f = new Fields(o);
        return switch (type) {
            case 0x01 -> new Hello(f.i32("cursor"), f.i64("nonce"), f.opt("minor"), f.opt("shot_s"));
            case 0x02 -> new HelloAck(f.i64("nonce"), f.i32("next"), f.opt("minor"));
            case 0x03 -> new Capture(f.i32("index"), f.i32("attempt"), f.str("tag"));
            case 0x04 -> new CaptureAck(f.i32("index"), f.i32("attempt"), f.i32("state"));
            case 0x05 -> new PhotoReady(f.i32("index"), f.i32("attempt"), f.str("sha256"), f.i32("size"));
            case 0x06 -> new CameraFailed(f.i32("index"), f.i32("attempt"), f.str("reason"));
            case 0x07 -> new Stored(f.i32("index"), f.i32("attempt"), f.str("sha256"));
            case 0x08 -> new Error(f.i32("code"), f.i32("index"), f.i32("attempt"), f.i32("cursor"));
            case 0x09 -> new Resync(f.i32("next"));
            case 0x0A -> new ResyncAck(f.i32("next"));
            case 0x0B -> new Bye(f.str("reason"));
            case 0x0C -> new ByeAck();
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

        /** An optional (v1.1) integer field: null when absent, range-checked when present. */
        Integer opt(String name) throws Rejected {
            return o.containsKey(name) ? i32(name) : null;
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
            case "code", "state", "minor" -> new long[] {0, 255};
            case "shot_s" -> new long[] {1, 3600};
            default -> throw new IllegalArgumentException("not an integer field: " + name);
        };
    }

    /** Whether a string field value is valid (§4.2): lengths count code points, as Python. */
    static boolean validString(String name, String s) {
        return switch (name) {
            case "sha256" -> SHA_RE.matcher(s).matches();
            case "tag" -> s.length() <= 128 && s.chars().allMatch(c -> c >= 32 && c < 127);
            case "reason" -> s.codePointCount(0, s.length()) <= 200 && validUnicode(s);
            default -> false;
        };
    }

    /** No unpaired surrogate (the reader already refuses them; a sender must not make one). */
    static boolean validUnicode(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
                i++;
            } else if (Character.isSurrogate(c)) {
                return false;
            }
        }
        return true;
    }

    /**
     * Whether a v1.1 desktop may send {@code tag}: empty, or up to 128 of {@code A-Z a-z 0-9 . _ -}
     * not starting with '.'. A phone uses {@link #safeTag} before naming a file after any tag.
     */
    public static String safeTag(String tag) {
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < tag.length() && out.length() < 128; i++) {
            char c = tag.charAt(i);
            boolean ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
                    || c == '.' || c == '_' || c == '-';
            out.append(ok ? c : '_');
        }
        if (out.length() > 0 && out.charAt(0) == '.') out.setCharAt(0, '_');
        return out.toString();
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
