package rig.companion.link;

import java.io.IOException;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Collections;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import rig.companion.protocol.Json;
import rig.companion.protocol.PhoneState;

/**
 * The phone's durable files, laid out as {@code rig phone-sim} lays them out so either phone can
 * resume the other's run: {@code phone-state.json} (session, machine state, seq high-water
 * mark, the desktop's highest accepted seq), {@code photos/IIIIII_aA.jpg}, and {@code shots.log} ("index attempt sha256" per photo
 * recorded in the state). Every write is atomic (temp file, fsync, rename).
 */
public final class PhoneStore {
    public static final String STATE_NAME = "phone-state.json";
    public static final String SHOTS_NAME = "shots.log";

    private final Path dir;

    public PhoneStore(Path dir) {
        this.dir = dir;
    }

    public Path dir() {
        return dir;
    }

    /** What a restart needs: the machine state and the seq mark (fresh if none or another session). */
    public record Saved(PhoneState state, long seqMark, long peerHighest) {}

    public Saved load(String sessionHex) throws IOException {
        Path file = dir.resolve(STATE_NAME);
        if (!Files.exists(file)) return new Saved(new PhoneState(), 0, 0);
        try {
            Object o = Json.parse(new String(Files.readAllBytes(file), StandardCharsets.UTF_8));
            if (!(o instanceof Map<?, ?> m) || !sessionHex.equals(m.get("session"))) {
                return new Saved(new PhoneState(), 0, 0); // another session's state: start fresh
            }
            PhoneState state = m.get("state") == null ? new PhoneState() : PhoneState.fromJson(Json.write(m.get("state")));
            long mark = m.get("seq_mark") instanceof BigInteger b ? b.longValue() : 0;
            long peer = m.get("peer_highest") instanceof BigInteger b ? b.longValue() : 0; // unsigned bits
            return new Saved(state, mark, peer);
        } catch (Json.JsonException | ClassCastException e) {
            throw new IOException(file + " is corrupt (" + e.getMessage() + "); move it away to start fresh");
        }
    }

    public void save(String sessionHex, String stateJson, long seqMark, long peerHighest) throws IOException {
        Map<String, Object> obj = new TreeMap<>();
        obj.put("session", sessionHex);
        try {
            obj.put("state", Json.parse(stateJson));
        } catch (Json.JsonException e) {
            throw new IllegalStateException(e); // the machine's own snapshot always parses
        }
        obj.put("seq_mark", seqMark);
        obj.put("peer_highest", new BigInteger(Long.toUnsignedString(peerHighest)));
        obj.put("restarts_done", Collections.emptyList());
        writeAtomic(dir.resolve(STATE_NAME), Json.write(obj).getBytes(StandardCharsets.US_ASCII));
    }

    public Path photoPath(int index, int attempt) {
        return dir.resolve("photos").resolve(String.format(Locale.ROOT, "%06d_a%d.jpg", index, attempt));
    }

    public void logShot(int index, int attempt, String sha256) throws IOException {
        byte[] line = (index + " " + attempt + " " + sha256 + "\n").getBytes(StandardCharsets.US_ASCII);
        try (FileChannel ch = FileChannel.open(dir.resolve(SHOTS_NAME), StandardOpenOption.CREATE,
                StandardOpenOption.WRITE, StandardOpenOption.APPEND)) {
            ch.write(ByteBuffer.wrap(line));
            ch.force(true);
        }
    }

    public void createDirs() throws IOException {
        Files.createDirectories(dir.resolve("photos"));
    }

    /** Temp file, fsync, rename: a reader sees the old or the new file, never a torn one. */
    public static void writeAtomic(Path target, byte[] data) throws IOException {
        Path tmp = target.resolveSibling(target.getFileName() + ".tmp");
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            ByteBuffer buf = ByteBuffer.wrap(data);
            while (buf.hasRemaining()) ch.write(buf);
            ch.force(true);
        }
        Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        fsyncDir(target.toAbsolutePath().getParent());
    }

    /** Make the rename itself durable (power loss); best effort where directories cannot be opened. */
    static void fsyncDir(Path dir) {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException e) {
            // some platforms refuse to open a directory; the rename is still atomic
        }
    }
}
