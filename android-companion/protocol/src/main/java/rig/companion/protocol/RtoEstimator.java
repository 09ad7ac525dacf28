package rig.companion.protocol;

/** RFC 6298 smoothed RTT / RTT variance; {@link #rtoS()} is the next timeout to use. */
public final class RtoEstimator {
    private final Timers timers;
    private double srttS = -1; // < 0: no sample yet
    private double rttvarS;
    private double rtoS;

    public RtoEstimator(Timers timers) {
        this.timers = timers;
        this.rtoS = timers.rtoInitialS();
    }

    public double rtoS() {
        return rtoS;
    }

    /** Feed an RTT measured on a datagram that was not retransmitted (Karn's rule). */
    public void sample(double rttS) {
        if (srttS < 0) {
            srttS = rttS;
            rttvarS = rttS / 2;
        } else {
            rttvarS = 0.75 * rttvarS + 0.25 * Math.abs(srttS - rttS);
            srttS = 0.875 * srttS + 0.125 * rttS;
        }
        rtoS = clamp(srttS + Math.max(0.01, 4 * rttvarS));
    }

    /** Double the timeout after a loss; returns the new value. */
    public double backoff() {
        rtoS = clamp(rtoS * 2);
        return rtoS;
    }

    private double clamp(double v) {
        return Math.min(timers.rtoMaxS(), Math.max(timers.rtoMinS(), v));
    }
}
