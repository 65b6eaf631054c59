package org.clonecast.server.boot;

import java.nio.file.Path;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Builds the netboot environment in the background the first time a session needs it and none is
 * installed (the same build as {@code clonecast bootenv build}), so an admin's first session just
 * works: its nodes wait in iPXE, asking again every few seconds, until the environment is ready (a
 * few minutes, once; the build is cached by versions), and then boot it without a power cycle. One
 * build at a time; a failure is reported (in the events and on the waiting nodes' consoles) with
 * the command to run by hand, and the next session tries again.
 *
 * <p>Thread-safe.
 */
public final class BootenvAutoBuild {
  private static final Logger LOG = LoggerFactory.getLogger(BootenvAutoBuild.class);

  private final Path stateDir;
  private final Optional<BootenvInstaller> installer;
  private final ExecutorService worker;
  private final Consumer<String> event;
  private final AtomicBoolean building = new AtomicBoolean();
  private volatile String failure;

  /**
   * @param installer empty when the build script or the agent jar is not beside the daemon's jar
   * @param event records one line in the daemon's event log
   */
  public BootenvAutoBuild(
      Path stateDir,
      Optional<BootenvInstaller> installer,
      ExecutorService worker,
      Consumer<String> event) {
    this.stateDir = Objects.requireNonNull(stateDir);
    this.installer = Objects.requireNonNull(installer);
    this.worker = Objects.requireNonNull(worker);
    this.event = Objects.requireNonNull(event);
  }

  /** Whether nodes can netboot now. */
  public boolean ready() {
    Path dir = BootenvInstaller.currentDir(stateDir);
    return BootenvInstaller.ready(dir) && BootenvInstaller.trustsCurrentKey(dir, stateDir);
  }

  /**
   * Installed, but trusting another image key than the daemon's current one (a key rotation since
   * it was built).
   */
  private boolean stale() {
    Path dir = BootenvInstaller.currentDir(stateDir);
    return BootenvInstaller.ready(dir) && !BootenvInstaller.trustsCurrentKey(dir, stateDir);
  }

  /**
   * What a node that should netboot is told: ready, being built, failed (and why), or missing (and
   * what to run).
   */
  public BootenvStatus status() {
    if (ready()) return new BootenvStatus.Ready();
    if (building.get()) return new BootenvStatus.Building();
    String failed = failure;
    if (failed != null) return new BootenvStatus.Failed(failed);
    if (stale()) {
      return new BootenvStatus.Missing(
          "the netboot environment does not trust the server's current image key (rotated since it"
              + " was built); a session rebuilds it, or run 'clonecast bootenv build' on the server");
    }
    return new BootenvStatus.Missing(
        installer.isEmpty()
            ? "the server has no netboot environment and cannot build one (bootenv/build.sh or the agent jar is missing); run"
                + " 'clonecast bootenv build' on the server"
            : "the server has no netboot environment yet; a session builds it, or run 'clonecast bootenv build' on the server");
  }

  /** Starts a build unless the environment is there or one is running; says what it does. */
  public void ensure(long session) {
    if (ready() || !building.compareAndSet(false, true)) {
      return;
    }
    if (installer.isEmpty()) {
      building.set(false);
      event.accept(
          "session "
              + session
              + ": no netboot environment, and bootenv/build.sh or the agent jar is not beside"
              + " the daemon; nodes boot their disks until 'clonecast bootenv build' installs one");
      return;
    }
    failure = null;
    event.accept(
        "session "
            + session
            + ": building the netboot environment (once, a few minutes; marked nodes wait in iPXE"
            + " and netboot as soon as it is ready)");
    worker.submit(
        () -> {
          try {
            Path built =
                installer
                    .get()
                    .buildAndInstall(
                        stateDir, Optional.empty(), line -> LOG.info("bootenv: {}", line));
            event.accept("netboot environment ready: " + built.getFileName());
          } catch (Exception e) {
            if (e instanceof InterruptedException) Thread.currentThread().interrupt();
            String run =
                "; run 'clonecast bootenv build --state-dir "
                    + stateDir
                    + "' as root on the server";
            // The console gets the build's last word (its own diagnosis); the event keeps all of
            // it.
            failure =
                "building the netboot environment failed: "
                    + lastLine(String.valueOf(e.getMessage()))
                    + run;
            event.accept("building the netboot environment failed: " + e.getMessage() + run);
          } finally {
            building.set(false);
          }
        });
  }

  /** The last non-blank line of a multi-line message. */
  static String lastLine(String message) {
    String[] lines = message.strip().split("\n");
    return lines[lines.length - 1].strip();
  }
}
