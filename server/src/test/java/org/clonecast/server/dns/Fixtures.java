package org.clonecast.server.dns;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.Inet4Address;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.clonecast.protocol.wire.Ipv4;
import org.xbill.DNS.DClass;
import org.xbill.DNS.Message;
import org.xbill.DNS.Name;
import org.xbill.DNS.OPTRecord;
import org.xbill.DNS.Record;
import org.xbill.DNS.Section;

/** A settable host list and query helpers shared by the DNS tests. */
final class Fixtures {
  static final Inet4Address SERVER = Ipv4.parse("10.77.0.1");
  static final String[] GOLDEN = {
    "dig-a-edns-cookie",
    "dig-ptr-edns-cookie",
    "dig-a-noedns",
    "dig-soa-edns4096",
    "dig-mx-outside-noedns"
  };

  private Fixtures() {}

  /** A directory whose list the test replaces, as the inventory would on a write. */
  static final class Directory implements HostDirectory {
    final AtomicReference<List<Host>> hosts = new AtomicReference<>(List.of());

    @Override
    public List<Host> hosts() {
      return hosts.get();
    }

    Directory set(String... nameIp) {
      List<Host> out = new ArrayList<>();
      for (int i = 0; i < nameIp.length; i += 2) {
        out.add(new Host(nameIp[i], Ipv4.parse(nameIp[i + 1])));
      }
      hosts.set(List.copyOf(out));
      return this;
    }

    /** One name, "big", with 60 addresses: about 1 KB of answer, more than 512 bytes. */
    Directory setBig() {
      List<Host> out = new ArrayList<>();
      for (int i = 0; i < 60; i++) {
        out.add(new Host("big", Ipv4.parse("10.77.0." + (100 + i))));
      }
      hosts.set(List.copyOf(out));
      return this;
    }
  }

  static DnsZone.Spec spec(int prefix) {
    return new DnsZone.Spec(DnsZone.Spec.origin("cluster.internal"), SERVER, prefix, 60);
  }

  static Message query(String name, int type) {
    return query(name, type, DClass.IN);
  }

  static Message query(String name, int type, int dclass) {
    return Message.newQuery(
        Record.newRecord(
            Name.fromConstantString(name.endsWith(".") ? name : name + "."), type, dclass));
  }

  static Message withEdns(Message q, int payload, int version) {
    q.addRecord(new OPTRecord(payload, 0, version, 0), Section.ADDITIONAL);
    return q;
  }

  static byte[] golden(String name) {
    try (var in = Fixtures.class.getResourceAsStream("/golden/dns/" + name + ".hex")) {
      if (in == null) {
        throw new IllegalArgumentException("no golden " + name);
      }
      return HexFormat.of()
          .parseHex(new String(in.readAllBytes(), StandardCharsets.US_ASCII).trim());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
