package org.clonecast.server.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.clonecast.common.cli.CliException;
import org.clonecast.common.cli.ExitCodes;
import org.clonecast.common.cli.ProgressBar;
import org.clonecast.common.disk.DiskAllocation;
import org.clonecast.common.disk.DiskPlan;
import org.clonecast.common.disk.DiskRefusedException;
import org.clonecast.common.image.ImageCreator;
import org.clonecast.common.image.SourceDevice;
import org.clonecast.protocol.image.AllocationMap;
import org.clonecast.protocol.image.ChunkCodec;
import org.clonecast.protocol.image.Manifest;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code clonecast image create SRC -o OUT.cci}: chunk, compress and hash a disk or raw file. Not
 * thread-safe: one instance per command line.
 */
@Command(
    name = "create",
    mixinStandardHelpOptions = true,
    versionProvider = VersionProvider.class,
    description = {
      "Create a chunked image from a raw disk image file or a block device.",
      "Only the bytes its partition tables and filesystems use are carried (partclone's used-block maps);",
      "a filesystem mounted read-write or not clean is refused."
    })
public final class ImageCreateCommand implements Runnable {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Parameters(
      index = "0",
      paramLabel = "SRC",
      description = "Raw image file or block device (e.g. /dev/sda).")
  Path src;

  @Option(
      names = {"-o", "--output"},
      required = true,
      paramLabel = "OUT.cci",
      description = "Image file to create.")
  Path out;

  @Option(
      names = "--chunk-size",
      paramLabel = "SIZE",
      defaultValue = "1M",
      converter = ByteSizeConverter.class,
      description =
          "Logical chunk size, a power of two from 4K to 64M (default: ${DEFAULT-VALUE}).")
  int chunkSize;

  @Option(
      names = "--level",
      paramLabel = "N",
      defaultValue = "" + ChunkCodec.DEFAULT_LEVEL,
      description = "zstd level; higher is smaller and slower (default: ${DEFAULT-VALUE}).")
  int level;

  @CommandLine.Mixin ThreadsMixin threads;

  @Option(
      names = "--force",
      description = "Replace OUT if it exists (atomically, once the new image is complete).")
  boolean force;

  @Option(
      names = "--whole-disk",
      description = {
        "Carry every byte of SRC (zero chunks still skipped) instead of only what its",
        "partition tables and filesystems use."
      })
  boolean wholeDisk;

  @Option(
      names = "--allow-unclean",
      description = {
        "Image filesystems that are mounted read-write or not clean (carried whole)",
        "instead of refusing them."
      })
  boolean allowUnclean;

  @Override
  public void run() {
    ImageCliErrors.quietLogs();
    try {
      Manifest.checkChunkSize(chunkSize);
    } catch (IllegalArgumentException e) {
      throw new CommandLine.ParameterException(
          spec.commandLine(), "--chunk-size: " + e.getMessage());
    }
    if (level < ChunkCodec.minLevel() || level > ChunkCodec.maxLevel()) {
      throw new CommandLine.ParameterException(
          spec.commandLine(),
          "--level "
              + level
              + " is not a zstd level; use "
              + ChunkCodec.minLevel()
              + " to "
              + ChunkCodec.maxLevel());
    }
    int t = threads.resolve();
    ImageCliErrors.requireReadable(src, "source");
    ImageCliErrors.requireWritableTarget(out, force);
    try {
      if (!Files.isRegularFile(src) && !SourceDevice.isBlockDevice(src)) {
        throw new CliException(
            ExitCodes.ENVIRONMENT,
            "source " + src + " is neither a regular file nor a block device");
      }
      long size;
      try (FileChannel ch = FileChannel.open(src)) {
        size = SourceDevice.size(src, ch);
      }
      long start = System.nanoTime();
      AllocationMap map = wholeDisk ? AllocationMap.whole(size) : plan(src);
      ProgressBar bar = ProgressBar.forTerminal("create", size);
      Manifest m = ImageCreator.create(src, out, chunkSize, level, t, force, map, bar::update);
      bar.finish();
      long nanos = System.nanoTime() - start;
      PrintWriter w = spec.commandLine().getOut();
      w.println("created " + out);
      Map<String, String> facts = ImageReport.facts(m);
      facts.put("time", ImageReport.speed(m.logicalSize(), nanos));
      ImageReport.print(w, facts);
    } catch (IOException e) {
      throw ImageCliErrors.io(e, out);
    }
  }

  /** Which bytes of {@code src} to carry (docs/capture.md), told to the operator on stderr. */
  private AllocationMap plan(Path src) throws IOException {
    try {
      DiskPlan plan = DiskAllocation.plan(src, allowUnclean);
      spec.commandLine().getErr().println(plan.describe());
      return plan.map();
    } catch (DiskRefusedException e) {
      throw new CliException(
          ExitCodes.ENVIRONMENT,
          e.getMessage().replace("capture with --force", "use --allow-unclean")
              + "\n(--whole-disk carries every byte without looking at filesystems)");
    }
  }
}
