package org.clonecast.protocol.tftp;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.netty.buffer.Unpooled;
import java.util.ArrayList;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/**
 * Property tests: every message encodes and decodes back to itself, and re-encodes to the same
 * bytes.
 */
class TftpRoundTripTest {

  @Property(tries = 500)
  void everyMessageRoundTrips(@ForAll("packets") TftpPacket p) {
    byte[] bytes = TftpCodec.encode(p);
    TftpPacket back = TftpCodec.decode(bytes);
    assertEquals(p, back);
    assertArrayEquals(bytes, TftpCodec.encode(back));
  }

  @Provide
  Arbitrary<TftpPacket> packets() {
    Arbitrary<String> text =
        Arbitraries.strings()
            .excludeChars('\0')
            .ofMaxLength(40)
            .filter(s -> s.chars().noneMatch(c -> Character.isSurrogate((char) c)));
    Arbitrary<String> name = text.filter(s -> !s.isEmpty());
    Arbitrary<TftpMode> mode = Arbitraries.of(TftpMode.class);
    Arbitrary<TftpOptions> options =
        Combinators.combine(name, text)
            .as(TftpOption::new)
            .list()
            .ofMaxSize(6)
            .map(TftpRoundTripTest::distinct);
    Arbitrary<Integer> u16 = Arbitraries.integers().between(0, 65535);
    return Arbitraries.oneOf(
        Combinators.combine(name, mode, options).as(TftpReadRequest::new),
        Combinators.combine(name, mode, options).as(TftpWriteRequest::new),
        Combinators.combine(u16, Arbitraries.bytes().array(byte[].class).ofMaxSize(1468))
            .as((b, d) -> new TftpData(b, Unpooled.wrappedBuffer(d))),
        u16.map(TftpAck::new),
        Combinators.combine(u16, text).as(TftpError::new),
        options.filter(o -> !o.isEmpty()).map(TftpOptionAck::new));
  }

  private static TftpOptions distinct(List<TftpOption> l) {
    List<TftpOption> out = new ArrayList<>();
    for (TftpOption o : l) {
      if (out.stream().noneMatch(x -> x.is(o.name()))) {
        out.add(o);
      }
    }
    return new TftpOptions(out);
  }
}
