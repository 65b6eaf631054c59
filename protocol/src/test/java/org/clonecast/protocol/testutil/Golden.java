package org.clonecast.protocol.testutil;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.clonecast.protocol.wire.Bytes;

/**
 * Golden packet files under {@code src/test/resources/golden/<proto>/<capture>-<msg>.hex}: lines
 * starting with {@code #} are comments (where the packets came from), every other non-blank line is
 * one packet as hex. Also finds the reference captures ({@code shared/ref/captures}) for the tests
 * that check or regenerate the golden files; tests never need them otherwise.
 */
public final class Golden {
    /** Where the golden files live relative to the {@code protocol} module directory. */
    public static final Path SOURCE_DIR = Path.of("src", "test", "resources", "golden");

    private Golden() {
    }

    /** @return every packet of {@code golden/<proto>/<name>.hex} on the test class path */
    public static List<byte[]> packets(String proto, String name) {
        String resource = "/golden/" + proto + "/" + name + ".hex";
        try (InputStream in = Golden.class.getResourceAsStream(resource)) {
            if (in == null) {
                throw new IllegalStateException("golden file " + resource + " missing; regenerate with "
                        + "-Dclonecast.golden.regenerate=true (needs shared/ref/captures)");
            }
            return parse(new String(in.readAllBytes(), StandardCharsets.US_ASCII));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** @return the single packet of a one-packet golden file */
    public static byte[] packet(String proto, String name) {
        List<byte[]> packets = packets(proto, name);
        if (packets.size() != 1) {
            throw new IllegalStateException(name + " holds " + packets.size() + " packets, want 1");
        }
        return packets.get(0);
    }

    /** @return the text of a golden file holding {@code packets}, one hex line each, after {@code comment} */
    public static String format(String comment, List<byte[]> packets) {
        StringBuilder sb = new StringBuilder();
        comment.lines().forEach(line -> sb.append("# ").append(line).append('\n'));
        packets.forEach(p -> sb.append(Bytes.toHex(p)).append('\n'));
        return sb.toString();
    }

    static List<byte[]> parse(String text) {
        List<byte[]> packets = new ArrayList<>();
        text.lines().map(String::strip).filter(l -> !l.isEmpty() && !l.startsWith("#"))
                .forEach(l -> packets.add(Bytes.fromHex(l)));
        return packets;
    }

    /** The reference captures' copy in this repository, so that a clean clone has what its tests read. */
    public static final Path CAPTURES_DIR = Path.of("src", "test", "resources", "captures");

    /**
     * Finds the reference captures of {@code proto}: the directory named by the system property
     * {@code clonecast.captures}, else this repository's copy ({@link #CAPTURES_DIR}), else the
     * first {@code shared/ref/captures/<proto>} in the working directory or one of its parents.
     */
    public static Optional<Path> captures(String proto) {
        String explicit = System.getProperty("clonecast.captures");
        if (explicit != null) {
            return Optional.of(Path.of(explicit));
        }
        Path copy = CAPTURES_DIR.resolve(proto);
        if (Files.isDirectory(copy)) {
            return Optional.of(copy);
        }
        for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
            Path candidate = dir.resolve(Path.of("shared", "ref", "captures", proto));
            if (Files.isDirectory(candidate)) {
                return Optional.of(candidate);
            }
        }
        return Optional.empty();
    }
}
