package org.clonecast.server.http;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Optional;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/**
 * {@link ByteRange#parse} on whatever a client sends as its Range header: it never throws and never
 * yields a part outside the file, whatever the header and the file's size (0 included).
 */
class ByteRangePropertyTest {
  @Property(tries = 3000)
  void anyHeaderGivesARangeInsideTheFile(
      @ForAll("headers") String header, @ForAll("sizes") long size) {
    ByteRange.Parsed p = ByteRange.parse(Optional.of(header), size);
    if (p instanceof ByteRange.Part part) {
      ByteRange r = part.range();
      assertTrue(
          r.first() >= 0 && r.first() <= r.last() && r.last() < size,
          header + " on " + size + " bytes: " + r);
      assertTrue(r.length() >= 1 && r.length() <= size, header + " on " + size + " bytes: " + r);
    }
  }

  @Property(tries = 1000)
  void anyStringGivesARangeInsideTheFile(@ForAll String header, @ForAll("sizes") long size) {
    anyHeaderGivesARangeInsideTheFile(header, size);
  }

  @Provide
  Arbitrary<Long> sizes() {
    return Arbitraries.oneOf(
        Arbitraries.of(0L, 1L, 2L, 512L, Long.MAX_VALUE, Long.MAX_VALUE - 1),
        Arbitraries.longs().between(0, 1L << 40));
  }

  /**
   * Range headers as clients write them and as they go wrong: signs, spaces, huge and odd numbers,
   * lists.
   */
  @Provide
  Arbitrary<String> headers() {
    Arbitrary<String> number =
        Arbitraries.oneOf(
            Arbitraries.longs().map(Object::toString),
            Arbitraries.longs().between(0, 4096).map(Object::toString),
            Arbitraries.of(
                "",
                " ",
                "0",
                "-0",
                "+0",
                "+5",
                "-1",
                "00",
                "9223372036854775807",
                "9223372036854775808",
                "-9223372036854775808",
                "99999999999999999999",
                "1e3",
                "0x10",
                "1.5",
                "\u0661",
                "\t7",
                "5 "));
    Arbitrary<String> unit =
        Arbitraries.of("bytes=", "bytes =", "BYTES=", "bytes= ", " bytes=", "items=", "bytes", "");
    Arbitrary<String> dash = Arbitraries.of("-", "--", " - ", "", "=", "-,-");
    Arbitrary<String> one = Combinators.combine(number, dash, number).as((a, d, b) -> a + d + b);
    Arbitrary<String> list = one.list().ofMinSize(1).ofMaxSize(3).map(l -> String.join(",", l));
    return Combinators.combine(unit, list).as((u, l) -> u + l);
  }
}
