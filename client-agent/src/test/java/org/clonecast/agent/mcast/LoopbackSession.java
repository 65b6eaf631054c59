package org.clonecast.agent.mcast;

import java.io.IOException;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.clonecast.common.image.ImageCreator;
import org.clonecast.common.image.ImageReader;
import org.clonecast.common.net.NetInterface;
import org.clonecast.common.trust.ImageKey;
import org.clonecast.common.trust.ImageTrust;
import org.clonecast.protocol.mcast.SenderMachine;
import org.clonecast.server.mcast.McastSender;
import org.clonecast.server.mcast.SendSettings;

/** One session of the real sender to one real receiver in this process, on loopback only. */
final class LoopbackSession {
  private LoopbackSession() {}

  /**
   * How it ended: the receiver's result and, when it succeeded, the sender's machine (else null).
   */
  record Outcome(ReceiveResult result, SenderMachine machine) {}

  /**
   * Sends the signed {@code cci} to one receiver writing {@code output}, checking it first when
   * {@code check}.
   */
  static Outcome send(Path cci, Path output, boolean check) throws Exception {
    int port = freePort();
    NetInterface lo = NetInterface.byName("lo");
    SendSettings ss = sendSettings(port, 1, Duration.ofSeconds(30), Duration.ofSeconds(10), false);
    try (ImageReader source = ImageReader.open(cci)) {
      ImageKey key = ImageKey.generate();
      McastSender sender =
          new McastSender(
              ss,
              source,
              lo,
              new McastSender.SessionListener() {},
              List.of(key.sign(source.manifest())));
      CompletableFuture<SenderMachine> sent = sender.start();
      ReceiveSettings rs =
          receiveSettings(
              port,
              output,
              "test",
              Duration.ZERO,
              new ImageTrust.Keys(List.of(key.publicKey())),
              check);
      McastReceiver receiver = new McastReceiver(rs, lo, new McastReceiver.Listener() {});
      ReceiveResult r;
      try {
        r = receiver.start().get(120, TimeUnit.SECONDS);
      } catch (TimeoutException e) {
        receiver.stop("the test gave up");
        sender.close();
        throw e;
      }
      if (!r.ok()) {
        sender.close();
        return new Outcome(r, null);
      }
      return new Outcome(r, sent.get(30, TimeUnit.SECONDS));
    }
  }

  /** A sender's settings on loopback: 400 Mbit/s, 1400-byte symbols, TTL 1. */
  static SendSettings sendSettings(
      int port, int minReceivers, Duration maxWait, Duration receiverTimeout, boolean gso) {
    return new SendSettings(
        "lo",
        null,
        port,
        400_000_000L,
        minReceivers,
        maxWait,
        receiverTimeout,
        1400,
        1,
        gso,
        Optional.empty(),
        SendSettings.DEFAULT_CHECK_GRACE);
  }

  /** A receiver's settings on loopback, joining the sender on {@code port} directly. */
  static ReceiveSettings receiveSettings(
      int port, Path output, String name, Duration igmpRejoin, ImageTrust trust, boolean check) {
    return new ReceiveSettings(
        "lo",
        port,
        new InetSocketAddress(InetAddress.getLoopbackAddress(), port),
        output,
        name,
        Duration.ofSeconds(30),
        2,
        igmpRejoin,
        ReceiveSettings.DEFAULT_SENDER_TIMEOUT,
        trust,
        Optional.empty(),
        check);
  }

  /**
   * A random disk of {@code bytes} (seeded) as {@code dir}/disk.raw and its image disk.cci (256 KiB
   * chunks); returns the disk's bytes.
   */
  static byte[] randomImage(Path dir, int bytes, long seed) throws IOException {
    byte[] disk = new byte[bytes];
    new Random(seed).nextBytes(disk);
    Path raw = Files.write(dir.resolve("disk.raw"), disk);
    ImageCreator.create(raw, dir.resolve("disk.cci"), 256 * 1024, 1, 2, p -> {});
    return disk;
  }

  static int freePort() throws IOException {
    for (int i = 0; i < 50; i++) {
      try (ServerSocket t = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
        int p = t.getLocalPort();
        try (DatagramSocket u = new DatagramSocket(p)) {
          u.setReuseAddress(false);
          return p;
        } catch (IOException taken) {
          // that UDP port is in use: try another
        }
      }
    }
    throw new IOException("no port free for both TCP and UDP");
  }
}
