package org.clonecast.server.store;

import java.net.Inet4Address;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * The daemons that share the store (docs/scale.md, "The daemons"): each announces itself when it
 * starts (its id, the URL agents and other daemons reach it at, its segment), renews its heartbeat
 * every {@link #BEAT} and marks a clean stop. A daemon whose heartbeat is older than {@link
 * #DEAD_AFTER} and that did not stop cleanly has died (killed, its host gone, or cut off from the
 * database): its partners may take over its work.
 *
 * <p>A daemon calling another presents its id and its peer secret; only the secret's SHA-256 is
 * stored (as for node secrets), so the callee checks it against the row ({@link #verifyPeer}) and a
 * copy of the database does not let anyone act as a daemon.
 *
 * <p>Thread-safe (every call is one transaction of the {@link Database}).
 */
public final class DaemonRegistry {
  /** How often a running daemon renews its heartbeat. */
  public static final Duration BEAT = Duration.ofSeconds(2);

  /**
   * A heartbeat older than this is a dead daemon: five beats missed, so a database that answers
   * slowly for a few seconds does not make a live daemon look dead.
   */
  public static final Duration DEAD_AFTER = BEAT.multipliedBy(5);

  /** What the store knows of one daemon. */
  public record Member(
      String id,
      String url,
      String address,
      int prefix,
      long started,
      long heartbeat,
      Optional<Long> stopped,
      boolean dhcp) {
    public Member {
      Objects.requireNonNull(id);
      Objects.requireNonNull(url);
      Objects.requireNonNull(address);
      Objects.requireNonNull(stopped);
    }

    /** Whether it runs: not stopped, and its heartbeat no older than {@link #DEAD_AFTER}. */
    public boolean alive(long nowMillis) {
      return stopped.isEmpty() && nowMillis - heartbeat <= DEAD_AFTER.toMillis();
    }

    /** {@code running}, {@code stopped} or {@code dead} (see {@link #alive}). */
    public String state(long nowMillis) {
      return alive(nowMillis) ? "running" : stopped.isPresent() ? "stopped" : "dead";
    }

    /** Its segment as network/prefix, e.g. {@code 10.77.0.0/24}. */
    public String segment() {
      return DaemonRegistry.segment(address, prefix);
    }

    /** Whether {@code other} is on the same segment (the same network and prefix). */
    public boolean sameSegment(Member other) {
      return segment().equals(other.segment());
    }
  }

  private final Database db;
  private final Clock clock;
  private final String peerSecret;

  /**
   * @param peerSecret this daemon's peer secret (kept in its state directory)
   */
  public DaemonRegistry(Database db, Clock clock, String peerSecret) {
    this.db = Objects.requireNonNull(db);
    this.clock = Objects.requireNonNull(clock);
    this.peerSecret = Objects.requireNonNull(peerSecret);
  }

  /** This daemon's id. */
  public String self() {
    return db.daemon();
  }

  /** This daemon's peer secret, which it presents to the other daemons. */
  public String peerSecret() {
    return peerSecret;
  }

  /**
   * Records this daemon as running at {@code url}, on the segment of {@code address}/{@code
   * prefix}: a restart replaces what the row said.
   */
  public void announce(String url, Inet4Address address, int prefix) {
    announce(url, address, prefix, false);
  }

  /**
   * Records this daemon as running at {@code url}, on the segment of {@code address}/{@code
   * prefix}, answering DHCP in full mode there if {@code dhcp}: a restart replaces what the row
   * said.
   */
  public void announce(String url, Inet4Address address, int prefix, boolean dhcp) {
    if (prefix < 0 || prefix > 32) {
      throw new IllegalArgumentException("prefix length " + prefix + " is not 0-32");
    }
    long now = clock.millis();
    db.write(
        c ->
            NodeStore.update(
                c,
                "INSERT INTO daemons (id, url, address, prefix, peer_hash, started, heartbeat,"
                    + " stopped, dhcp) VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?) ON CONFLICT (id) DO"
                    + " UPDATE SET dhcp = excluded.dhcp,"
                    + " url = excluded.url, address = excluded.address, prefix = excluded.prefix,"
                    + " peer_hash = excluded.peer_hash, started = excluded.started,"
                    + " heartbeat = excluded.heartbeat, stopped = NULL",
                self(),
                url,
                address.getHostAddress(),
                prefix,
                NodeSecrets.hash(peerSecret),
                now,
                now,
                dhcp ? 1 : 0));
  }

  /**
   * Renews this daemon's heartbeat.
   *
   * @return false if its row is gone (removed by an admin): announce again
   */
  public boolean beat() {
    long now = clock.millis();
    return db.write(
            c ->
                NodeStore.update(
                    c,
                    "UPDATE daemons SET heartbeat = ?, stopped = NULL WHERE id = ?",
                    now,
                    self()))
        == 1;
  }

  /** Marks a clean stop: the others know at once that this daemon is not serving. */
  public void stopped() {
    long now = clock.millis();
    db.write(c -> NodeStore.update(c, "UPDATE daemons SET stopped = ? WHERE id = ?", now, self()));
  }

  /** Every daemon the store knows, by id. */
  public List<Member> list() {
    return db.read(
        c ->
            Database.query(
                c,
                "SELECT id, url, address, prefix, started, heartbeat, stopped, dhcp FROM daemons"
                    + " ORDER BY id",
                DaemonRegistry::member));
  }

  /** One daemon, if the store knows it. */
  public Optional<Member> get(String id) {
    return db.read(
        c ->
            Database.queryFirst(
                c,
                "SELECT id, url, address, prefix, started, heartbeat, stopped, dhcp FROM daemons"
                    + " WHERE id = ?",
                DaemonRegistry::member,
                id));
  }

  /** The running daemons other than this one on its segment: its failover partners. */
  public List<Member> partners() {
    long now = clock.millis();
    Optional<Member> me = get(self());
    if (me.isEmpty()) {
      return List.of();
    }
    return list().stream()
        .filter(m -> !m.id().equals(self()) && m.alive(now) && m.sameSegment(me.get()))
        .toList();
  }

  /**
   * This daemon's place among the running daemons that answer DHCP in full mode on its segment, by
   * id: {@code [index, count]}; {@code [0, 1]} when it is alone or does not answer DHCP itself.
   * They share the segment's clients (RFC 3074 load balancing, {@code DhcpResponder.Balance}).
   */
  public int[] dhcpPlace() {
    long now = clock.millis();
    Optional<Member> me = get(self());
    if (me.isEmpty() || !me.get().dhcp()) {
      return new int[] {0, 1};
    }
    List<String> ids =
        list().stream()
            .filter(m -> m.dhcp() && m.sameSegment(me.get()))
            .filter(m -> m.id().equals(self()) || m.alive(now))
            .map(Member::id)
            .sorted()
            .toList();
    return new int[] {ids.indexOf(self()), ids.size()};
  }

  /**
   * Whether {@code presented} is the peer secret of daemon {@code id}, compared in constant time.
   * False for an unknown daemon, a malformed secret or one that stopped.
   */
  public boolean verifyPeer(String id, Optional<String> presented) {
    if (id == null || presented.isEmpty() || presented.get().length() != 64) {
      return false;
    }
    Optional<String> stored =
        db.read(
            c ->
                Database.queryFirst(
                    c,
                    "SELECT peer_hash FROM daemons WHERE id = ? AND stopped IS NULL",
                    rs -> rs.getString(1),
                    id));
    return stored.isPresent()
        && MessageDigest.isEqual(
            stored.get().getBytes(StandardCharsets.US_ASCII),
            NodeSecrets.hash(presented.get()).getBytes(StandardCharsets.US_ASCII));
  }

  private static Member member(ResultSet rs) throws SQLException {
    long stopped = rs.getLong(7);
    boolean none = rs.wasNull();
    return new Member(
        rs.getString(1),
        rs.getString(2),
        rs.getString(3),
        rs.getInt(4),
        rs.getLong(5),
        rs.getLong(6),
        none ? Optional.empty() : Optional.of(stopped),
        rs.getInt(8) != 0);
  }

  /** {@code address}'s network with {@code prefix}, as network/prefix. */
  static String segment(String address, int prefix) {
    String[] p = address.split("\\.");
    if (p.length != 4) {
      return address + "/" + prefix;
    }
    long a = 0;
    for (String o : p) {
      a = (a << 8) | (Integer.parseInt(o) & 0xff);
    }
    long mask = prefix == 0 ? 0 : (0xffffffffL << (32 - prefix)) & 0xffffffffL;
    long n = a & mask;
    return (n >> 24 & 0xff)
        + "."
        + (n >> 16 & 0xff)
        + "."
        + (n >> 8 & 0xff)
        + "."
        + (n & 0xff)
        + "/"
        + prefix;
  }
}
