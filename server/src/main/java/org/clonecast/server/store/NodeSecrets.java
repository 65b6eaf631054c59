package org.clonecast.server.store;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Clock;
import java.util.HexFormat;
import java.util.Objects;
import java.util.Optional;
import java.util.regex.Pattern;
import org.clonecast.protocol.wire.MacAddress;

/**
 * Per-boot node secrets (docs/security.md, "Keys"). A node's netboot script carries a fresh random
 * secret ({@link #issue}); its agent sends it with every call, and only a call with the secret of
 * the node's current boot is taken ({@link #verify}). Issuing a new one revokes the old. Only the
 * secret's SHA-256 is stored (schema migration 6), so a daemon restart keeps a re-imaging node able
 * to report and a copy of the database does not reveal a secret.
 *
 * <p>Thread-safe (every call is one transaction of the {@link Database}).
 */
public final class NodeSecrets {
  /** Random bytes in a secret: 128 bits. */
  public static final int BYTES = 16;

  /** What a secret looks like: {@link #BYTES} bytes as lower-case hex. */
  public static final Pattern FORMAT = Pattern.compile("[0-9a-f]{" + 2 * BYTES + "}");

  private final Database db;
  private final Clock clock;
  private final SecureRandom random = new SecureRandom();

  public NodeSecrets(Database db, Clock clock) {
    this.db = Objects.requireNonNull(db);
    this.clock = Objects.requireNonNull(clock);
  }

  /** A new secret for {@code mac}'s current boot; the one it had before no longer counts. */
  public String issue(MacAddress mac) {
    byte[] b = new byte[BYTES];
    random.nextBytes(b);
    String secret = HexFormat.of().formatHex(b);
    db.write(
        c ->
            NodeStore.update(
                c,
                "INSERT INTO node_secrets (mac, hash, issued) VALUES (?, ?, ?)"
                    + " ON CONFLICT (mac) DO UPDATE SET hash = excluded.hash, issued = excluded.issued",
                mac.toString(),
                hash(secret),
                clock.millis()));
    return secret;
  }

  /**
   * Whether {@code presented} is {@code mac}'s current secret. Compares hashes in constant time.
   */
  public boolean verify(MacAddress mac, Optional<String> presented) {
    if (presented.isEmpty() || !FORMAT.matcher(presented.get()).matches()) {
      return false;
    }
    Optional<String> stored = storedHash(mac);
    return stored.isPresent()
        && MessageDigest.isEqual(
            stored.get().getBytes(StandardCharsets.US_ASCII),
            hash(presented.get()).getBytes(StandardCharsets.US_ASCII));
  }

  /** The hex SHA-256 of {@code mac}'s current secret, as stored. */
  private Optional<String> storedHash(MacAddress mac) {
    return db.read(
        c -> {
          try (PreparedStatement ps =
              c.prepareStatement("SELECT hash FROM node_secrets WHERE mac = ?")) {
            ps.setString(1, mac.toString());
            try (ResultSet rs = ps.executeQuery()) {
              return rs.next() ? Optional.of(rs.getString(1)) : Optional.<String>empty();
            }
          }
        });
  }

  /**
   * SHA-256 of {@code mac}'s current secret: the key of its multicast node proof ({@code
   * McastAuth.joinProof}), which the node computes from the secret it holds.
   */
  public Optional<byte[]> hash(MacAddress mac) {
    Optional<String> stored = storedHash(mac);
    return stored.map(h -> HexFormat.of().parseHex(h));
  }

  /** Forgets {@code mac}'s secret: no call counts until its next netboot script. */
  public void revoke(MacAddress mac) {
    db.write(c -> NodeStore.update(c, "DELETE FROM node_secrets WHERE mac = ?", mac.toString()));
  }

  static String hash(String secret) {
    try {
      return HexFormat.of()
          .formatHex(
              MessageDigest.getInstance("SHA-256")
                  .digest(secret.getBytes(StandardCharsets.US_ASCII)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("the JDK has no SHA-256", e);
    }
  }
}
