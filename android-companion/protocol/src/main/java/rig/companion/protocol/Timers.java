package rig.companion.protocol;

/**
 * Every wait of the phone machine in seconds (docs/protocol.md §6, "Timers and limits"); every
 * wait in the protocol is bounded by one of these.
 */
public record Timers(
        double rtoInitialS,
        double rtoMinS,
        double rtoMaxS,
        double cameraTimeoutS,
        double keepaliveS,
        double desktopTimeoutS,
        double uploadRetryMaxS,
        int uploadRetries,
        int resultsKept) {

    /** The defaults of the spec's table (upload retries as rig.protocol.timers). */
    public static Timers defaults() {
        return new Timers(0.2, 0.05, 2.0, 20.0, 1.0, 10.0, 5.0, 30, 256);
    }

    public Timers withCameraTimeoutS(double s) {
        return new Timers(rtoInitialS, rtoMinS, rtoMaxS, s, keepaliveS, desktopTimeoutS,
                uploadRetryMaxS, uploadRetries, resultsKept);
    }

    public Timers withResultsKept(int n) {
        return new Timers(rtoInitialS, rtoMinS, rtoMaxS, cameraTimeoutS, keepaliveS, desktopTimeoutS,
                uploadRetryMaxS, uploadRetries, n);
    }
}
