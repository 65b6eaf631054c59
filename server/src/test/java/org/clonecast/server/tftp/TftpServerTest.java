package org.clonecast.server.tftp;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.channel.EventLoopGroup;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.apache.commons.net.tftp.TFTP;
import org.apache.commons.net.tftp.TFTPClient;
import org.clonecast.common.net.Transport;
import org.clonecast.protocol.tftp.Tftp;
import org.clonecast.protocol.tftp.TftpAck;
import org.clonecast.protocol.tftp.TftpData;
import org.clonecast.protocol.tftp.TftpError;
import org.clonecast.protocol.tftp.TftpMode;
import org.clonecast.protocol.tftp.TftpOptionAck;
import org.clonecast.protocol.tftp.TftpOptions;
import org.clonecast.protocol.tftp.TftpPacket;
import org.clonecast.protocol.tftp.TftpReadRequest;
import org.clonecast.protocol.tftp.TftpTransfer;
import org.clonecast.protocol.tftp.TftpWriteRequest;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The TFTP server on 127.0.0.1, port 0, against commons-net's RFC 1350 client and our codec client.
 */
class TftpServerTest {
  private static final Duration WAIT = Duration.ofSeconds(20);

  @TempDir Path dir;
  private Path root;
  private byte[] big;
  private EventLoopGroup group;
  private TftpServer server;
  private InetSocketAddress at;

  @BeforeEach
  void start() throws Exception {
    root = Files.createDirectories(dir.resolve("root"));
    big = new byte[3 * 1024 * 1024 + 123];
    new Random(42).nextBytes(big);
    Files.write(root.resolve("big.bin"), big);
    Files.createDirectories(root.resolve("sub"));
    Files.writeString(root.resolve("sub/a.cfg"), "default linux\n");
    Files.writeString(dir.resolve("secret"), "outside\n");
    Files.createSymbolicLink(root.resolve("inside-link"), root.resolve("sub/a.cfg"));
    Files.createSymbolicLink(root.resolve("escape"), dir.resolve("secret"));
    group = Transport.group(2, "tftp-test");
    server = start(64);
  }

  private TftpServer start(int maxTransfers) throws Exception {
    return start(maxTransfers, 64, 5);
  }

  private TftpServer start(int maxTransfers, int maxPerClient, int maxRetries) throws Exception {
    TftpServer s =
        TftpServer.start(
            group,
            InetAddress.getLoopbackAddress(),
            new TftpServer.Settings(
                0,
                root,
                new TftpTransfer.Settings(1468, 64, Duration.ofSeconds(1), maxRetries),
                maxTransfers,
                maxPerClient));
    at = new InetSocketAddress(InetAddress.getLoopbackAddress(), s.port());
    return s;
  }

  @AfterEach
  void stop() {
    server.close();
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
  }

  private TftpTestClient client() throws IOException {
    return new TftpTestClient(at);
  }

  @Test
  void plainRfc1350ClientGetsTheFileByteIdentical() throws Exception {
    TFTPClient tftp = new TFTPClient();
    tftp.setDefaultTimeout(Duration.ofSeconds(5));
    tftp.open();
    try {
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      tftp.receiveFile("big.bin", TFTP.BINARY_MODE, out, at.getAddress(), at.getPort());
      assertArrayEquals(big, out.toByteArray());
    } finally {
      tftp.close();
    }
    await()
        .atMost(WAIT)
        .until(() -> server.stats().transfersOk.sum() == 1 && server.activeTransfers() == 0);
    assertTrue(server.stats().bytesSent.sum() >= big.length);
  }

  @Test
  void windowedDownloadWithRolloverNegotiatesAndMatches() throws Exception {
    try (TftpTestClient c = client()) {
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      TftpOptions granted =
          c.get(
              "big.bin",
              TftpOptions.of("blksize", "9000", "tsize", "0", "windowsize", "16", "foo", "1"),
              out);
      assertEquals(
          TftpOptions.of(
              "blksize", "1468", "tsize", Integer.toString(big.length), "windowsize", "16"),
          granted);
      assertArrayEquals(big, out.toByteArray());
      assertEquals(big.length / 1468 / 16 + 2, c.acksSent, "ACK 0 plus one per window");

      // 3 MiB in 16-byte blocks: about 200000 blocks, so the block number wraps three times
      TftpOptions small =
          c.get(
              "big.bin",
              TftpOptions.of("blksize", "16", "windowsize", "64"),
              out = new ByteArrayOutputStream());
      assertEquals("16", small.get("blksize").orElseThrow());
      assertArrayEquals(big, out.toByteArray());
    }
    await().atMost(WAIT).until(() -> server.stats().transfersOk.sum() == 2);
  }

  @Test
  void edk2ProbeThenWindowedDownload() throws Exception {
    try (TftpTestClient c = client()) {
      assertEquals(
          TftpOptions.of(
              "tsize", Integer.toString(big.length), "blksize", "1468", "windowsize", "4"),
          c.probe("big.bin"));
      await().atMost(WAIT).until(() -> server.stats().probes.sum() == 1);
      assertArrayEquals(
          big,
          TftpTestClient.download(
              c, "big.bin", TftpOptions.of("blksize", "1468", "windowsize", "4")));
    }
    await().atMost(WAIT).until(() -> server.stats().transfersOk.sum() == 1);
    assertEquals(0, server.stats().transfersFailed.sum());
  }

  @Test
  void namesAreConfinedToTheRoot() throws Exception {
    assertError(Tftp.ERR_ACCESS_VIOLATION, "../../etc/passwd");
    assertError(Tftp.ERR_ACCESS_VIOLATION, "sub/../../secret");
    assertError(Tftp.ERR_ACCESS_VIOLATION, "..\\..\\etc\\passwd");
    assertError(Tftp.ERR_FILE_NOT_FOUND, "/etc/passwd");
    assertError(Tftp.ERR_ACCESS_VIOLATION, "escape");
    assertError(Tftp.ERR_ACCESS_VIOLATION, "sub");
    assertError(Tftp.ERR_FILE_NOT_FOUND, "missing.cfg");
    assertEquals(7, server.stats().refused.sum());
    try (TftpTestClient c = client()) {
      assertEquals(
          "default linux\n",
          new String(TftpTestClient.download(c, "/sub/a.cfg", TftpOptions.NONE)));
      assertEquals(
          "default linux\n",
          new String(TftpTestClient.download(c, "\\sub\\a.cfg", TftpOptions.NONE)));
      assertEquals(
          "default linux\n",
          new String(TftpTestClient.download(c, "inside-link", TftpOptions.NONE)),
          "a link inside the root");
    }
  }

  @Test
  void writesNetasciiAndJunkAreRefusedOrDropped() throws Exception {
    try (TftpTestClient c = client()) {
      c.send(new TftpWriteRequest("new.bin", TftpMode.OCTET, TftpOptions.NONE), at);
      assertEquals(Tftp.ERR_ACCESS_VIOLATION, ((TftpError) c.receive()).code());
      c.send(new TftpReadRequest("big.bin", TftpMode.NETASCII, TftpOptions.NONE), at);
      assertEquals(Tftp.ERR_NOT_DEFINED, ((TftpError) c.receive()).code());
      c.sendRaw(new byte[] {0x01, 0x01, 'x', 0}, at);
      c.sendRaw(new byte[] {0, 1, 'x'}, at);
      c.send(new TftpAck(3), at);
      await()
          .atMost(WAIT)
          .until(() -> server.stats().malformed.sum() == 2 && server.stats().ignored.sum() == 1);
      assertEquals(
          "default linux\n",
          new String(TftpTestClient.download(c, "sub/a.cfg", TftpOptions.NONE)),
          "still serving");
    }
  }

  @Test
  void aWrongTidGetsError5AndTheTransferGoesOn() throws Exception {
    try (TftpTestClient c = client();
        TftpTestClient stranger = client()) {
      assertTrue(c.request("big.bin", TftpOptions.of("windowsize", "8")) instanceof TftpOptionAck);
      InetSocketAddress transfer = c.tid();
      assertNotEquals(at.getPort(), transfer.getPort(), "each transfer has its own port");
      stranger.send(new TftpAck(0), transfer);
      TftpError e = (TftpError) stranger.receive();
      assertEquals(Tftp.ERR_UNKNOWN_TID, e.code());
      c.send(new TftpAck(0), transfer);
      assertEquals(1, ((TftpData) c.receive()).block(), "the transfer went on");
      c.send(new TftpError(0, "done testing"), transfer);
    }
    await()
        .atMost(WAIT)
        .until(
            () -> server.stats().wrongTid.sum() == 1 && server.stats().transfersFailed.sum() == 1);
  }

  @Test
  void silenceMeansRetransmissionFromTheFirstUnacknowledgedBlock() throws Exception {
    try (TftpTestClient c = client()) {
      TftpData first = (TftpData) c.request("big.bin", TftpOptions.NONE);
      assertEquals(1, first.block());
      TftpData again = (TftpData) c.receive();
      assertEquals(1, again.block(), "resent after the timeout");
      assertEquals(c.tid(), c.tid());
      c.send(new TftpAck(1), c.tid());
      assertEquals(2, ((TftpData) c.receive()).block());
      c.send(new TftpError(0, "enough"), c.tid());
    }
    assertTrue(server.stats().retransmits.sum() >= 1);
  }

  @Test
  void aRepeatedRequestFromTheSamePortIsNotASecondTransfer() throws Exception {
    try (TftpTestClient c = client()) {
      TftpReadRequest rrq =
          new TftpReadRequest("sub/a.cfg", TftpMode.OCTET, TftpOptions.of("tsize", "0"));
      c.send(rrq, at);
      c.send(rrq, at);
      assertTrue(c.receive() instanceof TftpOptionAck);
      await().atMost(WAIT).until(() -> server.stats().ignored.sum() == 1);
      assertEquals(1, server.activeTransfers());
      c.send(new TftpAck(0), c.tid());
      assertEquals(14, ((TftpData) c.receive()).data().readableBytes());
      c.send(new TftpAck(1), c.tid());
    }
    await()
        .atMost(WAIT)
        .until(() -> server.stats().transfersOk.sum() == 1 && server.activeTransfers() == 0);
  }

  @Test
  void beyondMaxTransfersRequestsAreBusy() throws Exception {
    server.close();
    server = start(1);
    try (TftpTestClient first = client();
        TftpTestClient second = client()) {
      assertTrue(first.request("big.bin", TftpOptions.of("tsize", "0")) instanceof TftpOptionAck);
      TftpError busy = (TftpError) second.request("big.bin", TftpOptions.NONE);
      assertEquals(Tftp.ERR_NOT_DEFINED, busy.code());
      assertTrue(busy.message().contains("busy"), busy.message());
      first.send(new TftpError(Tftp.ERR_OPTION_REFUSED, "probe"), first.tid());
      await().atMost(WAIT).until(() -> server.activeTransfers() == 0);
      assertEquals(
          "default linux\n",
          new String(TftpTestClient.download(second, "sub/a.cfg", TftpOptions.NONE)));
    }
    assertEquals(1, server.stats().busy.sum());
  }

  /**
   * One address flooding unanswered requests (each from its own port, with the longest timeout it
   * may ask for) holds at most its share of the table: another host still gets its file, the
   * flood's extra requests are refused as busy, and its transfers end by the retransmission bound.
   */
  @Test
  void oneFloodingClientTakesOnlyItsShareAndItsSilentTransfersEnd() throws Exception {
    server.close();
    server = start(8, 2, 1);
    InetAddress rogue = InetAddress.getLoopbackAddress();
    List<TftpTestClient> flood = new ArrayList<>();
    try {
      int busy = 0;
      for (int i = 0; i < 20; i++) {
        TftpTestClient c = new TftpTestClient(at, new InetSocketAddress(rogue, 0));
        flood.add(c);
        TftpPacket p = c.request("big.bin", TftpOptions.of("timeout", "255", "tsize", "0"));
        if (p instanceof TftpError e) {
          assertTrue(
              e.message().contains("busy") && e.message().contains(rogue.getHostAddress()),
              e.message());
          busy++;
        } else {
          assertTrue(p instanceof TftpOptionAck, p.toString());
        }
      }
      assertEquals(18, busy, "two transfers for that address, the rest refused");
      assertEquals(18, server.stats().busyClient.sum());
      assertEquals(0, server.stats().busy.sum(), "the table itself never filled");
      assertEquals(2, server.activeTransfers(rogue));
      try (TftpTestClient other =
          new TftpTestClient(at, new InetSocketAddress(InetAddress.getByName("127.0.0.2"), 0))) {
        assertArrayEquals(
            big,
            TftpTestClient.download(
                other, "big.bin", TftpOptions.of("blksize", "1468", "windowsize", "8")));
      }
      // Never answered: the OACKs are resent once (1 s, then 2 s) and the transfers fail, freeing
      // the slots.
      await()
          .atMost(WAIT)
          .until(() -> server.activeTransfers() == 0 && server.activeTransfers(rogue) == 0);
      assertEquals(2, server.stats().transfersFailed.sum());
      try (TftpTestClient again = new TftpTestClient(at, new InetSocketAddress(rogue, 0))) {
        assertEquals(
            "default linux\n",
            new String(TftpTestClient.download(again, "sub/a.cfg", TftpOptions.NONE)),
            "the address may ask again");
      }
    } finally {
      flood.forEach(TftpTestClient::close);
    }
  }

  @Test
  void manyTransfersAtOnce() throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(8);
    try {
      List<Future<byte[]>> results = new ArrayList<>();
      for (int i = 0; i < 8; i++) {
        String window = Integer.toString(1 << (i % 4));
        Callable<byte[]> job =
            () -> {
              try (TftpTestClient c = client()) {
                return TftpTestClient.download(
                    c, "big.bin", TftpOptions.of("blksize", "1468", "windowsize", window));
              }
            };
        results.add(pool.submit(job));
      }
      for (Future<byte[]> f : results) {
        assertArrayEquals(big, f.get());
      }
    } finally {
      pool.shutdownNow();
    }
    await()
        .atMost(WAIT)
        .until(() -> server.stats().transfersOk.sum() == 8 && server.activeTransfers() == 0);
  }

  @Test
  void aMissingRootIsAClearError() {
    IOException e =
        assertThrows(
            IOException.class,
            () ->
                TftpServer.start(
                    group,
                    InetAddress.getLoopbackAddress(),
                    new TftpServer.Settings(
                        0,
                        dir.resolve("nope"),
                        new TftpTransfer.Settings(512, 1, Duration.ofSeconds(1), 1),
                        1,
                        1)));
    assertTrue(e.getMessage().contains("nope"), e.getMessage());
  }

  private void assertError(int code, String name) throws IOException {
    try (TftpTestClient c = client()) {
      TftpPacket p = c.request(name, TftpOptions.of("tsize", "0"));
      TftpError e = assertInstance(p, name);
      assertEquals(code, e.code(), name + ": " + e.message());
      assertNotEquals(at.getPort(), c.tid().getPort(), "refusals come from a fresh port");
    }
  }

  private static TftpError assertInstance(TftpPacket p, String name) {
    assertTrue(p instanceof TftpError, name + " answered with " + p);
    return (TftpError) p;
  }
}
