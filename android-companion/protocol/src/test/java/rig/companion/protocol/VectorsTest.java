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
    private static final Map<String, Integer> PY_NAMES = Map.of(
            "Hello", 0x01, "HelloAck", 0x02, "Capture", 0x03, "CaptureAck", 0x04,
            "PhotoReady", 0x05, "CameraFailedMsg", 0x06, "Stored", 0x07, "Error", 0x08,
            "Resync", 0x09, "ResyncAck", 0x0A);

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
        return switch (type) {
            case 0x01 -> new Messages.Hello(i.apply("cursor"), ((BigInteger) f.get("nonce")).longValueExact());
            case 0x02 -> new Messages.HelloAck(((BigInteger) f.get("nonce")).longValueExact(), i.apply("next"));
            case 0x03 -> new Messages.Capture(i.apply("index"), i.apply("attempt"), (String) f.get("tag"));
            case 0x04 -> new Messages.CaptureAck(i.apply("index"), i.apply("attempt"), i.apply("state"));
            case 0x05 -> new Messages.PhotoReady(i.apply("index"), i.apply("attempt"), (String) f.get("sha256"), i.apply("size"));
            case 0x06 -> new Messages.CameraFailed(i.apply("index"), i.apply("attempt"), (String) f.get("reason"));
            case 0x07 -> new Messages.Stored(i.apply("index"), i.apply("attempt"), (String) f.get("sha256"));
            case 0x08 -> new Messages.Error(i.apply("code"), i.apply("index"), i.apply("attempt"), i.apply("cursor"));
            case 0x09 -> new Messages.Resync(i.apply("next"));
            case 0x0A -> new Messages.ResyncAck(i.apply("next"));
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
            assertArrayEquals(name, data, Codec.encode(expected, key, session, o.seq()));
            assertArrayEquals(name, data, Codec.encode(o.message(), key, session, o.seq()));
            typesSeen.add(type);
            n++;
        }
        assertEquals("every message type has a vector", Set.of(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), typesSeen);
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
        for (String reason : List.of("mac", "session", "short", "oversize", "magic", "version", "malformed", "role", "type")) {
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

    @Test
    public void noVectorIsSilentlySkipped() throws Exception {
        Map<String, Object> all = TestFiles.vectors();
        // A new kind of golden data must get a Java check here, not be ignored.
        assertEquals(Set.of("protocol", "replay_sequence", "tag_len", "vectors"), all.keySet());
        assertEquals(BigInteger.valueOf(Auth.TAG_LEN), all.get("tag_len"));
        for (Map<String, Object> v : vectors()) {
            assertTrue(v.get("name") + ": expect", Set.of("accept", "reject").contains(v.get("expect")));
        }
    }

    @Test
    public void workedExampleOfSection9() {
        // Typed from docs/protocol.md §9, not produced by the encoder.
        byte[] key = new byte[32];
        for (int k = 0; k < 32; k++) key[k] = (byte) k;
        byte[] data = Codec.encode(new Messages.Capture(7, 0, "s1-000007"), key, Hex.decode("0123456789abcdef"), 1);
        byte[] prefix = Hex.decode("52470103000000290123456789abcdef0000000000000001");
        byte[] body = "{\"attempt\":0,\"index\":7,\"tag\":\"s1-000007\"}".getBytes(StandardCharsets.US_ASCII);
        assertEquals(40 + 41, data.length);
        assertArrayEquals(prefix, Arrays.copyOfRange(data, 0, 24));
        assertArrayEquals(body, Arrays.copyOfRange(data, 24, 24 + 41));
        assertArrayEquals(Hex.decode("c14afebd92bc12ac1366933e5deb7719"), Arrays.copyOfRange(data, 65, 81));
    }

    @Test
    public void acceptedVectorsFlippedAnywhereAreRejected() throws Exception {
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
