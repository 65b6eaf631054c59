package org.clonecast.protocol.mcast;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import org.clonecast.protocol.image.ChunkCodec;
import org.clonecast.protocol.image.ChunkEntry;
import org.clonecast.protocol.image.ChunkKind;
import org.clonecast.protocol.image.Manifest;
import org.clonecast.protocol.image.ManifestSignature;
import org.clonecast.protocol.image.Sha256;
import org.clonecast.protocol.wire.MalformedPacketException;
import org.junit.jupiter.api.Test;

/** Encode/decode of every native packet and control frame, and what malformed input does. */
class McastWireTest {

  static byte[] bytes(McastPacket p) {
    ByteBuf b = Unpooled.buffer();
    p.encode(b);
    return ByteBufUtil.getBytes(b);
  }

  static byte[] bytes(ControlMessage m) {
    ByteBuf b = Unpooled.buffer();
    m.encode(b);
    return ByteBufUtil.getBytes(b);
  }

  static List<McastPacket> samples() {
    byte[] payload = new byte[300];
    for (int i = 0; i < payload.length; i++) payload[i] = (byte) (i * 7);
    return List.of(
        new DataPacket(0x12345678, -5, 17, 3, 9, Unpooled.wrappedBuffer(payload)),
        new RepairPacket(1, 2, 3, 4, 127, 600, Unpooled.wrappedBuffer(payload)),
        new Announce(
            9, 9400, 9401, 0xEFFF000B, 0, Announce.State.RUNNING, 1452, new UUID(1, 2), 1L << 40),
        new Nak(
            5,
            77,
            List.of(
                new Nak.Entry(12, new byte[] {1, 0, 3}, new byte[] {0, 0, 2}),
                new Nak.Entry(13, new byte[] {(byte) 200}, new byte[] {(byte) 128}))),
        new Status(5, 2, 20, 123456789L, 0xFFFFFFF0L, 10, 1024, 5L << 33, 7));
  }

  @Test
  void goldenDataPacketBytes() {
    DataPacket p =
        new DataPacket(
            0x01020304, 5, 6, 1, 2, Unpooled.wrappedBuffer(new byte[] {(byte) 0xAA, (byte) 0xBB}));
    assertEquals(
        "cc1d01010102030400000005000000060001000" + "2aabb", ByteBufUtil.hexDump(bytes(p)));
  }

  @Test
  void everySampleRoundTrips() {
    for (McastPacket p : samples()) {
      byte[] b = bytes(p);
      McastPacket back = McastPacket.decode(Unpooled.wrappedBuffer(b));
      assertArrayEquals(b, bytes(back), p.getClass().getSimpleName());
    }
  }

  @Test
  void longerPacketsDecodeIgnoringTheTail() {
    for (McastPacket p : samples()) {
      if (p instanceof DataPacket || p instanceof RepairPacket)
        continue; // their payload runs to the end
      byte[] b = bytes(p);
      ByteBuf longer = Unpooled.buffer().writeBytes(b).writeBytes(new byte[] {1, 2, 3, 4});
      assertArrayEquals(b, bytes(McastPacket.decode(longer)));
    }
  }

  @Test
  void aStatusWithoutTheOverflowFieldStillDecodes() {
    byte[] b = bytes(samples().get(4));
    Status s = (Status) McastPacket.decode(Unpooled.wrappedBuffer(b, 0, b.length - 2));
    assertEquals(0, s.overflowPermille());
    assertEquals(20, s.lossPermille());
  }

  @Test
  void everyTruncationIsAMalformedPacket() {
    for (McastPacket p : samples()) {
      byte[] b = bytes(p);
      int minimum =
          p instanceof DataPacket || p instanceof RepairPacket
              ? DataPacket.HEADER_BYTES + 1
              : p instanceof Status ? b.length - 2 : b.length; // STATUS's last field is optional
      for (int len = 0; len < minimum; len++) {
        ByteBuf cut = Unpooled.wrappedBuffer(b, 0, len);
        assertThrows(
            MalformedPacketException.class,
            () -> McastPacket.decode(cut),
            p.getClass().getSimpleName() + " cut at " + len);
      }
    }
  }

  @Property(tries = 2000)
  void corruptedPacketsDecodeOrFailCleanly(
      @ForAll @IntRange(min = 0, max = 4) int which,
      @ForAll @IntRange(min = 0, max = 60) int pos,
      @ForAll byte value) {
    byte[] b = bytes(samples().get(which));
    if (pos < b.length) b[pos] = value;
    try {
      McastPacket.decode(Unpooled.wrappedBuffer(b));
    } catch (MalformedPacketException expected) {
      // the only exception a decoder may throw
    }
  }

  @Test
  void wrongMagicVersionAndTypeAreNamed() {
    byte[] b = bytes(samples().get(2));
    b[0] = 0;
    assertEquals(
        "magic 0x001d, want 0xcc1d",
        assertThrows(
                MalformedPacketException.class, () -> McastPacket.decode(Unpooled.wrappedBuffer(b)))
            .getMessage());
    byte[] v = bytes(samples().get(2));
    v[2] = 9;
    assertEquals(
        "protocol version 9, want 1",
        assertThrows(
                MalformedPacketException.class, () -> McastPacket.decode(Unpooled.wrappedBuffer(v)))
            .getMessage());
    byte[] t = bytes(samples().get(2));
    t[3] = 99;
    assertEquals(
        "unknown packet type 99",
        assertThrows(
                MalformedPacketException.class, () -> McastPacket.decode(Unpooled.wrappedBuffer(t)))
            .getMessage());
  }

  @Provide
  Arbitrary<Nak> naks() {
    Arbitrary<Nak.Entry> entry =
        Arbitraries.integers()
            .between(1, 20)
            .flatMap(
                stripes ->
                    Arbitraries.bytes()
                        .array(byte[].class)
                        .ofSize(stripes)
                        .flatMap(
                            need ->
                                Arbitraries.bytes()
                                    .array(byte[].class)
                                    .ofSize(stripes)
                                    .flatMap(
                                        seen ->
                                            Arbitraries.integers()
                                                .between(0, Integer.MAX_VALUE)
                                                .map(c -> new Nak.Entry(c, need, seen)))));
    return entry
        .list()
        .ofMinSize(1)
        .ofMaxSize(Nak.MAX_ENTRIES)
        .flatMap(es -> Arbitraries.integers().between(0, 0xFFFF).map(id -> new Nak(3, id, es)));
  }

  @Property(tries = 300)
  void naksRoundTrip(@ForAll("naks") Nak nak) {
    assertEquals(nak, McastPacket.decode(Unpooled.wrappedBuffer(bytes(nak))));
  }

  static Manifest manifest() {
    List<ChunkEntry> e = new ArrayList<>();
    e.add(new ChunkEntry(0, ChunkKind.ZSTD, 64, 100, Sha256.of(new byte[32])));
    e.add(ChunkEntry.zero(1, ChunkCodec.zeroHash(4096)));
    e.add(new ChunkEntry(2, ChunkKind.RAW, 164, 4096, Sha256.of(new byte[32])));
    return new Manifest(new UUID(5, 6), 3 * 4096, 4096, e, Sha256.of(new byte[32]));
  }

  static List<ControlMessage> controlSamples() {
    BitSet need = new BitSet();
    need.set(0);
    need.set(2);
    need.set(1000);
    return List.of(
        new ControlMessage.Hello(1, 0, "node-17"),
        new ControlMessage.Welcome(7, 3, 0xEFFF0001, 9400, 1452, 0, manifest()),
        new ControlMessage.Need(need),
        new ControlMessage.Done(new int[] {0, 2, 1000}),
        new ControlMessage.Finished(
            false, "writing /dev/sdb failed: No space left on device", 10, 20, 3, 1),
        new ControlMessage.End("dropped: silent for 10.0 s"),
        ControlMessage.Checked.of(95, 95L << 20, need));
  }

  @Test
  void checkedCarriesNeedsAsRunsAndRefusesHostileRuns() {
    BitSet need = new BitSet();
    need.set(3, 7);
    need.set(9);
    need.set(1_000_000, 1_000_002);
    ControlMessage.Checked c = ControlMessage.Checked.of(12, 12L << 20, need);
    assertArrayEquals(new int[] {3, 4, 9, 1, 1_000_000, 2}, c.runs());
    assertEquals(7, c.chunksNeeded());
    BitSet within = new BitSet();
    within.set(3, 7);
    within.set(9);
    assertEquals(
        within,
        c.needed(100),
        "only indexes below the chunk count, without allocating for the rest");
    assertEquals(
        ControlMessage.Checked.of(5, 0, new BitSet()),
        ControlMessage.decode(
            Unpooled.wrappedBuffer(bytes(ControlMessage.Checked.of(5, 0, new BitSet())))));
    for (int[] runs :
        List.of(
            new int[] {5, 1, 5, 1},
            new int[] {5, 2, 6, 1},
            new int[] {5, 0},
            new int[] {-1, 1},
            new int[] {Integer.MAX_VALUE, 2},
            new int[] {9, 1, 3, 1})) {
      ByteBuf b = Unpooled.buffer();
      b.writeByte(ControlMessage.TYPE_CHECKED);
      b.writeInt(0);
      b.writeLong(0);
      b.writeInt(runs.length / 2);
      for (int r : runs) b.writeInt(r);
      MalformedPacketException e =
          assertThrows(
              MalformedPacketException.class,
              () -> ControlMessage.decode(b),
              Arrays.toString(runs));
      assertTrue(e.getMessage().startsWith("CHECKED"), e.getMessage());
    }
    ByteBuf huge = Unpooled.buffer();
    huge.writeByte(ControlMessage.TYPE_CHECKED);
    huge.writeInt(0);
    huge.writeLong(0);
    huge.writeInt(0x7FFFFFFF); // claims 2^31 runs in a 17-byte frame: refused before any allocation
    assertThrows(MalformedPacketException.class, () -> ControlMessage.decode(huge));
  }

  @Test
  void controlFramesRoundTrip() {
    for (ControlMessage m : controlSamples()) {
      byte[] b = bytes(m);
      ControlMessage back = ControlMessage.decode(Unpooled.wrappedBuffer(b));
      assertEquals(
          m instanceof ControlMessage.Need || m instanceof ControlMessage.Welcome
              ? m.getClass()
              : m,
          m instanceof ControlMessage.Need || m instanceof ControlMessage.Welcome
              ? back.getClass()
              : back);
      assertArrayEquals(b, bytes(back), m.getClass().getSimpleName());
    }
  }

  @Test
  void truncatedControlFramesAreMalformed() {
    for (ControlMessage m : controlSamples()) {
      byte[] b = bytes(m);
      for (int len = 0; len < b.length; len++) {
        if (m instanceof ControlMessage.Need && len > 5)
          continue; // a shorter bitmap is still a bitmap
        ByteBuf cut = Unpooled.wrappedBuffer(b, 0, len);
        int l = len;
        assertThrows(
            MalformedPacketException.class,
            () -> ControlMessage.decode(cut),
            m.getClass().getSimpleName() + " cut at " + l);
      }
    }
  }

  @Property(tries = 2000)
  void corruptedControlFramesDecodeOrFailCleanly(
      @ForAll @IntRange(min = 0, max = 6) int which,
      @ForAll @IntRange(min = 0, max = 200) int pos,
      @ForAll byte value) {
    byte[] b = bytes(controlSamples().get(which));
    if (pos < b.length) b[pos] = value;
    try {
      ControlMessage.decode(Unpooled.wrappedBuffer(b));
    } catch (MalformedPacketException expected) {
      // the only exception a decoder may throw
    }
  }

  // ---- seals and keys (docs/protocol.md §2 "Seals", §3 WELCOME) ------------------------------

  static final byte[] KEY = new byte[McastAuth.KEY_BYTES];

  static {
    for (int i = 0; i < KEY.length; i++) KEY[i] = (byte) (i * 13 + 1);
  }

  static List<McastPacket> sealedSamples() {
    return List.of(
        McastAuth.seal((Announce) samples().get(2), KEY, 1),
        McastAuth.seal((Nak) samples().get(3), KEY, 0xFFFFFFFFL),
        McastAuth.seal((Status) samples().get(4), KEY, 12345));
  }

  static McastPacket unsealed(McastPacket p) {
    return p instanceof Announce a
        ? a.withSeal(Optional.empty())
        : p instanceof Nak n
            ? n.withSeal(Optional.empty())
            : ((Status) p).withSeal(Optional.empty());
  }

  static Optional<Seal> sealOf(McastPacket p) {
    return p instanceof Announce a ? a.seal() : p instanceof Nak n ? n.seal() : ((Status) p).seal();
  }

  @Test
  void sealedPacketsRoundTripAndVerify() {
    for (McastPacket p : sealedSamples()) {
      byte[] b = bytes(p);
      assertEquals(bytes(unsealed(p)).length + Seal.BYTES, b.length, "the seal is appended");
      McastPacket back = McastPacket.decode(Unpooled.wrappedBuffer(b));
      assertEquals(p, back);
      assertArrayEquals(b, bytes(back));
      assertEquals(true, McastAuth.verify(unsealed(back), sealOf(back).orElseThrow(), KEY));
      byte[] other = KEY.clone();
      other[0] ^= 1;
      assertEquals(
          false,
          McastAuth.verify(unsealed(back), sealOf(back).orElseThrow(), other),
          "another key");
    }
  }

  @Test
  void aSealedPacketCutShortLosesItsSealOrIsMalformed() {
    for (McastPacket p : sealedSamples()) {
      byte[] b = bytes(p);
      int plain = bytes(unsealed(p)).length;
      for (int len = 0; len < b.length; len++) {
        ByteBuf cut = Unpooled.wrappedBuffer(b, 0, len);
        McastPacket back;
        try {
          back = McastPacket.decode(cut);
        } catch (MalformedPacketException expected) {
          continue;
        }
        assertEquals(
            true,
            len >= plain - (p instanceof Status ? 2 : 0),
            p.getClass().getSimpleName() + " cut at " + len + " decoded");
        assertEquals(
            Optional.empty(),
            sealOf(back),
            "a cut seal is no seal: the sender treats it as unsealed");
      }
    }
  }

  @Property(tries = 3000)
  void everyChangedByteOfASealedPacketIsCaught(
      @ForAll @IntRange(min = 0, max = 2) int which,
      @ForAll @IntRange(min = 0, max = 200) int pos,
      @ForAll @IntRange(min = 1, max = 255) int xor) {
    byte[] b = bytes(sealedSamples().get(which));
    if (pos >= b.length) return;
    b[pos] ^= (byte) xor;
    McastPacket back;
    try {
      back = McastPacket.decode(Unpooled.wrappedBuffer(b));
    } catch (MalformedPacketException expected) {
      return; // the only exception a decoder may throw
    }
    Optional<Seal> seal = sealOf(back);
    if (seal.isPresent() && McastAuth.verify(unsealed(back), seal.get(), KEY)) {
      // Only a byte no decoder reads (ANNOUNCE's reserved byte) may change under a valid seal: it
      // means nothing.
      assertEquals(
          sealedSamples().get(which),
          back,
          "byte " + pos + " ^ " + xor + " changed the packet under a valid seal");
    }
  }

  @Provide
  Arbitrary<Status> statuses() {
    return Arbitraries.integers()
        .between(0, 0xFFFF)
        .flatMap(
            id ->
                Arbitraries.integers()
                    .between(0, 1000)
                    .flatMap(
                        loss ->
                            Arbitraries.longs()
                                .between(0, 0xFFFFFFFFL)
                                .flatMap(
                                    n ->
                                        Arbitraries.longs()
                                            .between(0, 0xFFFFFFFFL)
                                            .map(
                                                counter ->
                                                    McastAuth.seal(
                                                        new Status(
                                                            9,
                                                            id,
                                                            loss,
                                                            n,
                                                            n ^ 0x5555,
                                                            n & 0xFFFF,
                                                            n >>> 16,
                                                            n * 3,
                                                            loss / 2),
                                                        KEY,
                                                        counter)))));
  }

  @Property(tries = 300)
  void sealedStatusesRoundTrip(@ForAll("statuses") Status s) {
    Status back = (Status) McastPacket.decode(Unpooled.wrappedBuffer(bytes(s)));
    assertEquals(s, back);
    assertEquals(
        true, McastAuth.verify(back.withSeal(Optional.empty()), back.seal().orElseThrow(), KEY));
  }

  @Property(tries = 300)
  void sealedNaksRoundTrip(@ForAll("naks") Nak nak, @ForAll @IntRange(min = 0) int counter) {
    Nak sealed = McastAuth.seal(nak, KEY, counter);
    Nak back = (Nak) McastPacket.decode(Unpooled.wrappedBuffer(bytes(sealed)));
    assertEquals(sealed, back);
    assertEquals(
        true, McastAuth.verify(back.withSeal(Optional.empty()), back.seal().orElseThrow(), KEY));
  }

  static ControlMessage.Welcome sealedWelcome() {
    byte[] other = KEY.clone();
    other[31] = 99;
    return new ControlMessage.Welcome(
        7,
        3,
        0xEFFF0001,
        9400,
        1452,
        McastPacket.CAP_SEALED,
        manifest(),
        Optional.of(new ControlMessage.Keys(KEY, other)));
  }

  @Test
  void aSealedWelcomeCarriesBothKeysAfterTheManifest() {
    ControlMessage.Welcome w = sealedWelcome();
    byte[] b = bytes(w);
    assertEquals(
        bytes(new ControlMessage.Welcome(7, 3, 0xEFFF0001, 9400, 1452, 0, manifest())).length
            + 2 * McastAuth.KEY_BYTES,
        b.length);
    ControlMessage.Welcome back =
        (ControlMessage.Welcome) ControlMessage.decode(Unpooled.wrappedBuffer(b));
    assertEquals(w.keys(), back.keys());
    assertArrayEquals(b, bytes(back));
    // A first-version receiver ignores what follows the manifest; a later one may append more.
    ByteBuf longer = Unpooled.buffer().writeBytes(b).writeBytes(new byte[] {1, 2, 3});
    assertEquals(w.keys(), ((ControlMessage.Welcome) ControlMessage.decode(longer)).keys());
  }

  @Test
  void aSealedWelcomeCutAnywhereIsMalformed() {
    byte[] b = bytes(sealedWelcome());
    for (int len = 0; len < b.length; len++) {
      ByteBuf cut = Unpooled.wrappedBuffer(b, 0, len);
      int l = len;
      assertThrows(
          MalformedPacketException.class, () -> ControlMessage.decode(cut), "WELCOME cut at " + l);
    }
  }

  @Property(tries = 2000)
  void corruptedSealedWelcomesDecodeOrFailCleanly(
      @ForAll @IntRange(min = 0, max = 400) int pos, @ForAll byte value) {
    byte[] b = bytes(sealedWelcome());
    if (pos < b.length) b[pos] = value;
    try {
      ControlMessage.decode(Unpooled.wrappedBuffer(b));
    } catch (MalformedPacketException expected) {
      // the only exception a decoder may throw
    }
  }

  static ControlMessage.Welcome signedWelcome() throws Exception {
    KeyPair a = KeyPairGenerator.getInstance("Ed25519").generateKeyPair();
    KeyPair b = KeyPairGenerator.getInstance("Ed25519").generateKeyPair();
    Manifest m = manifest();
    return sealedWelcome()
        .withSignatures(
            List.of(
                ManifestSignature.sign(m, a.getPrivate(), a.getPublic()),
                ManifestSignature.sign(m, b.getPrivate(), b.getPublic())));
  }

  @Test
  void aSignedWelcomeCarriesItsSignaturesAfterTheKeysAndOldReceiversStillReadIt() throws Exception {
    ControlMessage.Welcome w = signedWelcome();
    byte[] b = bytes(w);
    assertEquals(bytes(sealedWelcome()).length + 1 + 2 * ManifestSignature.LENGTH, b.length);
    ControlMessage.Welcome back =
        (ControlMessage.Welcome) ControlMessage.decode(Unpooled.wrappedBuffer(b));
    assertEquals(w.signatures(), back.signatures());
    assertEquals(w.keys(), back.keys());
    assertEquals(McastPacket.CAP_SEALED | McastPacket.CAP_SIGNED, back.capabilities());
    assertArrayEquals(b, bytes(back));
    // Unsealed and signed: the signatures follow the manifest directly.
    ControlMessage.Welcome plain =
        new ControlMessage.Welcome(7, 3, 0xEFFF0001, 9400, 1452, 0, manifest())
            .withSignatures(w.signatures());
    assertEquals(
        w.signatures(),
        ((ControlMessage.Welcome) ControlMessage.decode(Unpooled.wrappedBuffer(bytes(plain))))
            .signatures());
    // Without the bit, the bytes are what a first-version sender sent; withSignatures(none) takes
    // the bit off.
    assertArrayEquals(bytes(sealedWelcome()), bytes(w.withSignatures(List.of())));
    ByteBuf longer = Unpooled.buffer().writeBytes(b).writeBytes(new byte[] {9, 9});
    assertEquals(
        w.signatures(), ((ControlMessage.Welcome) ControlMessage.decode(longer)).signatures());
  }

  @Test
  void aSignedWelcomeCutAnywhereOrWithABadCountIsMalformed() throws Exception {
    byte[] b = bytes(signedWelcome());
    for (int len = 0; len < b.length; len++) {
      ByteBuf cut = Unpooled.wrappedBuffer(b, 0, len);
      int l = len;
      assertThrows(
          MalformedPacketException.class, () -> ControlMessage.decode(cut), "WELCOME cut at " + l);
    }
    int count = bytes(sealedWelcome()).length;
    for (int n : new int[] {0, 3, 5, 255}) {
      byte[] bad = b.clone();
      bad[count] = (byte) n;
      assertThrows(
          MalformedPacketException.class,
          () -> ControlMessage.decode(Unpooled.wrappedBuffer(bad)),
          "count " + n);
    }
    byte[] noMagic = b.clone();
    noMagic[count + 1] ^= 1;
    MalformedPacketException e =
        assertThrows(
            MalformedPacketException.class,
            () -> ControlMessage.decode(Unpooled.wrappedBuffer(noMagic)));
    assertEquals(true, e.getMessage().contains("no CCSG magic"), e.getMessage());
  }

  @Property(tries = 3000)
  void corruptedSignedWelcomesDecodeOrFailCleanly(
      @ForAll @IntRange(min = 0, max = 700) int pos,
      @ForAll byte value,
      @ForAll @IntRange(min = 0, max = 700) int cut)
      throws Exception {
    byte[] b = bytes(signedWelcome());
    if (pos < b.length) b[pos] = value;
    try {
      ControlMessage.decode(
          Unpooled.wrappedBuffer(b, 0, Math.min(b.length, Math.max(cut, b.length - 240))));
    } catch (MalformedPacketException expected) {
      // the only exception a decoder may throw
    }
  }

  @Test
  void aHelloWithANodeProofRoundTripsAndTheProofBindsSessionAndName() {
    byte[] hash = new byte[32];
    hash[0] = 7;
    byte[] proof = McastAuth.joinProof(hash, 42, "node01");
    ControlMessage.Hello h =
        new ControlMessage.Hello(
            McastPacket.VERSION,
            McastPacket.CAP_SEALED | McastPacket.CAP_NODE_PROOF,
            "node01",
            Optional.of(proof));
    byte[] b = bytes(h);
    assertEquals(
        bytes(new ControlMessage.Hello(McastPacket.VERSION, McastPacket.CAP_SEALED, "node01"))
                .length
            + 32,
        b.length);
    assertEquals(h, ControlMessage.decode(Unpooled.wrappedBuffer(b)));
    assertEquals(true, McastAuth.verifyJoin(hash, 42, "node01", proof));
    assertEquals(false, McastAuth.verifyJoin(hash, 43, "node01", proof), "another session");
    assertEquals(false, McastAuth.verifyJoin(hash, 42, "node02", proof), "another name");
    byte[] other = hash.clone();
    other[31] = 1;
    assertEquals(false, McastAuth.verifyJoin(other, 42, "node01", proof), "another secret");
    for (int len = 0; len < b.length; len++) {
      ByteBuf cut = Unpooled.wrappedBuffer(b, 0, len);
      int l = len;
      assertThrows(
          MalformedPacketException.class, () -> ControlMessage.decode(cut), "HELLO cut at " + l);
    }
  }

  @Property(tries = 2000)
  void corruptedHellosDecodeOrFailCleanly(
      @ForAll @IntRange(min = 0, max = 60) int pos, @ForAll byte value) {
    ControlMessage.Hello h =
        new ControlMessage.Hello(
            McastPacket.VERSION,
            McastPacket.CAP_SEALED | McastPacket.CAP_NODE_PROOF,
            "node01",
            Optional.of(new byte[32]));
    byte[] b = bytes(h);
    if (pos < b.length) b[pos] = value;
    try {
      ControlMessage.decode(Unpooled.wrappedBuffer(b));
    } catch (MalformedPacketException expected) {
      // the only exception a decoder may throw
    }
  }
}
