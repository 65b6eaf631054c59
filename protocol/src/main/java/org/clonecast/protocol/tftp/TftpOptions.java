package org.clonecast.protocol.tftp;

import io.netty.buffer.ByteBuf;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.clonecast.protocol.wire.MalformedPacketException;

/**
 * The options of a request or OACK (RFC 2347): name/value pairs in wire order, names compared
 * case-insensitively, each name at most once. Immutable.
 *
 * @param list the options in the order they are sent
 */
public record TftpOptions(List<TftpOption> list) {
  /** No options: a plain RFC 1350 request. */
  public static final TftpOptions NONE = new TftpOptions(List.of());

  /** Copies the list and rejects a name given twice. */
  public TftpOptions {
    list = List.copyOf(list);
    for (int i = 0; i < list.size(); i++) {
      for (int j = 0; j < i; j++) {
        if (list.get(j).is(list.get(i).name())) {
          throw new IllegalArgumentException("option " + list.get(i).name() + " repeated");
        }
      }
    }
  }

  /**
   * @param nameValue name, value, name, value, ...
   */
  public static TftpOptions of(String... nameValue) {
    if (nameValue.length % 2 != 0) {
      throw new IllegalArgumentException("odd number of option strings");
    }
    List<TftpOption> l = new ArrayList<>();
    for (int i = 0; i < nameValue.length; i += 2) {
      l.add(new TftpOption(nameValue[i], nameValue[i + 1]));
    }
    return new TftpOptions(l);
  }

  /**
   * @return the value of option {@code name}, matched ignoring case
   */
  public Optional<String> get(String name) {
    for (TftpOption o : list) {
      if (o.is(name)) {
        return Optional.of(o.value());
      }
    }
    return Optional.empty();
  }

  public boolean isEmpty() {
    return list.isEmpty();
  }

  /**
   * Reads name/value pairs up to the end of the buffer.
   *
   * @param what the message name for exceptions, e.g. {@code "RRQ"}
   * @throws MalformedPacketException for a name without value, an unterminated string, an empty
   *     name, a repeated name
   */
  static TftpOptions decode(ByteBuf in, String what) {
    List<TftpOption> l = new ArrayList<>();
    while (in.isReadable()) {
      if (in.getByte(in.readerIndex()) == 0 && allZero(in)) {
        // Deviation: some PXE ROMs pad requests with NULs after the last string; RFC 2347 has
        // nothing after the last value, but tftp-hpa accepts the padding, so do we.
        in.skipBytes(in.readableBytes());
        break;
      }
      String name = TftpStrings.read(in, what + " option name");
      if (name.isEmpty()) {
        throw new MalformedPacketException(
            what + " option " + (l.size() + 1) + " has an empty name");
      }
      if (!in.isReadable()) {
        throw new MalformedPacketException(what + " option " + name + " has no value");
      }
      String value = TftpStrings.read(in, what + " option " + name + " value");
      l.add(new TftpOption(name, value));
    }
    return new TftpOptions(l);
  }

  private static boolean allZero(ByteBuf in) {
    for (int i = in.readerIndex(); i < in.writerIndex(); i++) {
      if (in.getByte(i) != 0) {
        return false;
      }
    }
    return true;
  }

  /** Appends every pair in order. */
  void encode(ByteBuf out) {
    for (TftpOption o : list) {
      TftpStrings.write(out, o.name()); // opt1
      TftpStrings.write(out, o.value()); // value1
    }
  }

  @Override
  public String toString() {
    StringBuilder sb = new StringBuilder();
    for (TftpOption o : list) {
      sb.append(sb.length() == 0 ? "" : " ").append(o.name()).append('=').append(o.value());
    }
    return sb.toString();
  }
}
