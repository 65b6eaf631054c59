package org.clonecast.it.lab;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * A command started by {@link Lab#spawn} inside a host's namespace. It runs in its own session and
 * process group ({@code setsid}), so {@link #kill} reaches the command and everything it forked.
 * Its stdin is /dev/null; stdout and stderr go to {@link #logPath()}. Thread-safe.
 */
public final class LabProcess {
  private final String name;
  private final Host host;
  private final Process process;
  private final Path log;

  LabProcess(String name, Host host, Process process, Path log) {
    this.name = name;
    this.host = host;
    this.process = process;
    this.log = log;
  }

  public String name() {
    return name;
  }

  public Host host() {
    return host;
  }

  /**
   * The pid of the command (setsid and {@code ip netns exec} exec into it), also its process group
   * id.
   */
  public long pid() {
    return process.pid();
  }

  /** Sends {@code signal} to the command's process group (to the command alone if it has none). */
  public void kill(Signal signal) {
    // Right after start the command may not have reached setsid() yet: then signal it alone. Once
    // it
    // has exited, its group may live on (orphans), so the group is signalled even then.
    boolean leader = !process.isAlive() || processGroup(pid()) == pid();
    String target = leader ? "-" + pid() : Long.toString(pid());
    try {
      // A failure means the group is already gone, which is what the caller wanted.
      Exec.run(List.of("kill", "-s", signal.name(), "--", target), null);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot signal " + name + " (pid " + pid() + ")", e);
    }
  }

  /**
   * Waits for the command to exit and returns its exit code ({@code 128 + signal} when a signal
   * ended it). Throws {@link AssertionError} with the end of the log if it is still running after
   * {@code timeout}.
   */
  public int waitFor(Duration timeout) {
    try {
      if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        throw new AssertionError(
            name
                + " on "
                + host.name()
                + " still running after "
                + timeout.toMillis()
                + " ms; end of "
                + log
                + ":\n"
                + tail(40));
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError("interrupted while waiting for " + name, e);
    }
    return process.exitValue();
  }

  public boolean isAlive() {
    return process.isAlive();
  }

  /** Completes when the command exits. */
  CompletableFuture<Process> onExit() {
    return process.onExit();
  }

  /**
   * Everything the command printed so far (stdout and stderr interleaved); invalid UTF-8 is
   * replaced.
   */
  public String log() {
    return readLog(log);
  }

  /** A log file as text ("" while it does not exist yet); invalid UTF-8 is replaced. */
  static String readLog(Path file) {
    try {
      return new String(Files.readAllBytes(file), StandardCharsets.UTF_8);
    } catch (NoSuchFileException e) {
      return "";
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + file, e);
    }
  }

  public Path logPath() {
    return log;
  }

  /** The last {@code lines} lines of the log, for failure messages. */
  public String tail(int lines) {
    List<String> all = log().lines().toList();
    return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
  }

  /** True while the command or anything left in its process group runs. */
  boolean groupAlive() {
    return process.isAlive() || !groupMembers(pid()).isEmpty();
  }

  @Override
  public String toString() {
    return name + "@" + host.name() + "(pid " + pid() + ")";
  }

  /** The process group of {@code pid}, or -1 if it is gone or a zombie. */
  static long processGroup(long pid) {
    String[] f = stat(pid);
    return f == null || f[0].equals("Z") ? -1 : Long.parseLong(f[2]);
  }

  /** Live (not zombie) processes whose process group is {@code pgid}. */
  static List<Long> groupMembers(long pgid) {
    List<Long> members = new ArrayList<>();
    try (DirectoryStream<Path> procs = Files.newDirectoryStream(Path.of("/proc"), "[0-9]*")) {
      for (Path p : procs) {
        long pid = Long.parseLong(p.getFileName().toString());
        if (processGroup(pid) == pgid) {
          members.add(pid);
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot list /proc", e);
    }
    return members;
  }

  /**
   * The fields of /proc/PID/stat after the command name (state ppid pgrp ...), or null if it is
   * gone.
   */
  private static String[] stat(long pid) {
    try {
      String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
      // The command name is in parentheses and may itself contain spaces or parentheses.
      return stat.substring(stat.lastIndexOf(')') + 2).split(" ");
    } catch (IOException | RuntimeException e) {
      return null;
    }
  }
}
