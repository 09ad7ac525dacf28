package rig.companion.protocol;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import org.junit.Test;

/** The pairing URI of docs/protocol.md §3. */
public class PairingTest {
    static final String KEY_B64 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"; // bytes 0..31

    @Test
    public void parsesWhatThePythonDesktopShows() throws Exception {
        // Printed by rig.protocol.pairing.Pairing(...).to_uri()
        Pairing p = Pairing.parse("rig1://192.168.1.20:5005/?v=1&sid=0123456789abcdef&http=8080&key=" + KEY_B64 + "\n");
        assertEquals("192.168.1.20", p.host());
        assertEquals(5005, p.udpPort());
        assertEquals(8080, p.httpPort());
        assertEquals("0123456789abcdef", p.sessionHex());
        assertEquals(1, p.version());
        for (int k = 0; k < 32; k++) assertEquals(k, p.key()[k]);
        assertEquals("http://192.168.1.20:8080", p.httpBase());
        assertEquals("rig1://192.168.1.20:5005/?v=1&sid=0123456789abcdef&http=8080&key=" + KEY_B64, p.toUri());
    }

    @Test
    public void parsesIpv6HostnamesUnknownFieldsAndAnyFieldOrder() throws Exception {
        Pairing p = Pairing.parse("rig1://[fe80::1]:5005/?v=1&sid=0123456789abcdef&http=8080&key=" + KEY_B64);
        assertEquals("fe80::1", p.host());
        assertEquals("http://[fe80::1]:8080", p.httpBase());
        Pairing q = Pairing.parse("rig1://Rig-Desk.local:7/?key=" + KEY_B64 + "&future=x&http=1&sid=0123456789ABCDEF");
        assertEquals("rig-desk.local", q.host());
        assertEquals(7, q.udpPort());
        assertArrayEquals(Hex.decode("0123456789abcdef"), q.session());
        Pairing noVersion = Pairing.parse("rig1://h:1/?sid=0123456789abcdef&http=2&key=" + KEY_B64);
        assertEquals(1, noVersion.version());
    }

    private static void assertRefused(String uri, String fieldInMessage) {
        try {
            Pairing.parse(uri);
            fail("accepted: " + uri);
        } catch (Pairing.PairingException e) {
            assertTrue(e.getMessage(), e.getMessage().contains(fieldInMessage));
        }
    }

    /** tests/vectors/pairing.json (made by the Python reference): the same verdicts here. */
    @Test
    @SuppressWarnings("unchecked")
    public void pairingVectors() throws Exception {
        java.util.Map<String, Object> all = (java.util.Map<String, Object>) Json.parse(
                java.nio.file.Files.readString(TestFiles.root().resolve("tests/vectors/pairing.json")));
        for (Object o : (java.util.List<Object>) all.get("accept")) {
            java.util.Map<String, Object> v = (java.util.Map<String, Object>) o;
            java.util.Map<String, Object> e = (java.util.Map<String, Object>) v.get("expect");
            Pairing p = Pairing.parse((String) v.get("uri"));
            String name = (String) v.get("name");
            assertEquals(name, e.get("host"), p.host());
            assertEquals(name, e.get("udp_port").toString(), Integer.toString(p.udpPort()));
            assertEquals(name, e.get("http_port").toString(), Integer.toString(p.httpPort()));
            assertEquals(name, e.get("session_hex"), p.sessionHex());
            assertEquals(name, e.get("key_hex"), Hex.encode(p.key()));
            assertEquals(name, e.get("version").toString(), Integer.toString(p.version()));
        }
        for (Object o : (java.util.List<Object>) all.get("reject")) {
            java.util.Map<String, Object> v = (java.util.Map<String, Object>) o;
            assertRefused((String) v.get("uri"), "'" + v.get("field") + "'");
        }
    }

    @Test
    public void refusesWithAMessageNamingTheField() {
        String ok = "sid=0123456789abcdef&http=8080&key=" + KEY_B64;
        assertRefused("rig1://h:1/?v=2&" + ok, "version 2");
        assertRefused("http://h:1/?" + ok, "rig1://");
        assertRefused("rig1://h/?" + ok, "'port'");
        assertRefused("rig1://h:99999/?" + ok, "'port'");
        assertRefused("rig1://h:1/?http=8080&key=" + KEY_B64, "'sid'");
        assertRefused("rig1://h:1/?sid=0123456789abcdef&key=" + KEY_B64, "'http'");
        assertRefused("rig1://h:1/?sid=0123456789abcdef&http=8080", "'key'");
        assertRefused("rig1://h:1/?sid=0123&http=8080&key=" + KEY_B64, "'sid'");
        assertRefused("rig1://h:1/?sid=0123456789abcdef&http=8080&key=AAEC", "'key'");
        assertRefused("rig1://h:1/?sid=0123456789abcdef&http=80x&key=" + KEY_B64, "'http'");
    }
}
