package org.clonecast.agent.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.clonecast.common.api.Progress;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * An agent whose daemon stops answering calls the next of {@code clonecast.server=URL,URL2}
 * (docs/scale.md, "Failover"), and stays with it; a real HTTP server on loopback answers for the
 * partner, a closed port is the dead daemon.
 */
class ServerClientFailoverTest {
  HttpServer partner;
  final List<String> calls = new CopyOnWriteArrayList<>();

  @BeforeEach
  void setUp() throws Exception {
    partner = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    partner.createContext(
        "/agent/v1/",
        x -> {
          calls.add(
              x.getRequestURI().getPath() + " " + x.getRequestHeaders().getFirst("Authorization"));
          byte[] body = "{\"ok\":true}".getBytes(StandardCharsets.UTF_8);
          x.getResponseHeaders().add("Content-Type", "application/json");
          x.sendResponseHeaders(200, body.length);
          x.getResponseBody().write(body);
          x.close();
        });
    partner.start();
  }

  @AfterEach
  void tearDown() {
    partner.stop(0);
  }

  private static int closedPort() throws Exception {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  @Test
  void aDaemonThatDoesNotAnswerIsLeftForTheNext() throws Exception {
    URI dead = URI.create("http://127.0.0.1:" + closedPort());
    URI live = URI.create("http://127.0.0.1:" + partner.getAddress().getPort());
    ServerClient api = new ServerClient(List.of(dead, live), "s3cret");
    assertEquals(dead, api.server(), "its own daemon first");
    api.progress("52:54:00:00:00:01", 7, Progress.Phase.RECEIVING, 1, 2, 0);
    assertEquals(live, api.server());
    api.progress("52:54:00:00:00:01", 7, Progress.Phase.RECEIVING, 2, 2, 0);
    assertEquals(
        List.of("/agent/v1/progress Clonecast s3cret", "/agent/v1/progress Clonecast s3cret"),
        calls,
        "each call once, with the node's secret, the second straight to the partner");
  }

  /** A daemon killed mid-call: the connection is taken, then closed with no answer. */
  @Test
  void aDaemonThatClosesTheConnectionWithoutAnAnswerIsLeftForTheNext() throws Exception {
    try (ServerSocket hangUp = new ServerSocket(0, 4, InetAddress.getLoopbackAddress())) {
      Thread t =
          new Thread(
              () -> {
                while (!hangUp.isClosed()) {
                  try (Socket c = hangUp.accept()) {
                    c.getInputStream().read(new byte[512]);
                  } catch (java.io.IOException e) {
                    return;
                  }
                }
              });
      t.setDaemon(true);
      t.start();
      URI dead = URI.create("http://127.0.0.1:" + hangUp.getLocalPort());
      URI live = URI.create("http://127.0.0.1:" + partner.getAddress().getPort());
      ServerClient api = new ServerClient(List.of(dead, live), "s3cret");
      api.progress("52:54:00:00:00:01", 7, Progress.Phase.RECEIVING, 1, 2, 0);
      assertEquals(live, api.server());
      assertEquals(List.of("/agent/v1/progress Clonecast s3cret"), calls);
    }
  }

  @Test
  void withNoDaemonAnsweringTheCallFailsNamingTheLastTried() throws Exception {
    URI a = URI.create("http://127.0.0.1:" + closedPort());
    URI b = URI.create("http://127.0.0.1:" + closedPort());
    ServerClient api = new ServerClient(List.of(a, b), "s");
    java.io.IOException e =
        assertThrows(
            java.io.IOException.class,
            () -> api.progress("52:54:00:00:00:01", 7, Progress.Phase.RECEIVING, 1, 2, 0));
    assertTrue(e.getMessage().startsWith("cannot reach http://127.0.0.1:"), e.getMessage());
  }

  @Test
  void theServerListIsParsed() {
    assertEquals(
        List.of(URI.create("http://10.77.0.1:8080"), URI.create("http://10.77.0.2:8080")),
        ServerClient.parseServers("http://10.77.0.1:8080,http://10.77.0.2:8080"));
    assertEquals(
        List.of(URI.create("http://10.77.0.1:8080")),
        ServerClient.parseServers("http://10.77.0.1:8080"));
    assertTrue(
        assertThrows(IllegalArgumentException.class, () -> ServerClient.parseServers("ftp://x/"))
            .getMessage()
            .contains("no http:// or https:// URL"));
    assertThrows(IllegalArgumentException.class, () -> ServerClient.parseServers(","));
    assertThrows(IllegalArgumentException.class, () -> ServerClient.parseServers("http://a b"));
  }
}
