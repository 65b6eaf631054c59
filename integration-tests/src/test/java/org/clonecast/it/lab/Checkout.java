package org.clonecast.it.lab;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The checkout under test, as the ITs reach it: its root (system property {@code clonecast.repo},
 * else the parent of the module's directory), its launchers {@code ./clonecast} and {@code
 * ./clonecast-agent}, and the per-machine cache of slow downloads and builds.
 */
public final class Checkout {
  private Checkout() {}

  /** The repository root. */
  public static Path repo() {
    return Path.of(System.getProperty("clonecast.repo", "../")).toAbsolutePath().normalize();
  }

  /**
   * The repository root, after failing the test unless {@code mvn install} built the daemon's jar
   * (and, with {@code agentToo}, the agent's).
   */
  public static Path built(boolean agentToo) {
    Path repo = repo();
    assertTrue(
        Files.exists(repo.resolve("server/target/clonecast.jar")),
        "build the jars first (mvn install)");
    if (agentToo) {
      assertTrue(
          Files.exists(repo.resolve("client-agent/target/clonecast-agent.jar")),
          "build the jars first (mvn install)");
    }
    return repo;
  }

  /** {@code ./clonecast args...}. */
  public static List<String> clonecast(String... args) {
    return launcher("clonecast", args);
  }

  /** {@code ./clonecast-agent args...}. */
  public static List<String> agent(String... args) {
    return launcher("clonecast-agent", args);
  }

  private static List<String> launcher(String name, String... args) {
    List<String> cmd = new ArrayList<>(List.of(repo().resolve(name).toString()));
    cmd.addAll(List.of(args));
    return cmd;
  }

  /**
   * A directory of the machine's test cache ({@code $CLONECAST_TEST_CACHE}, else {@code
   * /var/cache/clonecast-test}): the netboot environment ({@code bootenv}) and the golden disks
   * ({@code golden}) are built there once.
   */
  public static String testCache(String what) {
    return System.getenv().getOrDefault("CLONECAST_TEST_CACHE", "/var/cache/clonecast-test")
        + "/"
        + what;
  }
}
