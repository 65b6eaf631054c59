package org.clonecast.server.http;

import java.util.Objects;
import java.util.Optional;
import org.clonecast.protocol.wire.MacAddress;
import org.clonecast.server.store.NodeSecrets;

/**
 * Checks that an agent call comes from the node it names: it must carry {@code Authorization:
 * Clonecast <secret>} with the per-boot secret of that node's current netboot script (docs/api.md,
 * "agent"). Checked before the call changes anything.
 *
 * <p>Thread-safe.
 */
public final class NodeAuth {
  /** The scheme of the Authorization header agents send. */
  public static final String SCHEME = "Clonecast";

  private final NodeSecrets secrets;

  public NodeAuth(NodeSecrets secrets) {
    this.secrets = Objects.requireNonNull(secrets);
  }

  /**
   * The secret a request presents, if it has a well-formed {@code Authorization: Clonecast ...}.
   */
  static Optional<String> presented(Request r) {
    String v = r.headers().get("Authorization");
    if (v == null || !v.regionMatches(true, 0, SCHEME + " ", 0, SCHEME.length() + 1)) {
      return Optional.empty();
    }
    return Optional.of(v.substring(SCHEME.length() + 1).trim());
  }

  /**
   * @throws ForbiddenException unless {@code r} carries {@code mac}'s current secret
   */
  public void require(MacAddress mac, Request r) {
    Optional<String> secret = presented(r);
    if (secret.isEmpty()) {
      throw new ForbiddenException(
          "agent calls need 'Authorization: "
              + SCHEME
              + " <secret>' with the clonecast.secret="
              + " of "
              + mac
              + "'s netboot script");
    }
    if (!secrets.verify(mac, secret)) {
      throw new ForbiddenException(
          "that is not "
              + mac
              + "'s current secret (each netboot script issues a new one);"
              + " boot the node again to get one");
    }
  }
}
