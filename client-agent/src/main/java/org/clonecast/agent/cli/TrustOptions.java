package org.clonecast.agent.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import org.clonecast.common.cli.CliException;
import org.clonecast.common.cli.ExitCodes;
import org.clonecast.common.trust.ImageTrust;
import picocli.CommandLine.Option;

/**
 * {@code --trust} and {@code --insecure-unsigned} of {@code receive} and {@code auto}: which images
 * this node writes (docs/security.md, "Keys"). Without either, the netboot environment's {@link
 * ImageTrust#BOOTENV_KEYS}; with none of those, nothing is received.
 */
final class TrustOptions {
  @Option(
      names = "--trust",
      paramLabel = "KEYS",
      description = {
        "Write only images signed by this key: a file of base64 Ed25519 public keys, one a line (the daemon's",
        "image-key.pub, or several during a key rotation), or one key inline; repeatable",
        "(default: " + "/etc/clonecast/trusted-keys" + ", which the netboot environment carries)."
      })
  List<String> trust = new ArrayList<>();

  @Option(
      names = "--insecure-unsigned",
      description =
          "Write any image, signed or not, from whoever answers (a segment you trust; a warning is logged).")
  boolean insecureUnsigned;

  ImageTrust resolve() throws IOException {
    if (insecureUnsigned && !trust.isEmpty()) {
      throw new CliException(ExitCodes.USAGE, "--trust and --insecure-unsigned exclude each other");
    }
    if (insecureUnsigned) {
      System.err.println(
          "clonecast-agent: WARNING: --insecure-unsigned: the image is not checked against any key; a rogue"
              + " sender on this network could write anything to the target");
      return new ImageTrust.InsecureUnsigned();
    }
    List<String> sources = trust;
    if (sources.isEmpty()) {
      if (!Files.isRegularFile(ImageTrust.BOOTENV_KEYS)) {
        throw new CliException(
            ExitCodes.USAGE,
            "no trusted image key: pass --trust KEYS (the daemon's image key: 'clonecast key"
                + " show'), or --insecure-unsigned to write whatever a sender offers; "
                + ImageTrust.BOOTENV_KEYS
                + " (the netboot"
                + " environment's) is not here");
      }
      sources = List.of(ImageTrust.BOOTENV_KEYS.toString());
    }
    try {
      return ImageTrust.read(sources);
    } catch (IOException e) {
      throw new CliException(ExitCodes.USAGE, e.getMessage());
    }
  }
}
