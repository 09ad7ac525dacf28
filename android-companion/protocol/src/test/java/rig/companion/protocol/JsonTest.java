package rig.companion.protocol;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.math.BigInteger;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.Test;

/** The canonical JSON writer and strict reader (docs/protocol.md §4.2). */
public class JsonTest {
    @Test
    public void writerMatchesPythonJsonDumpsCanonical() {
        // Expected strings printed by Python: json.dumps(o, sort_keys=True, separators=(",", ":"),
        // ensure_ascii=True); typed here, not produced by the writer.
        Map<String, Object> a = new LinkedHashMap<>();
        a.put("b", 1);
        a.put("a", "\u00e9\n\"\\\u007f\u0001\t\b\f\r/");
        assertEquals("{\"a\":\"\\u00e9\\n\\\"\\\\\\u007f\\u0001\\t\\b\\f\\r/\",\"b\":1}", Json.write(a));

        Map<String, Object> b = new LinkedHashMap<>();
        b.put("\ud83d\ude00", "\ud83d\ude00");
        b.put("\ue000", 0);
        b.put("z", -5);
        b.put("A", List.of(true, false, Json.NULL));
        // code-point order puts U+E000 before U+1F600 (UTF-16 order would not)
        assertEquals("{\"A\":[true,false,null],\"z\":-5,\"\\ue000\":0,\"\\ud83d\\ude00\":\"\\ud83d\\ude00\"}", Json.write(b));

        Map<String, Object> c = Map.of("x", Map.of("k", List.of(1, Map.of("q", ""))));
        assertEquals("{\"x\":{\"k\":[1,{\"q\":\"\"}]}}", Json.write(c));
    }

    @Test
    public void randomValuesRoundTripAndStayAsciiWithoutWhitespace() throws Exception {
        Random rng = new Random(1234);
        for (int n = 0; n < 2000; n++) {
            Map<String, Object> value = randomObject(rng, 3);
            String text = Json.write(value);
            assertTrue(text.chars().allMatch(ch -> ch > 0x20 && ch < 0x7f || ch == ' '));
            assertEquals(text, Json.write(Json.parse(text)));
            assertEquals(normalise(value), Json.parse(text));
            // whitespace around tokens is allowed on input
            assertEquals(Json.parse(text), Json.parse(" \n{\t" + text.substring(1) + "\r "));
        }
    }

    private static Object normalise(Object v) {
        if (v instanceof Integer i) return BigInteger.valueOf(i);
        if (v instanceof Long l) return BigInteger.valueOf(l);
        if (v instanceof Map<?, ?> m) {
            Map<String, Object> out = new LinkedHashMap<>();
            m.forEach((k, x) -> out.put((String) k, normalise(x)));
            return out;
        }
        if (v instanceof List<?> l) {
            List<Object> out = new ArrayList<>();
            l.forEach(x -> out.add(normalise(x)));
            return out;
        }
        return v;
    }

    private static Map<String, Object> randomObject(Random rng, int depth) {
        Map<String, Object> m = new LinkedHashMap<>();
        int n = rng.nextInt(5);
        for (int k = 0; k < n; k++) m.put(randomString(rng), randomValue(rng, depth - 1));
        return m;
    }

    private static Object randomValue(Random rng, int depth) {
        switch (rng.nextInt(depth > 0 ? 7 : 5)) {
            case 0: return rng.nextLong();
            case 1: return rng.nextInt(100) - 50;
            case 2: return randomString(rng);
            case 3: return rng.nextBoolean();
            case 4: return Json.NULL;
            case 5: {
                List<Object> l = new ArrayList<>();
                for (int k = rng.nextInt(4); k > 0; k--) l.add(randomValue(rng, depth - 1));
                return l;
            }
            default: return randomObject(rng, depth - 1);
        }
    }

    private static String randomString(Random rng) {
        StringBuilder b = new StringBuilder();
        for (int k = rng.nextInt(8); k > 0; k--) {
            switch (rng.nextInt(4)) {
                case 0 -> b.append((char) (0x20 + rng.nextInt(0x5f)));
                case 1 -> b.append((char) rng.nextInt(0x20));
                case 2 -> { // any BMP character but a surrogate (a lone one is not valid Unicode)
                    char c = (char) rng.nextInt(0x10000);
                    b.append(Character.isSurrogate(c) ? 'x' : c);
                }
                default -> b.appendCodePoint(0x10000 + rng.nextInt(0xFFFFF));
            }
        }
        return b.toString();
    }

    @Test
    public void readerRejectsWhatPythonJsonLoadsRejects() {
        String[] bad = {
            "", "{", "{\"a\":1", "{\"a\" 1}", "{\"a\":1,}", "[1,]", "{'a':1}", "{\"a\":01}",
            "{\"a\":1.}", "{\"a\":.5}", "{\"a\":1e}", "{\"a\":+1}", "{\"a\":-}", "{\"a\":\"\u0001\"}",
            "{\"a\":\"\\x41\"}", "{\"a\":\"\\u12\"}", "{\"a\":\"\\u12g4\"}", "{\"a\":tru}", "{\"a\":1}x",
            "{\"a\":1}{}", "\ufeff{}", "{\"a\":nan}", "{\"a\":-NaN}", "{a:1}", "{\"a\":\"unterminated}",
            // v1.1 (§4.2): stricter than Python's json.loads, as rig's Python reader is too
            "NaN", "-Infinity", "Infinity", "{\"a\":1,\"a\":1}", "{\"b\":{\"a\":1,\"a\":2}}",
            "\"\\ud83d\"", "\"\\ude00x\"", "{\"\\ud800\":1}",
        };
        for (String s : bad) {
            try {
                Json.parse(s);
                fail("accepted: " + s);
            } catch (Json.JsonException expected) {
                // ok
            }
        }
    }

    @Test
    public void readerTypesNumbersAsPythonDoes() throws Exception {
        assertEquals(BigInteger.valueOf(7), Json.parse("7"));
        assertEquals(BigInteger.ZERO, Json.parse("-0"));
        assertEquals(new BigInteger("123456789012345678901234567890"), Json.parse("123456789012345678901234567890"));
        assertTrue(Json.parse("7.0") instanceof Double); // not an integer field value
        assertTrue(Json.parse("7e0") instanceof Double);
        assertTrue(Json.parse("1e400") instanceof Double);
        assertEquals(Boolean.TRUE, Json.parse("true"));
        assertEquals("\ud83d\ude00", Json.parse("\"\\ud83d\\uDE00\""));
        assertEquals("/", Json.parse("\"\\/\""));
    }
}
