package rig.companion.protocol;

import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * What survives a restart of the phone (docs/protocol.md §7): the cursor and every finished
 * attempt. The JSON form is the one rig.protocol.phone.PhoneState uses, so a state file can be
 * moved between the Python simulator and the Java phone.
 */
public final class PhoneState {
    /** The outcome of one finished attempt. */
    public static final class Result {
        public final boolean saved;
        public final String sha256;
        public final int size;
        public final String reason;
        public boolean stored; // the desktop confirmed it

        public Result(boolean saved, String sha256, int size, String reason, boolean stored) {
            this.saved = saved;
            this.sha256 = sha256;
            this.size = size;
            this.reason = reason;
            this.stored = stored;
        }

        public static Result saved(String sha256, int size) {
            return new Result(true, sha256, size, "", false);
        }

        public static Result failed(String reason) {
            return new Result(false, "", 0, reason, false);
        }
    }

    /** (index, attempt), ordered as Python's tuples. */
    public record Key(int index, int attempt) implements Comparable<Key> {
        @Override
        public int compareTo(Key o) {
            int c = Integer.compare(index, o.index);
            return c != 0 ? c : Integer.compare(attempt, o.attempt);
        }
    }

    public int cursor = -1;
    public final TreeMap<Key, Result> results = new TreeMap<>();

    public String toJson() {
        List<Object> rows = new ArrayList<>();
        for (Map.Entry<Key, Result> e : results.entrySet()) {
            Result r = e.getValue();
            Map<String, Object> fields = new TreeMap<>();
            fields.put("saved", r.saved);
            fields.put("sha256", r.sha256);
            fields.put("size", r.size);
            fields.put("reason", r.reason);
            fields.put("stored", r.stored);
            rows.add(Arrays.asList(e.getKey().index(), e.getKey().attempt(), fields));
        }
        Map<String, Object> top = new TreeMap<>();
        top.put("cursor", cursor);
        top.put("results", rows);
        return Json.write(top);
    }

    /** A JSON integer that fits an int (BigInteger.intValueExact is missing on older Android). */
    private static int int32(Object o) {
        BigInteger b = (BigInteger) o;
        if (b.bitLength() > 31) throw new ArithmeticException("integer out of range");
        return b.intValue();
    }

    /** Parse a state written by {@link #toJson} (or by the Python phone); throws on corruption. */
    @SuppressWarnings("unchecked")
    public static PhoneState fromJson(String text) throws Json.JsonException {
        PhoneState state = new PhoneState();
        try {
            Map<String, Object> top = (Map<String, Object>) Json.parse(text);
            Object cursor = top.get("cursor");
            state.cursor = cursor == null ? -1 : int32(cursor);
            Object rows = top.get("results");
            for (Object row : rows == null ? Collections.emptyList() : (List<Object>) rows) {
                List<Object> r = (List<Object>) row;
                Map<String, Object> f = (Map<String, Object>) r.get(2);
                Result result = new Result(
                        (Boolean) f.getOrDefault("saved", Boolean.FALSE),
                        (String) f.getOrDefault("sha256", ""),
                        int32(f.getOrDefault("size", BigInteger.ZERO)),
                        (String) f.getOrDefault("reason", ""),
                        (Boolean) f.getOrDefault("stored", Boolean.FALSE));
                Key key = new Key(int32(r.get(0)), int32(r.get(1)));
                state.results.put(key, result);
            }
        } catch (ClassCastException | ArithmeticException | IndexOutOfBoundsException e) {
            throw new Json.JsonException("phone state: unexpected structure (" + e.getMessage() + ")");
        }
        return state;
    }
}
