package org.clonecast.it.trust;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.clonecast.common.trust.ImageKey;
import org.clonecast.it.lab.Checkout;
import org.clonecast.it.lab.Host;
import org.clonecast.it.lab.Lab;
import org.clonecast.it.lab.LabProcess;
import org.clonecast.it.lab.LightLane;
import org.clonecast.it.lab.Prereqs;
import org.clonecast.it.lab.Signal;
import org.clonecast.it.lab.SigningLaunchers;
import org.clonecast.it.mcast.Images;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The multicast attacks and hangs of issue 13, in the namespace lab: a rogue host (the last agent,
 * running {@code trust/mcast_rogue.py}) beside real {@code clonecast-agent receive}s and the real
 * {@code clonecast send}. Every attack must fail, the real agents end byte-identical, the sender's
 * exit status and summary tell the truth, and every hang case ends within its bound with a clear
 * error. The rogue's loops are bounded in count and time; all traffic stays in the lab.
 */
@LightLane
class McastAbuseIT {
  private static final Duration SESSION = Duration.ofSeconds(150);

  @BeforeAll
  static void prerequisites() {
    Prereqs.requireRoot();
    Prereqs.require("ip", "java", "python3");
    Checkout.built(false);
  }

  /** The image key of this class's sessions: {@code send} signs with it, the agents trust it. */
  @TempDir static Path keys;

  private static SigningLaunchers launchers;

  @BeforeAll
  static void imageKey() throws IOException {
    launchers = SigningLaunchers.generate(keys);
  }

  private static Path out(Lab lab, Host h) {
    return lab.dir().resolve("out-" + h.name() + ".img");
  }

  private static List<String> rogue(Lab lab, String... args) throws IOException {
    Path script = lab.dir().resolve("mcast_rogue.py");
    if (!Files.exists(script)) {
      try (InputStream in = McastAbuseIT.class.getResourceAsStream("/trust/mcast_rogue.py")) {
        Files.copy(in, script);
      }
    }
    List<String> cmd = new ArrayList<>(List.of("python3", script.toString()));
    cmd.addAll(List.of(args));
    return cmd;
  }

  /**
   * Two real agents and a rogue. Before they join, the rogue joins by HELLO and disconnects; then
   * it joins again, asks for every chunk and never finishes, while it forges ENDED announcements,
   * STATUS claiming 100 % loss and NAKs for every chunk in the real receivers' names (and reports
   * 100 % loss and NAKs everything in its own). The real agents finish with exact copies; the
   * loiterer is dropped by the receiver deadline; both rogue joins are listed as gone and the
   * sender exits 0; the forged feedback is counted as not counted.
   */
  @Test
  void aRogueCannotEndSlowOrHoldASession() throws IOException {
    try (Lab lab = Lab.create("mabuse", 3)) {
      Path img = Images.mixed(lab.dir(), "disk.raw", 64, 11);
      String want = Images.sha256(img, Files.size(img));
      Host bad = lab.agent(3);
      LabProcess sender =
          lab.spawn(
              lab.server(),
              "send",
              launchers.clonecast(
                  "send",
                  img.toString(),
                  "--interface",
                  Lab.IFACE,
                  "--min-receivers",
                  "3",
                  "--max-wait",
                  "60",
                  "--receiver-deadline",
                  "25"),
              Map.of());
      await()
          .atMost(Duration.ofSeconds(60))
          .until(() -> sender.log().contains("waiting for 3 receiver(s)"));

      LabProcess leaver =
          lab.spawn(bad, "rogue-leave", rogue(lab, "leave", Lab.SERVER_IP), Map.of());
      assertEquals(0, leaver.waitFor(Duration.ofSeconds(60)), leaver.tail(10));
      LabProcess loiterer =
          lab.spawn(bad, "rogue-loiter", rogue(lab, "loiter", Lab.SERVER_IP, "60"), Map.of());
      await()
          .atMost(Duration.ofSeconds(60))
          .until(() -> loiterer.log().contains("joined session") || !loiterer.isAlive());
      assertTrue(loiterer.isAlive(), loiterer.tail(10));

      List<LabProcess> real = new ArrayList<>();
      for (Host a : List.of(lab.agent(1), lab.agent(2)))
        real.add(lab.spawn(a, "recv-" + a.name(), launchers.receive(out(lab, a)), Map.of()));
      for (LabProcess p : real) {
        assertEquals(0, p.waitFor(SESSION), p.name() + " failed:\n" + p.tail(20));
        assertEquals(
            want,
            Images.sha256(out(lab, p.host()), Files.size(img)),
            p.name() + " wrote a different image");
        assertFalse(
            p.log().contains("ended"), "a forged ENDED reached " + p.name() + ":\n" + p.tail(20));
      }
      // The loiterer is dropped 25 s after the start, and the sender ends right after.
      assertEquals(0, sender.waitFor(Duration.ofSeconds(60)), sender.tail(30));
      assertEquals(0, loiterer.waitFor(Duration.ofSeconds(30)), loiterer.tail(10));
      String summary = sender.log();
      assertTrue(
          summary.matches("(?s).*rogue-leaver@" + bad.ip() + " +gone .*control connection lost.*"),
          summary);
      assertTrue(
          summary.matches(
              "(?s).*rogue-loiterer@" + bad.ip() + " +gone .*receiver deadline of 25 s.*"),
          summary);
      for (Host a : List.of(lab.agent(1), lab.agent(2))) {
        assertTrue(summary.matches("(?s).*@" + a.ip() + " +ok .*"), a + " not ok in:\n" + summary);
      }
      assertTrue(summary.contains("2 receiver(s) done; 2 gone before receiving anything"), summary);
      Matcher notCounted =
          Pattern.compile("sender: (\\d+) STATUS/NAK packets not counted").matcher(summary);
      assertTrue(
          notCounted.find() && Long.parseLong(notCounted.group(1)) > 1000,
          "forged feedback was counted:\n" + summary);
      assertTrue(loiterer.log().contains("sender dropped us"), loiterer.log());
      // Repair stays bounded by what one receiver could plausibly lose (the image, about 17 MB
      // stored,
      // plus the slack), where the unbounded sender drew 113 MB for 5.4 MB of forged NAKs.
      Matcher repair = Pattern.compile("(\\d+) data \\+ (\\d+) repair packets").matcher(summary);
      assertTrue(repair.find(), summary);
      assertTrue(
          Long.parseLong(repair.group(2)) < 20_000,
          "repair packets: " + repair.group(2) + "\n" + summary);
    }
  }

  /**
   * A sender cut off mid-transfer (stopped: its TCP connection stays open) fails the agent within
   * --sender-timeout.
   */
  @Test
  void aSilentSenderFailsTheAgentWithinItsBound() throws IOException {
    try (Lab lab = Lab.create("msilent", 1)) {
      Path img = Images.mixed(lab.dir(), "disk.raw", 32, 12);
      Host a = lab.agent(1);
      LabProcess recv =
          lab.spawn(a, "recv", launchers.receive(out(lab, a), "--sender-timeout", "5"), Map.of());
      LabProcess sender =
          lab.spawn(
              lab.server(),
              "send",
              launchers.clonecast("send", img.toString(), "--interface", Lab.IFACE, "--rate", "8"),
              Map.of());
      await()
          .atMost(SESSION)
          .until(() -> recv.log().contains("mcast progress 25%") || !recv.isAlive());
      assertTrue(
          recv.isAlive(), "the agent ended before the sender could be cut off:\n" + recv.tail(10));
      sender.kill(Signal.STOP);
      try {
        int code = recv.waitFor(Duration.ofSeconds(30));
        assertNotEquals(0, code, recv.tail(10));
        assertTrue(recv.log().contains("the sender has been silent for 5 s"), recv.tail(10));
      } finally {
        sender.kill(Signal.CONT);
        sender.kill(Signal.TERM);
      }
    }
  }

  /**
   * {@code send --min-receivers 2 --max-wait 10}: the only receiver fails before the start (its
   * output cannot be opened). The sender ends 10 s after it joined, exit 1, naming the failure.
   */
  @Test
  void aSenderWhoseOnlyReceiverFailedBeforeTheStartEnds() throws IOException {
    try (Lab lab = Lab.create("mnostart", 1)) {
      Path img = Images.mixed(lab.dir(), "disk.raw", 8, 13);
      LabProcess sender =
          lab.spawn(
              lab.server(),
              "send",
              launchers.clonecast(
                  "send",
                  img.toString(),
                  "--interface",
                  Lab.IFACE,
                  "--min-receivers",
                  "2",
                  "--max-wait",
                  "10"),
              Map.of());
      LabProcess recv =
          lab.spawn(
              lab.agent(1),
              "recv",
              launchers.receive(lab.dir().resolve("no-such-dir/out.img")),
              Map.of());
      assertNotEquals(0, recv.waitFor(Duration.ofSeconds(60)), recv.tail(10));
      assertEquals(1, sender.waitFor(Duration.ofSeconds(60)), sender.tail(20));
      assertTrue(sender.log().matches("(?s).*FAILED .*no-such-dir.*"), sender.tail(20));
    }
  }

  /**
   * A rogue host runs a sender of its own (the real {@code clonecast send}, as an attacker would)
   * serving its image signed with its own key, then unsigned. An agent that trusts only the real
   * key and is pointed at the rogue refuses each, naming why, before it opens its target: no output
   * file appears. An agent that finds sessions by their announcements skips the rogue's (refused,
   * named in its log) and takes the real, signed session beside it: a byte-identical copy.
   */
  @Test
  void aRogueSendersForeignOrUnsignedImageIsRefusedBeforeAByteIsWritten() throws IOException {
    try (Lab lab = Lab.create("msigned", 3)) {
      Path img = Images.mixed(lab.dir(), "disk.raw", 16, 21);
      Path evil = Images.mixed(lab.dir(), "evil.raw", 16, 22);
      String want = Images.sha256(img, Files.size(img));
      Path rogueKey = Files.createDirectories(lab.dir().resolve("rogue-key"));
      ImageKey foreign = ImageKey.generate();
      ImageKey.write(rogueKey, foreign);
      Host rogueHost = lab.agent(3);
      String atRogue = rogueHost.ip() + ":9400";

      // Signed with the rogue's own key.
      LabProcess rogueSend =
          lab.spawn(
              rogueHost,
              "rogue-send-signed",
              Checkout.clonecast(
                  "send",
                  evil.toString(),
                  "--interface",
                  Lab.IFACE,
                  "--max-wait",
                  "30",
                  "--sign-key",
                  rogueKey.toString()),
              Map.of());
      LabProcess signedSend = rogueSend;
      await()
          .atMost(Duration.ofSeconds(60))
          .until(
              () ->
                  signedSend.log().contains("waiting for 1 receiver(s)") || !signedSend.isAlive());
      Host a = lab.agent(1);
      LabProcess foreignRecv =
          lab.spawn(
              a, "recv-foreign", launchers.receive(out(lab, a), "--server", atRogue), Map.of());
      assertEquals(1, foreignRecv.waitFor(Duration.ofSeconds(90)), foreignRecv.tail(10));
      assertTrue(
          foreignRecv.log().contains("signed by an unknown key " + foreign.fingerprint()),
          foreignRecv.tail(10));
      assertFalse(Files.exists(out(lab, a)), "nothing may be written for a refused image");
      assertNotEquals(0, rogueSend.waitFor(Duration.ofSeconds(60)), rogueSend.tail(10));
      assertTrue(
          rogueSend.log().contains("refused the image"),
          "the rogue's sender hears why:\n" + rogueSend.tail(10));

      // Unsigned.
      rogueSend =
          lab.spawn(
              rogueHost,
              "rogue-send-unsigned",
              Checkout.clonecast(
                  "send", evil.toString(), "--interface", Lab.IFACE, "--max-wait", "60"),
              Map.of());
      LabProcess unsignedSend = rogueSend;
      await()
          .atMost(Duration.ofSeconds(60))
          .until(
              () ->
                  unsignedSend.log().contains("waiting for 1 receiver(s)")
                      || !unsignedSend.isAlive());
      LabProcess unsignedRecv =
          lab.spawn(
              a, "recv-unsigned", launchers.receive(out(lab, a), "--server", atRogue), Map.of());
      assertEquals(1, unsignedRecv.waitFor(Duration.ofSeconds(90)), unsignedRecv.tail(10));
      assertTrue(unsignedRecv.log().contains("the image is not signed"), unsignedRecv.tail(10));
      assertFalse(Files.exists(out(lab, a)), "nothing may be written for a refused image");
      rogueSend.waitFor(Duration.ofSeconds(60));

      // Found by announcement: the rogue's session first (refused and skipped), then the real one.
      LabProcess rogueAgain =
          lab.spawn(
              rogueHost,
              "rogue-send-again",
              Checkout.clonecast(
                  "send",
                  evil.toString(),
                  "--interface",
                  Lab.IFACE,
                  "--max-wait",
                  "60",
                  "--sign-key",
                  rogueKey.toString()),
              Map.of());
      await()
          .atMost(Duration.ofSeconds(60))
          .until(() -> rogueAgain.log().contains("waiting for 1 receiver(s)"));
      Host b = lab.agent(2);
      LabProcess found = lab.spawn(b, "recv-discover", launchers.receive(out(lab, b)), Map.of());
      await()
          .atMost(Duration.ofSeconds(90))
          .until(() -> found.log().contains("refused the image") || !found.isAlive());
      assertTrue(found.log().contains("signed by an unknown key"), found.tail(10));
      assertFalse(Files.exists(out(lab, b)), "nothing may be written for a refused image");
      LabProcess sender =
          lab.spawn(
              lab.server(),
              "send",
              launchers.clonecast(
                  "send", img.toString(), "--interface", Lab.IFACE, "--max-wait", "60"),
              Map.of());
      assertEquals(0, found.waitFor(SESSION), found.tail(20));
      assertEquals(
          want, Images.sha256(out(lab, b), Files.size(img)), "the real image, byte for byte");
      assertEquals(0, sender.waitFor(Duration.ofSeconds(60)), sender.tail(20));
      rogueAgain.waitFor(Duration.ofSeconds(90));
    }
  }

  /**
   * A .cci with one damaged chunk: the sender fails naming the chunk, and so does the agent,
   * instead of looping.
   */
  @Test
  void aDamagedChunkEndsSenderAndAgentNamingIt() throws IOException {
    try (Lab lab = Lab.create("mchunk", 1)) {
      Path img = Images.mixed(lab.dir(), "disk.raw", 16, 14);
      Path cci = lab.dir().resolve("disk.cci");
      LabProcess create =
          lab.spawn(
              lab.server(),
              "create",
              launchers.clonecast("image", "create", img.toString(), "-o", cci.toString()),
              Map.of());
      assertEquals(0, create.waitFor(Duration.ofSeconds(120)), create.tail(20));
      // The first two MiB are zeros (not stored): the first stored chunk starts right after the
      // header.
      flip(cci, 64 + 1000);
      Host a = lab.agent(1);
      LabProcess recv = lab.spawn(a, "recv", launchers.receive(out(lab, a)), Map.of());
      LabProcess sender =
          lab.spawn(
              lab.server(),
              "send",
              launchers.clonecast("send", cci.toString(), "--interface", Lab.IFACE),
              Map.of());
      assertNotEquals(0, sender.waitFor(Duration.ofSeconds(60)), sender.tail(20));
      assertTrue(
          sender.log().matches("(?s).*the image is damaged: chunk \\d+ fails its check.*"),
          sender.tail(20));
      assertNotEquals(0, recv.waitFor(Duration.ofSeconds(30)), recv.tail(10));
      assertTrue(recv.log().matches("(?s).*chunk \\d+ fails its check.*"), recv.tail(10));
    }
  }

  /**
   * A .cci whose first byte is damaged is refused by send, naming the damage, never sent as a raw
   * disk.
   */
  @Test
  void aDamagedHeaderIsRefusedNotSentAsARawDisk() throws IOException {
    try (Lab lab = Lab.create("mheader", 1)) {
      Path img = Images.mixed(lab.dir(), "disk.raw", 8, 15);
      Path cci = lab.dir().resolve("disk.cci");
      LabProcess create =
          lab.spawn(
              lab.server(),
              "create",
              launchers.clonecast("image", "create", img.toString(), "-o", cci.toString()),
              Map.of());
      assertEquals(0, create.waitFor(Duration.ofSeconds(120)), create.tail(20));
      flip(cci, 0);
      LabProcess sender =
          lab.spawn(
              lab.server(),
              "send",
              launchers.clonecast("send", cci.toString(), "--interface", Lab.IFACE),
              Map.of());
      assertEquals(1, sender.waitFor(Duration.ofSeconds(60)), sender.tail(20));
      assertTrue(
          sender
              .log()
              .contains("refusing to read it as a raw disk: its first 8 bytes are the .cci magic"),
          sender.tail(20));
      assertFalse(sender.log().contains("chunking and compressing"), sender.tail(20));
    }
  }

  private static void flip(Path p, long offset) throws IOException {
    try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
      f.seek(offset);
      int b = f.read();
      f.seek(offset);
      f.write(b ^ 0x01);
    }
  }
}
