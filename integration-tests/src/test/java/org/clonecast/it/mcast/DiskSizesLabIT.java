package org.clonecast.it.mcast;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.clonecast.it.lab.Checkout;
import org.clonecast.it.lab.GoldenDisks;
import org.clonecast.it.lab.Host;
import org.clonecast.it.lab.Lab;
import org.clonecast.it.lab.LabProcess;
import org.clonecast.it.lab.LightLane;
import org.clonecast.it.lab.Prereqs;
import org.clonecast.it.lab.SigningLaunchers;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One golden disk (64 MiB, GPT, an ext4 root from 1 MiB to 48 MiB) sent in one session to three
 * loop devices of other sizes: 96 MiB (1.5 times) with {@code --grow}, 56 MiB (smaller, but the
 * partition fits) and 32 MiB (too small). The large one ends with its backup GPT at its end and a
 * root partition and filesystem that fill it (fsck clean); the smaller one holds the golden's data
 * with its backup GPT moved in; the too-small one is refused before anything is written to it,
 * naming the sizes.
 */
@LightLane
class DiskSizesLabIT {
  private static final GoldenDisks GOLDEN = new GoldenDisks(2048, 47 * 2048, 0);
  private static final long MIB = 1 << 20;

  @TempDir static Path keys;

  private static SigningLaunchers launchers;

  @BeforeAll
  static void prerequisites() throws IOException {
    Prereqs.requireRoot();
    Prereqs.require(
        "ip",
        "nft",
        "tc",
        "java",
        "sfdisk",
        "sgdisk",
        "mkfs.ext4",
        "debugfs",
        "e2fsck",
        "dumpe2fs",
        "resize2fs",
        "losetup");
    Checkout.built(false);
    launchers = SigningLaunchers.generate(keys);
  }

  private static String run(String... cmd) throws IOException, InterruptedException {
    return GoldenDisks.run(cmd);
  }

  @Test
  void aLargerDiskGrowsASmallerOneThatFitsIsWrittenATooSmallOneIsRefused() throws Exception {
    List<String> loops = new ArrayList<>();
    try (Lab lab = Lab.create("sizes", 3)) {
      Path tree = GoldenDisks.goldenTree(lab.dir());
      byte[] data = new byte[8 << 20];
      new Random(3).nextBytes(data);
      Files.createDirectories(tree.resolve("srv"));
      Files.write(tree.resolve("srv/data.bin"), data);
      Path golden = GOLDEN.build(tree, lab.dir().resolve("golden.img"));
      String wantData = GOLDEN.sha(golden, "/srv/data.bin", lab.dir());
      Path cci = lab.dir().resolve("golden.cci");
      LabProcess create =
          lab.spawn(
              lab.server(),
              "create",
              Checkout.clonecast("image", "create", golden.toString(), "-o", cci.toString()),
              Map.of());
      assertEquals(0, create.waitFor(Duration.ofSeconds(120)), create.tail(20));

      long[] sizes = {96 * MIB, 56 * MIB, 32 * MIB};
      List<Path> backing = new ArrayList<>();
      for (int i = 0; i < sizes.length; i++) {
        Path b = lab.dir().resolve("target" + i + ".img");
        byte[] old = new byte[(int) sizes[i]];
        new Random(40 + i).nextBytes(old); // whatever the node's disk held before
        Files.write(b, old);
        backing.add(b);
        loops.add(run("losetup", "--find", "--show", b.toString()).trim());
      }
      String tooSmallBefore = Images.sha256(backing.get(2), sizes[2]);

      List<LabProcess> agents = new ArrayList<>();
      for (int i = 0; i < sizes.length; i++) {
        Host h = lab.agent(i + 1);
        List<String> cmd = launchers.receive(loops.get(i));
        if (i == 0) cmd.add("--grow");
        agents.add(lab.spawn(h, "recv-" + h.name(), cmd, Map.of()));
      }
      LabProcess send =
          lab.spawn(
              lab.server(),
              "send",
              launchers.clonecast(
                  "send",
                  cci.toString(),
                  "--interface",
                  Lab.IFACE,
                  "--min-receivers",
                  "3",
                  "--max-wait",
                  "120"),
              Map.of());
      assertEquals(
          1,
          send.waitFor(Duration.ofSeconds(180)),
          "one receiver refused its disk:\n" + send.tail(40));
      System.out.println(send.log()); // the summary, for the record
      assertEquals(0, agents.get(0).waitFor(Duration.ofSeconds(120)), agents.get(0).tail(30));
      assertEquals(0, agents.get(1).waitFor(Duration.ofSeconds(60)), agents.get(1).tail(30));
      assertEquals(1, agents.get(2).waitFor(Duration.ofSeconds(60)), agents.get(2).tail(30));
      for (String l : loops) run("losetup", "-d", l);
      loops.clear();

      // Too small: refused before the first write, naming the sizes; its disk is as it was.
      String refusal = agents.get(2).log();
      assertTrue(
          refusal.contains(
              "is too small: 33554432 bytes, the image is 67108864: its partition 1 ends at byte 50331648, and the"
                  + " backup GPT takes 16896 more; the disk needs at least 50348544 bytes"),
          refusal);
      assertEquals(
          tooSmallBefore,
          Images.sha256(backing.get(2), sizes[2]),
          "nothing was written to the too-small disk");

      // Larger, grown: the backup GPT at its end, the root partition and ext4 fill it, fsck clean.
      Path big = backing.get(0);
      GoldenDisks grown = GOLDEN.assertGrown(big, sizes[0]);
      assertEquals(
          wantData, grown.sha(big, "/srv/data.bin", lab.dir()), "the data came through intact");

      // Smaller, fits: the golden's root as it was (image create carries its used blocks), the
      // backup GPT moved to the disk's end.
      Path small = backing.get(1);
      String verify = run("sgdisk", "-v", small.toString());
      assertTrue(verify.contains("No problems found"), verify);
      GOLDEN.fsck(small);
      assertEquals(wantData, GOLDEN.sha(small, "/srv/data.bin", lab.dir()));
    } finally {
      for (String l : loops) run("losetup", "-d", l);
    }
  }
}
