package org.clonecast.protocol.udpcast;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
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
 * The stored golden files are exactly what {@link UdpcastGoldens} extracts from the reference
 * captures; with {@code -Dclonecast.golden.regenerate=true} it rewrites them instead. Needs
 * the captures (a copy of shared/ref/captures/udpcast is in src/test/resources/captures).
 */
class UdpcastGoldenFilesTest {

    @Test
    void goldenFilesMatchTheCaptures() throws Exception {
        Optional<Path> captures = Golden.captures(UdpcastGoldens.PROTO);
        if (captures.isEmpty()) {
            if ("true".equals(System.getenv("CI"))) {
                fail("reference captures missing: protocol/src/test/resources/captures/udpcast (or set -Dclonecast.captures=DIR)");
            }
            Assumptions.abort("reference captures missing: protocol/src/test/resources/captures/udpcast");
        }
        if (Boolean.getBoolean("clonecast.golden.regenerate")) {
            UdpcastGoldens.regenerate(captures.get(), Golden.SOURCE_DIR.resolve(UdpcastGoldens.PROTO));
        }
        Map<String, List<Udp>> pcaps = new HashMap<>();
        for (UdpcastGoldens.Entry e : UdpcastGoldens.ENTRIES) {
            List<Udp> packets = pcaps.computeIfAbsent(e.capture(), c -> read(captures.get().resolve(c + ".pcap")));
            List<byte[]> expected = e.extract(packets);
            List<byte[]> stored = e.stored();
            assertEquals(expected.size(), stored.size(), e.name() + " packet count");
            for (int i = 0; i < expected.size(); i++) {
                assertArrayEquals(expected.get(i), stored.get(i), e.name() + " packet " + i);
            }
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
