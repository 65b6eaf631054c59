package org.clonecast.server.http;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.HexFormat;

/**
 * The secret that mutating API calls must carry ({@code Authorization: Bearer <token>}). Created at
 * the daemon's first start in {@code <state-dir>/api-token}, readable by its owner (root) only; the
 * CLI on the head node reads it from there.
 */
public final class ApiToken {
  /** The token file's name in the state directory. */
  public static final String FILE_NAME = "api-token";

  private final byte[] token;

  private ApiToken(String token) {
    this.token = token.getBytes(StandardCharsets.US_ASCII);
  }

  /** Reads the token in {@code stateDir}, creating it (mode 0600) if there is none. */
  public static ApiToken loadOrCreate(Path stateDir) throws IOException {
    return new ApiToken(secretFile(stateDir, FILE_NAME));
  }

  /**
   * The random secret (64 hex digits) in {@code stateDir}'s file {@code name}, made (mode 0600,
   * readable by its owner only) if there is none: the API token, the daemon's peer secret.
   */
  public static String secretFile(Path stateDir, String name) throws IOException {
    Path file = stateDir.resolve(name);
    if (!Files.exists(file)) {
      byte[] raw = new byte[32];
      new SecureRandom().nextBytes(raw);
      String text = HexFormat.of().formatHex(raw);
      Path tmp = stateDir.resolve(name + ".tmp");
      Files.deleteIfExists(tmp);
      Files.createFile(
          tmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
      Files.writeString(tmp, text + "\n", StandardOpenOption.WRITE);
      try {
        Files.move(tmp, file);
      } catch (FileAlreadyExistsException e) {
        Files.delete(tmp); // another daemon start won the race; use its secret
      }
    }
    String text = Files.readString(file, StandardCharsets.US_ASCII).trim();
    if (text.length() < 16) {
      throw new IOException(
          file + " holds no usable secret; delete it and restart the daemon to make a new one");
    }
    return text;
  }

  /** Whether an {@code Authorization} header value carries this token (constant-time compare). */
  public boolean accepts(String authorization) {
    if (authorization == null || !authorization.startsWith("Bearer ")) {
      return false;
    }
    byte[] given = authorization.substring(7).trim().getBytes(StandardCharsets.US_ASCII);
    return MessageDigest.isEqual(given, token);
  }
}
