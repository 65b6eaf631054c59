package org.clonecast.protocol.udpcast;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.Unpooled;
import java.io.ByteArrayOutputStream;
import java.net.Inet4Address;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import org.clonecast.protocol.image.Sha256;
import org.clonecast.protocol.udpcast.UdpcastReceiverMachine.Action;
import org.clonecast.protocol.udpcast.UdpcastReceiverMachine.Join;
import org.clonecast.protocol.udpcast.UdpcastReceiverMachine.Send;
import org.clonecast.protocol.udpcast.UdpcastReceiverMachine.State;
import org.clonecast.protocol.udpcast.UdpcastReceiverMachine.Write;
import org.clonecast.protocol.wire.Ipv4;
import org.junit.jupiter.api.Test;

/**
 * {@link UdpcastReceiverMachine} fed as a stock udp-sender would feed it, with gaps, duplicates and
 * strangers.
 */
class UdpcastReceiverMachineTest {
  private static final long MS = 1_000_000L;
  private static final int SENDER = 0x0A4D0001;
  private static final int SPORT = 9001;
  private static final int BS = 8;
  private static final Inet4Address GROUP = Ipv4.fromInt(0xEA4D0001);

  private final UdpcastReceiverMachine m =
      new UdpcastReceiverMachine(UdpcastReceiverMachine.Settings.defaults(9000, 4 << 20), 0);
  private final byte[] image = new byte[5 * BS * 3 + 3];
  private final List<Write> writes = new ArrayList<>();
  private final List<UdpcastMessage> sent = new ArrayList<>();

  UdpcastReceiverMachineTest() {
    new Random(1).nextBytes(image);
  }

  private void from(UdpcastMessage msg, long now) {
    m.receive(SENDER, SPORT, msg, now);
    collect();
  }

  private void collect() {
    for (Action a : m.drain()) {
      if (a instanceof Write w) {
        writes.add(w);
        m.written(w);
      } else if (a instanceof Send s) {
        sent.add(s.message());
      }
    }
  }

  private void connect() {
    m.tick(0);
    from(new ConnectReply(3, BS, Udpcast.CAPS_DEFAULT, McastAddr.ofIpv4(GROUP)), 1);
    sent.clear();
  }

  /** Slices of 5 blocks of 8 bytes; slice 3 is the 3-byte tail. */
  private Data block(int slice, int b) {
    int sliceBytes = slice < 3 ? 5 * BS : 3;
    int off = slice * 5 * BS + b * BS;
    int len = Math.min(BS, sliceBytes - b * BS);
    return new Data(slice, b, sliceBytes, Unpooled.wrappedBuffer(image, off, len));
  }

  private static ReqAck reqAck(int slice, int bytes, int rxmit) {
    return new ReqAck(slice, bytes, rxmit, Bitmap1024.EMPTY);
  }

  private byte[] assembled() {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    long expect = 0;
    for (Write w : writes) {
      assertEquals(expect, w.offset(), "writes in order, at the sum of the previous slices");
      out.writeBytes(w.data());
      expect += w.data().length;
    }
    return out.toByteArray();
  }

  @Test
  void connectReqIsBroadcastRepeatedAnsweredToHelloAndStopsOnReply() {
    m.tick(0);
    Send first = (Send) m.drain().get(0);
    assertEquals(0, first.ip(), "broadcast");
    assertEquals(9001, first.port());
    assertInstanceOf(ConnectReq.class, first.message());
    m.tick(500 * MS);
    assertTrue(m.drain().isEmpty());
    m.tick(1250 * MS); // 1 s ± 25 %
    assertEquals(1, m.drain().size(), "re-sent on a timer: a stock sender says HELLO only once");
    m.receive(SENDER, SPORT, Hello.of(GROUP, BS), 1001 * MS);
    Send unicast = (Send) m.drain().get(0);
    assertEquals(SENDER, unicast.ip());
    m.receive(SENDER, 1234, new ConnectReply(0, BS, 9, McastAddr.ofIpv4(GROUP)), 1002 * MS);
    assertEquals(State.CONNECTING, m.state(), "wrong source port");
    m.receive(SENDER, SPORT, new ConnectReply(3, BS, 9, McastAddr.ofIpv4(GROUP)), 1003 * MS);
    assertEquals(List.of(new Join(GROUP)), m.drain());
    assertEquals(State.CONNECTED, m.state());
    assertEquals(3, m.clNr());
    m.tick(5000 * MS);
    assertTrue(m.drain().isEmpty(), "no more CONNECT_REQ once connected");
  }

  /**
   * Unanswered CONNECT_REQs back off (1, 2, 4, 8, then every 16 s, each ± 25 %), and receivers with
   * different seeds drift apart: a stock sender repeats its HELLO only after a second without any
   * receiver datagram, so steady 1 s retries from a few receivers silenced it.
   */
  @Test
  void unansweredConnectReqsBackOffWithJitter() {
    List<Long> a = connectReqTimes(11);
    List<Long> b = connectReqTimes(12);
    assertEquals(0, a.get(0));
    long[] nominal = {1, 2, 4, 8, 16, 16, 16};
    long at = 0;
    for (int i = 0; i < nominal.length; i++) {
      long gap = a.get(i + 1) - a.get(i);
      assertTrue(
          gap >= nominal[i] * 750 * MS - 10 * MS && gap <= nominal[i] * 1250 * MS + 10 * MS,
          "retry " + (i + 1) + " after " + gap / MS + " ms, nominal " + nominal[i] + " s");
      at += gap;
    }
    assertTrue(at < 90_000 * MS);
    assertTrue(!a.equals(b), "two seeds, two schedules: " + a + " " + b);
  }

  /**
   * When a receiver seeded with {@code seed} sends CONNECT_REQs in its first 80 s, ticked every 10
   * ms.
   */
  private static List<Long> connectReqTimes(long seed) {
    var r = new UdpcastReceiverMachine(UdpcastReceiverMachine.Settings.defaults(9000, 0), 0, seed);
    List<Long> times = new ArrayList<>();
    for (long t = 0; t <= 80_000 * MS; t += 10 * MS) {
      r.tick(t);
      for (var action : r.drain()) {
        if (action instanceof Send send && send.message() instanceof ConnectReq) times.add(t);
      }
    }
    return times;
  }

  @Test
  void inOrderWithDuplicatesAndReorderingEndsWithOkLingerAndDisconnect() {
    connect();
    for (int s = 0; s < 4; s++) {
      int blocks = s < 3 ? 5 : 1;
      for (int b = blocks - 1; b >= 0; b--) {
        from(block(s, b), 10);
        from(block(s, b), 10);
      }
      from(reqAck(s, s < 3 ? 5 * BS : 3, 0), 11);
      assertEquals(new Ok(s), sent.get(sent.size() - 1));
    }
    from(reqAck(4, 0, 0), 20 * MS);
    assertEquals(new Ok(4), sent.get(sent.size() - 1));
    assertEquals(State.LINGERING, m.state());
    from(reqAck(4, 0, 1), 300 * MS);
    assertEquals(new Ok(4), sent.get(sent.size() - 1), "repeats answered while lingering");
    m.tick(520 * MS);
    collect();
    assertEquals(new Disconnect(), sent.get(sent.size() - 1));
    assertEquals(State.DONE, m.state());
    assertArrayEquals(image, assembled());
    assertTrue(m.duplicates() >= 16);
  }

  /** Every data slice of the image, in order, each followed by its REQACK (answered OK). */
  private void allSlices(long now) {
    for (int sl = 0; sl < 4; sl++) {
      for (int b = 0; b < (sl < 3 ? 5 : 1); b++) from(block(sl, b), now);
      from(reqAck(sl, sl < 3 ? 5 * BS : 3, 0), now);
    }
  }

  private void connectWithExtensions() {
    m.tick(0);
    from(
        new ConnectReply(
            3, BS, Udpcast.CAPS_DEFAULT | Udpcast.CAP_CLONECAST, McastAddr.ofIpv4(GROUP)),
        1);
    sent.clear();
  }

  private static byte[] sha256(byte[] data) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(data);
    } catch (NoSuchAlgorithmException e) {
      throw new AssertionError(e);
    }
  }

  @Test
  void ourConnectReqOffersTheExtensionAndAStockReplyLeavesItOff() {
    m.tick(0);
    ConnectReq req = (ConnectReq) ((Send) m.drain().get(0)).message();
    assertEquals(Udpcast.CAPS_DEFAULT | Udpcast.CAP_CLONECAST, req.capabilities());
    connect(); // a stock sender's reply: no bit
    from(new ImageInfo(image.length, Optional.of(Sha256.of(new byte[32]))), 2);
    assertEquals(
        -1,
        m.expectedBytes(),
        "IMAGE_INFO from a sender that did not offer the extension is ignored");
    allSlices(3);
    from(reqAck(4, 0, 0), 4);
    assertEquals(new Ok(4), sent.get(sent.size() - 1), "no hash to wait for");
    assertEquals(State.LINGERING, m.state());
    assertTrue(!m.verified());
  }

  @Test
  void withTheExtensionTheEndIsAcknowledgedOnlyOnceTheHashCameAndMatches() {
    connectWithExtensions();
    from(new ImageInfo(image.length, Optional.empty()), 2);
    assertEquals(image.length, m.expectedBytes());
    allSlices(3);
    sent.clear();
    from(reqAck(4, 0, 0), 4);
    assertTrue(sent.isEmpty(), "the end's REQACK came before its hash: no OK yet");
    assertEquals(State.CONNECTED, m.state());
    from(new ImageInfo(image.length, Optional.of(Sha256.of(sha256(image)))), 5);
    assertEquals(List.of(new Ok(4)), sent, "the hash matches: OK at once");
    assertTrue(m.verified());
    assertEquals(State.LINGERING, m.state());
    assertArrayEquals(image, assembled());
  }

  @Test
  void aHashMismatchFailsWithDisconnectInsteadOfOk() {
    connectWithExtensions();
    byte[] wrong = sha256(image);
    wrong[0] ^= 1;
    allSlices(3);
    from(new ImageInfo(image.length, Optional.of(Sha256.of(wrong))), 4);
    sent.clear();
    from(reqAck(4, 0, 0), 5);
    assertEquals(List.of(new Disconnect()), sent);
    assertEquals(State.FAILED, m.state());
    assertTrue(m.reason().startsWith("the image differs from the sender's"), m.reason());
    assertTrue(!m.verified());
  }

  @Test
  void aChangedImageLengthFails() {
    connectWithExtensions();
    from(new ImageInfo(image.length, Optional.empty()), 2);
    from(new ImageInfo(image.length + 1L, Optional.empty()), 3);
    assertEquals(State.FAILED, m.state());
    assertEquals(List.of(new Disconnect()), sent);
  }

  @Test
  void aLostSliceIsCreatedAndAskedForInsteadOfAborting() {
    connect();
    for (int b = 0; b < 5; b++) from(block(0, b), 1);
    // all of slice 1 lost, data and REQACK; slice 2 arrives
    for (int b = 0; b < 5; b++) from(block(2, b), 2);
    assertEquals(1, writes.size(), "slice 2 waits: its offset depends on slice 1");
    from(reqAck(1, 5 * BS, 0), 3);
    Retransmit rt = (Retransmit) sent.get(sent.size() - 1);
    assertEquals(1, rt.sliceNo());
    assertEquals(0, rt.map().cardinality(), "an unseen slice: nothing there");
    for (int b = 0; b < 5; b++) from(block(1, b), 4);
    assertEquals(3, writes.size());
    from(reqAck(2, 5 * BS, 0), 5);
    assertEquals(new Ok(2), sent.get(sent.size() - 1));
    from(block(3, 0), 6);
    from(reqAck(4, 0, 0), 7);
    assertEquals(State.LINGERING, m.state());
    assertArrayEquals(image, assembled());
  }

  @Test
  void aPartialSliceAsksForWhatItLacksAndIgnoresReadySet() {
    connect();
    from(block(0, 0), 1);
    from(block(0, 3), 1);
    from(reqAck(0, 5 * BS, 2), 2);
    Retransmit rt = (Retransmit) sent.get(sent.size() - 1);
    assertEquals(Bitmap1024.of(0, 3), rt.map());
    assertEquals(2, rt.rxmit(), "round echoed");
    int before = sent.size();
    from(new ReqAck(0, 5 * BS, 3, Bitmap1024.of(3)), 3);
    assertEquals(before, sent.size(), "our bit is in readySet: no answer");
  }

  @Test
  void strangersAndContradictionsAreCountedAndDropped() {
    connect();
    m.receive(SENDER + 1, SPORT, block(0, 0), 1);
    m.receive(SENDER, SPORT + 2, block(0, 0), 1);
    assertEquals(2, m.rogue());
    from(block(0, 0), 2);
    from(new Data(0, 1, 4 * BS, Unpooled.wrappedBuffer(new byte[BS])), 2);
    from(new Data(0, 9, 5 * BS, Unpooled.wrappedBuffer(new byte[BS])), 2);
    assertEquals(2, m.inconsistent());
    assertEquals(State.CONNECTED, m.state());
  }

  @Test
  void okIsHeldBackWhileTheDiskIsBehind() {
    var small =
        new UdpcastReceiverMachine(
            new UdpcastReceiverMachine.Settings(9000, 0, MS, 10_000 * MS, 500 * MS, BS), 0);
    small.receive(SENDER, SPORT, new ConnectReply(0, BS, 9, McastAddr.ofIpv4(GROUP)), 0);
    small.drain();
    for (int b = 0; b < 5; b++) small.receive(SENDER, SPORT, block(0, b), 1);
    Write w = (Write) small.drain().get(0);
    small.receive(SENDER, SPORT, reqAck(0, 5 * BS, 0), 2);
    assertTrue(small.drain().isEmpty(), "backlog above the limit: no OK yet");
    small.written(w);
    small.receive(SENDER, SPORT, reqAck(0, 5 * BS, 1), 3);
    assertEquals(new Send(SENDER, SPORT, new Ok(0)), small.drain().get(0));
  }

  @Test
  void abortAndIdleTimeoutSayDisconnect() {
    connect();
    m.abort("interrupted");
    collect();
    assertEquals(new Disconnect(), sent.get(0));
    assertEquals(State.FAILED, m.state());

    var idle = new UdpcastReceiverMachine(UdpcastReceiverMachine.Settings.defaults(9000, 0), 0);
    idle.receive(SENDER, SPORT, new ConnectReply(0, BS, 9, McastAddr.ofIpv4(GROUP)), 0);
    idle.receive(SENDER, SPORT, block(0, 0), MS);
    idle.drain();
    idle.tick(29_000 * MS);
    assertEquals(State.CONNECTED, idle.state());
    idle.tick(31_000 * MS);
    assertEquals(State.FAILED, idle.state());
    assertEquals(new Send(SENDER, SPORT, new Disconnect()), idle.drain().get(0));
  }

  /** A 10-block slice in 2 stripes with 2 repair rows each: FEC replaces three lost blocks. */
  @Test
  void fecBlocksRecoverLostDataWithoutRetransmission() {
    var fm = new UdpcastReceiverMachine(UdpcastReceiverMachine.Settings.defaults(9000, 0), 0);
    byte[] img = new byte[9 * BS + 5];
    new Random(7).nextBytes(img);
    int blocks = 10;
    byte[][] sliceBlocks = new byte[blocks][];
    for (int b = 0; b < blocks; b++) {
      sliceBlocks[b] = Arrays.copyOfRange(img, b * BS, Math.min(img.length, (b + 1) * BS));
    }
    UdpcastFecLayout layout = new UdpcastFecLayout(2);
    fm.receive(SENDER, SPORT, new ConnectReply(0, BS, 9, McastAddr.ofIpv4(GROUP)), 0);
    fm.drain();
    // lose blocks 0 and 2 (stripe 0) and 5 (stripe 1)
    for (int b = 0; b < blocks; b++) {
      if (b != 0 && b != 2 && b != 5) {
        fm.receive(
            SENDER, SPORT, new Data(0, b, img.length, Unpooled.wrappedBuffer(sliceBlocks[b])), 1);
      }
    }
    for (int i = 0; i < 4; i++) {
      byte[] fec = new byte[BS];
      layout.encodeFec(sliceBlocks, blocks, BS, i, fec, 0);
      fm.receive(SENDER, SPORT, new Fec(2, 0, i, img.length, Unpooled.wrappedBuffer(fec)), 2);
    }
    Write w = (Write) fm.drain().get(0);
    assertArrayEquals(img, w.data());
    assertEquals(3, fm.fecRecovered());
    fm.receive(SENDER, SPORT, reqAck(0, img.length, 0), 3);
    assertEquals(new Send(SENDER, SPORT, new Ok(0)), fm.drain().get(0));
  }

  @Test
  void anAsyncHelloMakesUsPassiveAndZeroByteFecEndsTheTransfer() {
    m.tick(0);
    m.drain();
    m.receive(
        SENDER,
        SPORT,
        new Hello(
            Udpcast.OP_HELLO,
            Udpcast.CAPS_DEFAULT | Udpcast.CAP_ASYNC,
            McastAddr.ofIpv4(GROUP),
            BS),
        1);
    assertEquals(List.of(new Join(GROUP)), m.drain(), "no CONNECT_REQ to an async sender");
    assertTrue(m.passive());
    for (int s = 0; s < 4; s++) {
      for (int b = 0; b < (s < 3 ? 5 : 1); b++) from(block(s, b), 2);
    }
    from(reqAck(1, 5 * BS, 0), 3);
    from(new Fec(8, 4, 0, 0, Unpooled.wrappedBuffer(new byte[BS])), 4);
    m.tick(600 * MS);
    collect();
    assertTrue(sent.isEmpty(), "a passive receiver sends nothing: " + sent);
    assertEquals(State.DONE, m.state());
    assertArrayEquals(image, assembled());
  }

  @Test
  void anAsyncEndWithAHoleFails() {
    m.receive(
        SENDER,
        SPORT,
        new Hello(
            Udpcast.OP_HELLO,
            Udpcast.CAPS_DEFAULT | Udpcast.CAP_ASYNC,
            McastAddr.ofIpv4(GROUP),
            BS),
        1);
    m.drain();
    for (int b = 1; b < 5; b++) from(block(0, b), 2);
    from(new Fec(8, 1, 0, 0, Unpooled.wrappedBuffer(new byte[BS])), 4);
    assertEquals(State.FAILED, m.state());
    assertTrue(m.reason().contains("slice 0"), m.reason());
  }
}
