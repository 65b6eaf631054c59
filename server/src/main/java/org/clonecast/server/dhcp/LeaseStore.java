package org.clonecast.server.dhcp;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import org.clonecast.protocol.wire.Ipv4;
import org.clonecast.protocol.wire.MacAddress;
import org.clonecast.server.store.Database;

/**
 * The leases table (schema migration 3): one row per address. The handler stores a batch of changed
 * leases inside the transaction that also records their events, and sends the replies only after it
 * committed.
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
              String mac = rs.getString(2);
              out.add(
                  new Lease(
                      Ipv4.parse(rs.getString(1)),
                      Optional.ofNullable(mac).map(MacAddress::parse),
                      Lease.State.parse(rs.getString(3)),
                      rs.getLong(4)));
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

  /** Writes {@code leases} (replacing each address's row) inside the caller's transaction. */
  public static void save(Connection c, Collection<Lease> leases) throws SQLException {
    try (PreparedStatement ps =
        c.prepareStatement(
            "INSERT INTO leases (ip, mac, state, expires) VALUES (?, ?, ?, ?) ON CONFLICT (ip)"
                + " DO UPDATE SET mac = excluded.mac, state = excluded.state,"
                + " expires = excluded.expires")) {
      for (Lease l : leases) {
        if (l.state() == Lease.State.OFFERED) {
          throw new IllegalArgumentException("offers are not stored: " + l);
        }
        ps.setString(1, l.ip().getHostAddress());
        ps.setString(2, l.mac().map(MacAddress::toString).orElse(null));
        ps.setString(3, l.state().id());
        ps.setLong(4, l.expiresMillis());
        ps.addBatch();
      }
      ps.executeBatch();
    }
  }
}
