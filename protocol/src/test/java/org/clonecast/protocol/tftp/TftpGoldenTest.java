package org.clonecast.protocol.tftp;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Real firmware's TFTP packets (golden files): decoded field by field, encoded back to the same
 * bytes.
 */
class TftpGoldenTest {

  private static TftpPacket golden(String name) {
    byte[] bytes = TftpGoldens.entry(name).packet();
    TftpPacket p = TftpCodec.decode(bytes);
    assertArrayEquals(bytes, TftpCodec.encode(p), name + " re-encodes to the captured bytes");
    return p;
  }

  @Test
  void ipxeRequestsBlksizeAndTsize() {
    TftpReadRequest rrq = (TftpReadRequest) golden("ipxe-rrq");
    assertEquals("boot.ipxe", rrq.filename());
    assertEquals(TftpMode.OCTET, rrq.mode());
    assertEquals(TftpOptions.of("blksize", "1432", "tsize", "0"), rrq.options());

    TftpOptionAck oack = (TftpOptionAck) golden("ipxe-oack");
    assertEquals(TftpOptions.of("blksize", "1432", "tsize", "270"), oack.options());
  }

  @Test
  void edk2ProbesTheSizeAbortsAndAsksForAWindow() {
    TftpReadRequest probe = (TftpReadRequest) golden("edk2-rrq-probe");
    assertEquals("ipxe.efi", probe.filename());
    assertEquals(
        List.of("tsize", "blksize", "windowsize"),
        probe.options().list().stream().map(TftpOption::name).toList());
    assertEquals("4", probe.options().get("WindowSize").orElseThrow(), "names match ignoring case");

    assertEquals(
        TftpOptions.of("blksize", "1468", "tsize", "850528"),
        ((TftpOptionAck) golden("edk2-oack-probe")).options());
    assertEquals(
        new TftpError(Tftp.ERR_OPTION_REFUSED, "User aborted the transfer"),
        golden("edk2-error-abort"));

    TftpReadRequest real = (TftpReadRequest) golden("edk2-rrq-window");
    assertEquals(TftpOptions.of("blksize", "1468", "windowsize", "4"), real.options());
    assertEquals(
        TftpOptions.of("blksize", "1468"), ((TftpOptionAck) golden("edk2-oack-window")).options());
  }

  @Test
  void pxelinuxRequestAndDnsmasqsFileNotFound() {
    TftpReadRequest rrq = (TftpReadRequest) golden("pxelinux-rrq");
    assertEquals("ldlinux.c32", rrq.filename());
    assertEquals(TftpOptions.of("tsize", "0", "blksize", "1408"), rrq.options());
    TftpError e = (TftpError) golden("pxelinux-error-notfound");
    assertEquals(Tftp.ERR_FILE_NOT_FOUND, e.code());
    assertTrue(e.message().contains("pxelinux.cfg/01-52-54-00-88-00-10 not found"), e.message());
  }

  /** Our machine answers the captured requests; unlike dnsmasq it grants EDK2's windowsize. */
  @Test
  void theMachineAnswersTheCapturedRequests() {
    TftpTransfer.Settings s = new TftpTransfer.Settings(1468, 64, Duration.ofSeconds(1), 5);
    TftpTransfer t = TftpTransfer.create((TftpReadRequest) golden("edk2-rrq-probe"), 850528, s);
    assertEquals(
        List.of(
            new TftpTransfer.Send(
                new TftpOptionAck(
                    TftpOptions.of("tsize", "850528", "blksize", "1468", "windowsize", "4")))),
        t.begin(0).send());
    assertEquals(TftpTransfer.State.PROBE, t.onPacket(golden("edk2-error-abort"), 1).state());

    t = TftpTransfer.create((TftpReadRequest) golden("ipxe-rrq"), 270, s);
    TftpOptionAck oack = (TftpOptionAck) ((TftpTransfer.Send) t.begin(0).send().get(0)).packet();
    assertArrayEquals(
        TftpGoldens.entry("ipxe-oack").packet(),
        TftpCodec.encode(oack),
        "the same OACK bytes dnsmasq sent");
  }
}
