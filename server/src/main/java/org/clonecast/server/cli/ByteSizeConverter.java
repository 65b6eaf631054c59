package org.clonecast.server.cli;

import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine;

/**
 * Parses sizes such as {@code 4096}, {@code 64K}, {@code 1M}, {@code 1MiB}, {@code 2g}: binary
 * multiples (K = 1024). Stateless and thread-safe.
 */
public final class ByteSizeConverter implements CommandLine.ITypeConverter<Integer> {
  private static final Pattern SIZE = Pattern.compile("(\\d+)\\s*([kmg]?)(i?b)?");

  @Override
  public Integer convert(String value) {
    long n = parse(value);
    if (n > Integer.MAX_VALUE) {
      throw new CommandLine.TypeConversionException("'" + value + "' is too large");
    }
    return (int) n;
  }

  /** The size in bytes; throws {@link CommandLine.TypeConversionException} for anything else. */
  static long parse(String value) {
    Matcher m = SIZE.matcher(value.trim().toLowerCase(Locale.ROOT));
    if (!m.matches()) {
      throw new CommandLine.TypeConversionException(
          "'" + value + "' is not a size; write e.g. 4096, 64K, 1M or 2G");
    }
    int shift =
        switch (m.group(2)) {
          case "k" -> 10;
          case "m" -> 20;
          case "g" -> 30;
          default -> 0;
        };
    try {
      long base = Long.parseLong(m.group(1));
      if (base > (Long.MAX_VALUE >> shift)) {
        throw new NumberFormatException();
      }
      return base << shift;
    } catch (NumberFormatException e) {
      throw new CommandLine.TypeConversionException("'" + value + "' is too large");
    }
  }
}
