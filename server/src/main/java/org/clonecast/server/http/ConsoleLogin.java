package org.clonecast.server.http;

import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.cookie.Cookie;
import io.netty.handler.codec.http.cookie.ServerCookieDecoder;
import java.net.URI;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import org.clonecast.server.store.EventLog;

/**
 * The console's login: the operator gives the API token once ({@code POST /api/v1/login} {token})
 * and the browser gets a session cookie instead (HttpOnly, so page scripts never hold it;
 * SameSite=Strict, so another site's page cannot make the browser send it; it expires after {@link
 * #LIFETIME}). A change made with the cookie must also come from the console's own origin ({@link
 * #sameOrigin}: its {@code Origin} header names this host), so a cross-site form or script cannot
 * act even in a browser that ignores SameSite.
 *
 * <ul>
 *   <li>POST /api/v1/login {token}: sets the cookie; 401 for a wrong token
 *   <li>GET /api/v1/login: {loggedIn, expires}
 *   <li>POST /api/v1/logout: forgets the session and clears the cookie
 * </ul>
 *
 * <p>Thread-safe. Sessions live in memory: a daemon restart logs everyone out.
 */
public final class ConsoleLogin {
  /** The cookie's name. */
  static final String COOKIE = "clonecast_session";

  /** How long a login lasts. */
  static final Duration LIFETIME = Duration.ofHours(8);

  /** Logins kept at once; the oldest goes first. */
  static final int MAX_SESSIONS = 64;

  private final ApiToken token;
  private final EventLog events;
  private final Clock clock;
  private final SecureRandom random = new SecureRandom();

  /** Session id -> expiry (epoch ms), oldest first. */
  private final LinkedHashMap<String, Long> sessions = new LinkedHashMap<>();

  public ConsoleLogin(ApiToken token, EventLog events, Clock clock) {
    this.token = token;
    this.events = events;
    this.clock = clock;
  }

  public HttpServer.Routes register(HttpServer.Routes routes) {
    return routes.login(this).api("/api/v1/login", this::login).api("/api/v1/logout", this::logout);
  }

  /** Whether the request carries a session cookie of a login that has not expired. */
  boolean accepts(Request r) {
    return session(r).isPresent();
  }

  /**
   * Whether a change made with the cookie comes from this console: its {@code Origin} names the
   * host the request was sent to (browsers send Origin with every POST, PATCH and DELETE).
   */
  static boolean sameOrigin(Request r) {
    String origin = r.headers().get(HttpHeaderNames.ORIGIN);
    String host = r.headers().get(HttpHeaderNames.HOST);
    if (origin == null || host == null) return false;
    try {
      URI o = URI.create(origin);
      String authority = o.getRawAuthority();
      return ("http".equals(o.getScheme()) || "https".equals(o.getScheme()))
          && authority != null
          && authority.equalsIgnoreCase(host);
    } catch (IllegalArgumentException e) {
      return false;
    }
  }

  private synchronized Optional<String> session(Request r) {
    String header = r.headers().get(HttpHeaderNames.COOKIE);
    if (header == null) return Optional.empty();
    long now = clock.millis();
    sessions.values().removeIf(expiry -> expiry <= now);
    for (Cookie c : ServerCookieDecoder.STRICT.decode(header)) {
      if (c.name().equals(COOKIE) && sessions.containsKey(c.value())) return Optional.of(c.value());
    }
    return Optional.empty();
  }

  private Reply login(Request r) {
    if (r.method().equals(HttpMethod.GET)) {
      Optional<String> s = session(r);
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("loggedIn", s.isPresent());
      synchronized (this) {
        m.put("expires", s.map(sessions::get).orElse(null));
      }
      return Reply.json(m);
    }
    if (!r.method().equals(HttpMethod.POST)) return ImageRoutes.notAllowed(r);
    if (r.headers().contains(HttpHeaderNames.ORIGIN) && !sameOrigin(r)) {
      throw new ForbiddenException(
          "login from another site's page (Origin "
              + r.headers().get(HttpHeaderNames.ORIGIN)
              + ") refused; open the console at this daemon's own address");
    }
    String given =
        Json.text(Json.object(r.body()), "token")
            .orElseThrow(
                () ->
                    new BadRequestException(
                        "field 'token' is required: the API token from <state-dir>/api-token"));
    if (!token.accepts("Bearer " + given)) {
      events.record(
          "http",
          Optional.empty(),
          Optional.empty(),
          "console login from "
              + r.remote().getAddress().getHostAddress()
              + " refused: wrong token");
      return Reply.error(
          HttpResponseStatus.UNAUTHORIZED,
          "that is not the API token; it is in <state-dir>/api-token on the head node");
    }
    byte[] raw = new byte[32];
    random.nextBytes(raw);
    String id = HexFormat.of().formatHex(raw);
    long expires = clock.millis() + LIFETIME.toMillis();
    synchronized (this) {
      sessions.put(id, expires);
      while (sessions.size() > MAX_SESSIONS) sessions.remove(sessions.keySet().iterator().next());
    }
    events.record(
        "http",
        Optional.empty(),
        Optional.empty(),
        "console login from " + r.remote().getAddress().getHostAddress());
    return new Reply.Bytes(
        HttpResponseStatus.OK,
        "application/json",
        Json.bytes(Map.of("loggedIn", true, "expires", expires)),
        Map.of(
            "Set-Cookie",
            COOKIE
                + "="
                + id
                + "; Path=/; HttpOnly; SameSite=Strict; Max-Age="
                + LIFETIME.toSeconds()));
  }

  private Reply logout(Request r) {
    if (!r.method().equals(HttpMethod.POST)) return ImageRoutes.notAllowed(r);
    Optional<String> s = session(r);
    synchronized (this) {
      s.ifPresent(sessions::remove);
    }
    return new Reply.Bytes(
        HttpResponseStatus.OK,
        "application/json",
        Json.bytes(Map.of("loggedIn", false)),
        Map.of("Set-Cookie", COOKIE + "=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"));
  }
}
