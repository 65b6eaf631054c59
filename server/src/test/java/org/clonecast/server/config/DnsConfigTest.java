package org.clonecast.server.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DnsConfigTest {
  @TempDir Path dir;

  private static DnsConfig dns(Map<String, String> keys) {
    Map<String, String> m = new HashMap<>(keys);
    m.put("interface", "eth0");
    return ServeConfig.from(ConfigFile.of(m)).dns();
  }

  @Test
  void defaults() {
    DnsConfig d = dns(Map.of());
    assertFalse(d.enabled(), "proxy DHCP (the default): the site's DHCP names the site's DNS");
    assertTrue(
        dns(Map.of("dhcp.mode", "full", "dhcp.range", "10.0.0.10,10.0.0.20")).enabled(),
        "full DHCP hands out this server as the nodes' DNS, so it answers");
    assertTrue(dns(Map.of("dns.enabled", "true")).enabled());
    assertEquals(53, d.port());
    assertTrue(d.loopback());
    assertEquals("cluster.internal", d.zone());
    assertEquals(60, d.ttl());
    assertEquals(List.of(), d.forwarders());
    assertEquals(Optional.empty(), d.update());
  }

  @Test
  void forwardersAndZone() {
    DnsConfig d =
        dns(
            Map.of(
                "dns.zone",
                "Rack1.Example.ORG.",
                "dns.forwarders",
                "192.0.2.53, 198.51.100.1:5353 [2001:db8::1]:53",
                "dns.enabled",
                "off",
                "dns.port",
                "0"));
    assertEquals("rack1.example.org", d.zone());
    assertEquals(3, d.forwarders().size());
    assertEquals(new InetSocketAddress("198.51.100.1", 5353), d.forwarders().get(1));
    assertEquals(53, d.forwarders().get(2).getPort());
    assertEquals(false, d.enabled());
  }

  @Test
  void updatesFromABindKeyFile() throws Exception {
    Path key = dir.resolve("ddns.key");
    // What 'tsig-keygen -a hmac-sha256 clonecast-ddns' prints.
    Files.writeString(
        key,
        "key \"clonecast-ddns\" {\n\talgorithm hmac-sha256;\n\tsecret \"q8Xw4cPl0y4n4Y3KXo1m6e0Vq8Xw4cPl0y4n4Y3KXo0=\";\n};\n");
    DnsUpdateConfig u =
        dns(Map.of(
                "dns.update.server",
                "10.77.0.11",
                "dns.update.zone",
                "cluster.example.org",
                "dns.update.reverse-zone",
                "0.77.10.in-addr.arpa.",
                "dns.update.key-file",
                key.toString()))
            .update()
            .orElseThrow();
    assertEquals(new InetSocketAddress("10.77.0.11", 53), u.server());
    assertEquals("clonecast-ddns", u.keyName());
    assertEquals("hmac-sha256", u.keyAlgorithm());
    assertEquals(Optional.of("0.77.10.in-addr.arpa"), u.reverseZone());
  }

  @Test
  void mistakesAreNamed() {
    assertMessage("dns.zone", Map.of("dns.zone", "bad_zone!"));
    assertMessage("an IP address (not a name)", Map.of("dns.forwarders", "dns.google"));
    assertMessage("dns.update.server is not", Map.of("dns.update.zone", "x.org"));
    assertMessage("dns.update.zone is not", Map.of("dns.update.server", "192.0.2.1"));
    assertMessage(
        "no TSIG key", Map.of("dns.update.server", "192.0.2.1", "dns.update.zone", "x.org"));
    assertMessage(
        "not base64",
        Map.of(
            "dns.update.server",
            "192.0.2.1",
            "dns.update.zone",
            "x.org",
            "dns.update.key-name",
            "k",
            "dns.update.key-secret",
            "not base64!"));
    assertMessage(
        "is not supported",
        Map.of(
            "dns.update.server",
            "192.0.2.1",
            "dns.update.zone",
            "x.org",
            "dns.update.key-name",
            "k",
            "dns.update.key-secret",
            "c2VjcmV0",
            "dns.update.key-algorithm",
            "hmac-sha3"));
    assertMessage(
        "holds no key",
        Map.of(
            "dns.update.server",
            "192.0.2.1",
            "dns.update.zone",
            "x.org",
            "dns.update.key-file",
            "/dev/null"));
    assertMessage("unknown key dns.updates.server", Map.of("dns.updates.server", "192.0.2.1"));
  }

  private static void assertMessage(String want, Map<String, String> keys) {
    ConfigException e = assertThrows(ConfigException.class, () -> dns(keys));
    assertTrue(e.getMessage().contains(want), e.getMessage());
  }
}
