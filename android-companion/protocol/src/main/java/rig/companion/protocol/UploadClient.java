package rig.companion.protocol;

import java.io.IOException;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The phone's side of docs/protocol.md §5: resumable, authenticated photo upload and (in
 * simulation) the screen tap. Blocking; the adapter runs it off the protocol thread and reports
 * the outcome to the machine with {@code uploadFinished}.
 */
public final class UploadClient {
    /** Bytes per PUT: a broken connection costs at most this much to resend. */
    public static final int CHUNK_BYTES = 1 << 20;

    private final HttpTransport http;
    private final Pairing pairing;
    private final String base;

    public UploadClient(HttpTransport http, Pairing pairing) {
        this.http = http;
        this.pairing = pairing;
        this.base = pairing.httpBase();
    }

    /** The X-Rig-* headers of an upload of {@code (index, attempt)} with these bytes. */
    public Map<String, String> headers(int index, int attempt, String sha256, int size) {
        Map<String, String> h = new LinkedHashMap<>();
        h.put("X-Rig-Session", pairing.sessionHex());
        h.put("X-Rig-Index", Integer.toString(index));
        h.put("X-Rig-Attempt", Integer.toString(attempt));
        h.put("X-Rig-Sha256", sha256);
        h.put("X-Rig-Size", Integer.toString(size));
        h.put("X-Rig-Auth", Auth.uploadAuth(pairing.key(), pairing.session(), index, attempt, sha256, size));
        return h;
    }

    /** What a client makes of the desktop's answers (docs/protocol.md §5.3). */
    public enum Outcome {
        /** complete: true. */
        STORED,
        /** Try again later: network, 404 not_requested, 422, 503, a broken transfer. */
        RETRY,
        /** Retrying cannot help: 400, 401, 403, 412 (another photo holds the attempt), 413. */
        REFUSED
    }

    /** True once the desktop answered {@code complete: true} (see {@link #uploadOutcome}). */
    public boolean upload(int index, int attempt, byte[] data) {
        return uploadOutcome(index, attempt, data) == Outcome.STORED;
    }

    /**
     * Upload {@code data}, resuming where the desktop stopped (GET, then PUTs of at most
     * CHUNK_BYTES from its offset; a 409 "offset" answer names the offset to continue at).
     */
    public Outcome uploadOutcome(int index, int attempt, byte[] data) {
        Map<String, String> h = headers(index, attempt, Auth.sha256Hex(data), data.length);
        try {
            HttpTransport.Response r = http.get(base + "/upload", h);
            for (int step = 0; step < data.length / CHUNK_BYTES + 4; step++) {
                int status = r.status();
                if (status == 400 || status == 401 || status == 403 || status == 412 || status == 413) {
                    return Outcome.REFUSED;
                }
                Answer state = status == 200 || status == 409 ? answer(r) : null;
                if (state == null) return Outcome.RETRY;
                if (state.complete) return Outcome.STORED;
                long offset = state.received;
                // offset == length: every byte arrived but the answer was lost; an empty PUT
                // there lets the desktop finish (§5.2)
                if (offset < 0 || offset > data.length) return Outcome.RETRY;
                int end = (int) Math.min(data.length, offset + CHUNK_BYTES);
                byte[] piece = Arrays.copyOfRange(data, (int) offset, end);
                r = http.put(base + "/upload?offset=" + offset, h, piece);
            }
            return Outcome.RETRY;
        } catch (IOException e) {
            return Outcome.RETRY;
        }
    }

    private record Answer(long received, boolean complete) {}

    /** The {"received": N, "complete": bool} of an answer, or null for anything else. */
    private static Answer answer(HttpTransport.Response r) {
        try {
            Object o = Json.parse(new String(r.body(), StandardCharsets.UTF_8));
            if (!(o instanceof Map<?, ?> m)) return null;
            if (!(m.get("received") instanceof BigInteger n) || !(m.get("complete") instanceof Boolean c)) {
                return null;
            }
            return new Answer(n.longValue(), c);
        } catch (Json.JsonException e) {
            return null;
        }
    }

    /** A raw screen frame: {@code height × width × channels} uint8, row-major. */
    public record Frame(int height, int width, int channels, byte[] pixels) {}

    /**
     * The frame the desktop showed {@code ageMs} ago (simulation only, §5), or null when the
     * desktop has no screen tap (a real session) or the request failed.
     */
    public Frame fetchTap(int index, int attempt, int ageMs) throws IOException {
        Map<String, String> h = java.util.Collections.singletonMap("X-Rig-Auth", Auth.tapAuth(pairing.key(), pairing.session(), index, attempt));
        String url = base + "/tap?index=" + index + "&attempt=" + attempt + "&age_ms=" + ageMs;
        HttpTransport.Response r = http.get(url, h);
        if (r.status() != 200) return null;
        String shape = r.headers().get("x-rig-shape");
        if (shape == null) return null;
        String[] dims = shape.split(",");
        try {
            int hgt = Integer.parseInt(dims[0].trim());
            int wid = Integer.parseInt(dims[1].trim());
            int ch = dims.length > 2 ? Integer.parseInt(dims[2].trim()) : 1;
            if ((long) hgt * wid * ch != r.body().length) return null;
            return new Frame(hgt, wid, ch, r.body());
        } catch (NumberFormatException | ArrayIndexOutOfBoundsException e) {
            return null;
        }
    }
}
