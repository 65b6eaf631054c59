package org.clonecast.server.http;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.Unpooled;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.embedded.EmbeddedChannel;
import java.io.IOException;
import java.io.InputStream;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.clonecast.common.net.Transport;
import org.clonecast.server.boot.BootPolicy;
import org.clonecast.server.boot.BootenvStatus;
import org.clonecast.server.boot.NodeBinding;
import org.clonecast.server.config.DhcpConfig;
import org.clonecast.server.limit.RateLimiter;
import org.clonecast.server.store.Database;
import org.clonecast.server.store.EventLog;
import org.clonecast.server.store.NodeSecrets;
import org.clonecast.server.store.NodeStore;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The HTTP connection limits: the idle handlers on {@link EmbeddedChannel} with its own clock, and
 * the caps on a real server on loopback, where 127.0.0.x addresses stand for hosts.
 */
class ConnectionGuardTest {
  private static final Duration WAIT = Duration.ofSeconds(20);

  @TempDir Path dir;
  private Database db;
  private EventLoopGroup group;
  private HttpServer server;
  private final List<Socket> sockets = new ArrayList<>();

  @AfterEach
  void stop() {
    for (Socket s : sockets) {
      try {
        s.close();
      } catch (IOException e) {
        // already closed by the server
      }
    }
    if (server != null) server.close();
    if (group != null) group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    if (db != null) db.close();
  }

  private static EmbeddedChannel idleChannel(HttpStats stats) {
    EmbeddedChannel ch = new EmbeddedChannel();
    ch.freezeTime();
    ch.pipeline().addLast(new IdleTimeout(TimeUnit.SECONDS.toNanos(60), stats));
    return ch;
  }

  private static void advance(EmbeddedChannel ch, int seconds) {
    for (int i = 0; i < seconds; i++) {
      ch.advanceTimeBy(1, TimeUnit.SECONDS);
      ch.runScheduledPendingTasks();
    }
  }

  @Test
  void aConnectionWithNothingMovingIsClosedWithinAQuarterPastTheTimeout() {
    HttpStats stats = new HttpStats();
    EmbeddedChannel ch = idleChannel(stats);
    advance(ch, 59);
    assertTrue(ch.isOpen(), "not yet");
    advance(ch, 16);
    assertFalse(ch.isOpen(), "idle for 75 s");
    assertEquals(1, stats.idleClosed.sum());
  }

  @Test
  void bytesEitherWayKeepAConnectionOpen() {
    HttpStats stats = new HttpStats();
    EmbeddedChannel ch = idleChannel(stats);
    for (int i = 0; i < 10; i++) {
      advance(ch, 50);
      if (i % 2 == 0) {
        ch.writeInbound(Unpooled.wrappedBuffer(new byte[] {'G'}));
      } else {
        ch.writeOutbound(Unpooled.wrappedBuffer(new byte[] {':'})); // an event stream's keep-alive
      }
    }
    assertTrue(ch.isOpen(), "500 s with a byte every 50 s");
    assertEquals(0, stats.idleClosed.sum());
    ch.finishAndReleaseAll();
  }

  @Test
  void aConnectionWhoseRequestTheDaemonIsStillHandlingIsNotIdle() {
    HttpStats stats = new HttpStats();
    EmbeddedChannel ch = idleChannel(stats);
    ch.writeInbound(Unpooled.wrappedBuffer(new byte[] {'P'}));
    IdleTimeout.working(ch, true); // e.g. image add chunking a large disk before its answer
    advance(ch, 300);
    assertTrue(ch.isOpen(), "the client waits for the daemon, not the other way round");
    IdleTimeout.working(ch, false);
    advance(ch, 59);
    assertTrue(ch.isOpen(), "the timeout counts from the end of the work");
    advance(ch, 16);
    assertFalse(ch.isOpen(), "idle for 75 s after the work ended");
    assertEquals(1, stats.idleClosed.sum());
    ch.finishAndReleaseAll();
  }

  private void serve(HttpServer.Limits limits, byte[] file) throws Exception {
    db = Database.open(dir);
    NodeStore nodes = new NodeStore(db, Clock.systemUTC());
    Path ipxe = Files.createDirectories(dir.resolve("ipxe"));
    Files.write(ipxe.resolve("big.bin"), file);
    HttpServer.Routes routes = new HttpServer.Routes();
    new BootRoutes(
            new BootPolicy(nodes, ""),
            nodes,
            new EventLog(db, Clock.systemUTC()),
            ipxe,
            dir.resolve("bootenv"),
            () -> "http://127.0.0.2:1",
            () -> new BootenvStatus.Missing("not needed here"),
            new RateLimiter<>(RateLimiter.Limits.perMinute(30, 8), System::nanoTime),
            new NodeBinding(DhcpConfig.Mode.OFF, nodes, Optional.empty(), Clock.systemUTC()),
            new NodeSecrets(db, Clock.systemUTC()))
        .register(routes);
    group = Transport.group(1, "guard-test");
    server =
        HttpServer.start(
            group,
            (Inet4Address) InetAddress.getByName("127.0.0.2"),
            0,
            false,
            ApiToken.loadOrCreate(dir),
            routes,
            limits);
  }

  /** A connection from {@code from} to the provisioning listener (127.0.0.2), kept for closing. */
  private Socket connect(String from) throws IOException {
    return connect(from, "127.0.0.2");
  }

  private Socket connect(String from, String to) throws IOException {
    Socket s = new Socket();
    sockets.add(s);
    s.setSoTimeout((int) WAIT.toMillis());
    s.setReceiveBufferSize(16 * 1024);
    s.bind(new InetSocketAddress(InetAddress.getByName(from), 0));
    s.connect(new InetSocketAddress(InetAddress.getByName(to), server.port()), 5000);
    return s;
  }

  /**
   * Whether a connection from {@code from} is refused: reset at once, or closed before any request.
   */
  private boolean refused(String from) throws IOException {
    Socket s;
    try {
      s = connect(from);
    } catch (SocketException e) {
      return true; // the reset came before connect() returned
    }
    return closedByServer(s);
  }

  /** Whether the server closed {@code s}: EOF or a reset, waiting up to the socket timeout. */
  private static boolean closedByServer(Socket s) throws IOException {
    try {
      return s.getInputStream().read() == -1;
    } catch (SocketException e) {
      return true; // reset
    }
  }

  /** GET {@code path} from {@code from} to {@code to}; returns the status line. */
  private String get(String from, String to, String path) throws IOException {
    Socket s = connect(from, to);
    s.getOutputStream()
        .write(
            ("GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .getBytes(StandardCharsets.US_ASCII));
    String head = new String(s.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
    return head.lines().findFirst().orElse("");
  }

  @Test
  void beyondItsShareAnAddressIsRefusedAtAcceptAndOthersAreServed() throws Exception {
    serve(new HttpServer.Limits(Duration.ofSeconds(60), 6, 3), new byte[10]);
    for (int i = 0; i < 3; i++) {
      connect("127.0.0.3");
    }
    await().atMost(WAIT).until(() -> server.openConnections() == 3);
    for (int i = 0; i < 5; i++) {
      assertTrue(refused("127.0.0.3"), "refused: the address holds 3");
    }
    assertEquals(5, server.stats().refusedClient.sum());
    assertEquals(
        "HTTP/1.1 200 OK",
        get("127.0.0.4", "127.0.0.2", "/boot/files/big.bin"),
        "another host is served");

    for (int i = 0; i < 3; i++) {
      connect("127.0.0.5");
    }
    await().atMost(WAIT).until(() -> server.openConnections() == 6);
    assertTrue(refused("127.0.0.6"), "6 open in all: refused");
    assertEquals(1, server.stats().refusedFull.sum());
    assertEquals(
        "HTTP/1.1 200 OK",
        get("127.0.0.1", "127.0.0.1", "/boot/files/big.bin"),
        "the operator's loopback listener passes the overall cap");
    assertEquals(
        0, server.stats().requests.sum() - 2, "the refused connections never reached a handler");
  }

  @Test
  void idleConnectionsAreClosedButASlowDownloadThatKeepsMovingIsNot() throws Exception {
    byte[] file = new byte[16 << 20];
    new Random(1).nextBytes(file);
    serve(new HttpServer.Limits(Duration.ofSeconds(2), 100, 10), file);
    Socket idle = connect("127.0.0.3");
    assertTrue(closedByServer(idle), "nothing sent: closed after the idle timeout");
    Socket stalled = connect("127.0.0.5");
    stalled
        .getOutputStream()
        .write(
            "GET /boot/files/big.bin HTTP/1.1\r\nHost: x\r\n\r\n"
                .getBytes(StandardCharsets.US_ASCII));
    // Never read: once the kernel's buffers are full nothing moves, and the download is idle too.
    await().atMost(WAIT).until(() -> server.stats().idleClosed.sum() == 2);
    await().atMost(WAIT).until(() -> server.openConnections() == 0);

    Socket slow = connect("127.0.0.4");
    slow.setReceiveBufferSize(64 * 1024);
    slow.getOutputStream()
        .write(
            "GET /boot/files/big.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                .getBytes(StandardCharsets.US_ASCII));
    InputStream in = slow.getInputStream();
    byte[] buf = new byte[64 * 1024];
    long total = 0;
    long started = System.nanoTime();
    int n;
    // A slow reader, at most 6.4 MB/s: the file takes longer than the idle timeout, yet bytes never
    // stop moving (the kernel's send buffer, up to 4 MiB on loopback, drains well within it).
    while ((n = in.read(buf)) > 0) {
      total += n;
      Thread.sleep(10);
    }
    long tookMillis = (System.nanoTime() - started) / 1_000_000;
    assertTrue(total > file.length, "headers and the whole file: " + total);
    assertEquals(
        2,
        server.stats().idleClosed.sum(),
        "the download was never taken for idle (it took " + tookMillis + " ms)");
  }
}
