package org.clonecast.protocol.tftp;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.clonecast.protocol.testutil.Golden;
import org.clonecast.protocol.testutil.Pcap;
import org.clonecast.protocol.testutil.Pcap.Udp;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * The stored TFTP golden files are exactly the packets {@link TftpGoldens} names in the PXE
 * captures; with {@code -Dclonecast.golden.regenerate=true} it rewrites them first. Needs
 * the captures (a copy of shared/ref/captures/pxe is in src/test/resources/captures).
 */
class TftpGoldenFilesTest {

    @Test
    void goldenFilesMatchTheCaptures() throws Exception {
        Optional<Path> captures = Golden.captures("pxe");
        if (captures.isEmpty()) {
            if ("true".equals(System.getenv("CI"))) {
                fail("reference captures missing: protocol/src/test/resources/captures/pxe (or set -Dclonecast.captures=DIR)");
            }
            Assumptions.abort("reference captures missing: protocol/src/test/resources/captures/pxe");
        }
        if (Boolean.getBoolean("clonecast.golden.regenerate")) {
            TftpGoldens.regenerate(captures.get(), Golden.SOURCE_DIR.resolve(TftpGoldens.PROTO));
        }
        Map<String, List<Udp>> pcaps = new HashMap<>();
        for (TftpGoldens.Entry e : TftpGoldens.ENTRIES) {
            List<Udp> packets = pcaps.computeIfAbsent(e.capture(), c -> read(captures.get().resolve(c + ".pcap")));
            assertArrayEquals(e.extract(packets), e.stored(), e.name());
        }
    }

    private static List<Udp> read(Path pcap) {
        try {
            return Pcap.readUdp(pcap);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
