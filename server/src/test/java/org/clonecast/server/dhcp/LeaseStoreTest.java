package org.clonecast.server.dhcp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.Inet4Address;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.clonecast.protocol.wire.Ipv4;
import org.clonecast.protocol.wire.MacAddress;
import org.clonecast.server.config.StoreConfig;
import org.clonecast.server.store.Database;
import org.clonecast.server.store.TestStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.Parameter;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The leases table as several daemons share it: a write never takes an address from the client
 * holding it, also when daemons race for the same addresses on their own connections.
 */
@ParameterizedClass
@EnumSource(TestStore.class)
class LeaseStoreTest {
  static final long NOW = 1_700_000_000_000L;
  static final MacAddress X = MacAddress.parse("02:00:00:00:01:01");
  static final MacAddress Y = MacAddress.parse("02:00:00:00:01:02");
  static final Inet4Address IP = Ipv4.parse("10.77.0.100");

  @Parameter TestStore kind;
  @TempDir Path dir;

  static LeaseStore.Write bound(MacAddress mac, Inet4Address ip, long expires) {
    return new LeaseStore.Write(mac, new Lease(ip, Optional.of(mac), Lease.State.BOUND, expires));
  }

  @Test
  void anAddressIsTakenOnlyWhenFreeForTheWriter() {
    try (Database db = kind.open(dir)) {
      List<Inet4Address> refused =
          db.write(c -> LeaseStore.save(c, List.of(bound(X, IP, NOW + 60_000)), NOW));
      assertEquals(List.of(), refused);
      assertEquals(
          List.of(IP),
          db.write(c -> LeaseStore.save(c, List.of(bound(Y, IP, NOW + 90_000)), NOW)),
          "X holds it");
      assertEquals(
          List.of(),
          db.write(c -> LeaseStore.save(c, List.of(bound(X, IP, NOW + 120_000)), NOW)),
          "X renews its own");
      assertEquals(
          List.of(IP),
          db.write(
              c ->
                  LeaseStore.save(
                      c,
                      List.of(
                          new LeaseStore.Write(
                              Y, new Lease(IP, Optional.empty(), Lease.State.DECLINED, NOW + 1))),
                      NOW)),
          "Y cannot quarantine X's address");
      assertEquals(
          List.of(),
          db.write(c -> LeaseStore.save(c, List.of(bound(Y, IP, NOW + 200_000)), NOW + 120_000)),
          "expired: free for anyone");
      assertEquals(
          List.of(new Lease(IP, Optional.of(Y), Lease.State.BOUND, NOW + 200_000)),
          new LeaseStore(db).loadAll());
    }
  }

  /**
   * Two daemons (two connections) bind the same 40 addresses to their own clients at the same time:
   * every address ends with exactly one holder, and each daemon was told which of its writes the
   * store refused.
   */
  @Test
  void racingDaemonsNeverBindOneAddressTwice() throws Exception {
    StoreConfig store = kind.config();
    int n = 40;
    try (Database a = Database.open(dir, store);
        Database b = Database.open(dir, store)) {
      ExecutorService pool = Executors.newFixedThreadPool(2);
      try {
        CyclicBarrier start = new CyclicBarrier(2);
        List<Future<Map<Inet4Address, MacAddress>>> won = new ArrayList<>();
        int d = 0;
        for (Database db : List.of(a, b)) {
          int daemon = d++;
          won.add(
              pool.submit(
                  () -> {
                    start.await(10, TimeUnit.SECONDS);
                    Map<Inet4Address, MacAddress> mine = new HashMap<>();
                    for (int i = 0; i < n; i++) {
                      // One address per transaction, as a burst of one; the daemons walk the pool
                      // from opposite ends so they meet in the middle.
                      int k = daemon == 0 ? i : n - 1 - i;
                      Inet4Address ip = Ipv4.fromInt(Ipv4.toInt(IP) + k);
                      MacAddress mac =
                          MacAddress.parse(String.format("02:00:00:%02x:00:%02x", daemon, k));
                      List<Inet4Address> refused =
                          db.write(
                              c -> LeaseStore.save(c, List.of(bound(mac, ip, NOW + 60_000)), NOW));
                      if (refused.isEmpty()) {
                        mine.put(ip, mac);
                      }
                    }
                    return mine;
                  }));
        }
        Map<Inet4Address, MacAddress> first = won.get(0).get(60, TimeUnit.SECONDS);
        Map<Inet4Address, MacAddress> second = won.get(1).get(60, TimeUnit.SECONDS);
        assertEquals(n, first.size() + second.size(), "each address was won exactly once");
        assertTrue(
            first.keySet().stream().noneMatch(second::containsKey),
            "no address won by both: " + first.keySet() + " / " + second.keySet());
        Map<Inet4Address, MacAddress> all = new HashMap<>(first);
        all.putAll(second);
        List<Lease> stored = new LeaseStore(a).loadAll();
        assertEquals(n, stored.size());
        for (Lease l : stored) {
          assertEquals(Optional.of(all.get(l.ip())), l.mac(), "the store's holder won " + l.ip());
        }
      } finally {
        pool.shutdownNow();
      }
    }
  }
}
