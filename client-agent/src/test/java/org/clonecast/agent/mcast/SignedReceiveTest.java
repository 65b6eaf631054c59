package org.clonecast.agent.mcast;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.clonecast.common.image.ImageReader;
import org.clonecast.common.net.NetInterface;
import org.clonecast.common.trust.ImageKey;
import org.clonecast.common.trust.ImageTrust;
import org.clonecast.protocol.image.Manifest;
import org.clonecast.protocol.image.ManifestSignature;
import org.clonecast.protocol.mcast.SenderMachine;
import org.clonecast.server.mcast.McastSender;
import org.clonecast.server.mcast.SendSettings;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The real sender and receiver on loopback: a receiver that trusts a key writes an image signed by
 * it, and refuses one that is unsigned, signed by another key or whose signature is of another
 * manifest, naming why, before its target is even opened (the file never appears, and an existing
 * one keeps every byte).
 */
class SignedReceiveTest {
  @TempDir Path dir;
  Path cci;
  byte[] disk;
  final ImageKey trusted = ImageKey.generate();

  @BeforeEach
  void image() throws IOException {
    disk = LoopbackSession.randomImage(dir, 2 * 1024 * 1024 + 4321, 5);
    cci = dir.resolve("disk.cci");
  }

  /**
   * Sends {@code cci} with {@code signatures} to one receiver with {@code trust} (a refused session
   * ends 3 s after the join).
   */
  private ReceiveResult receive(
      Path out, ImageTrust trust, Function<Manifest, List<ManifestSignature>> signatures)
      throws Exception {
    int port = LoopbackSession.freePort();
    NetInterface lo = NetInterface.byName("lo");
    SendSettings ss =
        LoopbackSession.sendSettings(port, 1, Duration.ofSeconds(3), Duration.ofSeconds(10), false);
    try (ImageReader source = ImageReader.open(cci)) {
      McastSender sender =
          new McastSender(
              ss,
              source,
              lo,
              new McastSender.SessionListener() {},
              signatures.apply(source.manifest()));
      CompletableFuture<SenderMachine> sent = sender.start();
      ReceiveSettings rs =
          LoopbackSession.receiveSettings(
              port, out, "test", ReceiveSettings.DEFAULT_IGMP_REJOIN, trust, true);
      ReceiveResult r =
          new McastReceiver(rs, lo, new McastReceiver.Listener() {})
              .start()
              .get(120, TimeUnit.SECONDS);
      SenderMachine m = sent.get(60, TimeUnit.SECONDS);
      assertEquals(1, m.receivers().size());
      if (!r.ok()) {
        SenderMachine.Receiver rr = m.receivers().iterator().next();
        assertEquals(
            SenderMachine.ReceiverState.FAILED, rr.state(), "the sender hears the refusal");
        assertEquals(r.reason(), rr.reason());
      }
      return r;
    }
  }

  private ImageTrust trust() {
    return new ImageTrust.Keys(List.of(trusted.publicKey()));
  }

  @Test
  void anImageSignedByTheTrustedKeyIsWritten() throws Exception {
    Path out = dir.resolve("out.raw");
    ReceiveResult r = receive(out, trust(), m -> List.of(trusted.sign(m)));
    assertTrue(r.ok(), r.reason());
    assertArrayEquals(disk, Files.readAllBytes(out));
  }

  @Test
  void unsignedForeignAndTamperedImagesAreRefusedBeforeTheTargetIsOpened() throws Exception {
    ImageKey rogue = ImageKey.generate();
    Path out = dir.resolve("never.raw");
    ReceiveResult unsigned = receive(out, trust(), m -> List.of());
    assertFalse(unsigned.ok());
    assertTrue(unsigned.reason().contains("the image is not signed"), unsigned.reason());
    assertFalse(Files.exists(out), "the target was opened for an unsigned image");

    ReceiveResult foreign = receive(out, trust(), m -> List.of(rogue.sign(m)));
    assertTrue(
        foreign.reason().contains("signed by an unknown key " + rogue.fingerprint()),
        foreign.reason());
    assertFalse(Files.exists(out));

    // The trusted key's signature of another manifest: what a rogue replaying a real signature has.
    Manifest other;
    try (ImageReader r = ImageReader.open(cci)) {
      Manifest m = r.manifest();
      other =
          new Manifest(new UUID(1, 2), m.logicalSize(), m.chunkSize(), m.chunks(), m.imageHash());
    }
    ReceiveResult tampered = receive(out, trust(), m -> List.of(trusted.sign(other)));
    assertTrue(
        tampered.reason().contains("bad signature by the trusted key " + trusted.fingerprint()),
        tampered.reason());
    assertFalse(Files.exists(out));

    // A target that exists keeps every byte.
    byte[] before = new byte[disk.length];
    new Random(9).nextBytes(before);
    Path existing = Files.write(dir.resolve("existing.raw"), before);
    assertFalse(receive(existing, trust(), m -> List.of(rogue.sign(m))).ok());
    assertArrayEquals(before, Files.readAllBytes(existing));
  }

  @Test
  void insecureUnsignedTakesAnUnsignedImage() throws Exception {
    Path out = dir.resolve("out.raw");
    ReceiveResult r = receive(out, new ImageTrust.InsecureUnsigned(), m -> List.of());
    assertTrue(r.ok(), r.reason());
    assertArrayEquals(disk, Files.readAllBytes(out));
  }
}
