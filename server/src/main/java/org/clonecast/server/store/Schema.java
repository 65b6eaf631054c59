package org.clonecast.server.store;

import java.util.List;

/**
 * The database schema as an append-only list of migrations: migration i takes the database from
 * {@code user_version} i to i + 1. Never edit a released entry; append a new one.
 */
final class Schema {
  private Schema() {}

  static final List<String> MIGRATIONS =
      List.of(
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
      """,
          // 4: images, sessions and their nodes' results; a node's explicit target disk (else the
          // agent picks)
          // and the SSH host key it reported. (No comment may follow an ADD COLUMN: SQLite keeps it
          // in the
          // table's stored definition.)
          """
      CREATE TABLE images (
        name         TEXT PRIMARY KEY,
        file         TEXT NOT NULL,         -- the .cci in the image store
        image_id     TEXT,                  -- manifest UUID
        logical_size INTEGER,               -- bytes written to a node's disk
        stored_size  INTEGER,               -- bytes of the .cci
        chunks       INTEGER,
        image_hash   TEXT,                  -- SHA-256 of the logical image
        state        TEXT NOT NULL,         -- adding | ready | failed
        detail       TEXT,
        created      INTEGER NOT NULL
      );
      CREATE TABLE sessions (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        image         TEXT NOT NULL,
        selector      TEXT NOT NULL,        -- a group, or all
        min_receivers INTEGER NOT NULL,
        max_wait      INTEGER NOT NULL,     -- seconds
        port          INTEGER NOT NULL,     -- the multicast session's UDP/TCP port
        state         TEXT NOT NULL,        -- waiting | running | done | failed | cancelled
        detail        TEXT,
        created       INTEGER NOT NULL,
        started       INTEGER,
        ended         INTEGER
      );
      CREATE TABLE session_nodes (
        session     INTEGER NOT NULL REFERENCES sessions(id),
        mac         TEXT NOT NULL,
        name        TEXT NOT NULL,
        state       TEXT NOT NULL,          -- waiting | registered | receiving | identity | done | failed
        bytes_done  INTEGER NOT NULL DEFAULT 0,
        bytes_total INTEGER NOT NULL DEFAULT 0,
        target      TEXT,                   -- the disk it writes
        detail      TEXT,
        updated     INTEGER NOT NULL,
        PRIMARY KEY (session, mac)
      );
      ALTER TABLE nodes ADD COLUMN target_disk TEXT;
      ALTER TABLE nodes ADD COLUMN ssh_host_key TEXT
      """,
          // 5: captures of a golden node over the network (clonecast image capture). The image row
          // says
          // 'capturing' meanwhile. Phase changes are stored here, chunk progress in the upload's
          // journal.
          """
      CREATE TABLE captures (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        image        TEXT NOT NULL,         -- the image it makes
        image_id     TEXT NOT NULL,         -- the UUID its manifest must carry
        mac          TEXT NOT NULL,         -- the golden node
        disk         TEXT,                  -- the disk to read, NULL: the agent's first non-removable one
        chunk_size   INTEGER NOT NULL,
        level        INTEGER NOT NULL,      -- zstd level
        forced       INTEGER NOT NULL,      -- 1: capture even a filesystem that is not clean
        agent_ip     TEXT,                  -- where the node registered from: the only address heard
        state        TEXT NOT NULL,         -- waiting | capturing | verifying | done | failed | cancelled
        detail       TEXT,
        logical_size INTEGER NOT NULL DEFAULT 0,
        created      INTEGER NOT NULL,
        updated      INTEGER NOT NULL
      );
      CREATE INDEX captures_mac ON captures(mac)
      """,
          // 6: each netbooting node's per-boot secret, as its SHA-256 (never the secret itself):
          // the
          // agent's calls carry the secret, and a daemon restart must not lock a re-imaging node
          // out.
          """
      CREATE TABLE node_secrets (
        mac    TEXT PRIMARY KEY,            -- aa:bb:cc:dd:ee:ff
        hash   TEXT NOT NULL,               -- hex SHA-256 of the secret's text
        issued INTEGER NOT NULL             -- epoch ms: when its netboot script was served
      )
      """,
          // 7: a session's history after the fact (docs/dashboard.md): when each node started
          // receiving
          // and finished, what the sender saw of it, and what the session sent. Progress ticks stay
          // in
          // memory (SessionManager's live model); only phase changes are written.
          """
      ALTER TABLE session_nodes ADD COLUMN receiving_since INTEGER;  -- epoch ms of its first 'receiving' report
      ALTER TABLE session_nodes ADD COLUMN finished INTEGER;         -- epoch ms of done or failed
      ALTER TABLE session_nodes ADD COLUMN wire TEXT;                -- the sender's view: loss, repairs, slow
      ALTER TABLE sessions ADD COLUMN bytes_sent INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE sessions ADD COLUMN packets_sent INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE sessions ADD COLUMN repair_packets INTEGER NOT NULL DEFAULT 0
      """,
          // 8: images share chunks in the store's chunk pool (docs/image-format.md): file is then
          // the image's manifest file (.ccm), stored_size the bytes of the chunks it references,
          // own_size those no other image references (what removing it frees). NULL: a .cci of an
          // earlier build, all its own until it is moved into the pool. A capture's --from image;
          // a session's --grow (its nodes grow the last partition onto larger disks).
          """
      ALTER TABLE images ADD COLUMN own_size INTEGER;
      ALTER TABLE captures ADD COLUMN from_image TEXT;
      ALTER TABLE sessions ADD COLUMN grow INTEGER NOT NULL DEFAULT 0
      """,
          // 9: which path each node's chunks took (docs/unicast.md): of bytes_done, those written
          // from chunks the node fetched by unicast; the rest came by multicast.
          """
      ALTER TABLE session_nodes ADD COLUMN unicast_bytes INTEGER NOT NULL DEFAULT 0
      """,
          // 10: several daemons may share the store (docs/scale.md): which daemon ({@link
          // Database#daemon}) runs each session, capture and image add, so that one starting up
          // recovers only its own (NULL: written before, by the only daemon there was).
          """
      ALTER TABLE sessions ADD COLUMN daemon TEXT;
      ALTER TABLE captures ADD COLUMN daemon TEXT;
      ALTER TABLE images ADD COLUMN daemon TEXT
      """,
          // 11: the daemons that share the store (docs/scale.md, {@link DaemonRegistry}): each
          // renews its heartbeat every few seconds; one whose heartbeat is older than {@link
          // DaemonRegistry#DEAD_AFTER} has died. peer_hash is the SHA-256 of the secret it
          // presents when it calls another daemon (the secret stays in its state directory).
          """
      CREATE TABLE daemons (
        id        TEXT PRIMARY KEY,         -- <state-dir>/daemon-id
        url       TEXT NOT NULL,            -- its HTTP service, as agents and daemons reach it
        address   TEXT NOT NULL,            -- its address on its segment
        prefix    INTEGER NOT NULL,         -- that segment's prefix length
        peer_hash TEXT NOT NULL,            -- hex SHA-256 of its peer secret
        started   INTEGER NOT NULL,         -- epoch ms
        heartbeat INTEGER NOT NULL,         -- epoch ms of its last beat
        stopped   INTEGER                   -- epoch ms of a clean stop, NULL while it runs
      )
      """,
          // 12: which daemons hold an image's bytes (docs/scale.md, "Replication"): a row per
          // image and daemon, 'ready' once its manifest and chunks are in that daemon's pool,
          // 'copying' while it fetches them from another daemon (done of total stored bytes),
          // 'failed' when its last fetch failed (detail says why). content_hash: the SHA-256 of
          // the image's manifest with every stored chunk as RAW ({@link ImageStore#contentHash}),
          // what a daemon fetching the image from another checks the peer's manifest against.
          """
      CREATE TABLE image_copies (
        image   TEXT NOT NULL,              -- images.name
        daemon  TEXT NOT NULL,              -- daemons.id
        state   TEXT NOT NULL,              -- copying | ready | failed
        done    INTEGER NOT NULL DEFAULT 0, -- stored bytes held so far
        total   INTEGER NOT NULL DEFAULT 0, -- stored bytes of the image
        detail  TEXT,                       -- why the last fetch failed
        updated INTEGER NOT NULL,           -- epoch ms
        PRIMARY KEY (image, daemon)
      );
      ALTER TABLE images ADD COLUMN content_hash TEXT
      """,
          // 13: a session spans daemons (docs/scale.md, "Sessions across daemons"): which daemon
          // serves each node, the
          // one its agent registered with or the partner that took it over from a dead one. NULL:
          // no daemon has it yet.
          """
      ALTER TABLE session_nodes ADD COLUMN daemon TEXT
      """,
          // 14: which daemons answer DHCP in full mode on their segment: those share its clients
          // between them (RFC 3074 load balancing, docs/scale.md).
          """
      ALTER TABLE daemons ADD COLUMN dhcp INTEGER NOT NULL DEFAULT 0
      """);
}
