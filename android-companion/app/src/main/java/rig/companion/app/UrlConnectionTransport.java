package rig.companion.app;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.HttpURLConnection;
import java.net.URL;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import rig.companion.protocol.HttpTransport;

/** {@link HttpTransport} over HttpURLConnection (Android has no java.net.http). */
final class UrlConnectionTransport implements HttpTransport {
    private static final int TIMEOUT_MS = 30_000;

    @Override
    public Response get(String url, Map<String, String> headers) throws IOException {
        return exchange("GET", url, headers, null);
    }

    @Override
    public Response put(String url, Map<String, String> headers, byte[] body) throws IOException {
        return exchange("PUT", url, headers, body);
    }

    private static Response exchange(String method, String url, Map<String, String> headers, byte[] body)
            throws IOException {
        HttpURLConnection c = (HttpURLConnection) new URL(url).openConnection();
        try {
            c.setRequestMethod(method);
            c.setConnectTimeout(5_000);
            c.setReadTimeout(TIMEOUT_MS);
            c.setUseCaches(false);
            for (Map.Entry<String, String> h : headers.entrySet()) c.setRequestProperty(h.getKey(), h.getValue());
            if (body != null) {
                c.setDoOutput(true);
                c.setFixedLengthStreamingMode(body.length);
                try (OutputStream out = c.getOutputStream()) {
                    out.write(body);
                }
            }
            int status = c.getResponseCode();
            Map<String, String> h = new HashMap<>();
            for (Map.Entry<String, List<String>> e : c.getHeaderFields().entrySet()) {
                if (e.getKey() != null && !e.getValue().isEmpty()) {
                    h.put(e.getKey().toLowerCase(Locale.ROOT), e.getValue().get(0));
                }
            }
            InputStream in = status >= 400 ? c.getErrorStream() : c.getInputStream();
            return new Response(status, h, in == null ? new byte[0] : readAll(in));
        } finally {
            c.disconnect();
        }
    }

    private static byte[] readAll(InputStream in) throws IOException {
        try (InputStream s = in) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            byte[] buf = new byte[16384];
            for (int n; (n = s.read(buf)) > 0; ) out.write(buf, 0, n);
            return out.toByteArray();
        }
    }
}
