package rig.companion.protocol;

import java.math.BigInteger;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The canonical JSON of docs/protocol.md §4.2, written and read without any library.
 *
 * <p>Writer: keys sorted by code point, no whitespace, ASCII only ({@code \\uXXXX} with lowercase
 * hex, as Python's {@code json.dumps(..., ensure_ascii=True)}), integers in plain decimal.
 *
 * <p>Reader: strict RFC 8259, as §4.2 of protocol v1.1 requires: no NaN/Infinity, no repeated
 * key in any object, no unpaired surrogate escape in any string. Integers become
 * {@link BigInteger}, numbers with a fraction or exponent {@link Double}, so "booleans are not
 * integers" and "7.0 is not an integer" hold by type.
 */
public final class Json {
    /** The JSON {@code null} (a Java null would be ambiguous with "missing"). */
    public static final Object NULL = new Object() {
        @Override
        public String toString() {
            return "null";
        }
    };

    private Json() {}

    /** Thrown for any input that is not exactly one JSON value. */
    public static final class JsonException extends Exception {
        private static final long serialVersionUID = 1L;

        public JsonException(String message) {
            super(message);
        }
    }

    // ------------------------------------------------------------------ writer

    /** Canonical text of a value made of Maps, Lists, Strings, integers, Booleans and NULL. */
    public static String write(Object value) {
        StringBuilder out = new StringBuilder();
        writeValue(value, out);
        return out.toString();
    }

    private static void writeValue(Object value, StringBuilder out) {
        if (value == null || value == NULL) {
            out.append("null");
        } else if (value instanceof Boolean b) {
            out.append(b ? "true" : "false");
        } else if (value instanceof Integer || value instanceof Long || value instanceof BigInteger) {
            out.append(value.toString());
        } else if (value instanceof String s) {
            writeString(s, out);
        } else if (value instanceof Map<?, ?> map) {
            writeObject(map, out);
        } else if (value instanceof List<?> list) {
            out.append('[');
            for (int i = 0; i < list.size(); i++) {
                if (i > 0) out.append(',');
                writeValue(list.get(i), out);
            }
            out.append(']');
        } else {
            throw new IllegalArgumentException("not a canonical JSON value: " + value.getClass());
        }
    }

    private static void writeObject(Map<?, ?> map, StringBuilder out) {
        // Code-point order (Python's str ordering), not UTF-16 order: they differ above U+D7FF.
        TreeMap<String, Object> sorted = new TreeMap<>(Json::compareCodePoints);
        for (Map.Entry<?, ?> e : map.entrySet()) {
            sorted.put((String) e.getKey(), e.getValue());
        }
        out.append('{');
        boolean first = true;
        for (Map.Entry<String, Object> e : sorted.entrySet()) {
            if (!first) out.append(',');
            first = false;
            writeString(e.getKey(), out);
            out.append(':');
            writeValue(e.getValue(), out);
        }
        out.append('}');
    }

    static int compareCodePoints(String a, String b) {
        int i = 0;
        int j = 0;
        while (i < a.length() && j < b.length()) {
            int ca = a.codePointAt(i);
            int cb = b.codePointAt(j);
            if (ca != cb) return Integer.compare(ca, cb);
            i += Character.charCount(ca);
            j += Character.charCount(cb);
        }
        return Integer.compare(a.length() - i, b.length() - j);
    }

    private static void writeString(String s, StringBuilder out) {
        out.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                case '\b' -> out.append("\\b");
                case '\f' -> out.append("\\f");
                default -> {
                    if (c >= 0x20 && c <= 0x7e) {
                        out.append(c);
                    } else {
                        // Non-BMP characters arrive here as two surrogates: two escapes, as Python.
                        out.append(String.format("\\u%04x", (int) c));
                    }
                }
            }
        }
        out.append('"');
    }

    // ------------------------------------------------------------------ reader

    /** Parse exactly one JSON value (surrounded by optional whitespace). */
    public static Object parse(String text) throws JsonException {
        Reader r = new Reader(text);
        r.skipWs();
        Object value = r.value(0);
        r.skipWs();
        if (r.pos != text.length()) throw new JsonException("extra data at " + r.pos);
        return value;
    }

    private static final class Reader {
        private static final int MAX_DEPTH = 2000;
        final String s;
        int pos;

        Reader(String s) {
            this.s = s;
        }

        void skipWs() {
            while (pos < s.length()) {
                char c = s.charAt(pos);
                if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return;
                pos++;
            }
        }

        JsonException fail(String what) {
            return new JsonException(what + " at " + pos);
        }

        Object value(int depth) throws JsonException {
            if (depth > MAX_DEPTH) throw fail("nesting too deep");
            if (pos >= s.length()) throw fail("value expected");
            char c = s.charAt(pos);
            switch (c) {
                case '{':
                    return object(depth);
                case '[':
                    return array(depth);
                case '"':
                    return string();
                case 't':
                    return literal("true", Boolean.TRUE);
                case 'f':
                    return literal("false", Boolean.FALSE);
                case 'n':
                    return literal("null", NULL);
                default:
                    if (c == '-' || (c >= '0' && c <= '9')) return number();
                    throw fail("unexpected character");
            }
        }

        Object literal(String word, Object value) throws JsonException {
            if (!s.startsWith(word, pos)) throw fail("bad literal");
            pos += word.length();
            return value;
        }

        Map<String, Object> object(int depth) throws JsonException {
            Map<String, Object> map = new LinkedHashMap<>();
            pos++; // '{'
            skipWs();
            if (pos < s.length() && s.charAt(pos) == '}') {
                pos++;
                return map;
            }
            while (true) {
                skipWs();
                if (pos >= s.length() || s.charAt(pos) != '"') throw fail("key expected");
                String key = string();
                skipWs();
                expect(':');
                skipWs();
                if (map.containsKey(key)) throw fail("repeated key");
                map.put(key, value(depth + 1));
                skipWs();
                if (pos >= s.length()) throw fail("unterminated object");
                char c = s.charAt(pos++);
                if (c == '}') return map;
                if (c != ',') throw fail("',' or '}' expected");
            }
        }

        List<Object> array(int depth) throws JsonException {
            List<Object> list = new ArrayList<>();
            pos++; // '['
            skipWs();
            if (pos < s.length() && s.charAt(pos) == ']') {
                pos++;
                return list;
            }
            while (true) {
                skipWs();
                list.add(value(depth + 1));
                skipWs();
                if (pos >= s.length()) throw fail("unterminated array");
                char c = s.charAt(pos++);
                if (c == ']') return list;
                if (c != ',') throw fail("',' or ']' expected");
            }
        }

        void expect(char c) throws JsonException {
            if (pos >= s.length() || s.charAt(pos) != c) throw fail("'" + c + "' expected");
            pos++;
        }

        String string() throws JsonException {
            pos++; // opening quote
            StringBuilder out = new StringBuilder();
            while (true) {
                if (pos >= s.length()) throw fail("unterminated string");
                char c = s.charAt(pos++);
                if (c == '"') return checkSurrogates(out.toString());
                if (c < 0x20) throw fail("control character in string");
                if (c != '\\') {
                    out.append(c);
                    continue;
                }
                if (pos >= s.length()) throw fail("unterminated escape");
                char e = s.charAt(pos++);
                switch (e) {
                    case '"' -> out.append('"');
                    case '\\' -> out.append('\\');
                    case '/' -> out.append('/');
                    case 'b' -> out.append('\b');
                    case 'f' -> out.append('\f');
                    case 'n' -> out.append('\n');
                    case 'r' -> out.append('\r');
                    case 't' -> out.append('\t');
                    case 'u' -> out.append(hex4());
                    default -> throw fail("bad escape");
                }
            }
        }

        /** Every high surrogate followed by a low one and no low one alone (valid Unicode). */
        String checkSurrogates(String text) throws JsonException {
            for (int i = 0; i < text.length(); i++) {
                char c = text.charAt(i);
                if (Character.isHighSurrogate(c) && i + 1 < text.length()
                        && Character.isLowSurrogate(text.charAt(i + 1))) {
                    i++;
                } else if (Character.isSurrogate(c)) {
                    throw fail("unpaired surrogate");
                }
            }
            return text;
        }

        char hex4() throws JsonException {
            if (pos + 4 > s.length()) throw fail("short \\u escape");
            int v = 0;
            for (int k = 0; k < 4; k++) {
                int d = Character.digit(s.charAt(pos + k), 16);
                if (d < 0 || s.charAt(pos + k) > 0x7f) throw fail("bad \\u escape");
                v = v * 16 + d;
            }
            pos += 4;
            return (char) v;
        }

        Object number() throws JsonException {
            int start = pos;
            if (s.charAt(pos) == '-') pos++;
            if (pos >= s.length()) throw fail("digit expected");
            char c = s.charAt(pos);
            if (c == '0') {
                pos++;
            } else if (c >= '1' && c <= '9') {
                while (pos < s.length() && isDigit(s.charAt(pos))) pos++;
            } else {
                throw fail("digit expected");
            }
            boolean integer = true;
            if (pos < s.length() && s.charAt(pos) == '.') {
                int mark = pos++;
                if (!digits()) {
                    pos = mark; // Python stops the number before a dangling '.': then "extra data"
                    return new BigInteger(s.substring(start, pos));
                }
                integer = false;
            }
            if (pos < s.length() && (s.charAt(pos) == 'e' || s.charAt(pos) == 'E')) {
                int mark = pos++;
                if (pos < s.length() && (s.charAt(pos) == '+' || s.charAt(pos) == '-')) pos++;
                if (!digits()) {
                    pos = mark;
                } else {
                    integer = false;
                }
            }
            String text = s.substring(start, pos);
            return integer ? new BigInteger(text) : (Object) Double.parseDouble(text);
        }

        boolean digits() {
            int start = pos;
            while (pos < s.length() && isDigit(s.charAt(pos))) pos++;
            return pos > start;
        }

        static boolean isDigit(char c) {
            return c >= '0' && c <= '9';
        }
    }
}
