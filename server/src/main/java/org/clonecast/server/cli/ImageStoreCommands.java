package org.clonecast.server.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import org.clonecast.common.cli.CliException;
import org.clonecast.common.cli.ExitCodes;
import org.clonecast.common.cli.ProgressBar;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code clonecast image add|capture|watch|list|remove|replicate}: the daemon's image store,
 * through its API.
 */
final class ImageStoreCommands {
  private ImageStoreCommands() {}

  @Command(
      name = "add",
      description = {
        "Add a disk (raw device or file) or a .cci image to the daemon's store as NAME.",
        "A raw disk is captured (chunked, compressed, hashed) by the daemon, carrying only what its partition",
        "tables and filesystems use; waits until the image is ready."
      })
  static final class Add extends ApiCommand {

    @Mixin ImageNameParameter image;

    @Parameters(
        index = "1",
        paramLabel = "FILE",
        description = "A path on the head node: /dev/sdX, a disk image file or a .cci.")
    Path file;

    @Option(
        names = "--no-wait",
        description = "Return at once; 'clonecast image list' shows when it is ready.")
    boolean noWait;

    @Option(
        names = "--force",
        description =
            "Capture even a filesystem that is mounted read-write or not clean (carried whole).")
    boolean force;

    @Option(
        names = "--raw",
        description =
            "FILE is a raw disk even though it looks like a .cci (a damaged .cci is refused without it).")
    boolean raw;

    @Override
    public Integer call() throws InterruptedException {
      String name = image.name;
      Map<String, Object> body = new LinkedHashMap<>();
      body.put("name", name);
      body.put("source", file.toAbsolutePath().normalize().toString());
      body.put("force", force);
      if (raw) body.put("raw", true);
      JsonNode img = api().post("/api/v1/images", body);
      PrintWriter out = out();
      if (noWait) {
        out.println("adding " + name + " from " + file + "; see 'clonecast image list'");
        return ExitCodes.OK;
      }
      ProgressBar bar = null;
      while (img.path("state").asText().equals("adding")) {
        JsonNode p = img.path("progress");
        if (p.isObject() && p.path("total").asLong() > 0) {
          if (bar == null)
            bar =
                new ProgressBar(
                    "add " + name, p.path("total").asLong(), System.err, System.console() != null);
          bar.update(p.path("done").asLong());
        }
        Thread.sleep(Duration.ofMillis(500).toMillis());
        img = api().get("/api/v1/images/" + name);
      }
      if (!img.path("state").asText().equals("ready")) {
        throw new CliException(
            ExitCodes.FAILED, "adding " + name + " failed: " + NodeCommand.text(img, "detail"));
      }
      printReady(out, name, img);
      return ExitCodes.OK;
    }
  }

  @Command(
      name = "capture",
      description = {
        "Capture a golden node's disk into the daemon's store as NAME, unattended: the node's next PXE boot",
        "runs the agent, which reads the disk (read-only), chunks and compresses it on the node's cores and uploads it.",
        "The image is ready once complete and verified; then the node boots its disk again. --cancel NAME stops it."
      })
  static final class Capture extends ApiCommand {

    @Mixin ImageNameParameter image;

    @Option(names = "--node", paramLabel = "MAC|NAME", description = "The golden node (enrolled).")
    String node;

    @Option(
        names = "--disk",
        paramLabel = "PATH",
        description =
            "The disk to read on the node (default: its target disk, else the first non-removable disk).")
    String disk;

    @Option(
        names = "--force",
        description = "Capture even a filesystem that is mounted read-write or not clean.")
    boolean force;

    @Option(names = "--level", paramLabel = "N", description = "zstd level (default: 3).")
    Integer level;

    @Option(
        names = "--from",
        paramLabel = "OLD",
        description =
            "The image this capture updates (the node's previous capture): NAME stores only the chunks that"
                + " differ from OLD and shares the rest; its summary says how much.")
    String from;

    @Option(
        names = "--watch",
        description = "Follow the capture until the image is ready or failed (as 'image watch').")
    boolean watch;

    @Option(
        names = "--cancel",
        description =
            "Cancel the running capture of NAME: the image fails, the node boots its disk.")
    boolean cancel;

    @Override
    public Integer call() throws InterruptedException {
      String name = image.name;
      PrintWriter out = out();
      if (cancel) {
        if (node != null || disk != null || force || level != null || from != null || watch) {
          throw new CliException(ExitCodes.USAGE, "--cancel takes only the image name");
        }
        JsonNode img = api().post("/api/v1/images/" + name + "/cancel", Map.of());
        out.println("capture of " + name + " cancelled; image " + img.path("state").asText());
        return ExitCodes.OK;
      }
      if (node == null) {
        throw new CliException(
            ExitCodes.USAGE, "--node MAC|NAME is required: the golden node to capture");
      }
      Map<String, Object> body = new LinkedHashMap<>();
      body.put("name", name);
      body.put("node", node);
      if (disk != null) body.put("disk", disk);
      if (force) body.put("force", true);
      if (level != null) body.put("level", level);
      if (from != null) body.put("from", from);
      api().post("/api/v1/images/capture", body);
      out.println(
          "capturing "
              + node
              + " into image "
              + name
              + "; power it on (or reboot it) to PXE boot; follow with"
              + " 'clonecast image watch "
              + name
              + "'");
      out.flush();
      return watch ? Watch.follow(api(), name, out) : ExitCodes.OK;
    }
  }

  @Command(
      name = "watch",
      description = {
        "Follow an image being captured or added until it is ready or failed.",
        "Exit status 0 when it is ready, 1 when it failed."
      })
  static final class Watch extends ApiCommand {

    @Parameters(paramLabel = "NAME")
    String name;

    @Override
    public Integer call() throws InterruptedException {
      return follow(api(), name, out());
    }

    /**
     * Polls the image twice a second, printing each change of its phase, until it is ready or
     * failed.
     */
    static int follow(ApiClient api, String name, PrintWriter out) throws InterruptedException {
      boolean tty = System.console() != null;
      String last = null;
      JsonNode img;
      while (true) {
        img = api.get("/api/v1/images/" + name);
        String line = line(img);
        if (tty) {
          System.err.print("\r\033[K" + line);
          System.err.flush();
        } else if (!line.replaceAll("\\d+%.*", "").equals(last)) {
          out.println(line);
          out.flush();
          last = line.replaceAll("\\d+%.*", "");
        }
        String state = img.path("state").asText();
        if (!state.equals("adding") && !state.equals("capturing")) break;
        Thread.sleep(500);
      }
      if (tty) System.err.println();
      if (!img.path("state").asText().equals("ready")) {
        out.println(
            "image "
                + name
                + " "
                + img.path("state").asText()
                + ": "
                + NodeCommand.text(img, "detail"));
        out.flush();
        return ExitCodes.FAILED;
      }
      printReady(out, name, img);
      out.flush();
      return ExitCodes.OK;
    }

    /** "golden capturing 37% (capturing: 120 chunks held, registered from ...)". */
    static String line(JsonNode img) {
      StringBuilder b = new StringBuilder(img.path("name").asText()).append(' ').append(state(img));
      JsonNode c = img.path("capture");
      if (c.isObject() && !img.path("state").asText().equals("ready")) {
        b.append(" (")
            .append(c.path("state").asText())
            .append(": ")
            .append(c.path("chunksHeld").asLong())
            .append(" chunks held");
        if (!c.path("detail").isNull()) b.append(", ").append(c.path("detail").asText());
        b.append(')');
      }
      return b.toString();
    }
  }

  /** "image NAME ready: ..." with the figures of the finished image. */
  static void printReady(PrintWriter out, String name, JsonNode img) {
    out.printf(
        "image %s ready: %d bytes, %d chunks, %d bytes stored (%d its own, %d shared), sha256 %s%n",
        name,
        img.path("logicalSize").asLong(),
        img.path("chunks").asLong(),
        img.path("storedSize").asLong(),
        img.path("ownSize").asLong(),
        img.path("sharedSize").asLong(),
        img.path("imageHash").asText());
  }

  /** An image's state, with the percentage done while it is added or captured. */
  static String state(JsonNode i) {
    String state = i.path("state").asText();
    JsonNode p = i.path("progress");
    if ((state.equals("adding") || state.equals("capturing"))
        && p.isObject()
        && p.path("total").asLong() > 0) {
      return state
          + " "
          + Math.min(100, 100 * p.path("done").asLong() / p.path("total").asLong())
          + "%";
    }
    return state;
  }

  @Command(name = "list", description = "List the daemon's images.")
  static final class ListImages extends ApiCommand {

    @Mixin ListingOption listing;

    @Override
    public Integer call() {
      listing.print(
          out(),
          api().get("/api/v1/images"),
          new String[] {
            "NAME", "STATE", "SIZE", "STORED", "OWN", "SHARED", "CHUNKS", "COPIES", "DETAIL"
          },
          i ->
              new String[] {
                i.path("name").asText(),
                state(i),
                ProgressBar.bytes(i.path("logicalSize").asLong()),
                ProgressBar.bytes(i.path("storedSize").asLong()),
                ProgressBar.bytes(i.path("ownSize").asLong()),
                ProgressBar.bytes(i.path("sharedSize").asLong()),
                i.path("chunks").asText(),
                copies(i),
                NodeCommand.text(i, "detail")
              });
      return ExitCodes.OK;
    }
  }

  /**
   * How many daemons hold an image's bytes, and what this daemon holds of them: "2, here", "1, here
   * 40%", "1, here failed", "1".
   */
  static String copies(JsonNode image) {
    int ready = 0;
    String here = "";
    for (JsonNode c : image.path("copies")) {
      String state = c.path("state").asText();
      if (state.equals("ready")) {
        ready++;
      }
      if (c.path("self").asBoolean()) {
        long total = c.path("total").asLong();
        here =
            state.equals("ready")
                ? ", here"
                : state.equals("copying")
                    ? ", here " + (total > 0 ? 100 * c.path("done").asLong() / total : 0) + "%"
                    : ", here " + state;
      }
    }
    return ready + here;
  }

  @Command(
      name = "replicate",
      description = {
        "Fetch image NAME's bytes onto the daemon answering, from another daemon of its store that holds them",
        "(only the chunks its pool lacks, each checked against its SHA-256): before a session on that daemon's",
        "segment. Waits until the image is ready there unless --no-wait."
      })
  static final class Replicate extends ApiCommand {

    @Mixin ImageNameParameter image;

    @Option(
        names = "--from",
        paramLabel = "DAEMON",
        description =
            "Fetch from this daemon first (its id, or a unique start of it; 'clonecast daemon list'); the others holding the image are tried after it.")
    String from;

    @Option(
        names = "--no-wait",
        description = "Return at once; 'clonecast image list' shows the copy's progress.")
    boolean noWait;

    @Override
    public Integer call() throws InterruptedException {
      String name = image.name;
      Map<String, Object> body = new LinkedHashMap<>();
      if (from != null) body.put("from", from);
      JsonNode img = api().post("/api/v1/images/" + name + "/replicate", body);
      PrintWriter out = out();
      if (noWait) {
        out.println("replicating " + name + "; see 'clonecast image list'");
        return ExitCodes.OK;
      }
      ProgressBar bar = null;
      while (true) {
        JsonNode mine = null;
        for (JsonNode c : img.path("copies")) {
          if (c.path("self").asBoolean()) mine = c;
        }
        String state = mine == null ? "copying" : mine.path("state").asText();
        if (state.equals("ready")) {
          if (bar != null) bar.update(mine.path("total").asLong());
          out.println("image " + name + " is ready on this daemon");
          return ExitCodes.OK;
        }
        if (state.equals("failed")) {
          throw new CliException(
              ExitCodes.FAILED,
              "replicating " + name + " failed: " + NodeCommand.text(mine, "detail"));
        }
        if (mine != null && mine.path("total").asLong() > 0) {
          if (bar == null)
            bar =
                new ProgressBar(
                    "replicate " + name,
                    mine.path("total").asLong(),
                    System.err,
                    System.console() != null);
          bar.update(mine.path("done").asLong());
        }
        Thread.sleep(Duration.ofMillis(500).toMillis());
        img = api().get("/api/v1/images/" + name);
      }
    }
  }

  @Command(name = "remove", description = "Remove an image from the daemon's store.")
  static final class Remove extends ApiCommand {

    @Parameters(paramLabel = "NAME")
    String name;

    @Override
    public Integer call() {
      api().delete("/api/v1/images/" + name);
      out().println("removed image " + name);
      return ExitCodes.OK;
    }
  }
}
