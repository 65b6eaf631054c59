package org.clonecast.protocol.tftp;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.clonecast.protocol.testutil.Golden;
import org.clonecast.protocol.testutil.Pcap;
import org.clonecast.protocol.testutil.Pcap.Udp;

/**
 * Which TFTP packets of the PXE reference captures (shared/ref/captures/pxe: real firmware against
 * dnsmasq) become golden files, and how to regenerate them:
 *
 * <pre>mvn -o -B test -pl protocol -Dtest=TftpGoldenFilesTest -Dclonecast.golden.regenerate=true</pre>
 */
final class TftpGoldens {
    static final String PROTO = "tftp";

    /**
     * One golden file: the UDP payload of frame {@code frame} (1-based, as tshark numbers them).
     */
    record Entry(String name, String capture, int frame, String what) {
        byte[] extract(List<Udp> packets) {
            return packets.stream().filter(u -> u.frame() == frame - 1).findFirst()
                    .orElseThrow(() -> new IllegalStateException(name + ": no UDP frame " + frame + " in " + capture))
                    .payload();
        }

        byte[] stored() {
            return Golden.packet(PROTO, name);
        }
    }

    static final List<Entry> ENTRIES = List.of(
            new Entry("ipxe-rrq", "full-bios", 7, "iPXE BIOS ROM: RRQ boot.ipxe octet blksize=1432 tsize=0"),
            new Entry("ipxe-oack", "full-bios", 8, "dnsmasq's OACK to iPXE: blksize=1432 tsize=270"),
            new Entry("edk2-rrq-probe", "edk2-uefi", 5, "EDK2 PXE: RRQ ipxe.efi tsize=0 blksize=1468 windowsize=4 (the size probe)"),
            new Entry("edk2-oack-probe", "edk2-uefi", 6, "dnsmasq's OACK to the probe: blksize=1468 tsize=850528 (windowsize dropped)"),
            new Entry("edk2-error-abort", "edk2-uefi", 7, "EDK2 ends its probe: ERROR 8 \"User aborted the transfer\""),
            new Entry("edk2-rrq-window", "edk2-uefi", 8, "EDK2 PXE: the real RRQ ipxe.efi blksize=1468 windowsize=4"),
            new Entry("edk2-oack-window", "edk2-uefi", 9, "dnsmasq's OACK: blksize=1468 only"),
            new Entry("pxelinux-rrq", "pxelinux-bios", 9, "pxelinux: RRQ ldlinux.c32 tsize=0 blksize=1408"),
            new Entry("pxelinux-error-notfound", "pxelinux-bios", 12, "dnsmasq: ERROR 1 for a missing pxelinux.cfg/01-<mac>"));

    private TftpGoldens() {
    }

    static Entry entry(String name) {
        return ENTRIES.stream().filter(e -> e.name().equals(name)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("no golden entry " + name));
    }

    /** Writes every golden file from the captures in {@code capturesDir} into {@code outDir}. */
    static void regenerate(Path capturesDir, Path outDir) throws IOException {
        Files.createDirectories(outDir);
        for (Entry e : ENTRIES) {
            byte[] packet = e.extract(Pcap.readUdp(capturesDir.resolve(e.capture() + ".pcap")));
            String comment = e.capture() + ".pcap frame " + e.frame() + ": " + e.what()
                    + "\nUDP payload as hex; regenerate: see TftpGoldens";
            Files.writeString(outDir.resolve(e.name() + ".hex"), Golden.format(comment, List.of(packet)),
                    StandardCharsets.US_ASCII);
        }
    }
}
