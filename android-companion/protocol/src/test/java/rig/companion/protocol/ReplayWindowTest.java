package rig.companion.protocol;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.math.BigInteger;
import java.util.HashSet;
import java.util.Random;
import java.util.Set;
import org.junit.Test;

/** The anti-replay window (docs/protocol.md §4.6) against a direct model of its definition. */
public class ReplayWindowTest {
    /**
     * §4.6 read literally: accepted iff H < seq ≤ max(H, F) + 2^40, or H − 64 < seq ≤ H and
     * never accepted (F: the receiver's clock floor).
     */
    private static boolean model(Set<BigInteger> seen, BigInteger highest, BigInteger floor, BigInteger seq) {
        if (seq.signum() == 0) return false;
        if (seq.compareTo(highest) > 0) {
            return seq.compareTo(highest.max(floor).add(BigInteger.ONE.shiftLeft(40))) <= 0;
        }
        return seq.compareTo(highest.subtract(BigInteger.valueOf(64))) > 0 && !seen.contains(seq);
    }

    private static BigInteger unsigned(long x) {
        return new BigInteger(Long.toUnsignedString(x));
    }

    private void runRandom(long base, long seed) {
        Random rng = new Random(seed);
        ReplayWindow w = new ReplayWindow(base);
        Set<BigInteger> seen = new HashSet<>();
        BigInteger highest = BigInteger.ZERO;
        long cursor = base;
        for (int n = 0; n < 5000; n++) {
            long seq = switch (rng.nextInt(5)) {
                case 0 -> cursor += 1 + rng.nextInt(3);
                case 1 -> cursor - rng.nextInt(80);
                case 2 -> cursor + rng.nextInt(200);
                case 3 -> cursor - 60 - rng.nextInt(10); // around the window's edge
                default -> cursor + (1L << 40) - 5 + rng.nextInt(10); // around the bound ahead
            };
            BigInteger s = unsigned(seq);
            boolean want = model(seen, highest, unsigned(base), s);
            assertEquals("seq " + Long.toUnsignedString(seq), want, w.check(seq));
            if (want && rng.nextInt(10) > 0) { // sometimes the tag fails: checked, not accepted
                w.accept(seq);
                seen.add(s);
                if (s.compareTo(highest) > 0) highest = s;
            }
        }
    }

    @Test
    public void matchesTheModelFromSmallSeqs() {
        runRandom(100, 1);
    }

    @Test
    public void matchesTheModelAroundUnixMicroseconds() {
        runRandom(1_795_000_000_000_000L, 2);
    }

    @Test
    public void matchesTheModelNearTheTopOfTheUnsignedRange() {
        runRandom(-10_000L, 3); // 2^64 - 10000: Java's signed long would get this wrong
    }

    @Test
    public void aRestoredWindowTreatsEverythingUpToTheMarkAsSeen() {
        ReplayWindow w = ReplayWindow.restored(1000);
        for (long seq = 900; seq <= 1000; seq++) assertFalse("seq " + seq, w.check(seq));
        assertTrue(w.check(1001));
        assertTrue(ReplayWindow.restored(0).check(1)); // nothing persisted: a fresh window
    }

    @Test
    public void aSeqFarAheadIsDroppedAndABogusRestoredMarkIsRebased() {
        long floor = 1_700_000_000_000_000L;
        ReplayWindow w = new ReplayWindow(floor);
        assertEquals(Rejected.AHEAD, w.verdict(-1L)); // 2^64 - 1: the bricking datagram of issue 23
        assertEquals(null, w.verdict(floor + ReplayWindow.MAX_AHEAD));
        ReplayWindow bogus = ReplayWindow.restored(-1L, floor);
        assertEquals(0L, bogus.highest());
        assertTrue(bogus.check(floor + 7));
    }

    @Test
    public void zeroIsNeverFreshAndHugeJumpsResetTheBitmap() {
        ReplayWindow w = new ReplayWindow();
        assertFalse(w.check(0));
        w.accept(5);
        w.accept(1000);
        assertTrue(w.check(999));
        assertFalse(w.check(5)); // far below the window
        assertFalse(w.check(1000));
    }
}
