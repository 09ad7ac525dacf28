package rig.companion;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import rig.companion.link.PhoneLoop;
import rig.companion.link.PhoneStore;
import rig.companion.protocol.Auth;
import rig.companion.protocol.Json;
import rig.companion.protocol.Pairing;
import rig.companion.protocol.Timers;
import rig.companion.protocol.UploadClient;

/**
 * A headless JVM phone built from the companion's protocol core: the Android app minus camera
 * and UI. {@code java -cp … rig.companion.HeadlessPhone --pair PAIRING_FILE [--store DIR]}.
 *
 * <p>It pairs from the pairing URI text and runs the app's own {@link PhoneLoop} (the sans-I/O
 * {@code PhoneMachine} over a real UDP socket). Its "camera" fetches the desktop's screen tap at
 * shutter time (simulation sessions only, docs/protocol.md §5) and saves a JPEG of it; uploads
 * use java.net.http. The store has the layout of {@code rig phone-sim} (phone-state.json,
 * photos/, shots.log), so either phone can resume the other's run. With {@code --idle-exit-s}
 * it exits once the desktop said BYE (v1.1) or has asked for nothing for that long, with nothing
 * left to upload, printing a JSON summary on stdout.
 */
public final class HeadlessPhone {
    private HeadlessPhone() {}

    /** The simulated camera: the frame on screen at shutter time, as a JPEG (quality 90). */
    static PhoneLoop.Shutter tapShutter(UploadClient client, ExecutorService pool) {
        return (index, attempt, tag, target, done) -> pool.execute(() -> {
            try {
                UploadClient.Frame frame = client.fetchTap(index, attempt, 0);
                if (frame == null) {
                    done.failed("no screen tap (HeadlessPhone needs a simulation session)");
                    return;
                }
                byte[] jpeg = FrameJpeg.encode(frame, 0.9f);
                PhoneStore.writeAtomic(target, jpeg);
                done.saved(Auth.sha256Hex(jpeg), jpeg.length);
            } catch (IOException | RuntimeException e) {
                done.failed("camera: " + e.getMessage());
            }
        });
    }

    static PhoneLoop.Uploader uploader(UploadClient client, ExecutorService pool) {
        return (index, attempt, path, done) -> pool.execute(() -> {
            UploadClient.Outcome outcome;
            try {
                outcome = client.uploadOutcome(index, attempt, Files.readAllBytes(path));
            } catch (IOException e) {
                outcome = UploadClient.Outcome.RETRY; // photo unreadable: retried, then re-asked
            }
            done.finished(outcome);
        });
    }

    public static void main(String[] args) {
        PrintStream err = System.err;
        String pair = null;
        Path store = Path.of("phone-store");
        double idle = 20;
        boolean verbose = false;
        Timers timers = Timers.defaults();
        try {
            for (int i = 0; i < args.length; i++) {
                switch (args[i]) {
                    case "--pair" -> pair = args[++i];
                    case "--store" -> store = Path.of(args[++i]);
                    case "--idle-exit-s" -> idle = Double.parseDouble(args[++i]);
                    case "--camera-timeout-s" -> timers = timers.withCameraTimeoutS(Double.parseDouble(args[++i]));
                    case "--verbose", "-v" -> verbose = true;
                    case "--help", "-h" -> {
                        System.out.println(usage());
                        return;
                    }
                    default -> throw new IllegalArgumentException("unknown option '" + args[i] + "'");
                }
            }
            if (pair == null) throw new IllegalArgumentException("--pair PAIRING_FILE is required");
        } catch (ArrayIndexOutOfBoundsException | IllegalArgumentException e) {
            err.println("headless-phone: " + (e.getMessage() == null ? "missing value" : e.getMessage()) + "\n" + usage());
            System.exit(2);
        }
        ExecutorService pool = Executors.newFixedThreadPool(2, r -> {
            Thread t = new Thread(r, "phone-worker");
            t.setDaemon(true);
            return t;
        });
        try {
            String text = pair.startsWith("rig1:") ? pair : new String(Files.readAllBytes(Path.of(pair)), StandardCharsets.UTF_8);
            Pairing p = Pairing.parse(text);
            UploadClient client = new UploadClient(new JdkHttpTransport(Duration.ofSeconds(30)), p);
            boolean log = verbose;
            PhoneLoop loop = new PhoneLoop(p, new PhoneStore(store), tapShutter(client, pool), uploader(client, pool),
                    new PhoneLoop.Listener() {
                        private String last = "";

                        @Override
                        public void onStatus(PhoneLoop.Status s) {
                            if (log && !s.lastEvent().equals(last)) err.println("headless-phone: " + s.lastEvent());
                            last = s.lastEvent();
                        }
                    }, timers);
            Map<String, Object> summary = loop.run(idle);
            System.out.println(Json.write(summary));
        } catch (Pairing.PairingException e) {
            err.println("headless-phone: " + pair + ": " + e.getMessage());
            System.exit(1);
        } catch (IOException e) {
            err.println("headless-phone: " + e.getMessage());
            System.exit(1);
        } finally {
            pool.shutdownNow();
        }
    }

    private static String usage() {
        return "usage: HeadlessPhone --pair PAIRING_FILE|rig1://... [--store DIR] [--idle-exit-s S]"
                + " [--camera-timeout-s S] [--verbose]";
    }
}
