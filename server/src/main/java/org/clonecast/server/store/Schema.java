package org.clonecast.server.store;

import java.util.List;

/**
 * The database schema as an append-only list of migrations: migration i takes the database from
 * {@code user_version} i to i + 1. Never edit a released entry; append a new one.
 */
final class Schema {
  private Schema() {}

  static final List<String> MIGRATIONS = List.of(
      // 1: node inventory and the event log.
      """
      CREATE TABLE nodes (
        mac        TEXT PRIMARY KEY,          -- aa:bb:cc:dd:ee:ff
        name       TEXT UNIQUE,               -- host name, NULL while only discovered
        grp        TEXT,                      -- group, NULL when none
        action     TEXT NOT NULL,             -- what its next PXE boot does: reimage | local
        state      TEXT NOT NULL,             -- discovered | enrolled | booting | imaging | done | failed
        detail     TEXT,                      -- reason of the last failure, or what it does now
        arch       TEXT,                      -- client class its firmware last reported
        ip         TEXT,                      -- address last seen
        first_seen INTEGER NOT NULL,          -- epoch ms
        last_seen  INTEGER NOT NULL           -- epoch ms
      );
      CREATE TABLE events (
        id      INTEGER PRIMARY KEY AUTOINCREMENT,
        time    INTEGER NOT NULL,             -- epoch ms
        kind    TEXT NOT NULL,                -- dhcp | tftp | http | node | session | daemon
        mac     TEXT,
        session TEXT,
        message TEXT NOT NULL
      );
      CREATE INDEX events_time ON events(time)
      """,
      // 2: a node's reserved DHCP address (clonecast node add/set --ip); one node per address.
      """
      ALTER TABLE nodes ADD COLUMN reserved_ip TEXT;
      CREATE UNIQUE INDEX nodes_reserved_ip ON nodes(reserved_ip)
      """,
      // 3: DHCP leases, one row per address, so no address is ever stored for two MACs.
      """
      CREATE TABLE leases (
        ip      TEXT PRIMARY KEY,             -- dotted quad
        mac     TEXT,                         -- owner, NULL while quarantined after a DECLINE
        state   TEXT NOT NULL,                -- bound | released | declined
        expires INTEGER NOT NULL              -- epoch ms: end of the lease or of the quarantine
      );
      CREATE INDEX leases_mac ON leases(mac)
      """);
}
