package org.clonecast.server;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.clonecast.common.image.ImageCreator;
import org.clonecast.common.image.ProgressListener;
import org.clonecast.server.cli.Main;
import org.clonecast.server.config.ConfigFile;
import org.clonecast.server.config.ServeConfig;
import org.clonecast.server.store.TestStore;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two whole daemons (HTTP only, on loopback) on one PostgreSQL store: one adds an image, the other
 * is told by the CLI to replicate it, and both list it as held by two daemons, the second "here"; a
 * third started with {@code images.replicate} fetches it by itself.
 */
class DaemonReplicationTest {
  @TempDir Path dir;
  final List<Daemon> daemons = new ArrayList<>();

  Daemon start(String name, String store, boolean replicate) throws Exception {
    Daemon d =
        Daemon.start(
            ServeConfig.from(
                ConfigFile.of(
                    Map.of(
                        "images.replicate", Boolean.toString(replicate),
                        "interface", "lo",
                        "state-dir", dir.resolve(name).toString(),
                        "store", store,
                        "http.port", "0",
                        "dns.enabled", "false",
                        "tftp.enabled", "false",
                        "dhcp.mode", "off",
                        "session.igmp-querier", "off",
                        "bootenv.auto-build", "false"))),
            Clock.systemUTC());
    daemons.add(d);
    return d;
  }

  @AfterEach
  void stop() {
    for (Daemon d : daemons) {
      d.close();
    }
  }

  record Run(int code, String out, String err) {}

  Run cli(Daemon d, String name, String... args) {
    List<String> a = new ArrayList<>(List.of(args));
    a.add("--server");
    a.add("http://127.0.0.1:" + d.httpPort());
    a.add("--token-file");
    a.add(dir.resolve(name).resolve("api-token").toString());
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int code =
        Main.run(new PrintWriter(out, true), new PrintWriter(err, true), a.toArray(String[]::new));
    return new Run(code, out.toString(), err.toString());
  }

  @Test
  void theCliReplicatesAnImageOntoAnotherDaemonAndBothListIt() throws Exception {
    String store = TestStore.server().url(TestStore.server().newDatabase());
    Daemon a = start("a", store, false);
    Daemon b = start("b", store, false);
    byte[] disk = new byte[40 * 64 * 1024];
    new Random(5).nextBytes(disk);
    Path raw = dir.resolve("disk.raw");
    Files.write(raw, disk);
    Path cci = dir.resolve("disk.cci");
    ImageCreator.create(raw, cci, 64 * 1024, 3, 2, ProgressListener.NONE);

    ok(cli(a, "a", "image", "add", "v1", cci.toString()));
    Run before = ok(cli(b, "b", "image", "list"));
    assertTrue(line(before.out(), "v1").contains(" 1 "), before.out());

    Run r = ok(cli(b, "b", "image", "replicate", "v1", "--from", a.registry().self()));
    assertTrue(r.out().contains("image v1 is ready on this daemon"), r.out());

    for (Daemon d : List.of(a, b)) {
      Run list = ok(cli(d, d == a ? "a" : "b", "image", "list"));
      assertTrue(line(list.out(), "v1").contains("2, here"), list.out());
    }
    Run again = ok(cli(b, "b", "image", "replicate", "v1"));
    assertTrue(again.out().contains("ready on this daemon"), again.out());
    Run unknown = cli(b, "b", "image", "replicate", "v1", "--from", "nobody");
    assertTrue(unknown.code() != 0 && unknown.err().contains("no daemon nobody"), unknown.err());

    Daemon c = start("c", store, true);
    await()
        .atMost(Duration.ofSeconds(60))
        .until(() -> line(ok(cli(c, "c", "image", "list")).out(), "v1").contains("3, here"));
  }

  static Run ok(Run r) {
    assertEquals(0, r.code(), () -> r.out() + r.err());
    return r;
  }

  static String line(String out, String name) {
    return out.lines().filter(l -> l.startsWith(name + " ")).findFirst().orElse("");
  }
}
