package org.clonecast.protocol.disk;

import java.util.ArrayList;
import java.util.List;

/**
 * The operator-facing reasons of {@link Filesystem#problems} and {@link Filesystem#untrusted}:
 * {@code Reasons.when(a, "why a").and(b, "why b").list()} keeps those whose condition holds, in
 * order. Not thread-safe; used once.
 */
final class Reasons {
  static final String BAD_CHECKSUM = "the superblock checksum does not match";

  private final List<String> out = new ArrayList<>();

  private Reasons() {}

  static Reasons when(boolean condition, String reason) {
    return new Reasons().and(condition, reason);
  }

  Reasons and(boolean condition, String reason) {
    if (condition) out.add(reason);
    return this;
  }

  List<String> list() {
    return List.copyOf(out);
  }
}
