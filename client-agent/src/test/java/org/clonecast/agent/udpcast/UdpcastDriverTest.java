package org.clonecast.agent.udpcast;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.clonecast.agent.disk.Target;
import org.clonecast.agent.receive.LoopbackPorts;
import org.clonecast.common.net.NetInterface;
import org.clonecast.protocol.udpcast.ConnectReq;
import org.clonecast.protocol.udpcast.Udpcast;
import org.clonecast.protocol.udpcast.UdpcastSenderMachine;
import org.clonecast.server.udpcast.UdpcastSendSettings;
import org.clonecast.server.udpcast.UdpcastSender;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The udpcast-compatible sender's driver ({@code server.send.SendDriver} under {@link
 * UdpcastSender}) with the agent's {@link UdpcastReceiver} in this process, on loopback only: the
 * file arrives whole and verified end to end; a receiver that connects and never answers is dropped
 * and the session ends; an operator's stop ends a waiting session and frees its ports.
 */
class UdpcastDriverTest {
  @TempDir Path dir;

  private static UdpcastSendSettings settings(int portbase, Duration receiverTimeout) {
    return new UdpcastSendSettings(
        "lo",
        portbase,
        400_000_000L,
        1,
        Duration.ofSeconds(30),
        receiverTimeout,
        112,
        false,
        Optional.empty(),
        false);
  }

  /** An even port whose next one is free too, for UDP on loopback. */
  private static int freePortbase() throws IOException {
    for (int i = 0; i < 50; i++) {
      try (DatagramSocket probe = new DatagramSocket(0)) {
        int p = probe.getLocalPort() & ~1;
        if (p < 1024 || p > 65534) continue;
        probe.close();
        try (DatagramSocket a = new DatagramSocket(p);
            DatagramSocket b = new DatagramSocket(p + 1)) {
          return p;
        } catch (IOException taken) {
          // one of the pair is in use: try another
        }
      }
    }
    throw new IOException("no free pair of UDP ports");
  }

  private Path file(int bytes) throws IOException {
    byte[] data = new byte[bytes];
    new Random(3).nextBytes(data);
    return Files.write(dir.resolve("image.raw"), data);
  }

  @Test
  void aSessionOverLoopbackDeliversTheFileVerified() throws Exception {
    Path in = file(3 * 1024 * 1024 + 99);
    Path out = dir.resolve("out.raw");
    int portbase = freePortbase();
    NetInterface lo = NetInterface.byName("lo");
    try (FileChannel f = FileChannel.open(in, StandardOpenOption.READ);
        Target target = Target.open(out, 0, 0)) {
      UdpcastSender sender =
          new UdpcastSender(
              settings(portbase, Duration.ofSeconds(10)),
              f,
              f.size(),
              lo,
              new UdpcastSender.Listener() {});
      CompletableFuture<UdpcastSenderMachine> sent = sender.start();
      UdpcastReceiver receiver =
          new UdpcastReceiver(portbase, lo, target, Duration.ofSeconds(30), Duration.ZERO);
      UdpcastReceiver.Result r;
      try {
        r = receiver.start().get(120, TimeUnit.SECONDS);
      } finally {
        receiver.stop("the test ended");
        sender.close();
      }
      assertTrue(r.ok(), r.reason());
      assertTrue(r.verified(), "the image's SHA-256 checked against the sender's");
      assertArrayEquals(Files.readAllBytes(in), Files.readAllBytes(out));
      UdpcastSenderMachine m = sent.get(30, TimeUnit.SECONDS);
      assertTrue(m.complete());
      UdpcastSender.Counters c = sender.counters();
      assertEquals(m.blocksSent() + m.blocksResent(), c.packetsSent.get(), "every block counted");
      assertTrue(c.bytesSent.get() >= f.size(), "bytes counted: " + c.bytesSent.get());
      assertTrue(c.controlSent.get() > 0, "HELLO, REQACK, ...");
      assertTrue(c.received.get() > 0, "CONNECT_REQ, OK, ...");
    }
  }

  @Test
  void aReceiverThatNeverAnswersIsDroppedAndTheSessionEnds() throws Exception {
    Path in = file(1024 * 1024);
    int portbase = freePortbase();
    try (FileChannel f = FileChannel.open(in, StandardOpenOption.READ);
        DatagramSocket dead =
            new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), portbase))) {
      UdpcastSender sender =
          new UdpcastSender(
              settings(portbase, Duration.ofSeconds(1)),
              f,
              f.size(),
              NetInterface.byName("lo"),
              new UdpcastSender.Listener() {});
      CompletableFuture<UdpcastSenderMachine> sent = sender.start();
      try {
        // Connects, as a receiver does when it starts, and is never heard again.
        ByteBuf b = Unpooled.buffer();
        new ConnectReq(Udpcast.CAPS_DEFAULT, 1 << 20).encode(b);
        byte[] req = new byte[b.readableBytes()];
        b.readBytes(req);
        dead.send(
            new DatagramPacket(
                req,
                req.length,
                new InetSocketAddress(InetAddress.getLoopbackAddress(), portbase + 1)));
        UdpcastSenderMachine m = sent.get(60, TimeUnit.SECONDS);
        assertTrue(m.started());
        assertTrue(m.complete(), "none is left");
        UdpcastSenderMachine.Receiver r = m.receivers().iterator().next();
        assertEquals(UdpcastSenderMachine.State.DROPPED, r.state(), r.reason());
        assertTrue(sender.counters().packetsSent.get() > 0, "it was sent data first");
      } finally {
        sender.close();
      }
    }
  }

  @Test
  void anOperatorStopEndsAWaitingSessionAndFreesItsPorts() throws Exception {
    Path in = file(64 * 1024);
    int portbase = freePortbase();
    try (FileChannel f = FileChannel.open(in, StandardOpenOption.READ)) {
      UdpcastSender sender =
          new UdpcastSender(
              settings(portbase, Duration.ofSeconds(10)),
              f,
              f.size(),
              NetInterface.byName("lo"),
              new UdpcastSender.Listener() {});
      CompletableFuture<UdpcastSenderMachine> sent = sender.start();
      sender.close();
      UdpcastSenderMachine m = sent.get(30, TimeUnit.SECONDS);
      assertFalse(m.started());
      sender.close(); // again, after the end: nothing happens
      LoopbackPorts.awaitFree(portbase + 1, false);
    }
  }
}
