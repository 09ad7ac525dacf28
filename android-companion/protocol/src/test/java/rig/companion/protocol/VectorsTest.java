package rig.companion.protocol;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import org.junit.Test;
import rig.companion.protocol.Messages.Message;

/**
 * The golden datagrams of tests/vectors/datagrams.json (made by the Python reference,
 * scripts/make_vectors.py): every accepted one decodes to the listed fields and re-encodes
 * byte for byte; every rejected one is dropped for exactly the listed reason.
 */
public class VectorsTest {
    /** Python class name → type code: the vectors name messages as rig.protocol.messages does. */
    private static final Map<String, Integer> PY_NAMES = Map.ofEntries(
            Map.entry("Hello", 0x01), Map.entry("HelloAck", 0x02), Map.entry("Capture", 0x03),
            Map.entry("CaptureAck", 0x04), Map.entry("PhotoReady", 0x05),
            Map.entry("CameraFailedMsg", 0x06), Map.entry("Stored", 0x07), Map.entry("Error", 0x08),
            Map.entry("Resync", 0x09), Map.entry("ResyncAck", 0x0A), Map.entry("Bye", 0x0B),
            Map.entry("ByeAck", 0x0C));

    private static int role(Object name) {
        return "desktop".equals(name) ? Messages.ROLE_DESKTOP : Messages.ROLE_PHONE;
    }

    @SuppressWarnings("unchecked")
    private static List<Map<String, Object>> vectors() throws Exception {
        return (List<Map<String, Object>>) TestFiles.vectors().get("vectors");
    }

    /** Build the message of {@code type} from the vector's field values, independently of decode. */
    private static Message build(int type, Map<String, Object> f) {
        java.util.function.Function<String, Integer> i = k -> ((BigInteger) f.get(k)).intValueExact();
        java.util.function.Function<String, Integer> opt = k -> f.containsKey(k) ? i.apply(k) : null;
        return switch (type) {
            case 0x01 -> new Messages.Hello(i.apply("cursor"), ((BigInteger) f.get("nonce")).longValueExact(),
                    opt.apply("minor"), opt.apply("shot_s"));
            case 0x02 -> new Messages.HelloAck(((BigInteger) f.get("nonce")).longValueExact(), i.apply("next"),
                    opt.apply("minor"));
            case 0x03 -> new Messages.Capture(i.apply("index"), i.apply("attempt"), (String) f.get("tag"));
            case 0x04 -> new Messages.CaptureAck(i.apply("index"), i.apply("attempt"), i.apply("state"));
            case 0x05 -> new Messages.PhotoReady(i.apply("index"), i.apply("attempt"), (String) f.get("sha256"), i.apply("size"));
            case 0x06 -> new Messages.CameraFailed(i.apply("index"), i.apply("attempt"), (String) f.get("reason"));
            case 0x07 -> new Messages.Stored(i.apply("index"), i.apply("attempt"), (String) f.get("sha256"));
            case 0x08 -> new Messages.Error(i.apply("code"), i.apply("index"), i.apply("attempt"), i.apply("cursor"));
            case 0x09 -> new Messages.Resync(i.apply("next"));
            case 0x0A -> new Messages.ResyncAck(i.apply("next"));
            case 0x0B -> new Messages.Bye((String) f.get("reason"));
            case 0x0C -> new Messages.ByeAck();
            default -> throw new AssertionError("unknown type " + type);
        };
    }

    @Test
    public void everyAcceptedVectorDecodesAndReencodesByteIdentically() throws Exception {
        Set<Integer> typesSeen = new TreeSet<>();
        int n = 0;
        for (Map<String, Object> v : vectors()) {
            if (!"accept".equals(v.get("expect"))) continue;
            String name = (String) v.get("name");
            byte[] data = Hex.decode((String) v.get("datagram_hex"));
            byte[] key = Hex.decode((String) v.get("key_hex"));
            byte[] session = Hex.decode((String) v.get("session_hex"));
            Codec.Opened o = Codec.openDatagram(data, key, session, role(v.get("receiver_role")), new ReplayWindow());
            int type = ((BigInteger) v.get("type")).intValueExact();
            assertEquals(name, ((BigInteger) v.get("seq")).longValueExact(), o.seq());
            assertEquals(name, type, o.message().type());
            assertEquals(name, PY_NAMES.get((String) v.get("message")).intValue(), type);
            @SuppressWarnings("unchecked")
            Map<String, Object> fields = (Map<String, Object>) v.get("fields");
            Message expected = build(type, fields);
            assertEquals(name, expected, o.message());
            if (Boolean.TRUE.equals(v.get("canonical"))) { // an encoder writes exactly these bytes
                assertArrayEquals(name, data, Codec.encode(expected, key, session, o.seq()));
                assertArrayEquals(name, data, Codec.encode(o.message(), key, session, o.seq()));
            }
            typesSeen.add(type);
            n++;
        }
        assertEquals("every message type has a vector", Set.of(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12), typesSeen);
        assertTrue(n >= 10);
    }

    @Test
    public void everyRejectedVectorIsDroppedForItsReason() throws Exception {
        Map<String, Integer> byReason = new TreeMap<>();
        for (Map<String, Object> v : vectors()) {
            if (!"reject".equals(v.get("expect"))) continue;
            String name = (String) v.get("name");
            byte[] data = Hex.decode((String) v.get("datagram_hex"));
            try {
                Codec.openDatagram(data, Hex.decode((String) v.get("key_hex")),
                        Hex.decode((String) v.get("session_hex")), role(v.get("receiver_role")), new ReplayWindow());
                fail(name + ": accepted, expected reject " + v.get("reason"));
            } catch (Rejected r) {
                assertEquals(name, v.get("reason"), r.reason);
            }
            // The same datagram through a stateful codec: dropped, counted, nothing accepted.
            Codec codec = new Codec(Hex.decode((String) v.get("key_hex")), Hex.decode((String) v.get("session_hex")),
                    role(v.get("receiver_role")), 1);
            assertNull(name, codec.open(data));
            assertEquals(name, Map.of((String) v.get("reason"), 1), codec.rejected());
            byReason.merge((String) v.get("reason"), 1, Integer::sum);
        }
        // forged, truncated, oversize, malformed bodies … are all represented
        for (String reason : List.of("mac", "session", "short", "oversize", "magic", "version", "malformed", "role", "type", "replay")) {
            assertTrue("a vector rejected for " + reason, byReason.containsKey(reason));
        }
    }

    @Test
    public void replaySequenceMatchesExpectedOutcomes() throws Exception {
        @SuppressWarnings("unchecked")
        Map<String, Object> rs = (Map<String, Object>) TestFiles.vectors().get("replay_sequence");
        assertEquals(BigInteger.valueOf(ReplayWindow.WINDOW_BITS), rs.get("window_bits"));
        Codec codec = new Codec(Hex.decode((String) rs.get("key_hex")), Hex.decode((String) rs.get("session_hex")),
                role(rs.get("receiver_role")), 1);
        @SuppressWarnings("unchecked")
        List<String> grams = (List<String>) rs.get("datagrams_hex");
        @SuppressWarnings("unchecked")
        List<String> expect = (List<String>) rs.get("expect");
        assertEquals(grams.size(), expect.size());
        int replays = 0;
        for (int k = 0; k < grams.size(); k++) {
            Message m = codec.open(Hex.decode(grams.get(k)));
            boolean accept = expect.get(k).equals("accept");
            assertEquals("datagram " + k, accept, m != null);
            if (!accept) {
                assertEquals("replay", expect.get(k));
                replays++;
            }
        }
        assertEquals(replays == 0 ? Map.of() : Map.of("replay", replays), codec.rejected());
    }

    /** Streams fed to one receiver (§4.6): the bound ahead, restored and re-based windows, and a
     *  malformed authentic body that does not use up its seq. */
    @Test
    @SuppressWarnings("unchecked")
    public void sequencesMatchExpectedOutcomes() throws Exception {
        int n = 0;
        for (Object o : (List<Object>) TestFiles.vectors().get("sequences")) {
            Map<String, Object> sq = (Map<String, Object>) o;
            long floor = new BigInteger(sq.get("floor").toString()).longValue();
            long restored = new BigInteger(sq.get("restored_highest").toString()).longValue();
            Codec codec = new Codec(Hex.decode((String) sq.get("key_hex")), Hex.decode((String) sq.get("session_hex")),
                    role(sq.get("receiver_role")), 1);
            codec.restorePeerHighest(restored, floor);
            List<String> grams = (List<String>) sq.get("datagrams_hex");
            List<String> expect = (List<String>) sq.get("expect");
            for (int k = 0; k < grams.size(); k++) {
                Map<String, Integer> before = codec.rejected();
                Message m = codec.open(Hex.decode(grams.get(k)));
                String got = "accept";
                if (m == null) {
                    for (Map.Entry<String, Integer> e : codec.rejected().entrySet()) {
                        if (!e.getValue().equals(before.getOrDefault(e.getKey(), 0))) got = e.getKey();
                    }
                }
                assertEquals(sq.get("name") + " datagram " + k, expect.get(k), got);
                n++;
            }
        }
        assertTrue(n >= 20);
    }

    @Test
    @SuppressWarnings("unchecked")
    public void uploadAuthVectors() throws Exception {
        Map<String, Object> up = (Map<String, Object>) Json.parse(
                java.nio.file.Files.readString(TestFiles.root().resolve("tests/vectors/upload.json")));
        byte[] key = Hex.decode((String) up.get("key_hex"));
        byte[] session = Hex.decode((String) up.get("session_hex"));
        for (Object o : (List<Object>) up.get("upload_auth")) {
            Map<String, Object> v = (Map<String, Object>) o;
            assertEquals(v.get("auth"), Auth.uploadAuth(key, session, ((BigInteger) v.get("index")).intValueExact(),
                    ((BigInteger) v.get("attempt")).intValueExact(), (String) v.get("sha256"),
                    ((BigInteger) v.get("size")).intValueExact()));
        }
        for (Object o : (List<Object>) up.get("tap_auth")) {
            Map<String, Object> v = (Map<String, Object>) o;
            assertEquals(v.get("auth"), Auth.tapAuth(key, session, ((BigInteger) v.get("index")).intValueExact(),
                    ((BigInteger) v.get("attempt")).intValueExact()));
        }
    }

    @Test
    public void noVectorIsSilentlySkipped() throws Exception {
        Map<String, Object> all = TestFiles.vectors();
        // A new kind of golden data must get a Java check here, not be ignored.
        assertEquals(Set.of("max_ahead", "protocol", "replay_sequence", "sequences", "tag_len", "vectors"), all.keySet());
        assertEquals(BigInteger.valueOf(Auth.TAG_LEN), all.get("tag_len"));
        assertEquals(BigInteger.valueOf(ReplayWindow.MAX_AHEAD), all.get("max_ahead"));
        for (Map<String, Object> v : vectors()) {
            assertTrue(v.get("name") + ": expect", Set.of("accept", "reject").contains(v.get("expect")));
        }
    }

    @Test
    public void workedExampleOfSection9() {
        // Typed from docs/protocol.md §9, not produced by the encoder.
        byte[] key = new byte[32];
        for (int k = 0; k < 32; k++) key[k] = (byte) k;
        byte[] data = Codec.encode(new Messages.Capture(7, 1, "s1-000007"), key, Hex.decode("0123456789abcdef"), 1);
        byte[] prefix = Hex.decode("52470103000000290123456789abcdef0000000000000001");
        byte[] body = "{\"attempt\":1,\"index\":7,\"tag\":\"s1-000007\"}".getBytes(StandardCharsets.US_ASCII);
        assertEquals(40 + 41, data.length);
        assertArrayEquals(prefix, Arrays.copyOfRange(data, 0, 24));
        assertArrayEquals(body, Arrays.copyOfRange(data, 24, 24 + 41));
        assertArrayEquals(Hex.decode("8e559dd705036de3acfe9312e2836c67"), Arrays.copyOfRange(data, 65, 81));
    }

    @Test
    public void acceptedVectorsFlippedAnywhereAreRejected() throws Exception {
        // (flips of the seq bytes can make a seq "ahead"; any reason is fine, acceptance is not)
        // Flip each bit of each valid vector: never accepted (MAC covers header and body; the
        // tag itself is compared in full).
        for (Map<String, Object> v : vectors()) {
            if (!"accept".equals(v.get("expect"))) continue;
            byte[] data = Hex.decode((String) v.get("datagram_hex"));
            byte[] key = Hex.decode((String) v.get("key_hex"));
            byte[] session = Hex.decode((String) v.get("session_hex"));
            for (int bit = 0; bit < data.length * 8; bit++) {
                byte[] bad = data.clone();
                bad[bit / 8] ^= (byte) (1 << (bit % 8));
                try {
                    Codec.openDatagram(bad, key, session, role(v.get("receiver_role")), new ReplayWindow());
                    fail(v.get("name") + ": bit " + bit + " flipped but accepted");
                } catch (Rejected expected) {
                    assertFalse(expected.reason.isEmpty());
                }
            }
            assertNotNull(Codec.openDatagram(data, key, session, role(v.get("receiver_role")), new ReplayWindow()));
        }
    }
}
