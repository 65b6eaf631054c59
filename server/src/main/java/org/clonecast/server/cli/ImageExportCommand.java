package org.clonecast.server.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.clonecast.common.image.ChunkSource;
import org.clonecast.common.image.ImageCreator;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code clonecast image export IMG -o OUT.cci}: an image of the daemon's store (its manifest file,
 * chunks in the pool beside it) as one self-contained {@code .cci}, to copy to another head node or
 * keep. Not thread-safe: one instance per command line.
 */
@Command(
    name = "export",
    mixinStandardHelpOptions = true,
    versionProvider = VersionProvider.class,
    description = {
      "Write an image of the daemon's store (STATE/images/NAME.ccm) as one self-contained .cci:",
      "the same image id, manifest, signature and chunks ('image add' on another head node imports it)."
    })
public final class ImageExportCommand implements Runnable {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Parameters(
      index = "0",
      paramLabel = "IMG",
      description = "A stored image's manifest file (STATE/images/NAME.ccm), or a .cci.")
  Path image;

  @Option(
      names = {"-o", "--output"},
      required = true,
      paramLabel = "OUT",
      description = "The .cci to write.")
  Path out;

  @Option(names = "--force", description = "Replace OUT if it exists.")
  boolean force;

  @Override
  public void run() {
    try (ChunkSource r = ImageCliErrors.openImage(image)) {
      ImageCliErrors.requireWritableTarget(out, force);
      ImageCreator.export(r, out, force);
      PrintWriter w = spec.commandLine().getOut();
      w.println("exported " + image + " to " + out);
      Map<String, String> facts = new LinkedHashMap<>();
      facts.put("image id", r.manifest().imageId().toString());
      facts.put("file size", ImageReport.size(Files.size(out)));
      facts.put("image sha256", r.manifest().imageHash().hex());
      ImageReport.print(w, facts);
    } catch (IOException e) {
      throw ImageCliErrors.io(e, out);
    }
  }
}
