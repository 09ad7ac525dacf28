package rig.companion.protocol;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.Before;
import org.junit.Test;
import rig.companion.protocol.Messages.Message;

/**
 * The phone machine against a scripted desktop with a fake clock (docs/protocol.md §6–§7). The
 * desktop side is a plain desktop-role {@link Codec}: it seals what a desktop would send and
 * opens (authenticates) everything the phone sends, so every expectation is about bytes on the
 * wire, not about the machine's internals.
 */
public class PhoneMachineTest {
    static final byte[] KEY = new byte[32];
    static final byte[] SESSION = Hex.decode("0123456789abcdef");
    static final String SHA = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    static final String SHA2 = "a".repeat(64);

    static {
        for (int k = 0; k < 32; k++) KEY[k] = (byte) k;
    }

    Codec desk;
    PhoneMachine phone;

    @Before
    public void setUp() {
        desk = new Codec(KEY, SESSION, Messages.ROLE_DESKTOP, 1);
        phone = new PhoneMachine(KEY, SESSION, "desktop", 1000, new PhoneState(), Timers.defaults());
    }

    /** What the phone sent since the last call, decoded by the desktop codec. */
    List<Message> sent() {
        List<Message> out = new ArrayList<>();
        for (PhoneMachine.Outgoing o : phone.datagramsToSend()) {
            assertEquals("desktop", o.addr());
            Message m = desk.open(o.data());
            assertNotNull("phone sent a datagram the desktop rejects: " + desk.rejected(), m);
            out.add(m);
        }
        return out;
    }

    void deliver(Message m, double now) {
        phone.receiveDatagram(desk.seal(m), "desktop", now);
    }

    /** Start and connect with HELLO_ACK(next). */
    void connect(int next, double now) {
        phone.start(now);
        Messages.Hello h = (Messages.Hello) sent().get(0);
        deliver(new Messages.HelloAck(h.nonce(), next), now);
        sent();
        phone.nextEvents();
    }

    @Test
    public void helloIsRetransmittedWithExponentialBackoffUntilAcked() {
        phone.start(0);
        List<Message> first = sent();
        assertEquals(1, first.size());
        assertEquals(-1, ((Messages.Hello) first.get(0)).cursor());
        // rto_initial_s 0.2, ×2 backoff, capped at rto_max_s 2.0 (§6 table)
        double[] gaps = {0.2, 0.4, 0.8, 1.6, 2.0, 2.0};
        double t = 0;
        long firstNonce = ((Messages.Hello) first.get(0)).nonce();
        assertEquals(Integer.valueOf(Messages.MINOR), ((Messages.Hello) first.get(0)).minor());
        assertEquals(Integer.valueOf(20), ((Messages.Hello) first.get(0)).shotS()); // camera_timeout_s
        for (double gap : gaps) {
            assertEquals(t + gap, phone.getTimer(), 1e-9);
            t += gap;
            phone.handleTimer(t);
            List<Message> out = sent();
            assertEquals(1, out.size());
            long nonce = ((Messages.Hello) out.get(0)).nonce();
            assertEquals("a retransmission keeps its nonce (v1.1, §7.2)", firstNonce, nonce);
        }
        assertEquals(PhoneMachine.State.CONNECTING, phone.state());
    }

    @Test
    public void helloAckConnectsAdoptsTheDesktopIndexAndKeepsAlive() {
        phone.start(0);
        Messages.Hello h = (Messages.Hello) sent().get(0);
        deliver(new Messages.HelloAck(h.nonce(), 5), 0.05);
        assertEquals(List.of(new PhoneEvent.Resynced(-1, 5), new PhoneEvent.Connected(5)), phone.nextEvents());
        assertEquals(5, phone.cursor());
        assertEquals(PhoneMachine.State.READY, phone.state());
        assertEquals(1.05, phone.getTimer(), 1e-9); // keepalive_s after the last word
        phone.handleTimer(1.05);
        Messages.Hello keep = (Messages.Hello) sent().get(0);
        assertEquals(5, keep.cursor());
    }

    @Test
    public void captureIsShotOnceAndRepeatedCapturesOnlyRepeatTheOutcome() {
        connect(0, 0);
        deliver(new Messages.Capture(0, 0, "t0"), 1);
        assertEquals(List.of(new Messages.CaptureAck(0, 0, Messages.ST_SHOOTING)), sent());
        assertEquals(List.of(new PhoneEvent.ShootRequested(0, 0, "t0")), phone.nextEvents());
        deliver(new Messages.Capture(0, 0, "t0"), 1.5); // poll while shooting
        assertEquals(List.of(new Messages.CaptureAck(0, 0, Messages.ST_SHOOTING)), sent());
        assertTrue(phone.nextEvents().isEmpty());

        phone.photoSaved(0, 0, SHA, 1234, 2);
        assertEquals(List.of(new Messages.PhotoReady(0, 0, SHA, 1234)), sent());
        assertEquals(List.of(new PhoneEvent.UploadRequested(0, 0, SHA, 1234)), phone.nextEvents());
        assertEquals(1, phone.cursor());

        deliver(new Messages.Capture(0, 0, "t0"), 3); // desktop did not see PHOTO_READY yet
        assertEquals(List.of(new Messages.CaptureAck(0, 0, Messages.ST_SAVED), new Messages.PhotoReady(0, 0, SHA, 1234)), sent());
        assertTrue("upload already running: no second request, no reshoot", phone.nextEvents().isEmpty());

        phone.uploadFinished(0, 0, true, 3.1);
        assertEquals(List.of(new PhoneEvent.PhotoStored(0, 0)), phone.nextEvents());
        deliver(new Messages.Stored(0, 0, SHA), 3.2);
        assertTrue(phone.nextEvents().isEmpty());
        assertEquals(0, phone.pendingUploads());
    }

    @Test
    public void aGapIsRefusedUntilAnExplicitResync() {
        connect(0, 0);
        deliver(new Messages.Capture(5, 0, ""), 1);
        assertEquals(List.of(new Messages.Error(Messages.ERR_GAP, 5, 0, 0)), sent());
        assertTrue(phone.nextEvents().isEmpty());
        deliver(new Messages.Resync(5), 1.1);
        assertEquals(List.of(new Messages.ResyncAck(5)), sent());
        assertEquals(List.of(new PhoneEvent.Resynced(0, 5)), phone.nextEvents());
        deliver(new Messages.Capture(5, 0, ""), 1.2);
        assertEquals(List.of(new PhoneEvent.ShootRequested(5, 0, "")), phone.nextEvents());
    }

    @Test
    public void anUnpairedPhoneShootsNothing() {
        phone.start(0);
        sent();
        deliver(new Messages.Capture(0, 0, ""), 0.1); // CAPTURE overtook HELLO_ACK; cursor unknown
        assertEquals(List.of(new Messages.Error(Messages.ERR_GAP, 0, 0, -1)), sent());
        assertTrue(phone.nextEvents().isEmpty());
    }

    @Test
    public void anotherCaptureWhileShootingIsBusy() {
        connect(0, 0);
        deliver(new Messages.Capture(0, 0, ""), 1);
        sent();
        deliver(new Messages.Capture(1, 0, ""), 1.1);
        assertEquals(List.of(new Messages.Error(Messages.ERR_BUSY, 0, 0, 0)), sent());
    }

    @Test
    public void retakesNeedAHigherAttemptOfTheIndexJustFinished() {
        connect(0, 0);
        deliver(new Messages.Capture(0, 0, ""), 1);
        phone.photoSaved(0, 0, SHA, 10, 1.5);
        sent();
        phone.nextEvents();
        deliver(new Messages.Capture(0, 1, ""), 2); // retake of cursor - 1 with a new attempt
        assertEquals(List.of(new Messages.CaptureAck(0, 1, Messages.ST_SHOOTING)), sent());
        phone.photoSaved(0, 1, SHA2, 11, 2.5);
        sent();
        phone.nextEvents();
        deliver(new Messages.Capture(2, 0, ""), 3); // skipping ahead is a gap
        assertEquals(List.of(new Messages.Error(Messages.ERR_GAP, 2, 0, 1)), sent());
    }

    @Test
    public void aCameraThatNeverFiresFailsTheAttemptAndALatePhotoIsIgnored() {
        Timers t = Timers.defaults();
        connect(0, 0);
        deliver(new Messages.Capture(0, 0, ""), 1);
        sent();
        phone.nextEvents();
        // keep the desktop talking so only the camera times out
        for (double now = 2; now < 1 + t.cameraTimeoutS(); now += 1) {
            deliver(new Messages.Capture(0, 0, ""), now);
        }
        sent();
        phone.handleTimer(1 + t.cameraTimeoutS());
        List<Message> out = sent();
        assertTrue(out.contains(new Messages.CameraFailed(0, 0, "camera timeout")));
        phone.photoSaved(0, 0, SHA, 10, 30);
        assertTrue("a late photo is stale", sent().isEmpty());
        assertEquals(1, phone.stale());
        deliver(new Messages.Capture(0, 0, ""), 31); // repeated: the failure, never a reshoot
        assertEquals(List.of(new Messages.CaptureAck(0, 0, Messages.ST_FAILED),
                new Messages.CameraFailed(0, 0, "camera timeout")), sent());
        assertEquals(0, phone.cursor());
    }

    @Test
    public void silenceForDesktopTimeoutIsDesktopLostAndReconnects() {
        connect(0, 0);
        double lost = Timers.defaults().desktopTimeoutS();
        for (double now = 1; now < lost; now += 1) {
            phone.handleTimer(now); // keepalives, unanswered
            sent();
        }
        phone.handleTimer(lost);
        assertTrue(phone.nextEvents().contains(new PhoneEvent.DesktopLost()));
        assertEquals(PhoneMachine.State.CONNECTING, phone.state());
        assertTrue(sent().get(0) instanceof Messages.Hello);
        assertEquals(lost + 0.2, phone.getTimer(), 1e-9); // back to HELLO with a fresh RTO
    }

    @Test
    public void failedUploadsAreRetriedWithCappedBackoff() {
        connect(0, 0);
        deliver(new Messages.Capture(0, 0, ""), 1);
        phone.photoSaved(0, 0, SHA, 10, 1);
        phone.nextEvents();
        double now = 1;
        double[] expected = {0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0};
        for (double backoff : expected) {
            phone.uploadFinished(0, 0, false, now);
            Double due = phone.getTimer();
            // the keepalive timer may come first; find the upload due time by stepping
            double t = now + backoff;
            assertTrue(due <= t + 1e-9);
            phone.handleTimer(t - 1e-6);
            assertTrue(phone.nextEvents().stream().noneMatch(e -> e instanceof PhoneEvent.UploadRequested));
            deliver(new Messages.Capture(1, 0, ""), t - 1e-6); // keep the link alive (a GAP/BUSY, no matter)
            phone.handleTimer(t);
            assertTrue(phone.nextEvents().contains(new PhoneEvent.UploadRequested(0, 0, SHA, 10)));
            now = t;
        }
    }

    @Test
    public void aRestartedPhoneReuploadsButNeverReshoots() throws Exception {
        connect(0, 0);
        deliver(new Messages.Capture(0, 0, ""), 1);
        phone.photoSaved(0, 0, SHA, 10, 1.5);
        String disk = phone.snapshot();
        // crash before the upload finished; restart from disk with a later seq
        phone = new PhoneMachine(KEY, SESSION, "desktop", 2_000_000, PhoneState.fromJson(disk), Timers.defaults());
        phone.start(5);
        Messages.Hello h = (Messages.Hello) sent().get(0);
        assertEquals(1, h.cursor());
        deliver(new Messages.HelloAck(h.nonce(), 0), 5.1); // the desktop still wants 0 …
        assertEquals("… but the saved photo keeps the cursor after it", 1, phone.cursor());
        deliver(new Messages.Capture(0, 0, ""), 5.2);
        assertEquals(List.of(new Messages.CaptureAck(0, 0, Messages.ST_SAVED), new Messages.PhotoReady(0, 0, SHA, 10)), sent());
        List<PhoneEvent> events = phone.nextEvents();
        assertTrue(events.contains(new PhoneEvent.UploadRequested(0, 0, SHA, 10)));
        assertTrue(events.stream().noneMatch(e -> e instanceof PhoneEvent.ShootRequested));
    }

    @Test
    public void unauthenticatedAndReplayedDatagramsChangeNothing() {
        connect(0, 0);
        byte[] cap = desk.seal(new Messages.Capture(0, 0, ""));
        byte[] forged = cap.clone();
        forged[30] ^= 1;
        phone.receiveDatagram(forged, "desktop", 1);
        Codec other = new Codec(new byte[32], SESSION, Messages.ROLE_DESKTOP, 5000);
        phone.receiveDatagram(other.seal(new Messages.Capture(0, 0, "")), "desktop", 1);
        assertTrue(sent().isEmpty());
        assertTrue(phone.nextEvents().isEmpty());
        phone.receiveDatagram(cap, "desktop", 1);
        assertEquals(1, phone.nextEvents().size());
        sent();
        phone.receiveDatagram(cap, "desktop", 1.1); // replay of an accepted datagram
        assertTrue(sent().isEmpty());
        assertEquals(Map.of("mac", 2, "replay", 1), phone.rejected());
    }

    @Test
    public void recordedDatagramsStayReplaysAfterARestart() throws Exception {
        connect(0, 0);
        byte[] recorded = desk.seal(new Messages.Capture(0, 0, ""));
        phone.receiveDatagram(recorded, "desktop", 1);
        sent();
        String disk = phone.snapshot();
        long peer = phone.peerHighest();
        phone = new PhoneMachine(KEY, SESSION, "desktop", 2_000_000, PhoneState.fromJson(disk), Timers.defaults());
        phone.restorePeerHighest(peer);
        phone.start(2);
        sent();
        phone.receiveDatagram(recorded, "desktop", 2.1); // an attacker replays the old CAPTURE
        assertTrue(sent().isEmpty());
        assertEquals(Map.of("replay", 1), phone.rejected());
    }

    @Test
    public void stateWrittenByThePythonPhoneLoads() throws Exception {
        // The shape rig.protocol.phone.PhoneState.to_json produces, with json.dumps' spacing.
        String py = "{\"cursor\": 3, \"results\": [[2, 0, {\"saved\": true, \"sha256\": \"" + SHA
                + "\", \"size\": 10, \"reason\": \"\", \"stored\": false}], [2, 1, {\"saved\": false, "
                + "\"sha256\": \"\", \"size\": 0, \"reason\": \"blur\", \"stored\": false}]]}";
        PhoneState s = PhoneState.fromJson(py);
        assertEquals(3, s.cursor);
        assertTrue(s.results.get(new PhoneState.Key(2, 0)).saved);
        assertEquals("blur", s.results.get(new PhoneState.Key(2, 1)).reason);
        assertEquals(PhoneState.fromJson(s.toJson()).toJson(), s.toJson());
        assertNull(s.results.get(new PhoneState.Key(3, 0)));
    }

    @Test
    public void onlyTheNewestResultsKeptAreRemembered() {
        Timers small = Timers.defaults().withResultsKept(3);
        phone = new PhoneMachine(KEY, SESSION, "desktop", 1000, new PhoneState(), small);
        connect(0, 0);
        for (int i = 0; i < 5; i++) {
            deliver(new Messages.Capture(i, 0, ""), 1 + i);
            phone.photoSaved(i, 0, SHA, 10 + i, 1.5 + i);
        }
        assertEquals(3, phone.persistent().results.size());
        assertEquals(new PhoneState.Key(2, 0), phone.persistent().results.firstKey()); // oldest dropped
        assertEquals(256, Timers.defaults().resultsKept()); // docs/protocol.md §6 table
    }

    @Test
    public void reasonsAlwaysFitADatagram() {
        connect(0, 0);
        deliver(new Messages.Capture(0, 0, ""), 1);
        sent();
        phone.cameraFailed(0, 0, "\u00e9\ud83d\ude00".repeat(300), 1.1); // would be 3.6 kB escaped
        Messages.CameraFailed f = (Messages.CameraFailed) sent().get(0);
        assertTrue(f.reason().length() <= 200);
    }

    // ------------------------------------------------------------------ v1.1 (docs/protocol.md)
    @Test
    public void byeEndsKeepalivesIsAnsweredAndACaptureReopens() {
        connect(0, 0);
        deliver(new Messages.Bye("session finished"), 1);
        assertEquals(List.of(new Messages.ByeAck()), sent());
        assertEquals(List.of(new PhoneEvent.SessionEnded("session finished")), phone.nextEvents());
        assertEquals(PhoneMachine.State.ENDED, phone.state());
        assertNull("no keepalive, no DesktopLost after BYE", phone.getTimer());
        deliver(new Messages.Bye("session finished"), 2); // a retransmitted BYE: answered again
        assertEquals(List.of(new Messages.ByeAck()), sent());
        assertTrue(phone.nextEvents().isEmpty());
        deliver(new Messages.Capture(0, 1, "again"), 100); // the session was resumed
        assertEquals(List.of(new Messages.CaptureAck(0, 1, Messages.ST_SHOOTING)), sent());
        assertEquals(PhoneMachine.State.SHOOTING, phone.state());
        assertNotNull(phone.getTimer());
    }

    @Test
    public void aHelloAckToAnEarlierNonceIsStaleAndChangesNothing() {
        phone.start(0);
        Messages.Hello h = (Messages.Hello) sent().get(0);
        deliver(new Messages.HelloAck(h.nonce() + 7, 42), 0.1);
        assertEquals(PhoneMachine.State.CONNECTING, phone.state());
        assertEquals(-1, phone.cursor());
        assertEquals(1, phone.stale());
        deliver(new Messages.HelloAck(h.nonce(), 3, 1), 0.2);
        assertEquals(PhoneMachine.State.READY, phone.state());
        assertEquals(3, phone.cursor());
        assertEquals(1, phone.desktopMinor());
    }

    @Test
    public void aRetakeOfAnyEarlierFinishedIndexIsShotWithoutResync() {
        connect(0, 0);
        for (int i = 0; i < 5; i++) {
            deliver(new Messages.Capture(i, 1, "t"), i);
            phone.photoSaved(i, 1, SHA, 10, i + 0.5);
            sent();
            phone.nextEvents();
        }
        assertEquals(5, phone.cursor());
        deliver(new Messages.Capture(2, 2, "retake"), 10); // two behind the cursor (issue 23)
        assertEquals(List.of(new Messages.CaptureAck(2, 2, Messages.ST_SHOOTING)), sent());
        phone.photoSaved(2, 2, SHA2, 11, 10.5);
        sent();
        assertEquals(5, phone.cursor()); // a retake does not move the cursor
        deliver(new Messages.Capture(2, 1, "old"), 11); // not a retake: attempt 1 is finished
        assertEquals(Messages.ST_SAVED, ((Messages.CaptureAck) sent().get(0)).state());
        deliver(new Messages.Capture(9, 1, "gap"), 12); // never seen, not the cursor: GAP echoes it
        assertEquals(List.of(new Messages.Error(Messages.ERR_GAP, 9, 1, 5)), sent());
    }

    @Test
    public void aResyncDuringAShotWinsAndTheShotDoesNotMoveTheCursorBack() {
        connect(3, 0);
        deliver(new Messages.Capture(3, 1, "t"), 1);
        sent();
        deliver(new Messages.Resync(8), 1.1);
        assertEquals(List.of(new Messages.ResyncAck(8)), sent());
        phone.photoSaved(3, 1, SHA, 10, 1.5);
        assertEquals(8, phone.cursor());
    }

    @Test
    public void aRefusedUploadIsDroppedUntilTheDesktopAsksAgain() {
        connect(0, 0);
        deliver(new Messages.Capture(0, 1, "t"), 1);
        phone.photoSaved(0, 1, SHA, 10, 1.5);
        assertEquals(1, phone.pendingUploads());
        phone.uploadFinished(0, 1, false, 2, true); // 412: another photo holds the attempt
        assertEquals(0, phone.pendingUploads());
    }
}
