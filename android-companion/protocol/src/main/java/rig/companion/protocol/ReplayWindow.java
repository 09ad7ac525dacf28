package rig.companion.protocol;

/**
 * Sliding anti-replay window over a peer's 64-bit sequence numbers (docs/protocol.md §4.6).
 *
 * <p>Sequence numbers are unsigned 64-bit; Java's long is signed, so every comparison is
 * {@link Long#compareUnsigned}. {@link #verdict} says whether a seq is fresh (null) or why not;
 * {@link #accept} records it and is called only after every receive check passed, so neither
 * forgeries nor malformed bodies move the window. {@code floor} is our own clock in Unix µs (0
 * without one): a seq more than {@link #MAX_AHEAD} above max(highest, floor) is "ahead" (v1.1).
 */
public final class ReplayWindow {
    public static final int WINDOW_BITS = 64;
    public static final long MAX_AHEAD = 1L << 40; // µs, about 12.7 days
    private long highest; // highest accepted seq, unsigned (0 = none yet)
    private long bitmap; // bit k set = seq (highest - k) accepted, k in [0, 64)
    private long floor;

    public ReplayWindow() {}

    public ReplayWindow(long floor) {
        this.floor = floor;
    }

    /**
     * A window restored after a restart from the persisted highest seq (§4.6). Every seq up to
     * {@code highest} counts as seen: the 64 below it were not persisted, and treating them as
     * fresh would let a recorded datagram from just before the restart (even {@code highest}
     * itself) be replayed. A persisted value more than MAX_AHEAD above {@code floor} cannot come
     * from an honest peer (its seqs follow its clock): the window is re-based, empty.
     */
    public static ReplayWindow restored(long highest, long floor) {
        ReplayWindow w = new ReplayWindow(floor);
        boolean bogus = floor != 0 && Long.compareUnsigned(highest, floor + MAX_AHEAD) > 0;
        if (highest == 0 || bogus) return w;
        w.highest = highest;
        w.bitmap = -1L;
        return w;
    }

    public static ReplayWindow restored(long highest) {
        return restored(highest, 0);
    }

    public long highest() {
        return highest;
    }

    /** null if {@code seq} is fresh, else {@link Rejected#REPLAY} or {@link Rejected#AHEAD}. */
    public String verdict(long seq) {
        if (seq == 0) return Rejected.REPLAY;
        if (Long.compareUnsigned(seq, highest) > 0) {
            long base = Long.compareUnsigned(highest, floor) >= 0 ? highest : floor;
            if (Long.compareUnsigned(seq, base) <= 0) return null;
            return Long.compareUnsigned(seq - base, MAX_AHEAD) > 0 ? Rejected.AHEAD : null;
        }
        long offset = highest - seq; // unsigned difference, highest >= seq here
        if (Long.compareUnsigned(offset, WINDOW_BITS) >= 0) return Rejected.REPLAY;
        return ((bitmap >>> offset) & 1L) == 0 ? null : Rejected.REPLAY;
    }

    public boolean check(long seq) {
        return verdict(seq) == null;
    }

    public void accept(long seq) {
        if (Long.compareUnsigned(seq, highest) > 0) {
            long shift = seq - highest;
            bitmap = Long.compareUnsigned(shift, WINDOW_BITS) >= 0 ? 1L : (bitmap << shift) | 1L;
            highest = seq;
        } else {
            bitmap |= 1L << (highest - seq);
        }
    }
}
