package rig.companion.protocol;

import java.io.IOException;
import java.util.Map;

/**
 * The two HTTP requests the phone makes (docs/protocol.md §5), behind an interface so the same
 * upload logic runs on the JVM (java.net.http) and on Android (HttpURLConnection), where
 * java.net.http does not exist.
 */
public interface HttpTransport {
    /** A response; header names are lowercase. */
    record Response(int status, Map<String, String> headers, byte[] body) {}

    Response get(String url, Map<String, String> headers) throws IOException;

    Response put(String url, Map<String, String> headers, byte[] body) throws IOException;
}
