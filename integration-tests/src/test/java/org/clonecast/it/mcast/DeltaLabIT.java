package org.clonecast.it.mcast;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.clonecast.it.lab.Checkout;
import org.clonecast.it.lab.HeavyLane;
import org.clonecast.it.lab.Host;
import org.clonecast.it.lab.Lab;
import org.clonecast.it.lab.LabProcess;
import org.clonecast.it.lab.Prereqs;
import org.clonecast.it.lab.SigningLaunchers;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Delta sessions in the namespace lab with the real {@code clonecast send} and {@code
 * clonecast-agent receive}: the agents' disks (files) hold image v1, some with chunks damaged, or
 * nothing; the session sends v2, in which 3 of 64 chunks (5 %) changed. Every disk ends
 * byte-identical to v2, and the sender's own counters show what crossed the wire: the union of what
 * the receivers lacked.
 */
@HeavyLane
class DeltaLabIT {
  private static final Duration SESSION = Duration.ofSeconds(180);
  private static final int MIB = 1 << 20;

  /**
   * Chunks v2 changes: text and random chunks of {@link Images#mixed} (per 4 MiB: zeros, zeros,
   * text, random).
   */
  private static final int[] CHANGED = {6, 27, 43};

  /** Damage on agent 3: a text and a random chunk. */
  private static final int[] DAMAGED_3 = {10, 11};

  /**
   * Damage on agent 4: a chunk that is zeros in the image (fixed locally, never sent) and a random
   * one.
   */
  private static final int[] DAMAGED_4 = {4, 35};

  @TempDir static Path keys;

  private static SigningLaunchers launchers;

  @BeforeAll
  static void prerequisites() throws IOException {
    Prereqs.requireRoot();
    Prereqs.require("ip", "nft", "tc", "java");
    Checkout.built(false);
    launchers = SigningLaunchers.generate(keys);
  }

  /** v1 (64 MiB) and v2 (3 chunks changed) as raw files, and v2 as a signed-on-send .cci. */
  private record Versions(Path v1, Path v2, Path v2cci, String v2sha) {}

  private static Versions versions(Lab lab) throws IOException {
    Path v1 = Images.mixed(lab.dir(), "v1.raw", 64, 16);
    Path v2 = lab.dir().resolve("v2.raw");
    Files.copy(v1, v2);
    for (int c : CHANGED) scribble(v2, c, 1000 + c);
    Path cci = lab.dir().resolve("v2.cci");
    LabProcess create =
        lab.spawn(
            lab.server(),
            "create",
            Checkout.clonecast("image", "create", v2.toString(), "-o", cci.toString()),
            Map.of());
    assertEquals(0, create.waitFor(Duration.ofSeconds(120)), create.tail(20));
    return new Versions(v1, v2, cci, Images.sha256(v2, Files.size(v2)));
  }

  /** Overwrites 4 KiB in the middle of chunk {@code c} with seeded random bytes. */
  private static void scribble(Path disk, int c, long seed) throws IOException {
    byte[] b = new byte[4096];
    new Random(seed).nextBytes(b);
    try (var ch = FileChannel.open(disk, StandardOpenOption.WRITE)) {
      ch.write(ByteBuffer.wrap(b), (long) c * MIB + MIB / 2);
    }
  }

  /** Agent i's disk: v1, with agents 3 and 4 damaged; agent 5 (when asked) has none yet. */
  private static Path disk(Lab lab, Versions v, Host h, int i) throws IOException {
    Path d = lab.dir().resolve("disk-" + h.name() + ".img");
    Files.deleteIfExists(d);
    if (i == 5) return d;
    Files.copy(v.v1(), d, StandardCopyOption.REPLACE_EXISTING);
    for (int c : i == 3 ? DAMAGED_3 : i == 4 ? DAMAGED_4 : new int[0]) scribble(d, c, 7 * i + c);
    return d;
  }

  private record Session(String summary, List<Path> disks) {}

  private static Session session(Lab lab, Versions v, int agents) throws IOException {
    List<LabProcess> recv = new ArrayList<>();
    List<Path> disks = new ArrayList<>();
    for (int i = 1; i <= agents; i++) {
      Host h = lab.agent(i);
      Path d = disk(lab, v, h, i);
      disks.add(d);
      recv.add(lab.spawn(h, "recv-" + h.name(), launchers.receive(d.toString()), Map.of()));
    }
    LabProcess send =
        lab.spawn(
            lab.server(),
            "send",
            launchers.clonecast(
                "send",
                v.v2cci().toString(),
                "--interface",
                Lab.IFACE,
                "--min-receivers",
                Integer.toString(agents),
                "--max-wait",
                "120"),
            Map.of());
    assertEquals(0, send.waitFor(SESSION), send.tail(40));
    System.out.println(send.log()); // the summary, for the record
    for (LabProcess p : recv) {
      assertEquals(0, p.waitFor(Duration.ofSeconds(30)), p.name() + ":\n" + p.tail(20));
      assertTrue(
          p.log().contains("mcast target check") || p.name().endsWith(lab.agent(5).name()),
          p.log());
    }
    for (Path d : disks)
      assertEquals(v.v2sha(), Images.sha256(d, Files.size(v.v2())), d + " is not v2");
    return new Session(send.log(), disks);
  }

  /** The summary's "right" and "sent" columns (in chunks) for the receiver at {@code h}. */
  private static int[] rightAndSent(String summary, Host h) {
    Matcher m =
        Pattern.compile(
                "(?m)^\\d+\\s+\\S+@" + Pattern.quote(h.ip()) + "\\s+ok\\s+(\\S+)\\s+(\\d+)\\s")
            .matcher(summary);
    assertTrue(m.find(), "no summary line for " + h.ip() + ":\n" + summary);
    return new int[] {
      m.group(1).equals("-") ? -1 : Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2))
    };
  }

  /** The sender's chunk sends: {all, distinct}. */
  private static long[] chunkSends(String summary) {
    Matcher m =
        Pattern.compile("sender: (\\d+) chunk sends \\((\\d+) distinct\\) of (\\d+) stored chunks")
            .matcher(summary);
    assertTrue(m.find(), summary);
    return new long[] {Long.parseLong(m.group(1)), Long.parseLong(m.group(2))};
  }

  /**
   * Four agents hold v1 (two of them with damaged chunks), one holds nothing: each checks its disk
   * and asks only for what differs; the blank one needs every stored chunk, so the wire carries
   * each stored chunk once (the union), and the others write only what they lacked.
   */
  @Test
  void fourDisksHoldingV1AndOneBlankAllEndAsV2() throws IOException {
    try (Lab lab = Lab.create("delta", 5)) {
      Versions v = versions(lab);
      Session s = session(lab, v, 5);
      // 64 chunks: 32 zero (never sent), 32 stored. Right: what each disk held of v2, zero chunks
      // included.
      assertEquals(61, rightAndSent(s.summary(), lab.agent(1))[0], s.summary());
      assertEquals(3, rightAndSent(s.summary(), lab.agent(1))[1], s.summary());
      assertEquals(61, rightAndSent(s.summary(), lab.agent(2))[0], s.summary());
      assertEquals(59, rightAndSent(s.summary(), lab.agent(3))[0], s.summary());
      assertEquals(5, rightAndSent(s.summary(), lab.agent(3))[1], s.summary());
      assertEquals(59, rightAndSent(s.summary(), lab.agent(4))[0], s.summary());
      assertEquals(
          4,
          rightAndSent(s.summary(), lab.agent(4))[1],
          "its damaged zero chunk is zeroed locally, not sent");
      assertEquals(32, rightAndSent(s.summary(), lab.agent(5))[1], s.summary());
      long[] sends = chunkSends(s.summary());
      assertEquals(32, sends[1], "the union is all 32 stored chunks:\n" + s.summary());
      // Each about once: on a crowded host a receiver that fell behind gets a chunk again on a
      // later pass.
      assertTrue(sends[0] <= 64, "chunk sends " + sends[0] + ":\n" + s.summary());
    }
  }

  /**
   * The same four disks without the blank one: the wire carries the union of what they lack (the 3
   * changed chunks and the 3 damaged stored ones), about 6 of the 32 stored chunks, not the image.
   */
  @Test
  void disksHoldingV1GetOnlyTheUnionOfWhatTheyLack() throws IOException {
    try (Lab lab = Lab.create("deltaunion", 4)) {
      Versions v = versions(lab);
      Session s = session(lab, v, 4);
      long[] sends = chunkSends(s.summary());
      assertEquals(
          6,
          sends[1],
          "the union is 6 chunks: 3 changed, 3 damaged (the damaged zero chunk is zeroed locally):\n"
              + s.summary());
      assertTrue(
          sends[0] <= 12,
          "each about once (a crowded host resends some): " + sends[0] + "\n" + s.summary());
      Matcher bytes =
          Pattern.compile("(\\d+) bytes sent \\((\\d+) bytes stored in the image\\)")
              .matcher(s.summary());
      assertTrue(bytes.find(), s.summary());
      long sent = Long.parseLong(bytes.group(1));
      long stored = Long.parseLong(bytes.group(2));
      // 4 of the 6 are random chunks: about a quarter of the stored bytes, resends included less
      // than half.
      assertTrue(
          sent < stored / 2,
          "a delta of 6 of 32 stored chunks sent " + sent + " of " + stored + " bytes");
    }
  }
}
