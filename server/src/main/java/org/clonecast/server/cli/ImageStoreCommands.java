package org.clonecast.server.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.clonecast.common.cli.CliException;
import org.clonecast.common.cli.ExitCodes;
import org.clonecast.common.cli.ProgressBar;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code clonecast image add|list|remove}: the daemon's image store, through its API. */
final class ImageStoreCommands {
  private ImageStoreCommands() {}

  @Command(name = "add", mixinStandardHelpOptions = true, versionProvider = VersionProvider.class,
      description = {"Add a disk (raw device or file) or a .cci image to the daemon's store as NAME.",
        "A raw disk is captured (chunked, compressed, hashed) by the daemon; waits until the image is ready."})
  static final class Add implements Callable<Integer> {
    @Mixin ServerOptions server;
    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Parameters(index = "0", paramLabel = "NAME", description = "Image name (letters, digits, '.', '_', '-').")
    String name;

    @Parameters(index = "1", paramLabel = "FILE", description = "A path on the head node: /dev/sdX, a disk image file or a .cci.")
    Path file;

    @Option(names = "--no-wait", description = "Return at once; 'clonecast image list' shows when it is ready.")
    boolean noWait;

    @Override
    public Integer call() throws InterruptedException {
      Map<String, Object> body = new LinkedHashMap<>();
      body.put("name", name);
      body.put("source", file.toAbsolutePath().normalize().toString());
      JsonNode img = server.client().post("/api/v1/images", body);
      PrintWriter out = spec.commandLine().getOut();
      if (noWait) {
        out.println("adding " + name + " from " + file + "; see 'clonecast image list'");
        return ExitCodes.OK;
      }
      ProgressBar bar = null;
      while (img.path("state").asText().equals("adding")) {
        JsonNode p = img.path("progress");
        if (p.isObject() && p.path("total").asLong() > 0) {
          if (bar == null) bar = new ProgressBar("add " + name, p.path("total").asLong(), System.err, System.console() != null);
          bar.update(p.path("done").asLong());
        }
        Thread.sleep(Duration.ofMillis(500).toMillis());
        img = server.client().get("/api/v1/images/" + name);
      }
      if (!img.path("state").asText().equals("ready")) {
        throw new CliException(ExitCodes.FAILED, "adding " + name + " failed: " + NodeCommand.text(img, "detail"));
      }
      out.printf("image %s ready: %d bytes, %d chunks, %d bytes stored, sha256 %s%n", name, img.path("logicalSize").asLong(),
          img.path("chunks").asLong(), img.path("storedSize").asLong(), img.path("imageHash").asText());
      return ExitCodes.OK;
    }
  }

  @Command(name = "list", mixinStandardHelpOptions = true, versionProvider = VersionProvider.class,
      description = "List the daemon's images.")
  static final class ListImages implements Callable<Integer> {
    @Mixin ServerOptions server;
    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Option(names = "--json", description = "Print JSON (the API's shape) instead of a table.")
    boolean json;

    @Override
    public Integer call() {
      JsonNode images = server.client().get("/api/v1/images");
      PrintWriter out = spec.commandLine().getOut();
      if (json) {
        Table.json(out, images);
        return ExitCodes.OK;
      }
      List<String[]> rows = new ArrayList<>();
      rows.add(new String[] {"NAME", "STATE", "SIZE", "STORED", "CHUNKS", "DETAIL"});
      for (JsonNode i : images) {
        rows.add(new String[] {i.path("name").asText(), i.path("state").asText(), ProgressBar.bytes(i.path("logicalSize").asLong()),
            ProgressBar.bytes(i.path("storedSize").asLong()), i.path("chunks").asText(), NodeCommand.text(i, "detail")});
      }
      Table.print(out, rows);
      return ExitCodes.OK;
    }
  }

  @Command(name = "remove", mixinStandardHelpOptions = true, versionProvider = VersionProvider.class,
      description = "Remove an image from the daemon's store.")
  static final class Remove implements Callable<Integer> {
    @Mixin ServerOptions server;
    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Parameters(paramLabel = "NAME") String name;

    @Override
    public Integer call() {
      server.client().delete("/api/v1/images/" + name);
      spec.commandLine().getOut().println("removed image " + name);
      return ExitCodes.OK;
    }
  }
}
