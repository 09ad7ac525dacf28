package rig.companion;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import rig.companion.protocol.Codec;
import rig.companion.protocol.Hex;
import rig.companion.protocol.Json;
import rig.companion.protocol.Messages;
import rig.companion.protocol.Rejected;

/**
 * Differential-testing aid: runs the Java receive checks (docs/protocol.md §4.4) on datagrams
 * given as hex, one per stdin line, each with a fresh replay window, and prints one line each:
 * {@code accept TYPE SEQ CANONICAL_BODY_JSON} or {@code reject REASON}.
 *
 * <p>{@code java -cp … rig.companion.DecodeTool KEY_HEX SESSION_HEX desktop|phone}
 */
public final class DecodeTool {
    private DecodeTool() {}

    public static void main(String[] args) throws IOException {
        byte[] key = Hex.decode(args[0]);
        byte[] session = Hex.decode(args[1]);
        int role = args[2].equals("desktop") ? Messages.ROLE_DESKTOP : Messages.ROLE_PHONE;
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.US_ASCII));
        PrintStream out = new PrintStream(System.out, false, StandardCharsets.US_ASCII);
        for (String line; (line = in.readLine()) != null; ) {
            try {
                Codec.Opened o = Codec.openDatagram(Hex.decode(line.strip()), key, session, role, null);
                out.println("accept " + o.message().type() + " " + Long.toUnsignedString(o.seq()) + " "
                        + Json.write(o.message().body()));
            } catch (Rejected r) {
                out.println("reject " + r.reason);
            }
        }
        out.flush();
    }
}
