package rig.companion.protocol;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertTrue;

import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.junit.Test;
import rig.companion.protocol.Messages.Message;
import rig.companion.protocol.PhoneState.Key;

/**
 * Random desktops, cameras and crashes against the phone machine (docs/protocol.md §6–§7), with
 * a fake clock. Whatever happens, a finished attempt is never shot again (across restarts from
 * the persisted snapshot too), only the expected index or an explicit retake is shot, every
 * PHOTO_READY names the photo actually saved for that attempt, and every datagram authenticates.
 */
public class PhoneMachinePropertyTest {
    private static final byte[] KEY = PhoneMachineTest.KEY;
    private static final byte[] SESSION = PhoneMachineTest.SESSION;

    private void run(long seed) throws Exception {
        Random rng = new Random(seed);
        Codec desk = new Codec(KEY, SESSION, Messages.ROLE_DESKTOP, 1);
        long seq = 1000;
        PhoneMachine phone = new PhoneMachine(KEY, SESSION, "d", seq, new PhoneState(), Timers.defaults());
        double now = 0;
        phone.start(now);
        Map<Key, String> savedSha = new HashMap<>(); // what the "camera" saved, per attempt
        Set<Key> finished = new HashSet<>(); // finished attempts as persisted
        Key shooting = null;
        long nonce = 0;
        for (int step = 0; step < 2000; step++) {
            now += rng.nextDouble() * 0.5;
            int cursor = phone.cursor();
            int pick = rng.nextInt(100);
            if (pick < 40) {
                int index = Math.max(0, cursor + rng.nextInt(5) - 2);
                Message cap = new Messages.Capture(index, rng.nextInt(3), "t");
                phone.receiveDatagram(desk.seal(cap), "d", now);
            } else if (pick < 48) {
                phone.receiveDatagram(desk.seal(new Messages.HelloAck(nonce, rng.nextInt(6) - 1 + Math.max(0, cursor))), "d", now);
            } else if (pick < 52) {
                phone.receiveDatagram(desk.seal(new Messages.Resync(Math.max(0, cursor + rng.nextInt(3) - 1))), "d", now);
            } else if (pick < 70 && shooting != null) {
                if (rng.nextInt(5) == 0) {
                    phone.cameraFailed(shooting.index(), shooting.attempt(), "blur", now);
                } else {
                    String sha = String.format("%064x", rng.nextLong() & Long.MAX_VALUE);
                    phone.photoSaved(shooting.index(), shooting.attempt(), sha, 1 + rng.nextInt(1000), now);
                    savedSha.putIfAbsent(shooting, sha);
                }
                shooting = null;
            } else if (pick < 80) {
                for (Key k : phone.persistent().results.keySet()) {
                    phone.uploadFinished(k.index(), k.attempt(), rng.nextBoolean(), now);
                }
            } else if (pick < 83) {
                // crash and restart from the persisted snapshot, with a later seq block
                String disk = phone.snapshot();
                seq += 1_000_000;
                phone = new PhoneMachine(KEY, SESSION, "d", seq, PhoneState.fromJson(disk), Timers.defaults());
                phone.start(now);
                shooting = null;
            } else {
                Double t = phone.getTimer();
                if (t != null && t <= now + 25) {
                    now = Math.max(now, t);
                    phone.handleTimer(now);
                }
            }
            for (PhoneMachine.Outgoing o : phone.datagramsToSend()) {
                Message m = desk.open(o.data());
                assertNotNull("seed " + seed + ": the desktop rejected " + desk.rejected(), m);
                if (m instanceof Messages.Hello h) nonce = h.nonce();
                if (m instanceof Messages.PhotoReady r) {
                    assertEquals("seed " + seed, savedSha.get(new Key(r.index(), r.attempt())), r.sha256());
                }
            }
            for (PhoneEvent e : phone.nextEvents()) {
                if (e instanceof PhoneEvent.ShootRequested s) {
                    Key k = new Key(s.index(), s.attempt());
                    assertFalse("seed " + seed + ": finished attempt " + k + " shot again", finished.contains(k));
                    int c = phone.cursor(); // a shot does not move the cursor (saving does)
                    // v1.1: the cursor, or a retake (higher attempt) of an index finished before
                    int idx = s.index();
                    boolean retake = idx < c && finished.stream().anyMatch(
                            f -> f.index() == idx && f.attempt() < s.attempt());
                    assertTrue("seed " + seed + ": shot " + k + " with cursor " + c, idx == c || retake);
                    shooting = k;
                }
            }
            finished.addAll(phone.persistent().results.keySet()); // results are persisted at once
            if (shooting != null && phone.persistent().results.containsKey(shooting)) shooting = null; // timed out
        }
    }

    @Test
    public void invariantsHoldForManySeeds() throws Exception {
        for (long seed = 0; seed < 20; seed++) run(seed);
    }
}
