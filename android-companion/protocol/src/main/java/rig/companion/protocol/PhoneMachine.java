package rig.companion.protocol;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import rig.companion.protocol.Messages.Message;
import rig.companion.protocol.PhoneState.Key;
import rig.companion.protocol.PhoneState.Result;

/**
 * The phone's side of the capture protocol as a sans-I/O state machine (docs/protocol.md §6–§7,
 * v1.2: a v1.1 machine that announces minor 2, whose adapter uploads beside the next shot, §6.4),
 * the Java twin of rig.protocol.phone.PhoneMachine.
 *
 * <p>Rules / theory of operation:
 * <ul>
 *   <li>Bytes and {@code now} (seconds, any monotonic origin) in; datagrams and events out. The
 *       machine never reads a clock, opens a socket or touches a file: the adapter calls
 *       {@link #receiveDatagram}, {@link #handleTimer} at {@link #getTimer}, reports the camera
 *       ({@link #photoSaved}/{@link #cameraFailed}) and uploads ({@link #uploadFinished}), and
 *       persists {@link #snapshot} after every call that changed it.
 *   <li>The phone opens contact: HELLO (same nonce on every retransmission) until a HELLO_ACK
 *       echoing that nonce, then HELLO as keepalive (a new nonce each) whenever the desktop has
 *       been silent for keepalive_s; none after BYE (ENDED). The HELLO carries our minor version
 *       and camera timeout. CAPTUREs are served in every state.
 *   <li>An attempt is shot at most once, ever: finished attempts are persisted and a repeated
 *       CAPTURE only repeats their outcome (the photo is re-uploaded, never re-shot).
 *   <li>Only the expected index (cursor) or a retake (higher attempt) of an index finished
 *       before is shot; anything else is ERROR GAP until the desktop sends RESYNC, which always
 *       wins: the cursor becomes its next.
 *   <li>Every wait is bounded: camera_timeout_s (then CAMERA_FAILED), desktop_timeout_s (then
 *       DesktopLost, back to CONNECTING).
 * </ul>
 */
public final class PhoneMachine {
    public enum State { CONNECTING, READY, SHOOTING, ENDED }

    /** (state, event) → new state; a pair not listed is a bug on our side. */
    private static final Map<String, State> TRANSITIONS = new java.util.HashMap<>();

    static {
        TRANSITIONS.put("CONNECTING/hello_ack", State.READY);
        TRANSITIONS.put("READY/hello_ack", State.READY);
        TRANSITIONS.put("SHOOTING/hello_ack", State.SHOOTING);
        TRANSITIONS.put("CONNECTING/shoot", State.SHOOTING);
        TRANSITIONS.put("READY/shoot", State.SHOOTING);
        TRANSITIONS.put("SHOOTING/shot_done_connected", State.READY);
        TRANSITIONS.put("SHOOTING/shot_done_lost", State.CONNECTING);
        TRANSITIONS.put("READY/desktop_timeout", State.CONNECTING);
        TRANSITIONS.put("SHOOTING/desktop_timeout", State.SHOOTING);
        TRANSITIONS.put("CONNECTING/bye", State.ENDED);
        TRANSITIONS.put("READY/bye", State.ENDED);
        TRANSITIONS.put("SHOOTING/bye", State.SHOOTING); // ENDED once the shot is reported
        TRANSITIONS.put("ENDED/bye", State.ENDED);
        TRANSITIONS.put("ENDED/reopen", State.READY); // the desktop asks again (resumed session)
    }

    /** A datagram to send and the opaque address it goes to. */
    public record Outgoing(byte[] data, Object addr) {}

    private static final class Upload {
        Double dueS; // when to (re)request it; null while the adapter is uploading
        int tries;
        double backoffS = 0.2;
    }

    private record Shot(int index, int attempt, double startedS) {}

    private final Timers timers;
    private final Codec codec;
    private final Object desktopAddr;
    private final PhoneState persist;
    private State state = State.CONNECTING;
    private boolean connected;
    private Shot shooting;
    private final Map<Key, Upload> uploads = new LinkedHashMap<>();
    private int stale;
    private List<PhoneEvent> events = new ArrayList<>();
    private List<Outgoing> out = new ArrayList<>();
    private RtoEstimator rto;
    private long nonce;
    private Double helloDueS;
    private double helloSentS = -1;
    private boolean helloResent;
    private boolean nonceAcked = true; // no HELLO outstanding: the next one starts an exchange
    private Double lastHeardS;
    private Double lastRequestS;
    private int desktopMinor;
    private boolean ended;

    public PhoneMachine(byte[] key, byte[] session, Object desktopAddr, long initialSeq,
            PhoneState state, Timers timers) {
        this.timers = timers == null ? Timers.defaults() : timers;
        this.codec = new Codec(key, session, Messages.ROLE_PHONE, initialSeq);
        this.desktopAddr = desktopAddr;
        this.persist = state == null ? new PhoneState() : state;
        this.rto = new RtoEstimator(this.timers);
        this.nonce = initialSeq & 0xFFFFFFFFL;
    }

    // ------------------------------------------------------------------ plumbing
    public State state() { return state; }
    /** The minor version agreed with the desktop (HELLO_ACK, §7.4); 0 for a v1.0 desktop. */
    public int desktopMinor() { return desktopMinor; }
    /** The desktop said BYE and has asked for nothing since. */
    public boolean ended() { return ended; }
    public boolean connected() { return connected; }
    public int cursor() { return persist.cursor; }
    public int stale() { return stale; }
    public long nextSeq() { return codec.nextSeq(); }
    public Map<String, Integer> rejected() { return codec.rejected(); }
    /** Highest seq accepted from the desktop; persist it with the state (§4.6). */
    public long peerHighest() { return codec.peerHighest(); }
    /** Restore {@link #peerHighest} after a restart, before {@link #start}. */
    public void restorePeerHighest(long highest) { codec.restorePeerHighest(highest); }
    /** The same, with our clock (Unix µs) bounding how far ahead a seq may jump (§4.6). */
    public void restorePeerHighest(long highest, long floorMicros) {
        codec.restorePeerHighest(highest, floorMicros);
    }
    public PhoneState persistent() { return persist; }
    /** When an authenticated datagram was last received (null: never). */
    public Double lastHeardS() { return lastHeardS; }
    /** When the desktop last asked for work (an authenticated CAPTURE or RESYNC; null: never). */
    public Double lastRequestS() { return lastRequestS; }
    /** Uploads not yet confirmed by the desktop (running or scheduled for a retry). */
    public int pendingUploads() { return uploads.size(); }
    /** Whether a shot is in progress. */
    public boolean busyShooting() { return shooting != null; }

    /** The persistent state as JSON (write it durably after every call). */
    public String snapshot() {
        return persist.toJson();
    }

    public List<PhoneEvent> nextEvents() {
        List<PhoneEvent> e = events;
        events = new ArrayList<>();
        return e;
    }

    public List<Outgoing> datagramsToSend() {
        List<Outgoing> o = out;
        out = new ArrayList<>();
        return o;
    }

    private void send(Message msg) {
        out.add(new Outgoing(codec.seal(msg), desktopAddr));
    }

    private void go(String event) {
        State next = TRANSITIONS.get(state + "/" + event);
        if (next == null) throw new IllegalStateException("phone: '" + event + "' is illegal in " + state);
        state = next;
    }

    // ------------------------------------------------------------------ inputs
    /** Begin contacting the desktop (once after construction or a restart). */
    public void start(double now) {
        sendHello(now);
    }

    public void receiveDatagram(byte[] data, Object addr, double now) {
        Message msg = codec.open(data);
        if (msg == null) return;
        lastHeardS = now;
        if (msg instanceof Messages.HelloAck m) {
            onHelloAck(m, now);
        } else if (msg instanceof Messages.Capture m) {
            lastRequestS = now;
            reopen(now);
            onCapture(m, now);
        } else if (msg instanceof Messages.Stored m) {
            markStored(m.index(), m.attempt(), m.sha256());
        } else if (msg instanceof Messages.Resync m) {
            lastRequestS = now;
            reopen(now);
            adoptCursor(m.next()); // the desktop's cursor wins, always (§7.3)
            send(new Messages.ResyncAck(m.next()));
        } else if (msg instanceof Messages.Bye m) {
            send(new Messages.ByeAck());
            if (!ended) {
                ended = true;
                events.add(new PhoneEvent.SessionEnded(m.reason()));
            }
            go("bye");
            connected = false;
            helloDueS = null; // no keepalives: the session is over until asked again
        }
    }

    /** A CAPTURE or RESYNC after BYE: the desktop resumed the session. */
    private void reopen(double now) {
        if (!ended) return;
        ended = false;
        connected = true;
        if (state == State.ENDED) go("reopen");
        helloDueS = now + timers.keepaliveS();
    }

    /** The camera produced a photo and it is saved durably on the phone. */
    public void photoSaved(int index, int attempt, String sha256, int size, double now) {
        if (!isShooting(index, attempt)) {
            stale++; // too late: the attempt already timed out and was reported failed
            return;
        }
        finish(index, attempt, Result.saved(sha256, size));
        if (persist.cursor == index) persist.cursor = index + 1; // not a retake, no RESYNC since
        send(new Messages.PhotoReady(index, attempt, sha256, size));
        requestUpload(index, attempt);
    }

    public void cameraFailed(int index, int attempt, String reason, double now) {
        if (!isShooting(index, attempt)) {
            stale++;
            return;
        }
        String why = cleanReason(reason);
        finish(index, attempt, Result.failed(why));
        send(new Messages.CameraFailed(index, attempt, why));
    }

    /** The adapter's upload of (index, attempt) ended; failures are retried with backoff. */
    public void uploadFinished(int index, int attempt, boolean ok, double now) {
        uploadFinished(index, attempt, ok, now, false);
    }

    /**
     * As above; {@code refused}: the desktop answered that retrying cannot help (§5.3: 400,
     * 401, 403, 412, 413), so the upload is dropped until a later CAPTURE poll asks again.
     */
    public void uploadFinished(int index, int attempt, boolean ok, double now, boolean refused) {
        Key key = new Key(index, attempt);
        Upload up = uploads.get(key);
        Result result = persist.results.get(key);
        if (up == null || result == null) return;
        if (ok) {
            markStored(index, attempt, result.sha256);
            return;
        }
        up.tries++;
        if (refused || up.tries >= timers.uploadRetries()) {
            uploads.remove(key); // a later CAPTURE poll restarts it
            return;
        }
        up.dueS = now + up.backoffS;
        up.backoffS = Math.min(timers.uploadRetryMaxS(), up.backoffS * 2);
    }

    // ------------------------------------------------------------------ timers
    /** When {@link #handleTimer} is next due (seconds), or null for never. */
    public Double getTimer() {
        Double best = helloDueS;
        if (lastHeardS != null && connected) best = min(best, lastHeardS + timers.desktopTimeoutS());
        if (shooting != null) best = min(best, shooting.startedS() + timers.cameraTimeoutS());
        for (Upload u : uploads.values()) best = min(best, u.dueS);
        return best;
    }

    private static Double min(Double a, Double b) {
        if (a == null) return b;
        if (b == null) return a;
        return Math.min(a, b);
    }

    public void handleTimer(double now) {
        if (shooting != null && now >= shooting.startedS() + timers.cameraTimeoutS()) {
            cameraFailed(shooting.index(), shooting.attempt(), "camera timeout", now);
        }
        if (connected && lastHeardS != null && now >= lastHeardS + timers.desktopTimeoutS()) {
            connected = false;
            go("desktop_timeout");
            events.add(new PhoneEvent.DesktopLost());
            rto = new RtoEstimator(timers);
            helloDueS = now;
            nonceAcked = true; // a new exchange: a new nonce
        }
        if (helloDueS != null && now >= helloDueS) sendHello(now);
        for (Map.Entry<Key, Upload> e : uploads.entrySet()) {
            Upload up = e.getValue();
            if (up.dueS != null && now >= up.dueS) {
                up.dueS = null;
                Result r = persist.results.get(e.getKey());
                events.add(new PhoneEvent.UploadRequested(
                        e.getKey().index(), e.getKey().attempt(), r.sha256, r.size));
            }
        }
    }

    // ------------------------------------------------------------------ internals
    /**
     * HELLO: a retransmission keeps its nonce; a new exchange (start, keepalive, after
     * DesktopLost) takes a new one, so a late HELLO_ACK to an old one is recognised (§7.2).
     */
    private void sendHello(double now) {
        boolean retransmit = !connected && !nonceAcked && helloSentS >= 0;
        if (!retransmit) {
            nonce = (nonce + 1) & 0xFFFFFFFFL;
            nonceAcked = false;
        }
        helloResent = retransmit;
        int shotS = (int) Math.max(1, Math.min(3600, Math.ceil(timers.cameraTimeoutS())));
        send(new Messages.Hello(persist.cursor, nonce, Messages.MINOR, shotS));
        helloSentS = now;
        if (connected) {
            double heard = lastHeardS != null ? lastHeardS : now;
            helloDueS = Math.max(now, heard) + timers.keepaliveS();
        } else {
            helloDueS = now + rto.rtoS();
            rto.backoff();
        }
    }

    private void onHelloAck(Messages.HelloAck msg, double now) {
        if (msg.nonce() != nonce || nonceAcked) {
            stale++; // a late answer to an earlier HELLO: its next may be stale
            return;
        }
        nonceAcked = true;
        if (!connected && !helloResent) rto.sample(now - helloSentS); // Karn
        desktopMinor = msg.minor() == null ? 0 : Math.min(msg.minor(), Messages.MINOR);
        ended = false;
        boolean first = !connected;
        connected = true;
        go(state == State.ENDED ? "reopen" : "hello_ack");
        helloDueS = now + timers.keepaliveS();
        // The desktop is authoritative about what it holds, except that an index we already
        // finished will be served from our results, so it must not pull the cursor back.
        boolean finished = false;
        for (Map.Entry<Key, Result> e : persist.results.entrySet()) {
            if (e.getKey().index() == msg.next() && e.getValue().saved) finished = true;
        }
        if (msg.next() >= 0 && msg.next() != persist.cursor && !finished) adoptCursor(msg.next());
        if (first) events.add(new PhoneEvent.Connected(msg.next()));
    }

    private void adoptCursor(int next) {
        int old = persist.cursor;
        if (next != old) {
            persist.cursor = next;
            events.add(new PhoneEvent.Resynced(old, next));
        }
    }

    private void onCapture(Messages.Capture msg, double now) {
        Key key = new Key(msg.index(), msg.attempt());
        Result done = persist.results.get(key);
        if (done != null) {
            repeatOutcome(msg, done);
        } else if (shooting != null && shooting.index() == msg.index() && shooting.attempt() == msg.attempt()) {
            send(new Messages.CaptureAck(msg.index(), msg.attempt(), Messages.ST_SHOOTING));
        } else if (shooting != null) {
            send(new Messages.Error(Messages.ERR_BUSY, shooting.index(), shooting.attempt(), persist.cursor));
        } else if (mayShoot(msg.index(), msg.attempt())) {
            shooting = new Shot(msg.index(), msg.attempt(), now);
            go("shoot");
            send(new Messages.CaptureAck(msg.index(), msg.attempt(), Messages.ST_SHOOTING));
            events.add(new PhoneEvent.ShootRequested(msg.index(), msg.attempt(), msg.tag()));
        } else {
            send(new Messages.Error(Messages.ERR_GAP, msg.index(), msg.attempt(), persist.cursor));
        }
    }

    private boolean mayShoot(int index, int attempt) {
        int cursor = persist.cursor;
        if (cursor < 0) return false;
        if (index == cursor) return true;
        int maxTried = -1;
        for (Key k : persist.results.keySet()) {
            if (k.index() == index) maxTried = Math.max(maxTried, k.attempt());
        }
        // A retake of any index finished before, with a higher attempt than every finished one:
        // never a re-shot, and no RESYNC needed however far the cursor has moved on (v1.1).
        return index < cursor && maxTried >= 0 && attempt > maxTried;
    }

    private void repeatOutcome(Messages.Capture msg, Result done) {
        int st = done.saved ? Messages.ST_SAVED : Messages.ST_FAILED;
        send(new Messages.CaptureAck(msg.index(), msg.attempt(), st));
        if (!done.saved) {
            send(new Messages.CameraFailed(msg.index(), msg.attempt(), cleanReason(done.reason)));
            return;
        }
        send(new Messages.PhotoReady(msg.index(), msg.attempt(), done.sha256, done.size));
        // The desktop asks again, so it does not hold the photo (e.g. it restarted): re-upload
        // unless an upload is already running or scheduled.
        if (!uploads.containsKey(new Key(msg.index(), msg.attempt()))) {
            done.stored = false;
            requestUpload(msg.index(), msg.attempt());
        }
    }

    private void requestUpload(int index, int attempt) {
        Result r = persist.results.get(new Key(index, attempt));
        uploads.put(new Key(index, attempt), new Upload());
        events.add(new PhoneEvent.UploadRequested(index, attempt, r.sha256, r.size));
    }

    private void markStored(int index, int attempt, String sha256) {
        Key key = new Key(index, attempt);
        Result r = persist.results.get(key);
        if (r == null || !r.saved || !r.sha256.equals(sha256)) {
            stale++;
            return;
        }
        uploads.remove(key);
        if (!r.stored) {
            r.stored = true;
            events.add(new PhoneEvent.PhotoStored(index, attempt));
        }
    }

    private boolean isShooting(int index, int attempt) {
        return shooting != null && shooting.index() == index && shooting.attempt() == attempt;
    }

    private void finish(int index, int attempt, Result result) {
        persist.results.put(new Key(index, attempt), result);
        shooting = null;
        go(connected ? "shot_done_connected" : "shot_done_lost");
        if (ended) go("bye");
        prune();
    }

    private void prune() {
        int excess = persist.results.size() - timers.resultsKept();
        for (Iterator<Key> it = persist.results.keySet().iterator(); excess > 0 && it.hasNext(); excess--) {
            Key k = it.next();
            it.remove();
            uploads.remove(k);
        }
    }

    /**
     * A reason that always fits a datagram: printable ASCII, ≤ 200 chars. The spec allows any
     * 200 code points, but 200 escaped non-ASCII characters (6–12 bytes each) overflow the
     * 1160-byte body limit, so the phone never sends them.
     */
    static String cleanReason(String reason) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < reason.length() && b.length() < 200; i++) {
            char c = reason.charAt(i);
            b.append(c >= 32 && c < 127 ? c : '?');
        }
        return b.toString();
    }
}
