package rig.companion.protocol;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.Test;

/**
 * The upload client (docs/protocol.md §5) against an in-test desktop that implements the
 * server side of §5 from the spec (offsets, 409 on a wrong offset, completion on size). The
 * expected X-Rig-Auth values were printed by the Python reference (rig.protocol.auth).
 */
public class UploadClientTest {
    static final String SHA = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    static Pairing pairing() throws Exception {
        return Pairing.parse("rig1://127.0.0.1:1/?v=1&sid=0123456789abcdef&http=8080&key=" + PairingTest.KEY_B64);
    }

    @Test
    public void authMatchesThePythonReference() throws Exception {
        Pairing p = pairing();
        // rig.protocol.auth.upload_auth(bytes(range(32)), 0123456789abcdef, 7, 0, SHA, 123456)
        assertEquals("144b430f319eb72975f97dfd276c64395737f28980a86fc239fd301b486ecff3",
                Auth.uploadAuth(p.key(), p.session(), 7, 0, SHA, 123456));
        // rig.protocol.auth.tap_auth(bytes(range(32)), 0123456789abcdef, 7, 1)
        assertEquals("70d0ea93bd33d6a5d91e9125f8db2128803e0ee911d8db6989e35c112258a17c",
                Auth.tapAuth(p.key(), p.session(), 7, 1));
        Map<String, String> h = new UploadClient(null, p).headers(7, 0, SHA, 123456);
        assertEquals("0123456789abcdef", h.get("X-Rig-Session"));
        assertEquals("7", h.get("X-Rig-Index"));
        assertEquals("0", h.get("X-Rig-Attempt"));
        assertEquals("123456", h.get("X-Rig-Size"));
        assertEquals("144b430f319eb72975f97dfd276c64395737f28980a86fc239fd301b486ecff3", h.get("X-Rig-Auth"));
    }

    /** A §5 server in memory; {@code breakAfter} cuts PUT bodies to model a dropped connection. */
    static final class FakeDesktop implements HttpTransport {
        final ByteArrayOutputStream held = new ByteArrayOutputStream();
        boolean complete;
        int breakAfter = Integer.MAX_VALUE;
        boolean failNext;
        final List<String> calls = new ArrayList<>();
        final Pairing p;

        FakeDesktop(Pairing p) {
            this.p = p;
        }

        private Response state(int status) {
            String body = "{\"received\": " + held.size() + ", \"complete\": " + complete + "}";
            return new Response(status, Map.of(), body.getBytes(StandardCharsets.UTF_8));
        }

        private boolean authorised(Map<String, String> h) {
            String want = Auth.uploadAuth(p.key(), p.session(), Integer.parseInt(h.get("X-Rig-Index")),
                    Integer.parseInt(h.get("X-Rig-Attempt")), h.get("X-Rig-Sha256"), Integer.parseInt(h.get("X-Rig-Size")));
            return want.equals(h.get("X-Rig-Auth"));
        }

        @Override
        public Response get(String url, Map<String, String> h) throws IOException {
            calls.add("GET " + url);
            if (failNext) {
                failNext = false;
                throw new IOException("connection refused");
            }
            return authorised(h) ? state(200) : new Response(401, Map.of(), new byte[0]);
        }

        @Override
        public Response put(String url, Map<String, String> h, byte[] body) {
            calls.add("PUT " + url + " " + body.length);
            if (!authorised(h)) return new Response(401, Map.of(), new byte[0]);
            long offset = Long.parseLong(url.substring(url.indexOf("offset=") + 7));
            if (offset != held.size()) return state(409);
            int n = Math.min(body.length, breakAfter);
            held.write(body, 0, n);
            if (n < body.length) return new Response(500, Map.of(), new byte[0]);
            if (held.size() == Integer.parseInt(h.get("X-Rig-Size"))) {
                complete = Auth.sha256Hex(held.toByteArray()).equals(h.get("X-Rig-Sha256"));
                if (!complete) return new Response(422, Map.of(), new byte[0]);
            }
            return state(200);
        }
    }

    @Test
    public void uploadsInChunksAndResumesAfterABreak() throws Exception {
        Pairing p = pairing();
        byte[] photo = new byte[UploadClient.CHUNK_BYTES * 2 + 12345];
        new Random(7).nextBytes(photo);
        FakeDesktop desk = new FakeDesktop(p);
        UploadClient client = new UploadClient(desk, p);
        desk.failNext = true;
        assertFalse("network failure is a retry, not an exception", client.upload(3, 1, photo));
        desk.breakAfter = 1000;
        assertFalse(client.upload(3, 1, photo)); // connection cut mid-PUT
        assertEquals(1000, desk.held.size());
        desk.breakAfter = Integer.MAX_VALUE;
        desk.calls.clear();
        assertTrue(client.upload(3, 1, photo));
        assertArrayEquals(photo, desk.held.toByteArray());
        assertEquals("GET http://127.0.0.1:8080/upload", desk.calls.get(0));
        assertEquals("PUT http://127.0.0.1:8080/upload?offset=1000 " + UploadClient.CHUNK_BYTES, desk.calls.get(1));
        assertEquals(4, desk.calls.size()); // GET + three chunks
        desk.calls.clear();
        assertTrue("idempotent once complete", client.upload(3, 1, photo));
        assertEquals(1, desk.calls.size());
    }

    @Test
    public void tapFrameIsCheckedAgainstItsShape() throws Exception {
        Pairing p = pairing();
        byte[] pixels = new byte[4 * 5 * 3];
        HttpTransport tap = new HttpTransport() {
            @Override
            public Response get(String url, Map<String, String> h) {
                assertEquals("http://127.0.0.1:8080/tap?index=7&attempt=1&age_ms=0", url);
                assertEquals("70d0ea93bd33d6a5d91e9125f8db2128803e0ee911d8db6989e35c112258a17c", h.get("X-Rig-Auth"));
                return new Response(200, Map.of("x-rig-shape", "4,5,3"), pixels);
            }

            @Override
            public Response put(String url, Map<String, String> h, byte[] body) {
                throw new AssertionError();
            }
        };
        UploadClient.Frame f = new UploadClient(tap, p).fetchTap(7, 1, 0);
        assertEquals(4, f.height());
        assertEquals(5, f.width());
        assertEquals(3, f.channels());
        HttpTransport none = new HttpTransport() {
            @Override
            public Response get(String url, Map<String, String> h) {
                return new Response(404, Map.of(), new byte[0]);
            }

            @Override
            public Response put(String url, Map<String, String> h, byte[] body) {
                throw new AssertionError();
            }
        };
        assertNull("no tap: not a simulation session", new UploadClient(none, p).fetchTap(7, 1, 0));
    }

    /** The answers of §5.3 (tests/vectors/upload.json) and what the client makes of them. */
    @Test
    public void outcomesFollowTheDocumentedStatuses() throws Exception {
        Pairing p = pairing();
        byte[] photo = new byte[100];
        for (int status : new int[] {400, 401, 403, 412, 413}) {
            assertEquals("status " + status, UploadClient.Outcome.REFUSED,
                    new UploadClient(fixed(status, "{\"error\":\"x\"}"), p).uploadOutcome(1, 1, photo));
        }
        for (int status : new int[] {404, 422, 500, 503}) {
            assertEquals("status " + status, UploadClient.Outcome.RETRY,
                    new UploadClient(fixed(status, "{\"error\":\"x\"}"), p).uploadOutcome(1, 1, photo));
        }
        // 409 "offset" names where to continue: the client PUTs from there
        List<String> urls = new ArrayList<>();
        HttpTransport resume = new HttpTransport() {
            @Override
            public Response get(String url, Map<String, String> h) {
                return new Response(409, Map.of(), "{\"complete\":false,\"error\":\"offset\",\"received\":40}".getBytes(StandardCharsets.UTF_8));
            }

            @Override
            public Response put(String url, Map<String, String> h, byte[] body) {
                urls.add(url + " " + body.length);
                return new Response(200, Map.of(), "{\"complete\":true,\"received\":100}".getBytes(StandardCharsets.UTF_8));
            }
        };
        assertEquals(UploadClient.Outcome.STORED, new UploadClient(resume, p).uploadOutcome(1, 1, photo));
        assertEquals(List.of("http://127.0.0.1:8080/upload?offset=40 60"), urls);
    }

    private static HttpTransport fixed(int status, String body) {
        return new HttpTransport() {
            @Override
            public Response get(String url, Map<String, String> h) {
                return new Response(status, Map.of(), body.getBytes(StandardCharsets.UTF_8));
            }

            @Override
            public Response put(String url, Map<String, String> h, byte[] b) {
                return new Response(status, Map.of(), body.getBytes(StandardCharsets.UTF_8));
            }
        };
    }
}
