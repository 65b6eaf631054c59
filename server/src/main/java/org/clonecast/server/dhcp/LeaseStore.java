package org.clonecast.server.dhcp;

import java.net.Inet4Address;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import org.clonecast.protocol.wire.Ipv4;
import org.clonecast.protocol.wire.MacAddress;
import org.clonecast.server.store.Database;

/**
 * The leases table (schema migration 3): one row per address, the address its primary key. The
 * handler stores a batch of changed leases inside the transaction that also records their events,
 * and sends the replies only after it committed. Several daemons may share the table (a PostgreSQL
 * store, docs/scale.md): a write never takes an address from another client that holds it, whatever
 * the writing daemon believed, so no address is ever bound to two clients.
 *
 * <p>Thread-safe (through the {@link Database}).
 */
public final class LeaseStore {
  private final Database db;

  public LeaseStore(Database db) {
    this.db = db;
  }

  /** Every stored lease. */
  public List<Lease> loadAll() {
    return db.read(
        c -> {
          List<Lease> out = new ArrayList<>();
          try (PreparedStatement ps =
                  c.prepareStatement("SELECT ip, mac, state, expires FROM leases");
              ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
              out.add(lease(rs));
            }
          }
          return out;
        });
  }

  /**
   * The address {@code mac} holds a lease on now (bound and not expired), if any; the most recent
   * one if it somehow holds several.
   */
  public Optional<String> boundAddress(MacAddress mac, long nowMillis) {
    return db.read(
        c -> {
          try (PreparedStatement ps =
              c.prepareStatement(
                  "SELECT ip FROM leases WHERE mac = ? AND state = ? AND expires > ? ORDER BY expires DESC LIMIT 1")) {
            ps.setString(1, mac.toString());
            ps.setString(2, Lease.State.BOUND.id());
            ps.setLong(3, nowMillis);
            try (ResultSet rs = ps.executeQuery()) {
              return rs.next() ? Optional.of(rs.getString(1)) : Optional.<String>empty();
            }
          }
        });
  }

  /**
   * A lease to write and the client whose request changed it (for a DECLINE's quarantine, which
   * stores no MAC, the client that declined).
   */
  public record Write(MacAddress client, Lease lease) {
    public Write {
      Objects.requireNonNull(client, "client");
      Objects.requireNonNull(lease, "lease");
      if (lease.state() == Lease.State.OFFERED) {
        throw new IllegalArgumentException("offers are not stored: " + lease);
      }
    }
  }

  /**
   * The upsert of one address's row: it replaces the stored row only when that row is free for the
   * writing client at the given time (its own, released, or expired). The address is the table's
   * primary key, so whatever several daemons write at once, an address has one row and a row has
   * one holder; PostgreSQL's ON CONFLICT DO UPDATE re-checks the WHERE against the row another
   * transaction just committed, so of two daemons binding one address to two clients, the second
   * finds the first's lease and changes nothing.
   */
  private static final String UPSERT =
      "INSERT INTO leases (ip, mac, state, expires) VALUES (?, ?, ?, ?) ON CONFLICT (ip) DO UPDATE"
          + " SET mac = excluded.mac, state = excluded.state, expires = excluded.expires"
          + " WHERE leases.mac = ? OR leases.state = 'released' OR leases.expires <= ?";

  /**
   * Writes {@code writes} in order inside the caller's transaction, each only where the stored row
   * is free for its client at {@code nowMillis} (see {@link #UPSERT}). Returns the addresses whose
   * row another client holds (a lease another daemon gave): nothing was written for them.
   */
  public static List<Inet4Address> save(Connection c, List<Write> writes, long nowMillis)
      throws SQLException {
    boolean[] written = write(c, writes, nowMillis);
    List<Inet4Address> refused = new ArrayList<>();
    for (int i = 0; i < written.length; i++) {
      if (!written[i]) {
        refused.add(writes.get(i).lease().ip());
      }
    }
    return refused;
  }

  /**
   * {@link #save}, telling for each write whether it was written. The writes go as one JDBC batch:
   * PostgreSQL's driver sends them together and reads their results once, one round trip for all.
   */
  public static boolean[] write(Connection c, List<Write> writes, long nowMillis)
      throws SQLException {
    boolean[] written = new boolean[writes.size()];
    if (writes.isEmpty()) {
      return written;
    }
    try (PreparedStatement ps = c.prepareStatement(UPSERT)) {
      for (Write w : writes) {
        Lease l = w.lease();
        ps.setString(1, l.ip().getHostAddress());
        ps.setString(2, l.mac().map(MacAddress::toString).orElse(null));
        ps.setString(3, l.state().id());
        ps.setLong(4, l.expiresMillis());
        ps.setString(5, w.client().toString());
        ps.setLong(6, nowMillis);
        ps.addBatch();
      }
      int[] counts = ps.executeBatch();
      if (counts.length != written.length) {
        throw new SQLException(
            "a batch of " + written.length + " lease writes returned " + counts.length + " counts");
      }
      for (int i = 0; i < counts.length; i++) {
        if (counts[i] < 0) {
          throw new SQLException("the store did not tell whether lease write " + i + " was made");
        }
        written[i] = counts[i] > 0;
      }
    }
    return written;
  }

  /** The stored rows of {@code ips}, read inside the caller's transaction. */
  public static List<Lease> rows(Connection c, Collection<Inet4Address> ips) throws SQLException {
    List<Lease> out = new ArrayList<>();
    try (PreparedStatement ps =
        c.prepareStatement("SELECT ip, mac, state, expires FROM leases WHERE ip = ?")) {
      for (Inet4Address ip : ips) {
        ps.setString(1, ip.getHostAddress());
        try (ResultSet rs = ps.executeQuery()) {
          if (rs.next()) {
            out.add(lease(rs));
          }
        }
      }
    }
    return out;
  }

  private static Lease lease(ResultSet rs) throws SQLException {
    String mac = rs.getString(2);
    return new Lease(
        Ipv4.parse(rs.getString(1)),
        Optional.ofNullable(mac).map(MacAddress::parse),
        Lease.State.parse(rs.getString(3)),
        rs.getLong(4));
  }
}
