package org.clonecast.common.cli;

/**
 * A JVM shutdown hook for the length of a try-with-resources block: Ctrl-C or SIGTERM runs {@code
 * action} (e.g. tell the peers we leave), and leaving the block removes the hook.
 */
public final class ShutdownHook implements AutoCloseable {
  private final Thread thread;

  private ShutdownHook(Thread thread) {
    this.thread = thread;
  }

  /** Installs {@code action} as a shutdown hook in a thread called {@code name}. */
  public static ShutdownHook install(String name, Runnable action) {
    Thread t = new Thread(action, name);
    Runtime.getRuntime().addShutdownHook(t);
    return new ShutdownHook(t);
  }

  @Override
  public void close() {
    try {
      Runtime.getRuntime().removeShutdownHook(thread);
    } catch (IllegalStateException shuttingDown) {
      // the hook is running: nothing to remove
    }
  }
}
