package rig.companion.protocol;

import java.io.UnsupportedEncodingException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;

/**
 * The pairing URI of docs/protocol.md §3:
 * {@code rig1://HOST:UDP_PORT/?v=1&sid=SESSION_HEX16&http=HTTP_PORT&key=KEY_BASE64URL}.
 *
 * <p>Unknown query fields are ignored; a repeated field keeps its last value (as Python's
 * parse_qs); the phone needs nothing else (no indices).
 */
public record Pairing(String host, int udpPort, int httpPort, byte[] session, byte[] key, int version) {
    public static final String SCHEME = "rig1";
    public static final int VERSION = 1;

    /** A pairing payload the phone cannot use; the message names the field. */
    public static final class PairingException extends Exception {
        private static final long serialVersionUID = 1L;

        public PairingException(String message) {
            super(message);
        }
    }

    public String sessionHex() {
        return Hex.encode(session);
    }

    /** The base URL of the desktop's HTTP server (§5). */
    public String httpBase() {
        String h = host.contains(":") ? "[" + host + "]" : host;
        return "http://" + h + ":" + httpPort;
    }

    public String toUri() {
        String k = Base64.getUrlEncoder().withoutPadding().encodeToString(key);
        String h = host.contains(":") ? "[" + host + "]" : host;
        return SCHEME + "://" + h + ":" + udpPort + "/?v=" + version + "&sid=" + sessionHex()
                + "&http=" + httpPort + "&key=" + k;
    }

    public static Pairing parse(String text) throws PairingException {
        String t = firstLine(text).trim();
        String prefix = SCHEME + "://";
        if (!t.regionMatches(true, 0, prefix, 0, prefix.length())) {
            throw new PairingException("pairing: field 'scheme': expected a 'rig1://' payload; rescan the QR code");
        }
        String rest = t.substring(prefix.length());
        int hashAt = rest.indexOf('#');
        if (hashAt >= 0) rest = rest.substring(0, hashAt);
        int q = rest.indexOf('?');
        String authority = q >= 0 ? rest.substring(0, q) : rest;
        String query = q >= 0 ? rest.substring(q + 1) : "";
        int slash = authority.indexOf('/');
        if (slash >= 0) authority = authority.substring(0, slash);
        String[] hostPort = splitHostPort(authority);
        Map<String, String> fields = parseQuery(query);

        int version = intField(fields, "v", "1");
        if (version != VERSION) {
            throw new PairingException("pairing: field 'v': protocol version " + version
                    + " unsupported (this phone speaks " + VERSION + "); update the app or rig");
        }
        int udpPort = port(hostPort[1], "port");
        int httpPort = port(require(fields, "http"), "http");
        String sid = require(fields, "sid");
        byte[] session;
        try {
            session = sid.matches("[0-9a-fA-F]{16}") ? Hex.decode(sid) : new byte[0];
        } catch (IllegalArgumentException e) {
            session = new byte[0];
        }
        if (session.length != Codec.SESSION_LEN) {
            throw new PairingException("pairing: field 'sid' must be 16 hex digits; rescan the QR code");
        }
        byte[] key;
        try {
            key = Base64.getUrlDecoder().decode(require(fields, "key"));
        } catch (IllegalArgumentException e) {
            key = new byte[0];
        }
        if (key.length != Auth.KEY_LEN) {
            throw new PairingException("pairing: field 'key' must be 32 bytes in base64url; rescan the QR code");
        }
        return new Pairing(hostPort[0], udpPort, httpPort, session, key, version);
    }

    /** A pairing file is UTF-8 text whose first non-empty line is the URI (§3). */
    private static String firstLine(String text) {
        for (String line : text.split("\\r?\\n|\\r")) {
            if (!line.trim().isEmpty()) return line;
        }
        return "";
    }

    private static String[] splitHostPort(String authority) throws PairingException {
        int at = authority.lastIndexOf('@');
        if (at >= 0) authority = authority.substring(at + 1);
        String host;
        String port;
        if (authority.startsWith("[")) {
            int end = authority.indexOf(']');
            if (end < 0 || !authority.startsWith(":", end + 1)) {
                throw new PairingException("pairing: field 'port' missing");
            }
            host = authority.substring(1, end);
            port = authority.substring(end + 2);
        } else {
            int colon = authority.lastIndexOf(':');
            if (colon < 0) throw new PairingException("pairing: field 'port' missing");
            host = authority.substring(0, colon);
            port = authority.substring(colon + 1);
        }
        if (host.isEmpty()) throw new PairingException("pairing: field 'host' missing");
        if (port.isEmpty()) throw new PairingException("pairing: field 'port' missing");
        return new String[] {host.toLowerCase(Locale.ROOT), port};
    }

    private static Map<String, String> parseQuery(String query) {
        Map<String, String> out = new HashMap<>();
        for (String part : query.split("&")) {
            int eq = part.indexOf('=');
            if (eq <= 0) continue;
            String name = urlDecode(part.substring(0, eq));
            String value = urlDecode(part.substring(eq + 1));
            if (!value.isEmpty()) out.put(name, value); // parse_qs drops blank values
        }
        return out;
    }

    /** Percent-decoding (URLDecoder's Charset overload is Java 10+, absent on older Android). */
    private static String urlDecode(String s) {
        try {
            return URLDecoder.decode(s, StandardCharsets.UTF_8.name());
        } catch (UnsupportedEncodingException | IllegalArgumentException e) {
            return s; // a malformed escape: the field's own check names it
        }
    }

    private static String require(Map<String, String> fields, String name) throws PairingException {
        String v = fields.get(name);
        if (v == null) throw new PairingException("pairing: field '" + name + "' missing; rescan the QR code");
        return v;
    }

    private static int intField(Map<String, String> fields, String name, String dflt) throws PairingException {
        String v = fields.getOrDefault(name, dflt);
        if (v.matches("[0-9]{1,3}") && Integer.parseInt(v) >= 1 && Integer.parseInt(v) <= 255) {
            return Integer.parseInt(v);
        }
        throw new PairingException("pairing: field '" + name + "' must be an integer in [1, 255]; rescan the QR code");
    }

    private static int port(String text, String name) throws PairingException {
        try {
            int p = Integer.parseInt(text);
            if (p >= 1 && p <= 65535 && text.chars().allMatch(Character::isDigit)) return p;
        } catch (NumberFormatException e) {
            // fall through
        }
        throw new PairingException("pairing: field '" + name + "' is not a port number; rescan the QR code");
    }
}
