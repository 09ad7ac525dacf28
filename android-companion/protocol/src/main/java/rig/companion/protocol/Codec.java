package rig.companion.protocol;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Map;
import java.util.TreeMap;
import rig.companion.protocol.Messages.Message;

/**
 * One side's datagram codec (docs/protocol.md §4): seals outgoing messages and runs the receive
 * checks of §4.4, in their order, on incoming ones, counting every drop by reason.
 *
 * <p>{@code nextSeq} must start above every seq ever sent under this key (§4.6: the adapter
 * passes max(persisted mark + 1, Unix time in µs)). Sequence numbers are unsigned 64-bit.
 */
public final class Codec {
    public static final byte[] MAGIC = {0x52, 0x47}; // "RG"
    public static final int VERSION = 1;
    public static final int HEADER_LEN = 24;
    public static final int MAX_DATAGRAM = 1200;
    public static final int MAX_BODY = MAX_DATAGRAM - HEADER_LEN - Auth.TAG_LEN; // 1160
    public static final int SESSION_LEN = 8;
    public static final int FLAG_ROLE = 0x01;

    private final byte[] key;
    private final byte[] session;
    private final int role;
    private long nextSeq;
    private ReplayWindow window = new ReplayWindow();
    private final Map<String, Integer> rejected = new TreeMap<>();

    public Codec(byte[] key, byte[] session, int role, long nextSeq) {
        this.key = key.clone();
        this.session = session.clone();
        this.role = role;
        this.nextSeq = nextSeq;
    }

    /** A decoded, authenticated datagram. */
    public record Opened(Message message, long seq) {}

    public long nextSeq() {
        return nextSeq;
    }

    /** Highest seq accepted from the peer (unsigned; persisted with the state, §4.6). */
    public long peerHighest() {
        return window.highest();
    }

    /** Restore the peer's highest seq after a restart (before any datagram is opened). */
    public void restorePeerHighest(long highest) {
        window = ReplayWindow.restored(highest);
    }

    /** Restore it with our clock ({@code floorMicros}, Unix µs) bounding seqs ahead (§4.6). */
    public void restorePeerHighest(long highest, long floorMicros) {
        window = ReplayWindow.restored(highest, floorMicros);
    }

    public Map<String, Integer> rejected() {
        return new TreeMap<>(rejected);
    }

    /** Encode and authenticate {@code msg} with the next sequence number. */
    public byte[] seal(Message msg) {
        if (msg.sender() != role) throw new IllegalArgumentException(msg + " is not sent by this role");
        byte[] data = encode(msg, key, session, nextSeq);
        nextSeq++;
        return data;
    }

    /** The authenticated message in {@code data}, or null (the reason is counted). */
    public Message open(byte[] data) {
        return open(data, 0, data.length);
    }

    public Message open(byte[] data, int off, int len) {
        try {
            Opened o = openDatagram(Arrays.copyOfRange(data, off, off + len), key, session, role, window);
            window.accept(o.seq());
            return o.message();
        } catch (Rejected r) {
            rejected.merge(r.reason, 1, Integer::sum);
            return null;
        }
    }

    /** The canonical body bytes of {@code msg} (§4.2). */
    public static byte[] body(Message msg) {
        return Json.write(msg.body()).getBytes(StandardCharsets.US_ASCII);
    }

    /** Serialise and authenticate {@code msg} as one datagram with sequence number {@code seq}. */
    public static byte[] encode(Message msg, byte[] key, byte[] session, long seq) {
        Messages.validate(msg);
        byte[] body = body(msg);
        if (body.length > MAX_BODY) {
            throw new IllegalArgumentException("body is " + body.length + " bytes > " + MAX_BODY);
        }
        if (session.length != SESSION_LEN || seq == 0) { // seq is unsigned: any other value
            throw new IllegalArgumentException("session must be 8 bytes and seq in [1, 2^64-1]");
        }
        ByteBuffer buf = ByteBuffer.allocate(HEADER_LEN + body.length + Auth.TAG_LEN); // big-endian
        buf.put(MAGIC).put((byte) VERSION).put((byte) msg.type());
        buf.put((byte) (msg.sender() == Messages.ROLE_PHONE ? FLAG_ROLE : 0)).put((byte) 0);
        buf.putShort((short) body.length).put(session).putLong(seq).put(body);
        byte[] out = buf.array();
        byte[] tag = Auth.datagramTag(key, out, HEADER_LEN + body.length);
        System.arraycopy(tag, 0, out, HEADER_LEN + body.length, Auth.TAG_LEN);
        return out;
    }

    /**
     * Run the receive checks of §4.4 in order; the window is only read here (the caller accepts
     * the seq once everything passed). {@code window} may be null to skip the replay check.
     */
    public static Opened openDatagram(
            byte[] data, byte[] key, byte[] session, int ownRole, ReplayWindow window) throws Rejected {
        int n = data.length;
        if (n < HEADER_LEN + Auth.TAG_LEN) throw new Rejected(Rejected.SHORT);
        if (n > MAX_DATAGRAM) throw new Rejected(Rejected.OVERSIZE);
        ByteBuffer buf = ByteBuffer.wrap(data);
        if (data[0] != MAGIC[0] || data[1] != MAGIC[1]) throw new Rejected(Rejected.MAGIC);
        if ((data[2] & 0xff) != VERSION) throw new Rejected(Rejected.VERSION);
        int type = data[3] & 0xff;
        int flags = data[4] & 0xff;
        int reserved = data[5] & 0xff;
        int bodyLen = buf.getShort(6) & 0xffff;
        if (HEADER_LEN + bodyLen + Auth.TAG_LEN != n || reserved != 0 || (flags & ~FLAG_ROLE) != 0) {
            throw new Rejected(Rejected.MALFORMED);
        }
        int diff = 0;
        for (int k = 0; k < SESSION_LEN; k++) diff |= data[8 + k] ^ session[k];
        if (diff != 0) throw new Rejected(Rejected.SESSION);
        byte[] want = Auth.datagramTag(key, data, n - Auth.TAG_LEN);
        if (!Auth.tagsEqual(want, Arrays.copyOfRange(data, n - Auth.TAG_LEN, n))) {
            throw new Rejected(Rejected.MAC);
        }
        int sender = (flags & FLAG_ROLE) != 0 ? Messages.ROLE_PHONE : Messages.ROLE_DESKTOP;
        if (sender == ownRole) throw new Rejected(Rejected.ROLE);
        int typeSender = Messages.senderOf(type);
        if (typeSender < 0) throw new Rejected(Rejected.TYPE);
        if (typeSender != sender) throw new Rejected(Rejected.ROLE);
        long seq = buf.getLong(16);
        String verdict = window == null ? null : window.verdict(seq);
        if (verdict != null) throw new Rejected(verdict); // replay, or too far ahead (§4.6)
        return new Opened(Messages.decodeBody(type, data, HEADER_LEN, bodyLen), seq);
    }
}
