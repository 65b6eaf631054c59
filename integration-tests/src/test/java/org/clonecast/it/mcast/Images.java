package org.clonecast.it.mcast;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Random;

/** Test disk images and their hashes. */
public final class Images {
  private Images() {}

  /** A disk-like image: per 4 MiB, 2 MiB zeros, 1 MiB text, 1 MiB random (seeded). */
  public static Path mixed(Path dir, String name, int mib, long seed) throws IOException {
    Path p = dir.resolve(name);
    Random r = new Random(seed);
    byte[] zeros = new byte[2 << 20];
    StringBuilder sb = new StringBuilder();
    for (int i = 0; sb.length() < (1 << 20); i++)
      sb.append(String.format("%08d clonecast test line, node %d%n", i, i % 97));
    byte[] text = sb.substring(0, 1 << 20).getBytes(StandardCharsets.US_ASCII);
    byte[] random = new byte[1 << 20];
    try (OutputStream out = Files.newOutputStream(p)) {
      for (int i = 0; i < mib / 4; i++) {
        out.write(zeros);
        out.write(text);
        r.nextBytes(random);
        out.write(random);
      }
    }
    return p;
  }

  /** SHA-256 of the first {@code length} bytes of a file, as hex. */
  public static String sha256(Path p, long length) throws IOException {
    MessageDigest md;
    try {
      md = MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new AssertionError(e);
    }
    byte[] buf = new byte[1 << 20];
    long left = length;
    try (InputStream in = Files.newInputStream(p)) {
      while (left > 0) {
        int n = in.read(buf, 0, (int) Math.min(buf.length, left));
        if (n < 0) throw new IOException(p + " is shorter than " + length);
        md.update(buf, 0, n);
        left -= n;
      }
    }
    return HexFormat.of().formatHex(md.digest());
  }
}
