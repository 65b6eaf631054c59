package org.clonecast.server.session;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.clonecast.common.net.NetInterface;
import org.clonecast.protocol.mcast.ControlMessage;
import org.clonecast.protocol.mcast.McastAuth;
import org.clonecast.protocol.mcast.McastPacket;
import org.clonecast.protocol.wire.MacAddress;
import org.clonecast.server.store.Database;
import org.clonecast.server.store.EventLog;
import org.clonecast.server.store.ImageStore;
import org.clonecast.server.store.NodeSecrets;
import org.clonecast.server.store.NodeStore;
import org.clonecast.server.store.SessionStore;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Who may join a daemon session's multicast (issue 13, a rogue joining under a node's name): only a
 * node of the session, under its own name, proving its current per-boot secret. And what a node
 * that registers with no session for it is told, and what the event log keeps of it.
 */
class SessionJoinTest {
  static final MacAddress NODE01 = MacAddress.parse("52:54:00:00:00:01");
  static final MacAddress NODE02 = MacAddress.parse("52:54:00:00:00:02");

  @TempDir Path dir;
  Database db;
  ExecutorService worker;
  SessionManager sessions;
  NodeSecrets secrets;
  EventLog events;
  long session;
  final InetAddress from = InetAddress.getLoopbackAddress();

  @BeforeEach
  void setUp() throws Exception {
    db = Database.open(dir.resolve("state"));
    NodeStore nodes = new NodeStore(db, Clock.systemUTC());
    events = new EventLog(db, Clock.systemUTC());
    worker = Executors.newSingleThreadExecutor();
    ImageStore images =
        new ImageStore(db, dir.resolve("state/images"), Clock.systemUTC(), events, worker);
    SessionStore store = new SessionStore(db, Clock.systemUTC());
    secrets = new NodeSecrets(db, Clock.systemUTC());
    sessions =
        new SessionManager(
                store,
                nodes,
                images,
                events,
                NetInterface.byName("lo"),
                9000,
                Duration.ofSeconds(30),
                Optional.empty())
            .joinProofs(secrets);
    nodes.enroll(NODE01, "node01", Optional.of("rack1"));
    nodes.enroll(NODE02, "node02", Optional.of("rack2"));
    session =
        store
            .create(
                "golden", "rack1", 1, 60, 9000, List.of(nodes.find(NODE01).orElseThrow()), false)
            .id();
  }

  @AfterEach
  void tearDown() {
    sessions.close();
    worker.shutdownNow();
    db.close();
  }

  private static byte[] hash(String secret) throws Exception {
    return MessageDigest.getInstance("SHA-256").digest(secret.getBytes(StandardCharsets.US_ASCII));
  }

  private static ControlMessage.Hello hello(String name, byte[] proof) {
    return new ControlMessage.Hello(
        McastPacket.VERSION,
        McastPacket.CAP_SEALED | McastPacket.CAP_NODE_PROOF,
        name,
        Optional.of(proof));
  }

  private String refusal(ControlMessage.Hello h) {
    return sessions.joinRefusal(session, h, from).orElse("");
  }

  @Test
  void onlyTheNodeItselfJoinsUnderItsName() throws Exception {
    String secret = secrets.issue(NODE01);
    byte[] proof = McastAuth.joinProof(hash(secret), session, "node01");
    assertEquals(
        Optional.empty(),
        sessions.joinRefusal(session, hello("node01", proof), from),
        "the node with its secret");

    assertTrue(
        refusal(new ControlMessage.Hello(McastPacket.VERSION, McastPacket.CAP_SEALED, "node01"))
            .contains("sent no node proof"));
    assertTrue(
        refusal(hello("node01", new byte[32])).contains("does not verify"), "a guessed proof");
    assertTrue(
        refusal(hello("node01", McastAuth.joinProof(hash(secret), session + 1, "node01")))
            .contains("does not verify"),
        "a proof from another session");
    assertTrue(
        refusal(hello("rogue", proof))
            .contains("no node of session " + session + " is named rogue"));
    // Another enrolled node, with its own valid secret, cannot join a session it is not in, nor as
    // node01.
    String other = secrets.issue(NODE02);
    assertTrue(
        refusal(hello("node02", McastAuth.joinProof(hash(other), session, "node02")))
            .contains("no node of session"));
    assertTrue(
        refusal(hello("node01", McastAuth.joinProof(hash(other), session, "node01")))
            .contains("does not verify"));
    // A new netboot script revokes the old secret, and with it the old proof.
    String next = secrets.issue(NODE01);
    assertTrue(
        refusal(hello("node01", proof)).contains("does not verify"), "a revoked secret's proof");
    assertEquals(
        Optional.empty(),
        sessions.joinRefusal(
            session, hello("node01", McastAuth.joinProof(hash(next), session, "node01")), from));
  }

  @Test
  void aNodeWaitingForItsSessionIsToldSoOnEveryAskButTheEventLogKeepsItOnce() {
    for (int i = 0; i < 5; i++) {
      SessionManager.Assignment a = sessions.register(NODE02, List.of());
      assertEquals("none", a.action());
      assertEquals(Optional.of("no session is waiting for node02"), a.reason());
    }
    SessionManager.Assignment stranger =
        sessions.register(MacAddress.parse("52:54:00:00:00:09"), List.of());
    assertEquals(Optional.of("52:54:00:00:00:09 is not enrolled"), stranger.reason());
    List<String> said =
        events.recent(100).stream()
            .map(e -> e.mac().orElse("") + " " + e.message())
            .filter(m -> m.contains("nothing to do"))
            .toList();
    assertEquals(
        List.of(
            "52:54:00:00:00:02 registered; nothing to do: no session is waiting for node02",
            "52:54:00:00:00:09 registered; nothing to do: 52:54:00:00:00:09 is not enrolled"),
        said.stream().sorted().toList(),
        "one event per node and reason: " + said);
  }
}
