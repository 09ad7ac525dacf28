package rig.companion.protocol;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/** HMAC tags of docs/protocol.md §4.1 (datagrams) and §5 (upload, screen tap). No I/O. */
public final class Auth {
    public static final int TAG_LEN = 16;
    public static final int KEY_LEN = 32;

    private Auth() {}

    /** Mac.getInstance is slow (provider lookup): one instance per thread, re-keyed per call. */
    private static final ThreadLocal<Mac> MAC = ThreadLocal.withInitial(() -> {
        try {
            return Mac.getInstance("HmacSHA256");
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 unavailable", e); // every JRE/Android has it
        }
    });

    public static byte[] hmacSha256(byte[] key, byte[] data) {
        try {
            Mac mac = MAC.get();
            mac.init(new SecretKeySpec(key, "HmacSHA256"));
            return mac.doFinal(data);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("bad HMAC key", e); // SecretKeySpec accepts any non-empty key
        }
    }

    /** First 16 bytes of HMAC-SHA256 over header + body (§4.1). */
    public static byte[] datagramTag(byte[] key, byte[] signed, int len) {
        byte[] part = new byte[len];
        System.arraycopy(signed, 0, part, 0, len);
        byte[] full = hmacSha256(key, part);
        byte[] tag = new byte[TAG_LEN];
        System.arraycopy(full, 0, tag, 0, TAG_LEN);
        return tag;
    }

    /** Constant-time comparison, so timing does not tell how much of a forged tag matched. */
    public static boolean tagsEqual(byte[] a, byte[] b) {
        return MessageDigest.isEqual(a, b);
    }

    /** X-Rig-Auth of an upload request (§5). */
    public static String uploadAuth(
            byte[] key, byte[] session, int index, int attempt, String sha256, long size) {
        String text = "rig1-upload\n" + Hex.encode(session) + "\n" + index + "\n" + attempt + "\n"
                + sha256 + "\n" + size;
        return Hex.encode(hmacSha256(key, text.getBytes(StandardCharsets.US_ASCII)));
    }

    /** X-Rig-Auth of a simulation screen-tap request (§5). */
    public static String tapAuth(byte[] key, byte[] session, int index, int attempt) {
        String text = "rig1-tap\n" + Hex.encode(session) + "\n" + index + "\n" + attempt;
        return Hex.encode(hmacSha256(key, text.getBytes(StandardCharsets.US_ASCII)));
    }

    public static String sha256Hex(byte[] data) {
        try {
            return Hex.encode(MessageDigest.getInstance("SHA-256").digest(data));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("SHA-256 unavailable", e);
        }
    }
}
