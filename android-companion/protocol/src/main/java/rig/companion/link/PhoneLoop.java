package rig.companion.link;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.PortUnreachableException;
import java.net.SocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.util.Arrays;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import rig.companion.protocol.Pairing;
import rig.companion.protocol.PhoneEvent;
import rig.companion.protocol.PhoneMachine;
import rig.companion.protocol.PhoneState;
import rig.companion.protocol.Timers;
import rig.companion.protocol.UploadClient;

/**
 * The thin adapter between {@link PhoneMachine} and the world, shared by the Android app and the
 * headless JVM phone: one thread owns the machine and a non-blocking UDP socket; the camera
 * ({@link Shutter}) and the uploads ({@link Uploader}) work on their own threads and hand their
 * results back through a queue. {@code now} is the monotonic clock in seconds.
 *
 * <p>After every step the state is persisted <em>before</em> anything is sent (§6 step 5: the
 * photo is recorded before PHOTO_READY leaves; §4.6: the seq mark on disk stays ahead of every seq
 * on the wire). The loop ends on {@link #stop()}, or when the desktop has asked for nothing
 * (no CAPTURE/RESYNC) for {@code idleExitS} with no upload pending (0 = never).
 */
public final class PhoneLoop {
    static final long SEQ_BLOCK = 100_000; // seqs reserved on disk ahead of use (§4.6)

    /** Takes the photo of (index, attempt) and saves it at {@code target}; reports on any thread. */
    public interface Shutter {
        void shoot(int index, int attempt, String tag, java.nio.file.Path target, ShotCallback done);
    }

    public interface ShotCallback {
        void saved(String sha256, int size);

        void failed(String reason);
    }

    /** Uploads the photo at {@code path}; reports on any thread (ok = the desktop stored it). */
    public interface Uploader {
        void upload(int index, int attempt, java.nio.file.Path path, UploadCallback done);
    }

    public interface UploadCallback {
        void finished(rig.companion.protocol.UploadClient.Outcome outcome);
    }

    /** What a UI shows; delivered on the loop thread after every step. */
    public record Status(boolean connected, String state, int cursor, String sessionHex, int shots,
            int stored, int pendingUploads, String lastPhoto, String lastEvent, Map<String, Integer> rejected) {}

    public interface Listener {
        void onStatus(Status status);
    }

    private interface Step {
        void run() throws IOException;
    }

    private final Pairing pairing;
    private final PhoneStore store;
    private final Shutter shutter;
    private final Uploader uploader;
    private final Listener listener;
    private final Timers timers;
    private final ConcurrentLinkedQueue<Step> inbox = new ConcurrentLinkedQueue<>();
    private final long originNs = System.nanoTime();
    private volatile boolean stopping;
    private PhoneMachine machine;
    private DatagramChannel channel;
    private Selector selector;
    private long seqMark;
    private long peerHighest;
    private String lastSaved = "";
    private int shots;
    private final java.util.Set<PhoneState.Key> stored = new java.util.HashSet<>(); // distinct attempts
    private String lastPhoto = "";
    private String lastEvent = "";

    public PhoneLoop(Pairing pairing, PhoneStore store, Shutter shutter, Uploader uploader,
            Listener listener, Timers timers) {
        this.pairing = pairing;
        this.store = store;
        this.shutter = shutter;
        this.uploader = uploader;
        this.listener = listener;
        this.timers = timers;
    }

    public double now() {
        return (System.nanoTime() - originNs) / 1e9;
    }

    /** Ask the loop to end (any thread). */
    public void stop() {
        stopping = true;
        Selector s = selector;
        if (s != null) s.wakeup();
    }

    /** Run until {@link #stop()} or idle; returns a summary. Blocks the calling thread. */
    public Map<String, Object> run(double idleExitS) throws IOException {
        store.createDirs();
        PhoneStore.Saved saved = store.load(pairing.sessionHex());
        long unixMicros = TimeUnit.MILLISECONDS.toMicros(System.currentTimeMillis());
        long seq = Math.max(saved.seqMark() + 1, unixMicros);
        SocketAddress desktop = new InetSocketAddress(pairing.host(), pairing.udpPort());
        machine = new PhoneMachine(pairing.key(), pairing.session(), desktop, seq, saved.state(), timers);
        machine.restorePeerHighest(saved.peerHighest(), unixMicros); // our clock bounds seqs ahead
        peerHighest = saved.peerHighest();
        try (Selector sel = Selector.open(); DatagramChannel ch = DatagramChannel.open()) {
            selector = sel;
            channel = ch;
            ch.bind(new InetSocketAddress(0));
            ch.configureBlocking(false);
            ch.register(sel, SelectionKey.OP_READ);
            double started = now();
            machine.start(started);
            pump();
            ByteBuffer buf = ByteBuffer.allocate(65536);
            while (!stopping) {
                Double due = machine.getTimer();
                long waitMs = due == null ? 1000 : (long) Math.ceil((due - now()) * 1000);
                sel.select(Math.max(1, Math.min(1000, waitMs)));
                sel.selectedKeys().clear();
                for (SocketAddress from; (from = receive(buf)) != null; ) {
                    machine.receiveDatagram(Arrays.copyOf(buf.array(), buf.position()), from, now());
                    pump();
                }
                for (Step step; (step = inbox.poll()) != null; ) {
                    step.run();
                    pump();
                }
                due = machine.getTimer();
                if (due != null && now() >= due) {
                    machine.handleTimer(now());
                    pump();
                }
                // Done: the desktop said BYE (v1.1) and nothing is left to upload. Idle = no
                // CAPTURE/RESYNC for idleExitS (a v1.0 desktop never says BYE; HELLO_ACKs to
                // keepalives do not count: a desktop that finished keeps answering them).
                Double asked = machine.lastRequestS();
                double idleS = now() - (asked == null ? started : asked);
                boolean drained = machine.pendingUploads() == 0 && !machine.busyShooting();
                if (idleExitS > 0 && drained && (machine.ended() || idleS > idleExitS)) {
                    break;
                }
            }
        } finally {
            selector = null;
        }
        return summary();
    }

    private SocketAddress receive(ByteBuffer buf) throws IOException {
        buf.clear();
        try {
            return channel.receive(buf);
        } catch (PortUnreachableException e) {
            return null; // ICMP while the desktop restarts: the retransmit timers cope
        }
    }

    private void post(Step step) {
        inbox.add(step);
        Selector s = selector;
        if (s != null) s.wakeup();
    }

    /** Persist, then send what the machine queued, then act on its events. */
    private void pump() throws IOException {
        persist();
        for (PhoneMachine.Outgoing o : machine.datagramsToSend()) {
            try {
                channel.send(ByteBuffer.wrap(o.data()), (SocketAddress) o.addr());
            } catch (IOException e) {
                lastEvent = "send failed: " + e.getMessage(); // like a lost datagram
            }
        }
        for (PhoneEvent e : machine.nextEvents()) {
            if (e instanceof PhoneEvent.ShootRequested s) {
                try {
                    shoot(s.index(), s.attempt(), s.tag());
                } catch (RuntimeException ex) { // a broken camera must not stop the protocol
                    post(() -> machine.cameraFailed(s.index(), s.attempt(), "camera: " + ex, now()));
                }
            } else if (e instanceof PhoneEvent.UploadRequested u) {
                try {
                    uploader.upload(u.index(), u.attempt(), store.photoPath(u.index(), u.attempt()),
                            outcome -> post(() -> machine.uploadFinished(u.index(), u.attempt(),
                                    outcome == UploadClient.Outcome.STORED, now(),
                                    outcome == UploadClient.Outcome.REFUSED)));
                } catch (RuntimeException ex) {
                    post(() -> machine.uploadFinished(u.index(), u.attempt(), false, now()));
                }
            } else {
                // A re-upload the desktop asked for (a late CAPTURE poll) confirms the same photo again.
                if (e instanceof PhoneEvent.PhotoStored p) stored.add(new PhoneState.Key(p.index(), p.attempt()));
                lastEvent = e.toString();
            }
        }
        listener.onStatus(new Status(machine.connected(), machine.state().name(), machine.cursor(),
                pairing.sessionHex(), shots, stored.size(), machine.pendingUploads(), lastPhoto, lastEvent,
                machine.rejected()));
    }

    private void shoot(int index, int attempt, String tag) {
        shutter.shoot(index, attempt, tag, store.photoPath(index, attempt), new ShotCallback() {
            @Override
            public void saved(String sha256, int size) {
                post(() -> {
                    machine.photoSaved(index, attempt, sha256, size, now());
                    PhoneState.Result r = machine.persistent().results.get(new PhoneState.Key(index, attempt));
                    if (r != null && r.saved && r.sha256.equals(sha256)) { // not a late, stale photo
                        persist();
                        store.logShot(index, attempt, sha256);
                        shots++;
                        lastPhoto = store.photoPath(index, attempt).toString();
                    }
                });
            }

            @Override
            public void failed(String reason) {
                post(() -> machine.cameraFailed(index, attempt, reason, now()));
            }
        });
    }

    /**
     * Write the state when it changed, when the seq mark must move ahead, or when the desktop's
     * highest seq moved (so recorded datagrams stay replays after a restart, §4.6).
     */
    private void persist() throws IOException {
        String snap = machine.snapshot();
        long peer = machine.peerHighest();
        if (snap.equals(lastSaved) && machine.nextSeq() < seqMark && peer == peerHighest) return;
        if (machine.nextSeq() >= seqMark) seqMark = machine.nextSeq() + SEQ_BLOCK;
        store.save(pairing.sessionHex(), snap, seqMark, peer);
        lastSaved = snap;
        peerHighest = peer;
    }

    private Map<String, Object> summary() {
        Map<String, Object> s = new TreeMap<>();
        s.put("shots", shots);
        s.put("photos_stored", stored.size());
        s.put("cursor", machine.cursor());
        s.put("stale", machine.stale());
        s.put("rejected", new TreeMap<String, Object>(machine.rejected()));
        return s;
    }
}
