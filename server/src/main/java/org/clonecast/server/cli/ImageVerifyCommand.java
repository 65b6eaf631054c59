package org.clonecast.server.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import org.clonecast.common.image.ChunkSource;
import org.clonecast.common.image.ImageVerifier;
import org.clonecast.protocol.image.Manifest;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/**
 * {@code clonecast image verify IMG}: decodes every chunk (in parallel) and checks its SHA-256 and
 * the whole-image SHA-256. Exit 0 when good; {@link org.clonecast.common.cli.ExitCodes#FAILED}
 * naming the first bad chunk otherwise. Not thread-safe: one instance per command line.
 */
@Command(
    name = "verify",
    mixinStandardHelpOptions = true,
    versionProvider = VersionProvider.class,
    description = "Check every chunk of an image against its hash.")
public final class ImageVerifyCommand implements Runnable {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Parameters(index = "0", paramLabel = "IMG", description = "Image file (.cci).")
  Path image;

  @CommandLine.Mixin ThreadsMixin threads;

  @Override
  public void run() {
    int t = threads.resolve();
    try (ChunkSource r = ImageCliErrors.openImage(image)) {
      Manifest m = r.manifest();
      long start = System.nanoTime();
      ImageCliErrors.decoding(
          image,
          m,
          "verify",
          p -> {
            ImageVerifier.verify(r, t, p);
            return null;
          });
      PrintWriter w = spec.commandLine().getOut();
      w.println(
          image
              + ": ok, "
              + m.chunkCount()
              + " chunks, "
              + ImageReport.speed(m.logicalSize(), System.nanoTime() - start)
              + ", image sha256 "
              + m.imageHash().hex());
      w.flush();
    } catch (IOException e) {
      throw ImageCliErrors.io(e, null);
    }
  }
}
