package org.clonecast.server.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.clonecast.protocol.igmp.QuerierElection;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ServeConfigTest {
  @TempDir Path dir;

  @Test
  void flagsOverrideTheFileAndDefaultsFillTheRest() throws Exception {
    Path f = dir.resolve("c.conf");
    Files.writeString(
        f, "# comment\ninterface = eth1\nhttp.port = 9090\nboot.efi-loader = snponly.efi\n");
    ServeConfig c = ServeConfig.from(ConfigFile.load(f).with(Map.of("http.port", "8081")));
    assertEquals("eth1", c.interfaceName());
    assertEquals(8081, c.http().port());
    assertEquals("snponly.efi", c.boot().efiLoader());
    assertEquals(ServeConfig.DEFAULT_STATE_DIR, c.stateDir());
  }

  @Test
  void mistakesAreNamed() throws Exception {
    ConfigException e =
        assertThrows(
            ConfigException.class,
            () -> ServeConfig.from(ConfigFile.of(Map.of("interface", "eth0", "http.prot", "1"))));
    assertTrue(e.getMessage().contains("unknown key http.prot"), e.getMessage());
    e =
        assertThrows(
            ConfigException.class,
            () ->
                ServeConfig.from(ConfigFile.of(Map.of("interface", "eth0", "http.port", "70000"))));
    assertTrue(e.getMessage().contains("http.port = 70000 is invalid"), e.getMessage());
    e = assertThrows(ConfigException.class, () -> ServeConfig.from(ConfigFile.empty()));
    assertTrue(e.getMessage().contains("--interface"), e.getMessage());
    e = assertThrows(ConfigException.class, () -> ConfigFile.load(dir.resolve("missing.conf")));
    assertTrue(e.getMessage().contains("not found"), e.getMessage());
  }

  @Test
  void theIgmpQuerierIsAutoUnlessSaidOtherwise() {
    ServeConfig c = ServeConfig.from(ConfigFile.of(Map.of("interface", "eth0")));
    assertEquals(QuerierElection.Mode.AUTO, c.session().igmpQuerier());
    assertEquals(125, c.session().igmpQueryInterval().toSeconds());
    for (var e :
        Map.of(
                "on", QuerierElection.Mode.ON,
                "true", QuerierElection.Mode.ON,
                "off", QuerierElection.Mode.OFF,
                "false", QuerierElection.Mode.OFF,
                "Auto", QuerierElection.Mode.AUTO)
            .entrySet()) {
      ServeConfig s =
          ServeConfig.from(
              ConfigFile.of(
                  Map.of(
                      "interface",
                      "eth0",
                      "session.igmp-querier",
                      e.getKey(),
                      "session.igmp-query-interval",
                      "2")));
      assertEquals(e.getValue(), s.session().igmpQuerier(), e.getKey());
      assertEquals(2, s.session().igmpQueryInterval().toSeconds());
    }
    ConfigException e =
        assertThrows(
            ConfigException.class,
            () ->
                ServeConfig.from(
                    ConfigFile.of(Map.of("interface", "eth0", "session.igmp-querier", "maybe"))));
    assertTrue(e.getMessage().contains("want auto, on or off"), e.getMessage());
  }

  @Test
  void dhcpKeys() {
    ServeConfig c =
        ServeConfig.from(
            ConfigFile.of(
                Map.ofEntries(
                    Map.entry("interface", "eth0"),
                    Map.entry("dhcp.mode", "full"),
                    Map.entry("dhcp.range", "10.77.0.100,10.77.0.150"),
                    Map.entry("dhcp.lease-time", "7200"),
                    Map.entry("dhcp.router", "10.77.0.254"),
                    Map.entry("dhcp.dns", "10.77.0.1, 10.77.0.2"),
                    Map.entry("dhcp.domain", "cluster.lan"),
                    Map.entry("dhcp.port", "1067"),
                    Map.entry("dhcp.proxy-port", "14011"),
                    Map.entry("dhcp.relay.rack2.subnet", "10.78.0.0/24"),
                    Map.entry("dhcp.relay.rack2.range", "10.78.0.10,10.78.0.99"))));
    DhcpConfig d = c.dhcp();
    assertEquals(DhcpConfig.Mode.FULL, d.mode());
    assertEquals(51, d.range().orElseThrow().size());
    assertEquals(7200, d.leaseSeconds());
    assertEquals("10.77.0.254", d.router().orElseThrow().getHostAddress());
    assertEquals(2, d.dns().size());
    assertEquals("cluster.lan", d.domain().orElseThrow());
    assertEquals(1067, d.port());
    assertEquals(14011, d.proxyPort());
    assertEquals(1, d.relays().size());
    assertEquals(24, d.relays().get(0).prefix());
    assertEquals(
        DhcpConfig.Mode.PROXY,
        ServeConfig.from(ConfigFile.of(Map.of("interface", "eth0"))).dhcp().mode(),
        "safe default");
  }

  @Test
  void dhcpMistakesAreNamed() {
    ConfigException e =
        assertThrows(
            ConfigException.class,
            () ->
                ServeConfig.from(ConfigFile.of(Map.of("interface", "eth0", "dhcp.mode", "full"))));
    assertTrue(e.getMessage().contains("--range"), e.getMessage());
    e =
        assertThrows(
            ConfigException.class,
            () ->
                ServeConfig.from(ConfigFile.of(Map.of("interface", "eth0", "dhcp.mode", "fast"))));
    assertTrue(e.getMessage().contains("full, proxy or off"), e.getMessage());
    e =
        assertThrows(
            ConfigException.class,
            () ->
                ServeConfig.from(
                    ConfigFile.of(
                        Map.of("interface", "eth0", "dhcp.range", "10.77.0.150,10.77.0.100"))));
    assertTrue(e.getMessage().contains("ends before it starts"), e.getMessage());
    e =
        assertThrows(
            ConfigException.class,
            () ->
                ServeConfig.from(
                    ConfigFile.of(Map.of("interface", "eth0", "dhcp.range", "10.77.0.100"))));
    assertTrue(e.getMessage().contains("FIRST,LAST"), e.getMessage());
    e =
        assertThrows(
            ConfigException.class,
            () ->
                ServeConfig.from(
                    ConfigFile.of(
                        Map.of(
                            "interface",
                            "eth0",
                            "dhcp.relay.r.subnet",
                            "10.78.0.0/24",
                            "dhcp.relay.r.range",
                            "10.79.0.1,10.79.0.9"))));
    assertTrue(e.getMessage().contains("outside its subnet"), e.getMessage());
  }

  /**
   * Every key the example config documents (commented out there) is one the daemon knows, with a
   * valid example value.
   */
  @Test
  void theExampleConfigDocumentsKnownKeysOnly() throws Exception {
    Path example = Path.of("..", "packaging", "clonecast.conf");
    Pattern line = Pattern.compile("#([a-z][a-z0-9.-]*) = (.*)");
    Map<String, String> keys = new TreeMap<>();
    for (String l : Files.readAllLines(example)) {
      Matcher m = line.matcher(l);
      if (m.matches()) {
        keys.put(m.group(1), m.group(2));
      }
    }
    assertTrue(
        keys.containsKey("dhcp.mode") && keys.containsKey("dhcp.relay.rack2.range"),
        keys.toString());
    // The TSIG key is documented both ways (a key file, or its parts); only one may be set.
    assertTrue(
        keys.remove("dns.update.key-file") != null && keys.containsKey("dns.update.key-secret"),
        keys.toString());
    ServeConfig c = ServeConfig.from(ConfigFile.of(keys));
    assertEquals(DhcpConfig.Mode.PROXY, c.dhcp().mode());
    assertEquals(1, c.dhcp().relays().size());
  }
}
