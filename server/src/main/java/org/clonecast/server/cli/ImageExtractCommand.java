package org.clonecast.server.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.clonecast.common.image.ChunkSource;
import org.clonecast.common.image.ImageExtractor;
import org.clonecast.common.image.SourceDevice;
import org.clonecast.protocol.image.Manifest;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code clonecast image extract IMG -o RAW}: writes the raw disk back out, verified. A regular
 * file gets holes for zero chunks; a block device is written in place. Not thread-safe: one
 * instance per command line.
 */
@Command(
    name = "extract",
    mixinStandardHelpOptions = true,
    versionProvider = VersionProvider.class,
    description = "Write an image back out as a raw disk image file or onto a block device.")
public final class ImageExtractCommand implements Runnable {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Parameters(index = "0", paramLabel = "IMG", description = "Image file (.cci).")
  Path image;

  @Option(
      names = {"-o", "--output"},
      required = true,
      paramLabel = "RAW",
      description = "Raw file to create, or a block device to overwrite.")
  Path out;

  @Option(names = "--force", description = "Replace RAW if it is an existing regular file.")
  boolean force;

  @Option(
      names = "--skip-zeros",
      description =
          "On a block device, leave zero chunks unwritten (only when the device already reads as zeros).")
  boolean skipZeros;

  @CommandLine.Mixin ThreadsMixin threads;

  @Override
  public void run() {
    int t = threads.resolve();
    try (ChunkSource r = ImageCliErrors.openImage(image)) {
      boolean device = Files.exists(out) && SourceDevice.isDevice(out);
      if (!device) {
        ImageCliErrors.requireWritableTarget(out, force);
      }
      Manifest m = r.manifest();
      long start = System.nanoTime();
      ImageExtractor.Result res =
          ImageCliErrors.decoding(
              image,
              m,
              "extract",
              p ->
                  ImageExtractor.extract(
                      r, out, new ImageExtractor.Options(t, force, skipZeros, p)));
      PrintWriter w = spec.commandLine().getOut();
      w.println("extracted " + image + " to " + out + (res.device() ? " (device)" : ""));
      Map<String, String> facts = new LinkedHashMap<>();
      facts.put("written", ImageReport.size(res.bytesWritten()));
      facts.put("time", ImageReport.speed(m.logicalSize(), System.nanoTime() - start));
      facts.put("image sha256", m.imageHash().hex());
      ImageReport.print(w, facts);
    } catch (IOException e) {
      throw ImageCliErrors.io(e, out);
    }
  }
}
