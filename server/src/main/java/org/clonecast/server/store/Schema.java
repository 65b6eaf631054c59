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
      """);
}
