package rig.companion.protocol;

/** A datagram was dropped; {@link #reason} is one of docs/protocol.md §4.4's reasons. */
public final class Rejected extends Exception {
    private static final long serialVersionUID = 1L;
    public static final String SHORT = "short";
    public static final String OVERSIZE = "oversize";
    public static final String MAGIC = "magic";
    public static final String VERSION = "version";
    public static final String MALFORMED = "malformed";
    public static final String SESSION = "session";
    public static final String MAC = "mac";
    public static final String ROLE = "role";
    public static final String TYPE = "type";
    public static final String REPLAY = "replay";
    public static final String AHEAD = "ahead";

    public final String reason;

    public Rejected(String reason) {
        super(reason, null, false, false); // a drop is routine: no stack trace needed
        this.reason = reason;
    }
}
