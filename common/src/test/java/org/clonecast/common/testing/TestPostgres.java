package org.clonecast.common.testing;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;

/**
 * A throw-away PostgreSQL server from Debian's package (postgresql-15 or later), for the tests of
 * the shared store (docs/scale.md): {@code initdb} into a new temporary directory, {@code pg_ctl
 * start} listening on one TCP address and a unix socket in that directory, and on {@link #close}
 * stopped (immediately, then killed if it lingers) and the directory removed. PostgreSQL refuses to
 * run as root, so as root the server runs as the unprivileged {@code postgres} user (or {@code
 * nobody}) through {@code runuser}. Logins over TCP need the password {@link #PASSWORD}, so a stray
 * local process cannot use it.
 *
 * <p>A missing PostgreSQL fails the test in CI ({@code CI=true}) and skips it elsewhere (STYLE rule
 * 24). Fsync is off: these are tests of behaviour, not durability.
 *
 * <p>Not thread-safe: one test class owns it.
 */
public final class TestPostgres implements AutoCloseable {
  /** The superuser the tests log in as. */
  public static final String USER = "clonecast";

  /** Its password. */
  public static final String PASSWORD = "clonecast-test";

  private static final long WAIT_SECONDS = 60;

  private final Path bin;
  private final Path dir;
  private final List<String> prefix;
  private final String host;
  private final int port;
  private int databases;

  private TestPostgres(Path bin, Path dir, List<String> prefix, String host, int port) {
    this.bin = bin;
    this.dir = dir;
    this.prefix = prefix;
    this.host = host;
    this.port = port;
  }

  /** Starts a server on 127.0.0.1 at a free port. */
  public static TestPostgres start() {
    return start(List.of(), "127.0.0.1", freePort());
  }

  /**
   * Starts a server on {@code host}:{@code port}, its commands run behind {@code wrap} (e.g. {@code
   * ip netns exec NS}, to run it inside a lab namespace that created {@code host}).
   */
  public static TestPostgres start(List<String> wrap, String host, int port) {
    Path bin = binaries();
    Path dir;
    try {
      dir = Files.createTempDirectory("clonecast-pg-");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    List<String> prefix = new ArrayList<>(wrap);
    boolean root = "root".equals(System.getProperty("user.name"));
    TestPostgres pg = new TestPostgres(bin, dir, prefix, host, port);
    try {
      if (root) {
        String user = userExists("postgres") ? "postgres" : "nobody";
        run(List.of("chown", user, dir.toString()), null);
        run(List.of("chmod", "700", dir.toString()), null);
        prefix.addAll(List.of("runuser", "-u", user, "--"));
      }
      Path pw = dir.resolve("pw");
      pg.exec(
          List.of(
              "sh", "-c", "umask 077 && printf %s \"$1\" > \"$2\"", "sh", PASSWORD, pw.toString()));
      pg.exec(
          List.of(
              bin.resolve("initdb").toString(),
              "-D",
              dir.resolve("data").toString(),
              "-U",
              USER,
              "--pwfile=" + pw,
              "--auth-local=trust",
              "--auth-host=scram-sha-256",
              "--encoding=UTF8",
              "--locale=C",
              "--no-sync"));
      // initdb lets only 127.0.0.1 and ::1 in over TCP; a lab's daemons come from their namespaces'
      // addresses. The server listens on one address only, and every TCP login needs the password.
      pg.exec(
          List.of(
              "sh",
              "-c",
              "echo 'host all all 0.0.0.0/0 scram-sha-256' >> \"$1\"",
              "sh",
              dir.resolve("data/pg_hba.conf").toString()));
      pg.exec(
          List.of(
              bin.resolve("pg_ctl").toString(),
              "start",
              "-D",
              dir.resolve("data").toString(),
              "-w",
              "-t",
              String.valueOf(WAIT_SECONDS),
              "-l",
              dir.resolve("server.log").toString(),
              "-o",
              "-c listen_addresses="
                  + host
                  + " -p "
                  + port
                  + " -k "
                  + dir
                  + " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
                  + " -c max_connections=100"));
      return pg;
    } catch (RuntimeException | Error e) {
      pg.close();
      throw e;
    }
  }

  /** The TCP address it listens on. */
  public String host() {
    return host;
  }

  public int port() {
    return port;
  }

  /** Creates a new, empty database and returns its name. */
  public String newDatabase() {
    String name = "t" + (++databases);
    psql("CREATE DATABASE " + name);
    return name;
  }

  /**
   * The {@code postgresql://} URL of {@code database} (with the user and password), as {@code
   * clonecast serve --store} takes it.
   */
  public String url(String database) {
    return "postgresql://" + USER + ":" + PASSWORD + "@" + host + ":" + port + "/" + database;
  }

  /** Runs {@code sql} in {@code database} through the unix socket; returns psql's output. */
  public String psql(String database, String sql) {
    return exec(
        List.of(
            bin.resolve("psql").toString(),
            "-h",
            dir.toString(),
            "-p",
            String.valueOf(port),
            "-U",
            USER,
            "-d",
            database,
            "-X",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            sql));
  }

  private String psql(String sql) {
    return psql("postgres", sql);
  }

  /** The server's log, for a failing test's message. */
  public String log() {
    try {
      return Files.readString(dir.resolve("server.log"));
    } catch (IOException e) {
      return "(no log: " + e.getMessage() + ")";
    }
  }

  @Override
  public void close() {
    Path data = dir.resolve("data");
    try {
      if (Files.exists(data.resolve("postmaster.pid"))) {
        try {
          exec(
              List.of(
                  bin.resolve("pg_ctl").toString(),
                  "stop",
                  "-D",
                  data.toString(),
                  "-m",
                  "immediate",
                  "-w",
                  "-t",
                  "20"));
        } catch (RuntimeException | AssertionError e) {
          killPostmaster(data);
        }
      }
    } finally {
      deleteTree(dir);
    }
  }

  /** Kills what postmaster.pid names, if pg_ctl could not stop it. */
  private static void killPostmaster(Path data) {
    try {
      String pid = Files.readAllLines(data.resolve("postmaster.pid")).get(0).trim();
      run(List.of("kill", "-KILL", pid), null);
    } catch (IOException | RuntimeException | AssertionError e) {
      // Nothing more to do: the directory removal below still runs.
    }
  }

  private String exec(List<String> cmd) {
    List<String> full = new ArrayList<>(prefix);
    full.addAll(cmd);
    return run(full, dir.toFile());
  }

  private static String run(List<String> cmd, java.io.File cwd) {
    try {
      ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
      if (cwd != null) {
        pb.directory(cwd);
      }
      Process p = pb.start();
      p.getOutputStream().close();
      byte[] out = p.getInputStream().readAllBytes();
      if (!p.waitFor(WAIT_SECONDS, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new AssertionError(cmd + " did not finish within " + WAIT_SECONDS + " s");
      }
      String text = new String(out, StandardCharsets.UTF_8);
      if (p.exitValue() != 0) {
        throw new AssertionError(cmd + " exited " + p.exitValue() + ":\n" + text);
      }
      return text;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError("interrupted running " + cmd, e);
    }
  }

  /**
   * The newest installed PostgreSQL's bin directory; fails in CI and skips elsewhere when there is
   * none.
   */
  public static Path binaries() {
    Optional<Path> bin = Optional.empty();
    Path root = Path.of("/usr/lib/postgresql");
    if (Files.isDirectory(root)) {
      try (Stream<Path> s = Files.list(root)) {
        bin =
            s.map(v -> v.resolve("bin"))
                .filter(b -> Files.isExecutable(b.resolve("initdb")))
                .max(Comparator.comparingInt(TestPostgres::version));
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
    if (bin.isEmpty() || !Files.isExecutable(Path.of("/usr/bin/psql"))) {
      String msg =
          "PostgreSQL not installed (apt-get install --no-install-recommends postgresql"
              + " postgresql-client)";
      if ("true".equals(System.getenv("CI"))) {
        fail(msg);
      }
      Assumptions.abort(msg);
    }
    return bin.get();
  }

  private static int version(Path bin) {
    try {
      return Integer.parseInt(bin.getParent().getFileName().toString());
    } catch (NumberFormatException e) {
      return 0;
    }
  }

  private static boolean userExists(String name) {
    try {
      return Files.readAllLines(Path.of("/etc/passwd")).stream()
          .anyMatch(l -> l.startsWith(name + ":"));
    } catch (IOException e) {
      return false;
    }
  }

  private static int freePort() {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * Removes {@code dir}: by {@code rm -rf} first, which is quick enough for a JVM shutdown hook
   * (the store tests stop their server from one, and a data directory holds thousands of files),
   * then by walking whatever is left.
   */
  private static void deleteTree(Path dir) {
    if (!Files.exists(dir)) {
      return;
    }
    try {
      run(List.of("rm", "-rf", "--one-file-system", dir.toString()), null);
    } catch (RuntimeException | AssertionError e) {
      // The walk below says what could not be removed.
    }
    if (!Files.exists(dir)) {
      return;
    }
    try (Stream<Path> s = Files.walk(dir)) {
      for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("removing " + dir, e);
    }
  }
}
