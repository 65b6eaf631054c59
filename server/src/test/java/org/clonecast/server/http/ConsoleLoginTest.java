package org.clonecast.server.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.channel.EventLoopGroup;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.TimeUnit;
import org.clonecast.common.net.Transport;
import org.clonecast.common.testing.MutableClock;
import org.clonecast.server.store.Database;
import org.clonecast.server.store.EventLog;
import org.clonecast.server.store.NodeStore;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The console's login over real HTTP: the token once, then a cookie that is HttpOnly,
 * SameSite=Strict and expires; a change with the cookie must come from the console's own origin.
 */
class ConsoleLoginTest {
  @TempDir Path dir;
  Database db;
  HttpServer server;
  EventLoopGroup group;
  String token;
  final MutableClock clock = new MutableClock(Instant.parse("2026-12-06T12:00:00Z"));
  final HttpClient http = HttpClient.newHttpClient();

  @BeforeEach
  void start() throws Exception {
    db = Database.open(dir);
    EventLog events = new EventLog(db, clock);
    ApiToken t = ApiToken.loadOrCreate(dir);
    token = Files.readString(dir.resolve(ApiToken.FILE_NAME)).trim();
    HttpServer.Routes routes = new HttpServer.Routes();
    new NodeRoutes(new NodeStore(db, clock), events).register(routes);
    new ConsoleLogin(t, events, clock).register(routes);
    group = Transport.group(1, "login-test");
    server =
        HttpServer.start(
            group,
            null,
            0,
            false,
            t,
            routes,
            new HttpServer.Limits(Duration.ofSeconds(60), 64, 64));
  }

  @AfterEach
  void stop() {
    server.close();
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    db.close();
  }

  private String origin() {
    return "http://127.0.0.1:" + server.port();
  }

  private HttpResponse<String> post(String path, String body, String cookie, String origin)
      throws Exception {
    HttpRequest.Builder b =
        HttpRequest.newBuilder(URI.create(origin() + path))
            .POST(HttpRequest.BodyPublishers.ofString(body));
    if (cookie != null) b.header("Cookie", cookie);
    if (origin != null) b.header("Origin", origin);
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  private String login() throws Exception {
    HttpResponse<String> res =
        post("/api/v1/login", "{\"token\":\"" + token + "\"}", null, origin());
    assertEquals(200, res.statusCode(), res.body());
    String set = res.headers().firstValue("set-cookie").orElseThrow();
    assertTrue(
        set.contains("HttpOnly")
            && set.contains("SameSite=Strict")
            && set.contains("Max-Age=28800"),
        set);
    return set.substring(0, set.indexOf(';'));
  }

  @Test
  void theTokenOnceThenTheCookieForChangesFromTheConsole() throws Exception {
    assertEquals(
        401,
        post("/api/v1/nodes", "{\"mac\":\"52:54:00:00:00:01\",\"name\":\"n1\"}", null, origin())
            .statusCode());
    assertEquals(
        401, post("/api/v1/login", "{\"token\":\"not-the-token\"}", null, origin()).statusCode());
    String cookie = login();
    HttpResponse<String> enrolled =
        post("/api/v1/nodes", "{\"mac\":\"52:54:00:00:00:01\",\"name\":\"n1\"}", cookie, origin());
    assertEquals(201, enrolled.statusCode(), enrolled.body());
    HttpResponse<String> state =
        http.send(
            HttpRequest.newBuilder(URI.create(origin() + "/api/v1/login"))
                .header("Cookie", cookie)
                .GET()
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertTrue(Json.MAPPER.readTree(state.body()).path("loggedIn").asBoolean(), state.body());
  }

  @Test
  void aChangeFromAnotherOriginOrWithoutOneIsRefused() throws Exception {
    String cookie = login();
    String body = "{\"mac\":\"52:54:00:00:00:02\",\"name\":\"n2\"}";
    assertEquals(403, post("/api/v1/nodes", body, cookie, "http://evil.example").statusCode());
    assertEquals(403, post("/api/v1/nodes", body, cookie, null).statusCode());
    assertEquals(403, post("/api/v1/nodes", body, cookie, "null").statusCode());
    assertEquals(
        403,
        post("/api/v1/login", "{\"token\":\"" + token + "\"}", null, "http://evil.example")
            .statusCode());
  }

  @Test
  void theCookieExpiresAndLogoutEndsIt() throws Exception {
    String body = "{\"mac\":\"52:54:00:00:00:03\",\"name\":\"n3\"}";
    String cookie = login();
    clock.advance(ConsoleLogin.LIFETIME.plusSeconds(1));
    assertEquals(401, post("/api/v1/nodes", body, cookie, origin()).statusCode());
    String again = login();
    assertEquals(200, post("/api/v1/logout", "", again, origin()).statusCode());
    assertEquals(401, post("/api/v1/nodes", body, again, origin()).statusCode());
    assertEquals(
        401,
        post("/api/v1/nodes", body, "clonecast_session=" + "0".repeat(64), origin()).statusCode());
  }
}
