package org.clonecast.server.dns;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.clonecast.protocol.wire.Ipv4;
import org.junit.jupiter.api.Test;
import org.xbill.DNS.Name;
import org.xbill.DNS.Type;

class DnsZoneTest {
  private static List<String> zones(String ip, int prefix) {
    return DnsZone.reverseZones(Ipv4.parse(ip), prefix).stream().map(Name::toString).toList();
  }

  @Test
  void reverseZonesAreCutAtOctets() {
    assertEquals(List.of("0.77.10.in-addr.arpa."), zones("10.77.0.1", 24));
    assertEquals(
        List.of("0.77.10.in-addr.arpa."),
        zones("10.77.0.200", 26),
        "longer than /24: the whole /24");
    assertEquals(List.of("77.10.in-addr.arpa."), zones("10.77.5.1", 16));
    assertEquals(List.of("10.in-addr.arpa."), zones("10.1.2.3", 8));
    List<String> twenty = zones("10.77.21.9", 20);
    assertEquals(16, twenty.size());
    assertEquals("16.77.10.in-addr.arpa.", twenty.get(0));
    assertEquals("31.77.10.in-addr.arpa.", twenty.get(15));
    assertEquals(
        List.of("168.192.in-addr.arpa.", "169.192.in-addr.arpa."), zones("192.169.0.1", 15));
  }

  @Test
  void lookupKinds() {
    DnsZone z =
        DnsZone.build(
            Fixtures.spec(24), List.of(new HostDirectory.Host("a", Ipv4.parse("10.77.0.5"))), 7);
    assertEquals(
        DnsZone.Kind.ANSWER,
        z.lookup(Name.fromConstantString("A.cluster.internal."), Type.A).kind());
    assertEquals(
        DnsZone.Kind.NODATA,
        z.lookup(Name.fromConstantString("a.cluster.internal."), Type.MX).kind());
    assertEquals(
        DnsZone.Kind.NXDOMAIN,
        z.lookup(Name.fromConstantString("b.cluster.internal."), Type.A).kind());
    assertEquals(
        DnsZone.Kind.NOT_AUTHORITATIVE,
        z.lookup(Name.fromConstantString("cluster.internal.evil."), Type.A).kind());
    assertEquals(7, z.soa(z.apexes().get(1)).getSerial());
  }
}
