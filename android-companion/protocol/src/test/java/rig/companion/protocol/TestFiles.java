package rig.companion.protocol;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/** Locates the repository's shared files (tests/vectors/) for the JVM tests. */
final class TestFiles {
    private TestFiles() {}

    static Path root() {
        String prop = System.getProperty("rig.root");
        if (prop != null) return Path.of(prop);
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
            if (Files.isDirectory(p.resolve("tests/vectors"))) return p;
        }
        throw new IllegalStateException("tests/vectors not found; pass -Drig.root=REPO");
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> vectors() throws IOException, Json.JsonException {
        return (Map<String, Object>) Json.parse(Files.readString(root().resolve("tests/vectors/datagrams.json")));
    }
}
