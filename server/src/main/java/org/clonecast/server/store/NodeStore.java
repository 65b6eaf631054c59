package org.clonecast.server.store;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import java.util.regex.Pattern;
import org.clonecast.protocol.wire.MacAddress;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The node inventory: enrolled machines with their names, groups and boot actions, and machines
 * DHCP has seen that nobody enrolled. A MAC seen for the first time is recorded as {@link
 * NodeState#DISCOVERED} with {@link BootAction#LOCAL}: nothing destructive happens to a machine
 * nobody enrolled. At most {@code maxDiscovered} discovered nodes are kept: a new one takes the
 * place of the one seen least recently, so forged requests for random MACs cannot grow the
 * inventory (or the dashboard) without bound.
 *
 * <p>Every write is reported to the {@linkplain #listen listeners} (cluster DNS follows names and
 * addresses this way).
 *
 * <p>Thread-safe (every call is one transaction of the {@link Database}).
 */
public final class NodeStore {
  private static final Logger LOG = LoggerFactory.getLogger(NodeStore.class);

  /** RFC 1123 host name label, lower case: what /etc/hostname and DNS both accept. */
  private static final Pattern NAME = Pattern.compile("[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?");

  private static final Pattern GROUP = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");
  private static final String COLUMNS =
      "mac, name, grp, action, state, detail, arch, ip, first_seen, last_seen, reserved_ip, target_disk, ssh_host_key";

  /** Discovered nodes kept by default (config nodes.max-discovered). */
  public static final int DEFAULT_MAX_DISCOVERED = 1024;

  private final Database db;
  private final Clock clock;
  private final int maxDiscovered;
  private final List<Consumer<NodeChange>> listeners = new CopyOnWriteArrayList<>();

  /**
   * One committed write to one node.
   *
   * @param before the node before the write; empty when it was new
   * @param after the node after the write; empty when it was removed
   */
  public record NodeChange(Optional<Node> before, Optional<Node> after) {
    public NodeChange {
      Objects.requireNonNull(before, "before");
      Objects.requireNonNull(after, "after");
    }
  }

  public NodeStore(Database db, Clock clock) {
    this(db, clock, DEFAULT_MAX_DISCOVERED);
  }

  /**
   * @param maxDiscovered discovered (not enrolled) nodes kept, at least 1
   */
  public NodeStore(Database db, Clock clock, int maxDiscovered) {
    if (maxDiscovered < 1) {
      throw new IllegalArgumentException("maxDiscovered " + maxDiscovered + " < 1");
    }
    this.db = Objects.requireNonNull(db);
    this.clock = Objects.requireNonNull(clock);
    this.maxDiscovered = maxDiscovered;
  }

  /**
   * Checks a host name.
   *
   * @throws IllegalArgumentException saying what a valid name looks like
   */
  public static String validName(String name) {
    if (name == null || !NAME.matcher(name).matches()) {
      throw new IllegalArgumentException(
          "invalid node name '"
              + name
              + "'; use 1-63 lower-case letters, digits and '-', not starting or ending with '-' (e.g. node01)");
    }
    return name;
  }

  /**
   * Checks a group name.
   *
   * @throws IllegalArgumentException saying what a valid group looks like
   */
  public static String validGroup(String group) {
    if (group == null || !GROUP.matcher(group).matches() || group.equals("all")) {
      throw new IllegalArgumentException(
          "invalid group '"
              + group
              + "'; use 1-64 letters, digits, '.', '_' or '-' ('all' is reserved for every node)");
    }
    return group;
  }

  /**
   * Enrolls {@code mac} under {@code name}: a discovered node keeps its history, a new one is
   * created. Its boot action stays {@link BootAction#LOCAL} until set.
   *
   * @throws ConflictException when the MAC is already enrolled or the name taken
   */
  public Node enroll(MacAddress mac, String name, Optional<String> group) {
    return enroll(mac, name, group, Optional.empty());
  }

  /**
   * Enrolls {@code mac} as {@link #enroll(MacAddress, String, Optional)} does, with a reserved DHCP
   * address (checked by the caller against the DHCP subnets).
   *
   * @throws ConflictException when the MAC is already enrolled, or the name or address taken
   */
  public Node enroll(
      MacAddress mac, String name, Optional<String> group, Optional<String> reservedIp) {
    validName(name);
    group.ifPresent(NodeStore::validGroup);
    return notify(
            db.write(
                c -> {
                  if (reservedIp.isPresent()) {
                    requireIpFree(c, reservedIp.get(), mac);
                  }
                  Optional<Node> existing = find(c, mac);
                  if (existing.isPresent() && existing.get().enrolled()) {
                    throw new ConflictException(
                        mac
                            + " is already enrolled as "
                            + existing.get().name().orElse("?")
                            + "; change it with 'clonecast node set "
                            + mac
                            + " ...'");
                  }
                  requireNameFree(c, name, mac);
                  long now = clock.millis();
                  if (existing.isPresent()) {
                    update(
                        c,
                        "UPDATE nodes SET name = ?, grp = ?, state = ?, last_seen = ?, reserved_ip = ? WHERE mac = ?",
                        name,
                        group.orElse(null),
                        NodeState.ENROLLED.id(),
                        now,
                        reservedIp.orElse(null),
                        mac.toString());
                  } else {
                    update(
                        c,
                        "INSERT INTO nodes ("
                            + COLUMNS
                            + ") VALUES (?, ?, ?, ?, ?, NULL, NULL, NULL, ?, ?, ?, NULL, NULL)",
                        mac.toString(),
                        name,
                        group.orElse(null),
                        BootAction.LOCAL.id(),
                        NodeState.ENROLLED.id(),
                        now,
                        now,
                        reservedIp.orElse(null));
                  }
                  return new NodeChange(existing, find(c, mac));
                }))
        .orElseThrow();
  }

  /**
   * What {@link #update} may change; empty fields stay as they are. {@code reservedIp} holds an
   * empty Optional to drop the reservation, {@code targetDisk} one to let the agent choose.
   */
  public record Change(
      Optional<String> name,
      Optional<Optional<String>> group,
      Optional<BootAction> action,
      Optional<Optional<String>> reservedIp,
      Optional<Optional<String>> targetDisk) {
    public Change {
      targetDisk.ifPresent(t -> t.ifPresent(NodeStore::validDisk));
      name.ifPresent(NodeStore::validName);
      group.ifPresent(g -> g.ifPresent(NodeStore::validGroup));
      Objects.requireNonNull(reservedIp);
    }

    public Change(
        Optional<String> name, Optional<Optional<String>> group, Optional<BootAction> action) {
      this(name, group, action, Optional.empty(), Optional.empty());
    }

    public static Change action(BootAction action) {
      return new Change(
          Optional.empty(),
          Optional.empty(),
          Optional.of(action),
          Optional.empty(),
          Optional.empty());
    }
  }

  /**
   * Changes an enrolled node's name, group or boot action.
   *
   * @throws NotFoundException when {@code mac} is not enrolled
   * @throws ConflictException when the new name is taken
   */
  public Node update(MacAddress mac, Change change) {
    return notify(
            db.write(
                c -> {
                  Node node =
                      find(c, mac)
                          .filter(Node::enrolled)
                          .orElseThrow(
                              () ->
                                  new NotFoundException(
                                      mac
                                          + " is not enrolled; add it first with 'clonecast node add "
                                          + mac
                                          + " --name NAME'"));
                  if (change.name().isPresent()) {
                    requireNameFree(c, change.name().get(), mac);
                  }
                  if (change.reservedIp().isPresent() && change.reservedIp().get().isPresent()) {
                    requireIpFree(c, change.reservedIp().get().get(), mac);
                  }
                  update(
                      c,
                      "UPDATE nodes SET name = ?, grp = ?, action = ?, reserved_ip = ?, target_disk = ? WHERE mac = ?",
                      change.name().orElse(node.name().orElseThrow()),
                      change.group().orElse(node.group()).orElse(null),
                      change.action().orElse(node.action()).id(),
                      change.reservedIp().orElse(node.reservedIp()).orElse(null),
                      change.targetDisk().orElse(node.targetDisk()).orElse(null),
                      mac.toString());
                  return new NodeChange(Optional.of(node), find(c, mac));
                }))
        .orElseThrow();
  }

  /**
   * Checks an explicit target disk: an absolute path (a device, or a file in tests).
   *
   * @throws IllegalArgumentException saying what is wanted
   */
  public static String validDisk(String disk) {
    if (disk == null || !disk.startsWith("/") || disk.contains("..") || disk.length() > 255) {
      throw new IllegalArgumentException(
          "invalid target disk '" + disk + "'; give an absolute device path such as /dev/sda");
    }
    return disk;
  }

  /** Marks a node for a session: its next PXE boot netboots to re-image. */
  public void markForSession(MacAddress mac, long session) {
    db.write(
        c ->
            update(
                c,
                "UPDATE nodes SET action = ?, state = ?, detail = ? WHERE mac = ?",
                BootAction.REIMAGE.id(),
                NodeState.BOOTING.id(),
                "session " + session,
                mac.toString()));
  }

  /**
   * Ends a node's re-imaging: {@link NodeState#DONE} or {@link NodeState#FAILED} with the reason;
   * either way its next PXE boot falls through to the local disk (a failed node is retried by a new
   * session, never by a boot loop).
   */
  public void finish(
      MacAddress mac, boolean ok, Optional<String> detail, Optional<String> sshHostKey) {
    db.write(
        c ->
            update(
                c,
                "UPDATE nodes SET action = ?, state = ?, detail = ?, ssh_host_key = COALESCE(?, ssh_host_key),"
                    + " last_seen = ? WHERE mac = ?",
                BootAction.LOCAL.id(),
                (ok ? NodeState.DONE : NodeState.FAILED).id(),
                detail.orElse(null),
                sshHostKey.orElse(null),
                clock.millis(),
                mac.toString()));
  }

  /** Records where a node is; {@code detail} is the failure reason or the current step. */
  public Optional<Node> setState(MacAddress mac, NodeState state, Optional<String> detail) {
    return notify(
        db.write(
            c -> {
              Optional<Node> before = find(c, mac);
              update(
                  c,
                  "UPDATE nodes SET state = ?, detail = ?, last_seen = ? WHERE mac = ?",
                  state.id(),
                  detail.orElse(null),
                  clock.millis(),
                  mac.toString());
              return new NodeChange(before, find(c, mac));
            }));
  }

  /**
   * Notes that {@code mac} asked for something (DHCP, HTTP). A MAC never seen before is recorded as
   * discovered, booting its local disk.
   *
   * @param arch the client class its firmware reported, if any
   * @param ip its address, if known
   * @return the node after the update
   */
  public Node recordSeen(MacAddress mac, Optional<String> arch, Optional<String> ip) {
    List<NodeChange> changes = db.write(c -> recordSeen(c, mac, arch, ip));
    publish(changes);
    return changes.get(changes.size() - 1).after().orElseThrow();
  }

  /**
   * {@link #recordSeen(MacAddress, Optional, Optional)} inside a caller's transaction (DHCP commits
   * a burst's leases and sightings at once). Call {@link #publish} with the result after the
   * commit.
   *
   * @return the changes, the sighted node's last
   */
  public List<NodeChange> recordSeen(
      Connection c, MacAddress mac, Optional<String> arch, Optional<String> ip)
      throws SQLException {
    long now = clock.millis();
    Optional<Node> before = find(c, mac);
    List<NodeChange> out = new ArrayList<>();
    if (before.isEmpty()) {
      out.addAll(makeRoomForDiscovered(c));
      update(
          c,
          "INSERT INTO nodes ("
              + COLUMNS
              + ") VALUES (?, NULL, NULL, ?, ?, NULL, ?, ?, ?, ?, NULL, NULL, NULL)",
          mac.toString(),
          BootAction.LOCAL.id(),
          NodeState.DISCOVERED.id(),
          arch.orElse(null),
          ip.orElse(null),
          now,
          now);
    } else {
      update(
          c,
          "UPDATE nodes SET arch = COALESCE(?, arch), ip = COALESCE(?, ip), last_seen = ? WHERE mac = ?",
          arch.orElse(null),
          ip.orElse(null),
          now,
          mac.toString());
    }
    out.add(new NodeChange(before, find(c, mac)));
    return out;
  }

  /** Tells the listeners about changes committed in a caller's transaction. */
  public void publish(List<NodeChange> changes) {
    changes.forEach(this::notify);
  }

  /**
   * Notes that {@code mac} fetched its iPXE script, a request anyone on the segment can make with
   * any MAC: it never changes a node's address (only DHCP and the node's own agent do; the cluster
   * DNS follows that address), only when it was last seen. A MAC never seen before is recorded as
   * discovered, without an address.
   *
   * @return the node after the update
   */
  public Node recordBootScript(MacAddress mac) {
    return recordSeen(mac, Optional.empty(), Optional.empty());
  }

  /** Discovered nodes beyond {@code maxDiscovered - 1}, least recently seen first, removed. */
  private List<NodeChange> makeRoomForDiscovered(Connection c) throws SQLException {
    List<NodeChange> out = new ArrayList<>();
    int count;
    try (PreparedStatement ps = c.prepareStatement("SELECT COUNT(*) FROM nodes WHERE state = ?")) {
      ps.setString(1, NodeState.DISCOVERED.id());
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        count = rs.getInt(1);
      }
    }
    if (count < maxDiscovered) {
      return out;
    }
    List<Node> oldest;
    try (PreparedStatement ps =
        c.prepareStatement(
            "SELECT "
                + COLUMNS
                + " FROM nodes WHERE state = ?"
                + " ORDER BY last_seen, first_seen, mac LIMIT ?")) {
      ps.setString(1, NodeState.DISCOVERED.id());
      ps.setInt(2, count - maxDiscovered + 1);
      oldest = Database.rows(ps, NodeStore::node);
    }
    for (Node n : oldest) {
      update(c, "DELETE FROM nodes WHERE mac = ?", n.mac().toString());
      out.add(new NodeChange(Optional.of(n), Optional.empty()));
    }
    if (!oldest.isEmpty()) {
      LOG.debug(
          "store: {} discovered node(s) forgotten to stay within {} (oldest {})",
          oldest.size(),
          maxDiscovered,
          oldest.get(0).mac());
    }
    return out;
  }

  /**
   * Forgets a node.
   *
   * @return whether it was known
   */
  public boolean remove(MacAddress mac) {
    NodeChange change =
        db.write(
            c -> {
              Optional<Node> before = find(c, mac);
              update(c, "DELETE FROM nodes WHERE mac = ?", mac.toString());
              return new NodeChange(before, Optional.empty());
            });
    notify(change);
    return change.before().isPresent();
  }

  /**
   * Adds a listener called after each committed write, on the writing thread. It must be quick and
   * must not write to this store; an exception it throws is logged, not passed on.
   */
  public void listen(Consumer<NodeChange> listener) {
    listeners.add(Objects.requireNonNull(listener));
  }

  public void unlisten(Consumer<NodeChange> listener) {
    listeners.remove(listener);
  }

  /** Tells the listeners; returns the node after the change. */
  private Optional<Node> notify(NodeChange change) {
    if (change.before().isPresent() || change.after().isPresent()) {
      for (Consumer<NodeChange> l : listeners) {
        try {
          l.accept(change);
        } catch (RuntimeException e) {
          LOG.warn(
              "store: a listener failed on a change of {}",
              change.after().or(change::before).map(Node::mac).orElse(null),
              e);
        }
      }
    }
    return change.after();
  }

  public Optional<Node> find(MacAddress mac) {
    return db.read(c -> find(c, mac));
  }

  public Optional<Node> findByName(String name) {
    return db.read(
        c ->
            Database.queryFirst(
                c, "SELECT " + COLUMNS + " FROM nodes WHERE name = ?", NodeStore::node, name));
  }

  /** Every node, enrolled ones first, each part ordered by name or MAC. */
  public List<Node> list() {
    return db.read(
        c ->
            Database.query(
                c,
                "SELECT " + COLUMNS + " FROM nodes" + " ORDER BY name IS NULL, name, mac",
                NodeStore::node));
  }

  /**
   * The enrolled nodes a session selector names: a group, "all", or (when no group has that name)
   * names or MACs separated by commas.
   */
  public List<Node> select(String selector) {
    List<Node> out = new ArrayList<>();
    List<Node> all = list();
    for (Node n : all) {
      if (n.enrolled() && (selector.equals("all") || n.group().equals(Optional.of(selector)))) {
        out.add(n);
      }
    }
    if (out.isEmpty()) {
      // Not a group: a selection of names or MACs separated by commas (the console's checkboxes).
      Set<String> wanted = new HashSet<>();
      for (String item : selector.split(",")) {
        if (!item.isBlank()) wanted.add(item.trim().toLowerCase(Locale.ROOT));
      }
      for (Node n : all) {
        boolean named =
            n.name().map(x -> wanted.contains(x.toLowerCase(Locale.ROOT))).orElse(false);
        if (n.enrolled() && (named || wanted.contains(n.mac().toString()))) {
          out.add(n);
        }
      }
    }
    return out;
  }

  private static void requireNameFree(Connection c, String name, MacAddress self)
      throws SQLException {
    try (PreparedStatement ps =
        c.prepareStatement("SELECT mac FROM nodes WHERE name = ? AND mac <> ?")) {
      ps.setString(1, name);
      ps.setString(2, self.toString());
      try (ResultSet rs = ps.executeQuery()) {
        if (rs.next()) {
          throw new ConflictException(
              "name " + name + " is taken by " + rs.getString(1) + "; choose another");
        }
      }
    }
  }

  private static void requireIpFree(Connection c, String ip, MacAddress self) throws SQLException {
    try (PreparedStatement ps =
        c.prepareStatement("SELECT mac, name FROM nodes WHERE reserved_ip = ? AND mac <> ?")) {
      ps.setString(1, ip);
      ps.setString(2, self.toString());
      try (ResultSet rs = ps.executeQuery()) {
        if (rs.next()) {
          throw new ConflictException(
              ip
                  + " is reserved for "
                  + rs.getString(1)
                  + " ("
                  + rs.getString(2)
                  + "); choose another address or drop that one with 'clonecast node set "
                  + rs.getString(1)
                  + " --ip none'");
        }
      }
    }
  }

  private static Optional<Node> find(Connection c, MacAddress mac) throws SQLException {
    return Database.queryFirst(
        c, "SELECT " + COLUMNS + " FROM nodes WHERE mac = ?", NodeStore::node, mac.toString());
  }

  private static Node node(ResultSet rs) throws SQLException {
    return new Node(
        MacAddress.parse(rs.getString(1)),
        Optional.ofNullable(rs.getString(2)),
        Optional.ofNullable(rs.getString(3)),
        BootAction.parse(rs.getString(4)),
        NodeState.parse(rs.getString(5)),
        Optional.ofNullable(rs.getString(6)),
        Optional.ofNullable(rs.getString(7)),
        Optional.ofNullable(rs.getString(8)),
        rs.getLong(9),
        rs.getLong(10),
        Optional.ofNullable(rs.getString(11)),
        Optional.ofNullable(rs.getString(12)),
        Optional.ofNullable(rs.getString(13)));
  }

  static int update(Connection c, String sql, Object... args) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      for (int i = 0; i < args.length; i++) {
        ps.setObject(i + 1, args[i]);
      }
      return ps.executeUpdate();
    }
  }
}
