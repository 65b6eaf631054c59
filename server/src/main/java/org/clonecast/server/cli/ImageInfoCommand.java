package org.clonecast.server.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import org.clonecast.common.image.ChunkSource;
import org.clonecast.protocol.image.ChunkKind;
import org.clonecast.protocol.image.Manifest;
import org.clonecast.server.store.ImageStore;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code clonecast image info IMG [--json]}: what an image holds, from its manifest. Not
 * thread-safe: one instance per command line.
 */
@Command(
    name = "info",
    mixinStandardHelpOptions = true,
    versionProvider = VersionProvider.class,
    description = "Show an image's id, sizes, chunk counts and hash.")
public final class ImageInfoCommand implements Runnable {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Parameters(
      index = "0",
      paramLabel = "IMG",
      description = "Image file (.cci), or a stored image's manifest file (STATE/images/NAME.ccm).")
  Path image;

  @Option(names = "--json", description = "Print one JSON object instead of text.")
  boolean json;

  @Override
  public void run() {
    PrintWriter w = spec.commandLine().getOut();
    try (ChunkSource r = ImageCliErrors.openImage(image)) {
      Manifest m = r.manifest();
      long fileSize = Files.size(image);
      if (json) {
        w.println(json(m, fileSize));
        w.flush();
        return;
      }
      w.println(image);
      Map<String, String> facts = ImageReport.facts(m);
      facts.put("file size", ImageReport.size(fileSize));
      // Which key signed it (not whether to trust it: that is the receiver's --trust).
      facts.put("signed by", r.signature().map(s -> s.keyIdHex()).orElse("nobody (unsigned)"));
      if (image.getFileName().toString().endsWith(ImageStore.MANIFEST_SUFFIX)) {
        // An image in a daemon's store: what it shares with the images beside it.
        long[] f = ImageStore.figures(image);
        facts.put(
            "in the store",
            ImageReport.size(f[0])
                + " of chunks, "
                + ImageReport.size(f[1])
                + " its own, "
                + ImageReport.size(f[0] - f[1])
                + " shared with other images");
      }
      ImageReport.print(w, facts);
    } catch (IOException e) {
      throw ImageCliErrors.io(e, null);
    }
  }

  private String json(Manifest m, long fileSize) {
    // Hand-written: every value is a number, a UUID, a hex digest or a path (escaped below).
    return String.format(
        Locale.ROOT,
        "{\"path\":\"%s\",\"imageId\":\"%s\",\"logicalSize\":%d,\"chunkSize\":%d,\"chunkCount\":%d,"
            + "\"chunks\":{\"zero\":%d,\"zstd\":%d,\"raw\":%d,\"unused\":%d},\"usedBytes\":%d,\"storedBytes\":%d,"
            + "\"fileSize\":%d,\"ratio\":%s,\"formatVersion\":%d,\"imageSha256\":\"%s\"}",
        escape(image.toString()),
        m.imageId(),
        m.logicalSize(),
        m.chunkSize(),
        m.chunkCount(),
        m.count(ChunkKind.ZERO),
        m.count(ChunkKind.ZSTD),
        m.count(ChunkKind.RAW),
        m.count(ChunkKind.UNUSED),
        m.usedBytes(),
        m.storedBytes(),
        fileSize,
        m.storedBytes() == 0
            ? "null"
            : String.format(Locale.ROOT, "%.4f", (double) m.logicalSize() / m.storedBytes()),
        m.formatVersion(),
        m.imageHash().hex());
  }

  private static String escape(String s) {
    StringBuilder sb = new StringBuilder();
    for (char c : s.toCharArray()) {
      if (c == '"' || c == '\\') {
        sb.append('\\').append(c);
      } else if (c < 0x20) {
        sb.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
      } else {
        sb.append(c);
      }
    }
    return sb.toString();
  }
}
