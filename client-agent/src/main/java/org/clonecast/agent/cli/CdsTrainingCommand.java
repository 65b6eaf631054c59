package org.clonecast.agent.cli;

import java.net.URI;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.UUID;
import java.util.concurrent.Callable;
import org.clonecast.agent.disk.DiskInventory;
import org.clonecast.agent.report.ServerClient;
import org.clonecast.common.api.AgentJson;
import org.clonecast.common.api.Assignment;
import org.clonecast.common.api.RegisterRequest;
import org.clonecast.common.cli.ExitCodes;
import org.clonecast.common.disk.DiskAllocation;
import org.clonecast.common.disk.DiskPlan;
import org.clonecast.common.image.ChunkScanner;
import org.clonecast.protocol.image.Manifest;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/**
 * The training run of the agent's class-data sharing archive ({@code -XX:ArchiveClassesAtExit},
 * made by the {@code clonecast-agent} launcher and by {@code bootenv/build.sh}): goes through the
 * paths a node's agent takes, against a server that is not there, so that their classes are mapped
 * from the archive at every start instead of being loaded from the jar. A {@code receive} alone
 * (the training before) left 1,840 classes of a capture out: the HTTP client and the default TLS
 * context it builds even for {@code http://}, Jackson, the disk plan and the scan (about 0.5 CPU
 * seconds at every agent start, docs/benchmarks.md, "Where the network capture waited").
 *
 * <p>Writes only under the scratch directory it is given; every call to the server fails at once
 * (nothing listens on port 9 of loopback). Not for operators: hidden from the help.
 */
@Command(
    name = "cds-training",
    hidden = true,
    description = "The class-data sharing archive's training run (launchers and bootenv only).")
final class CdsTrainingCommand implements Callable<Integer> {
  private static final String NOWHERE = "127.0.0.1:9";
  private static final String MAC = "02:00:00:00:00:01";

  @Parameters(index = "0", description = "A scratch directory, emptied by the caller afterwards.")
  Path scratch;

  /** One step of the training. */
  private interface Step {
    void run() throws Exception;
  }

  @Override
  public Integer call() {
    // Re-imaging: the multicast receive path, given up at once.
    Main.run(
        "receive",
        "--interface",
        "lo",
        "--output",
        scratch.resolve("receive").toString(),
        "--server",
        NOWHERE,
        "--join-timeout",
        "1",
        "--insecure-unsigned",
        "--name",
        "cds-training");
    // A node's start: the boot script for its secret through the HTTP client (refused at once).
    Main.run("auto", "--server", "http://" + NOWHERE, "--mac", MAC, "--interface", "lo");
    ServerClient api = new ServerClient(URI.create("http://" + NOWHERE), "0");
    // Each step on its own: one that fails where the training runs (no /sys in bootenv's chroot)
    // leaves the others' classes in the archive.
    step(
        () -> {
          // The registration's JSON both ways.
          RegisterRequest register =
              new RegisterRequest(MAC, DiskInventory.list(Path.of("/sys/block")), 1, 1L << 30);
          AgentJson.read(AgentJson.bytes(register), RegisterRequest.class);
        });
    step(
        () -> {
          Assignment capture =
              new Assignment.Capture(
                  1,
                  "cds-training",
                  UUID.randomUUID(),
                  "/dev/null",
                  Manifest.DEFAULT_CHUNK_SIZE,
                  3,
                  false);
          AgentJson.read(AgentJson.tree(AgentJson.bytes(capture)), Assignment.class);
        });
    step(() -> api.captureBegin(1, MAC, 1L << 20, Manifest.DEFAULT_CHUNK_SIZE, true));
    // A capture: the disk's plan, the scan, one chunk's upload (refused at once).
    step(
        () -> {
          Path disk = scratch.resolve("disk");
          Files.writeString(disk, "clonecast class-data sharing training\n".repeat(100_000));
          DiskPlan plan = DiskAllocation.plan(disk, false);
          try (FileChannel in = FileChannel.open(disk, StandardOpenOption.READ)) {
            ChunkScanner.scan(
                disk,
                in,
                in.size(),
                plan.map(),
                UUID.randomUUID(),
                Manifest.DEFAULT_CHUNK_SIZE,
                3,
                2,
                16,
                done -> {},
                (entry, chunk) -> {
                  if (entry.index() == 0 && entry.kind().isStored()) {
                    step(() -> api.capturePut(1, MAC, 0, -1, chunk, entry.used().bitmap()).join());
                  }
                });
          }
        });
    return ExitCodes.OK;
  }

  private static void step(Step s) {
    try {
      s.run();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (Exception expected) {
      // Nothing listens on the server's port, and a chroot may lack /sys: the classes the
      // attempt loaded are what the archive needs.
    }
  }
}
