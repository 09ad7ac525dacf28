package rig.companion.app;

import android.content.Context;
import android.os.Environment;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import rig.companion.link.PhoneStore;
import rig.companion.protocol.Pairing;

/**
 * Where the app keeps things. The pairing (it holds the session key) stays in internal storage;
 * photos and the protocol state go to app-specific external storage (no permission, scoped
 * storage compliant, removed with the app), one folder per session.
 */
final class CompanionFiles {
    private CompanionFiles() {}

    private static File pairingFile(Context ctx) {
        return new File(ctx.getFilesDir(), "pairing.txt");
    }

    static Pairing loadPairing(Context ctx) {
        File f = pairingFile(ctx);
        if (!f.exists()) return null;
        try {
            return Pairing.parse(new String(Files.readAllBytes(f.toPath()), StandardCharsets.UTF_8));
        } catch (IOException | Pairing.PairingException e) {
            return null; // unreadable: the operator scans the QR code again
        }
    }

    static void savePairing(Context ctx, Pairing p) throws IOException {
        PhoneStore.writeAtomic(pairingFile(ctx).toPath(), p.toUri().getBytes(StandardCharsets.US_ASCII));
    }

    static PhoneStore store(Context ctx, Pairing p) {
        File base = ctx.getExternalFilesDir(Environment.DIRECTORY_PICTURES);
        if (base == null) base = ctx.getFilesDir(); // external storage unavailable
        return new PhoneStore(new File(new File(base, "rig"), p.sessionHex()).toPath());
    }
}
