package org.clonecast.agent.mcast;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.BitSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.clonecast.agent.receive.LoopbackPorts;
import org.clonecast.common.image.ImageReader;
import org.clonecast.common.net.NetInterface;
import org.clonecast.common.trust.ImageTrust;
import org.clonecast.protocol.image.Manifest;
import org.clonecast.protocol.mcast.ControlMessage;
import org.clonecast.protocol.mcast.McastPacket;
import org.clonecast.protocol.mcast.SenderMachine;
import org.clonecast.server.mcast.McastSender;
import org.clonecast.server.mcast.SendSettings;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The native sender's driver ({@code server.send.SendDriver} under {@link McastSender}) with a real
 * receiver in this process, on loopback only: a receiver that joins and then falls silent is
 * dropped while the other gets the whole image; an operator's stop ends the session for its
 * receivers and frees its ports.
 */
class McastDriverTest {
  @TempDir Path dir;
  Path cci;
  byte[] disk;

  @BeforeEach
  void image() throws IOException {
    disk = LoopbackSession.randomImage(dir, 3 * 1024 * 1024 + 777, 11);
    cci = dir.resolve("disk.cci");
  }

  private static SendSettings settings(int port, int minReceivers, Duration receiverTimeout) {
    return LoopbackSession.sendSettings(
        port, minReceivers, Duration.ofSeconds(30), receiverTimeout, true);
  }

  private static McastReceiver receiver(int port, Path out, McastReceiver.Listener listener)
      throws IOException {
    ReceiveSettings rs =
        LoopbackSession.receiveSettings(
            port, out, "live", Duration.ZERO, new ImageTrust.InsecureUnsigned(), false);
    return new McastReceiver(rs, NetInterface.byName("lo"), listener);
  }

  /** Writes one control frame as the framing does: a u32 length, then the message. */
  private static void frame(DataOutputStream out, ControlMessage m) throws IOException {
    ByteBuf b = Unpooled.buffer();
    m.encode(b);
    byte[] bytes = new byte[b.readableBytes()];
    b.readBytes(bytes);
    out.writeInt(bytes.length);
    out.write(bytes);
    out.flush();
  }

  @Test
  void aReceiverThatFallsSilentIsDroppedAndTheOtherGetsTheImage() throws Exception {
    int port = LoopbackSession.freePort();
    Path out = dir.resolve("out.raw");
    try (ImageReader source = ImageReader.open(cci)) {
      Manifest m = source.manifest();
      McastSender sender =
          new McastSender(
              settings(port, 2, Duration.ofSeconds(1)),
              source,
              NetInterface.byName("lo"),
              new McastSender.SessionListener() {});
      CompletableFuture<SenderMachine> sent = sender.start();
      // The dead one: joins, says it needs every chunk, and is never heard again (its host hung
      // with the connection open).
      try (Socket dead = new Socket(InetAddress.getLoopbackAddress(), port)) {
        DataOutputStream o = new DataOutputStream(dead.getOutputStream());
        frame(o, new ControlMessage.Hello(McastPacket.VERSION, 0, "dead"));
        BitSet all = new BitSet();
        all.set(0, m.chunkCount());
        frame(o, new ControlMessage.Need(all));
        ReceiveResult r;
        SenderMachine machine;
        try {
          r =
              receiver(port, out, new McastReceiver.Listener() {})
                  .start()
                  .get(120, TimeUnit.SECONDS);
          // The session ends without the operator: the silent one is dropped.
          machine = sent.get(30, TimeUnit.SECONDS);
        } finally {
          sender.close();
        }
        assertTrue(r.ok(), r.reason());
        assertArrayEquals(disk, Files.readAllBytes(out));
        SenderMachine.Receiver gone =
            machine.receivers().stream()
                .filter(x -> x.name().startsWith("dead@"))
                .findFirst()
                .get();
        assertEquals(SenderMachine.ReceiverState.GONE, gone.state(), gone.reason());
        assertTrue(gone.reason().contains("silent"), gone.reason());
        McastSender.Counters c = sender.counters();
        assertTrue(c.packetsSent.get() >= machine.sourceSymbolsSent(), "every data packet counted");
        assertTrue(c.bytesSent.get() > m.dataBytes() / 2, "bytes counted: " + c.bytesSent.get());
        assertTrue(c.times.busyNanos() > 0);
      }
    }
  }

  @Test
  void anOperatorStopEndsTheSessionForItsReceiversAndFreesItsPorts() throws Exception {
    int port = LoopbackSession.freePort();
    try (ImageReader source = ImageReader.open(cci)) {
      McastSender sender =
          new McastSender(
              settings(port, 2, Duration.ofSeconds(10)),
              source,
              NetInterface.byName("lo"),
              new McastSender.SessionListener() {});
      CompletableFuture<SenderMachine> sent = sender.start();
      CountDownLatch joined = new CountDownLatch(1);
      CompletableFuture<ReceiveResult> received =
          receiver(
                  port,
                  dir.resolve("out.raw"),
                  new McastReceiver.Listener() {
                    @Override
                    public void joined(Manifest manifest, int chunksNeeded) {
                      joined.countDown();
                    }
                  })
              .start();
      try {
        assertTrue(joined.await(60, TimeUnit.SECONDS), "the receiver joined");
      } finally {
        sender.close();
      }
      ReceiveResult r = received.get(60, TimeUnit.SECONDS);
      assertFalse(r.ok());
      assertTrue(r.reason().contains("sender stopped by operator"), r.reason());
      SenderMachine machine = sent.get(30, TimeUnit.SECONDS);
      assertFalse(machine.started(), "one of two receivers: never started");
      sender.close(); // again, after the end: nothing happens
      // Its sockets are closed: the TCP and UDP ports can be bound again.
      LoopbackPorts.awaitFree(port, true);
    }
  }
}
