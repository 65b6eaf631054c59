package org.clonecast.common.concurrent;

import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Thread factories for our executors: daemon threads (a forgotten executor never keeps the JVM
 * alive) named after their job, so a stuck one is easy to find in a thread dump.
 *
 * <p>Thread-safe.
 */
public final class DaemonThreads {
  private DaemonThreads() {}

  /**
   * Daemon threads all named {@code name} (for single-thread executors and small pools of one job).
   */
  public static ThreadFactory named(String name) {
    return r -> {
      Thread t = new Thread(r, name);
      t.setDaemon(true);
      return t;
    };
  }

  /** Daemon threads named {@code prefix} followed by 1, 2, ... */
  public static ThreadFactory numbered(String prefix) {
    AtomicInteger n = new AtomicInteger();
    return r -> {
      Thread t = new Thread(r, prefix + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    };
  }
}
