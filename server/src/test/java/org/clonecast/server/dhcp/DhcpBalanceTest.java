package org.clonecast.server.dhcp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetSocketAddress;
import java.util.List;
import java.util.Optional;
import org.clonecast.protocol.dhcp.DhcpMessageType;
import org.clonecast.protocol.wire.MacAddress;
import org.clonecast.server.config.DhcpConfig;
import org.clonecast.server.dhcp.DhcpDecisionGoldenTest.Datagram;
import org.clonecast.server.dhcp.DhcpResponder.Balance;
import org.junit.jupiter.api.Test;

/** Daemons sharing a segment answer each client's DISCOVER once between them (RFC 3074). */
class DhcpBalanceTest {

  @Test
  void everyClientIsAnsweredByExactlyOneOfTheDaemonsAndTheyShareThemEvenly() {
    for (int of = 1; of <= 3; of++) {
      int[] answered = new int[of];
      for (int i = 0; i < 600; i++) {
        MacAddress mac =
            MacAddress.parse(
                String.format("52:54:00:%02x:%02x:%02x", i >> 16, i >> 8 & 0xff, i & 0xff));
        int by = 0;
        for (int k = 0; k < of; k++) {
          if (new Balance(k, of).answers(mac, 0)) {
            answered[k]++;
            by++;
          }
        }
        assertEquals(1, by, mac + " among " + of);
      }
      for (int k = 0; k < of; k++) {
        // Even within a third: 600 sequential MACs over 1-3 daemons.
        assertTrue(
            Math.abs(answered[k] - 600 / of) < 200 / of,
            "daemon " + k + " of " + of + " answers " + answered[k] + " of 600");
      }
    }
  }

  @Test
  void aClientTryingForTenSecondsIsAnsweredByAll() {
    MacAddress mac = MacAddress.parse("52:54:00:12:34:56");
    for (int k = 0; k < 2; k++) {
      assertTrue(new Balance(k, 2).answers(mac, Balance.SECS_ANYONE));
    }
    assertEquals(
        1,
        (new Balance(0, 2).answers(mac, Balance.SECS_ANYONE - 1) ? 1 : 0)
            + (new Balance(1, 2).answers(mac, Balance.SECS_ANYONE - 1) ? 1 : 0));
  }

  @Test
  void theResponderIgnoresADiscoverOfAnotherDaemonsBucketAndAnswersItsOwn() {
    List<Datagram> all = DhcpDecisionGoldenTest.dhcp("full-bios");
    Datagram discover =
        all.stream()
            .filter(
                d ->
                    d.request()
                        && d.packet().messageType().equals(Optional.of(DhcpMessageType.DISCOVER)))
            .findFirst()
            .orElseThrow();
    MacAddress mac = discover.packet().mac().orElseThrow();
    int mine = Balance.bucket(mac) % 2;
    InetSocketAddress from = new InetSocketAddress(discover.src(), discover.udp().srcPort());
    DhcpResponder r = DhcpDecisionGoldenTest.responder(DhcpConfig.Mode.FULL);
    Inventory inventory = DhcpDecisionGoldenTest.inventory(all);

    r.balance(new Balance(1 - mine, 2));
    DhcpResponder.Result other = r.handle(discover.packet(), from, false, inventory, 1000);
    assertFalse(other.reply().isPresent(), "another daemon's bucket");
    assertTrue(
        other.ignored().orElseThrow().contains("load balancing"), other.ignored().toString());

    r.balance(new Balance(mine, 2));
    assertTrue(r.handle(discover.packet(), from, false, inventory, 1001).reply().isPresent());
  }
}
