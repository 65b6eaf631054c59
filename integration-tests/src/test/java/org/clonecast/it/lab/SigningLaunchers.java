package org.clonecast.it.lab;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.clonecast.common.trust.ImageKey;

/**
 * The launchers as a multicast lab test runs them with an image key of its own: {@code clonecast
 * send} signs with it, {@code clonecast-agent receive} trusts it.
 *
 * @param keys the directory of the key pair
 */
public record SigningLaunchers(Path keys) {
  /** A new key pair in {@code keys}. */
  public static SigningLaunchers generate(Path keys) throws IOException {
    ImageKey.write(keys, ImageKey.generate());
    return new SigningLaunchers(keys);
  }

  /** {@code ./clonecast args...}; {@code send} with {@code --sign-key}. */
  public List<String> clonecast(String... args) {
    List<String> cmd = Checkout.clonecast(args);
    if (args[0].equals("send")) cmd.addAll(List.of("--sign-key", keys.toString()));
    return cmd;
  }

  /**
   * {@code ./clonecast-agent receive} on the lab's interface into {@code out}, trusting the key,
   * giving up when no session is found within 60 s; then {@code extra}.
   */
  public List<String> receive(Path out, String... extra) {
    return receive(out.toString(), extra);
  }

  /** {@link #receive(Path, String...)} into a device or file named {@code output}. */
  public List<String> receive(String output, String... extra) {
    List<String> cmd =
        new ArrayList<>(
            Checkout.agent(
                "receive",
                "--interface",
                Lab.IFACE,
                "--output",
                output,
                "--join-timeout",
                "60",
                "--trust",
                keys.resolve(ImageKey.PUBLIC_FILE).toString()));
    cmd.addAll(List.of(extra));
    return cmd;
  }
}
