package rig.companion.protocol;

/**
 * Sliding anti-replay window over a peer's 64-bit sequence numbers (docs/protocol.md §4.6).
 *
 * <p>Sequence numbers are unsigned 64-bit; Java's long is signed, so every comparison is
 * {@link Long#compareUnsigned}. {@link #check} says whether a seq is fresh; {@link #accept}
 * records it and is called only after the tag verified, so forgeries never move the window.
 */
public final class ReplayWindow {
    public static final int WINDOW_BITS = 64;
    private long highest; // highest accepted seq, unsigned (0 = none yet)
    private long bitmap; // bit k set = seq (highest - k) accepted, k in [0, 64)

    public ReplayWindow() {}

    /**
     * A window restored after a restart from the persisted highest seq (§4.6). Every seq up to
     * {@code highest} counts as seen: the 64 below it were not persisted, and treating them as
     * fresh would let a recorded datagram from just before the restart (even {@code highest}
     * itself) be replayed. Genuine datagrams sent after the restart are above it anyway.
     */
    public static ReplayWindow restored(long highest) {
        ReplayWindow w = new ReplayWindow();
        w.highest = highest;
        w.bitmap = highest == 0 ? 0 : -1L;
        return w;
    }

    public long highest() {
        return highest;
    }

    public boolean check(long seq) {
        if (seq == 0) return false;
        if (Long.compareUnsigned(seq, highest) > 0) return true;
        long offset = highest - seq; // unsigned difference, highest >= seq here
        if (Long.compareUnsigned(offset, WINDOW_BITS) >= 0) return false;
        return ((bitmap >>> offset) & 1L) == 0;
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
