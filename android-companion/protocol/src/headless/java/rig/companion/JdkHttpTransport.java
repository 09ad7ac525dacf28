package rig.companion;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import rig.companion.protocol.HttpTransport;

/** {@link HttpTransport} over java.net.http (JVM only; Android uses HttpURLConnection). */
public final class JdkHttpTransport implements HttpTransport {
    private final HttpClient client = HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1) // §2: HTTP/1.1, no h2c upgrade attempt
            .connectTimeout(Duration.ofSeconds(5))
            .build();
    private final Duration timeout;

    public JdkHttpTransport(Duration timeout) {
        this.timeout = timeout;
    }

    @Override
    public Response get(String url, Map<String, String> headers) throws IOException {
        return send(builder(url, headers).GET().build());
    }

    @Override
    public Response put(String url, Map<String, String> headers, byte[] body) throws IOException {
        return send(builder(url, headers).PUT(HttpRequest.BodyPublishers.ofByteArray(body)).build());
    }

    private HttpRequest.Builder builder(String url, Map<String, String> headers) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url)).timeout(timeout);
        headers.forEach(b::header);
        return b;
    }

    private Response send(HttpRequest request) throws IOException {
        try {
            HttpResponse<byte[]> r = client.send(request, HttpResponse.BodyHandlers.ofByteArray());
            Map<String, String> h = new HashMap<>();
            for (Map.Entry<String, List<String>> e : r.headers().map().entrySet()) {
                if (!e.getValue().isEmpty()) h.put(e.getKey().toLowerCase(Locale.ROOT), e.getValue().get(0));
            }
            return new Response(r.statusCode(), h, r.body());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
    }
}
