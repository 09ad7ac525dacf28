package rig.companion.protocol;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;
import rig.companion.link.PhoneStore;

/** The phone's durable files (layout shared with rig phone-sim). */
public class PhoneStoreTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    @Test
    public void stateRoundTripsAndAnotherSessionStartsFresh() throws Exception {
        PhoneStore store = new PhoneStore(tmp.getRoot().toPath());
        store.createDirs();
        assertEquals(-1, store.load("0123456789abcdef").state().cursor); // nothing yet
        PhoneState s = new PhoneState();
        s.cursor = 7;
        s.results.put(new PhoneState.Key(6, 0), PhoneState.Result.saved("a".repeat(64), 10));
        store.save("0123456789abcdef", s.toJson(), 123_456L, -2L); // 2^64 - 2: unsigned
        PhoneStore.Saved back = store.load("0123456789abcdef");
        assertEquals(7, back.state().cursor);
        assertEquals(123_456L, back.seqMark());
        assertEquals(-2L, back.peerHighest());
        assertTrue(new String(Files.readAllBytes(tmp.getRoot().toPath().resolve(PhoneStore.STATE_NAME)),
                StandardCharsets.US_ASCII).contains("\"peer_highest\":18446744073709551614"));
        assertEquals(s.toJson(), back.state().toJson());
        PhoneStore.Saved other = store.load("ffffffffffffffff");
        assertEquals(-1, other.state().cursor);
        assertEquals(0, other.seqMark());
        assertTrue(Files.list(tmp.getRoot().toPath()).noneMatch(p -> p.toString().endsWith(".tmp")));
    }

    @Test
    public void readsTheStateThePythonPhoneSimWrites() throws Exception {
        // json.dumps of rig.protocol.phonesim's state object (default separators)
        String py = "{\"session\": \"0123456789abcdef\", \"state\": {\"cursor\": 4, \"results\": [[3, 0, "
                + "{\"saved\": true, \"sha256\": \"" + "b".repeat(64) + "\", \"size\": 99, \"reason\": \"\", "
                + "\"stored\": true}]]}, \"seq_mark\": 1795000000100000, \"restarts_done\": [3], "
                + "\"peer_highest\": 1795000000000042}";
        Path dir = tmp.getRoot().toPath();
        Files.write(dir.resolve(PhoneStore.STATE_NAME), py.getBytes(StandardCharsets.UTF_8));
        PhoneStore.Saved s = new PhoneStore(dir).load("0123456789abcdef");
        assertEquals(4, s.state().cursor);
        assertEquals(1795000000100000L, s.seqMark());
        assertEquals(1795000000000042L, s.peerHighest());
        assertTrue(s.state().results.get(new PhoneState.Key(3, 0)).stored);
    }

    @Test
    public void aCorruptStateIsAnErrorNotAFreshStart() throws Exception {
        Path dir = tmp.getRoot().toPath();
        Files.write(dir.resolve(PhoneStore.STATE_NAME), "{\"session\": \"0123456789abcdef\", \"state\": {\"cursor\": ".getBytes(StandardCharsets.UTF_8));
        try {
            new PhoneStore(dir).load("0123456789abcdef");
            fail("a torn state file must not silently reset the phone (it would reshoot)");
        } catch (IOException e) {
            assertTrue(e.getMessage().contains("corrupt"));
        }
    }
}
