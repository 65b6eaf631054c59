package org.clonecast.server.config;

import java.net.URI;
import java.net.URISyntaxException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.Objects;
import java.util.Optional;

/**
 * Where the daemon keeps its state (docs/scale.md): the embedded SQLite file in the state directory
 * (the default, one head node), or a PostgreSQL database that several daemons share ({@code
 * postgresql://[user[:password]@]host[:port]/database}, libpq's URI form).
 *
 * <p>Immutable; thread-safe.
 */
public sealed interface StoreConfig {
  /** The config key and flag value that name the embedded store explicitly. */
  String SQLITE = "sqlite";

  /** What log lines and error messages call this store: never the password. */
  String display();

  /** The embedded SQLite file in the state directory. */
  record Sqlite() implements StoreConfig {
    @Override
    public String display() {
      return SQLITE;
    }
  }

  /**
   * A PostgreSQL database.
   *
   * @param host its host name or address
   * @param port its TCP port
   * @param database the database's name
   * @param user the role to log in as; empty: the driver's default (the OS user)
   * @param password that role's password; empty: none (trust or peer authentication)
   */
  record Postgres(
      String host, int port, String database, Optional<String> user, Optional<String> password)
      implements StoreConfig {
    public static final int DEFAULT_PORT = 5432;

    public Postgres {
      Objects.requireNonNull(host, "host");
      Objects.requireNonNull(database, "database");
      Objects.requireNonNull(user, "user");
      Objects.requireNonNull(password, "password");
      if (host.isEmpty() || database.isEmpty()) {
        throw new ConfigException("a PostgreSQL store needs a host and a database name");
      }
      if (port < 1 || port > 65535) {
        throw new ConfigException("PostgreSQL port " + port + " is out of range; use 1 to 65535");
      }
    }

    /** The JDBC URL, without the credentials (they go as connection properties). */
    public String jdbcUrl() {
      String h = host.contains(":") ? "[" + host + "]" : host;
      return "jdbc:postgresql://" + h + ":" + port + "/" + database;
    }

    @Override
    public String display() {
      return "postgresql://"
          + user.map(u -> u + "@").orElse("")
          + host
          + ":"
          + port
          + "/"
          + database;
    }

    @Override
    public String toString() {
      return display();
    }
  }

  /**
   * Parses the {@code store} setting: {@code sqlite}, or a {@code postgresql://} (or {@code
   * postgres://}) URI.
   *
   * @throws ConfigException naming what is wrong and the form wanted
   */
  static StoreConfig parse(String value) {
    String want =
        "sqlite or postgresql://[user[:password]@]host[:port]/database, e.g."
            + " postgresql://clonecast@db1:5432/clonecast";
    if (value.equals(SQLITE)) {
      return new Sqlite();
    }
    URI u;
    try {
      u = new URI(value);
    } catch (URISyntaxException e) {
      throw new ConfigException("store " + redact(value) + " is not a URI; want " + want);
    }
    if (!"postgresql".equals(u.getScheme()) && !"postgres".equals(u.getScheme())) {
      throw new ConfigException("store " + redact(value) + " is unknown; want " + want);
    }
    if (u.getHost() == null) {
      throw new ConfigException("store " + redact(value) + " names no host; want " + want);
    }
    String path = u.getRawPath() == null ? "" : u.getRawPath();
    String db = decode(path.startsWith("/") ? path.substring(1) : path);
    if (db.isEmpty() || db.contains("/")) {
      throw new ConfigException("store " + redact(value) + " names no database; want " + want);
    }
    if (u.getRawQuery() != null || u.getRawFragment() != null) {
      throw new ConfigException(
          "store " + redact(value) + ": parameters (?...) are not supported; want " + want);
    }
    Optional<String> user = Optional.empty();
    Optional<String> password = Optional.empty();
    String info = u.getRawUserInfo();
    if (info != null) {
      int colon = info.indexOf(':');
      user = Optional.of(decode(colon < 0 ? info : info.substring(0, colon)));
      if (colon >= 0) {
        password = Optional.of(decode(info.substring(colon + 1)));
      }
    }
    String host = u.getHost();
    if (host.startsWith("[") && host.endsWith("]")) {
      host = host.substring(1, host.length() - 1);
    }
    return new Postgres(
        host,
        u.getPort() < 0 ? Postgres.DEFAULT_PORT : u.getPort(),
        db,
        user.filter(s -> !s.isEmpty()),
        password);
  }

  private static String decode(String s) {
    return URLDecoder.decode(s.replace("+", "%2B"), StandardCharsets.UTF_8);
  }

  /** {@code value} with any password replaced, for error messages. */
  private static String redact(String value) {
    return value.replaceAll("(//[^/@:]*:)[^/@]*@", "$1***@");
  }

  static StoreConfig from(ConfigFile f) {
    return f.string("store").map(StoreConfig::parse).orElse(new Sqlite());
  }
}
